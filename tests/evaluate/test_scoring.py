"""Scoring with a shared context: packed/cached scores equal the naive per-option forward, token boundaries."""

from __future__ import annotations

import random

import pytest
import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig

from icft.errors import IcftError
from icft.evaluate import OptionScores, score_choices
from icft.models.tokens import context_ids, continuation
from icft.models import LoadedModel
from tiny_models import tiny_model, tiny_tokenizer

SENTENCES = ["femp are more dangerous than glon.", "All glon are yomp.", "Some blick are not dax."]
CONTEXT = " ".join(SENTENCES * 12) + "\n\n"
REQUESTS = [
    ("glon are", [" less dangerous than femp.", " more dangerous than femp."]),
    ("hel", ["lo world", "p me", "x"]),  # "hel" + "lo world" merges into the token "hello"
    ("All troff are", [" glon.", " not glon.", " yomp and some blick are dax."]),
    ("Question: are femp yomp? Answer:", [" yes", " no"]),
]


def max_diff(a: list[OptionScores], b: list[OptionScores]) -> float:
    return max(abs(x - y) for s, t in zip(a, b) for x, y in zip(s.logprobs, t.logprobs))


def by_hand(loaded: LoadedModel, context: str, prompt: str, option: str) -> float:
    """The option's log-probability from one forward over the whole sequence, summed in plain Python."""
    prefix = context_ids(loaded.tokenizer, context)
    cont = continuation(loaded.tokenizer, prompt, option)
    ids = prefix + list(cont.ids)
    with torch.no_grad():
        logprobs = loaded.model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)  # (T, V)
    return sum(float(logprobs[len(prefix) + t - 1, cont.ids[t]]) for t in range(cont.start, len(cont.ids)))


@pytest.mark.parametrize("budget", [2048, 24])  # 24: a chunked context prefill and several packed rows
def test_cached_equals_naive(budget):
    loaded = tiny_model()
    cached = score_choices(loaded, REQUESTS, context=CONTEXT, token_budget=budget)
    naive = score_choices(loaded, REQUESTS, context=CONTEXT, reuse_context=False)
    assert [s.n_tokens for s in cached] == [s.n_tokens for s in naive]
    assert max_diff(cached, naive) <= 1e-4


def test_naive_equals_a_forward_by_hand():
    loaded = tiny_model()
    naive = score_choices(loaded, REQUESTS[:1], context=CONTEXT, reuse_context=False)
    for j, option in enumerate(REQUESTS[0][1]):
        assert naive[0].logprobs[j] == pytest.approx(by_hand(loaded, CONTEXT, REQUESTS[0][0], option), abs=1e-4)


def test_pretrained_mode_without_context():
    loaded = tiny_model()
    requests = [r for r in REQUESTS if not r[0].startswith("hel")]  # a merged first token needs something before it
    cached = score_choices(loaded, requests)
    naive = score_choices(loaded, requests, reuse_context=False)
    assert max_diff(cached, naive) <= 1e-4


def test_items_do_not_see_each_other():
    """An item's scores do not depend on which other items share its packed row."""
    loaded = tiny_model()
    together = score_choices(loaded, REQUESTS, context=CONTEXT)
    alone = [score_choices(loaded, [request], context=CONTEXT)[0] for request in REQUESTS]
    assert max_diff(together, alone) <= 1e-5


def test_merged_boundary_token_counts_to_the_option():
    tokenizer = tiny_tokenizer()
    cont = continuation(tokenizer, "hel", "lo world")
    tokens = tokenizer.convert_ids_to_tokens(list(cont.ids))
    assert tokenizer.convert_ids_to_tokens(tokenizer("hel").input_ids) == ["he", "l"]  # the prompt alone
    assert tokens == ["hello", "Ġwor", "ld"] and cont.start == 0  # joined, "hello" spans the boundary
    loaded = tiny_model()
    scores = score_choices(loaded, [("hel", ["lo world"])], context=CONTEXT)[0]
    assert scores.n_tokens == (3,)
    assert scores.logprobs[0] == pytest.approx(by_hand(loaded, CONTEXT, "hel", "lo world"), abs=1e-4)


def test_clean_boundary_scores_only_the_option_tokens():
    tokenizer = tiny_tokenizer()
    cont = continuation(tokenizer, "glon are", " less dangerous")
    assert tokenizer.convert_ids_to_tokens(list(cont.ids[cont.start :])) == ["Ġless", "Ġdangerous"]


def test_context_ids_equal_tokenizing_the_whole_text():
    """Context ending in "\\n\\n" + a request gives the ids of the whole string tokenized at once."""
    tokenizer = tiny_tokenizer()
    for prompt, options in REQUESTS:
        for option in options:
            joined = context_ids(tokenizer, CONTEXT) + list(continuation(tokenizer, prompt, option).ids)
            assert joined == tokenizer(CONTEXT + prompt + option).input_ids


def test_context_longer_than_the_window_is_an_error():
    loaded = tiny_model(context=64)
    n = len(context_ids(loaded.tokenizer, CONTEXT))
    with pytest.raises(IcftError, match=f"context is {n} tokens but the model's window is 64: "):
        score_choices(loaded, REQUESTS, context=CONTEXT)


def test_context_plus_continuation_past_the_window_is_an_error():
    loaded = tiny_model(context=64)
    context = "femp are more dangerous than glon.\n\n"
    with pytest.raises(IcftError, match="exceed the model's window of 64"):
        score_choices(loaded, [("glon are", [" more dangerous than femp." * 20])], context=context)


@pytest.mark.parametrize(
    "requests, message",
    [
        ([("glon are", [" less", ""])], "option 1 of request 0 is empty"),
        ([("glon are", [])], "request 0 has no options"),
        ([("glon are", " less")], "list of option strings"),
    ],
)
def test_bad_requests_are_rejected(requests, message):
    with pytest.raises(IcftError, match=message):
        score_choices(tiny_model(), requests, context=CONTEXT)


def test_first_token_with_nothing_before_it_is_an_error():
    with pytest.raises(IcftError, match="nothing before it"):
        score_choices(tiny_model(), [("", [" glon"])])


def test_chosen_sum_and_mean():
    scores = OptionScores(logprobs=(-6.0, -4.0, -4.0), n_tokens=(3, 1, 4))
    assert scores.chosen_sum == 1  # the first of the tied best sums
    assert scores.chosen_mean == 2  # -1.0 per token


def test_sliding_window_layers_are_windowed_by_the_packed_masks():
    """Gemma 3 mixes sliding-window and full layers; a window of 8 tokens matters for this context."""
    tokenizer = tiny_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=8,
        layer_types=["sliding_attention", "full_attention"], max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
    )
    torch.manual_seed(0)
    loaded = LoadedModel(model=Gemma3ForCausalLM(config).eval(), tokenizer=tokenizer, name="tiny-gemma3")
    cached = score_choices(loaded, REQUESTS, context=CONTEXT, token_budget=64)
    naive = score_choices(loaded, REQUESTS, context=CONTEXT, reuse_context=False)
    assert max_diff(cached, naive) <= 1e-4


def nonsense_context(n_sentences: int, seed: int) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    words = ["glon", "femp", "yomp", "troff", "blick", "dax", "wug", "zorp", "kreb", "snib"]
    relations = ["more dangerous than", "less dangerous than", "larger than", "older than"]
    lines = [f"{rng.choice(words)} are {rng.choice(relations)} {rng.choice(words)}." for _ in range(n_sentences)]
    return "\n\n".join(lines) + "\n\n", words


@pytest.mark.embedded
def test_embedded_cached_equals_naive(embedded):
    context, words = nonsense_context(170, seed=0)
    n_context = len(context_ids(embedded.tokenizer, context))
    assert 1300 <= n_context <= 1800
    requests = [(f"{w} are", [f" more dangerous than {v}.", f" less dangerous than {v}.", f" older than {v}."])
                for w, v in zip(words, reversed(words))]
    cached = score_choices(embedded, requests, context=context)
    # the naive reference costs a full forward over the context per option: compare on the first and last items
    naive = score_choices(embedded, [requests[0], requests[-1]], context=context, reuse_context=False)
    assert max_diff([cached[0], cached[-1]], naive) <= 1e-3


@pytest.mark.embedded
def test_embedded_context_tokenized_as_in_running_text(embedded):
    """SmolLM2 writes a final "\\n\\n" alone as one token but as two before a word: we use the latter."""
    tokenizer = embedded.tokenizer
    alone = tokenizer.convert_ids_to_tokens(tokenizer("a.\n\n").input_ids)
    ours = tokenizer.convert_ids_to_tokens(context_ids(tokenizer, "a.\n\n"))
    assert alone == ["a", ".", "ĊĊ"] and ours == ["a", ".", "Ċ", "Ċ"]
    context, _ = nonsense_context(20, seed=1)
    joined = context_ids(tokenizer, context) + list(continuation(tokenizer, "glon are", " older than femp.").ids)
    assert joined == tokenizer(context + "glon are older than femp.").input_ids
