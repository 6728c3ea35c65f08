"""Generation after a shared context: cache reuse and batching change nothing, sampling is seeded, chat, stops."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from icft.errors import IcftError
from icft.models.generation import generate
from icft.models.generation import _chat_frame
from icft.models import LoadedModel
from tiny_models import tiny_model, tiny_tokenizer

CONTEXT = " ".join(["femp are more dangerous than glon.", "All glon are yomp."] * 10) + "\n\n"
PROMPTS = ["glon are", "hello world, this is", "All troff are glon. Some", "The quick brown fox"]


def lively_model(seed: int = 0) -> LoadedModel:
    """A tiny random Llama with untied, larger weights, so greedy text varies instead of repeating a token."""
    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False,
        initializer_range=0.3, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    torch.manual_seed(seed)
    return LoadedModel(model=LlamaForCausalLM(config).eval(), tokenizer=tokenizer, name="lively-llama")


def greedy_by_hand(loaded: LoadedModel, text: str, n: int) -> list[int]:
    """Greedy decoding with a full forward over the whole sequence at every step (no cache, no padding)."""
    ids = loaded.tokenizer(text).input_ids
    new = []
    with torch.no_grad():
        for _ in range(n):
            token = int(loaded.model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
            if token == loaded.tokenizer.eos_token_id:
                break
            new.append(token)
    return new


def test_greedy_with_a_reused_context_equals_decoding_by_hand():
    loaded = lively_model()
    texts = generate(loaded, PROMPTS, context=CONTEXT, max_new_tokens=8, batch_size=3)
    expected = [loaded.tokenizer.decode(greedy_by_hand(loaded, CONTEXT + p, 8)) for p in PROMPTS]
    assert texts == expected
    assert len(set(texts)) == len(texts)  # the prompts matter (a broken cache or mask tends to erase them)


def test_greedy_is_deterministic_and_independent_of_batching():
    loaded = lively_model()
    one_by_one = generate(loaded, PROMPTS, context=CONTEXT, max_new_tokens=8, batch_size=1)
    assert generate(loaded, PROMPTS, context=CONTEXT, max_new_tokens=8, batch_size=4) == one_by_one
    assert generate(loaded, PROMPTS, context=CONTEXT, max_new_tokens=8, batch_size=4) == one_by_one
    whole_text = [generate(loaded, [CONTEXT + p], max_new_tokens=8, batch_size=1)[0] for p in PROMPTS]
    assert whole_text == one_by_one  # no context reuse at all


def test_sampling_is_seeded_and_leaves_the_global_rng_alone():
    loaded = lively_model()
    kwargs = dict(context=CONTEXT, max_new_tokens=8, temperature=1.0, top_p=0.95)
    torch.manual_seed(123)
    first = generate(loaded, PROMPTS, seed=3, **kwargs)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)
    assert generate(loaded, PROMPTS, seed=3, **kwargs) == first
    assert generate(loaded, PROMPTS, seed=4, **kwargs) != first
    assert first != generate(loaded, PROMPTS, context=CONTEXT, max_new_tokens=8)


def test_chat_wraps_context_and_prompt_as_a_user_turn():
    loaded = lively_model()
    head, tail = _chat_frame(loaded.tokenizer, CONTEXT)
    assert head == "<|im_start|>user\n" + CONTEXT and tail == "<|im_end|>\n<|im_start|>assistant\n"
    chat = generate(loaded, PROMPTS[:2], context=CONTEXT, max_new_tokens=8, chat=True)
    rendered = [
        loaded.tokenizer.apply_chat_template(
            [{"role": "user", "content": CONTEXT + p}], tokenize=False, add_generation_prompt=True
        )
        for p in PROMPTS[:2]
    ]
    assert chat == [generate(loaded, [text], max_new_tokens=8, batch_size=1)[0] for text in rendered]
    assert chat != generate(loaded, PROMPTS[:2], context=CONTEXT, max_new_tokens=8)


def test_text_is_cut_at_the_first_stop_string_and_at_eos():
    loaded = lively_model()
    full = generate(loaded, PROMPTS[:1], context=CONTEXT, max_new_tokens=8)[0]
    stop = next(ch for ch in full[2:] if ch.isascii() and ch.isalpha())  # a plain letter past the start
    assert generate(loaded, PROMPTS[:1], context=CONTEXT, max_new_tokens=8, stop=["\x00", stop]) == [
        full[: full.index(stop)]
    ]
    new_ids = greedy_by_hand(loaded, CONTEXT + PROMPTS[0], 8)
    loaded.model.generation_config.eos_token_id = new_ids[2]  # the third new token now ends the text
    cut = generate(loaded, PROMPTS[:1], context=CONTEXT, max_new_tokens=8)[0]
    assert cut == loaded.tokenizer.decode(new_ids[: new_ids.index(new_ids[2])])


def test_too_long_for_the_window_is_an_error():
    loaded = tiny_model(context=64)
    with pytest.raises(IcftError, match="exceed the model's window of 64"):
        generate(loaded, PROMPTS, context=CONTEXT, max_new_tokens=8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=-1.0), "temperature"),
        (dict(top_p=0.0), "top_p"),
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(IcftError, match=message):
        generate(tiny_model(), PROMPTS, context=CONTEXT, **kwargs)


def test_a_stop_string_counts_only_after_the_text_begins():
    from icft.models.generation import _first_stop

    assert _first_stop("\n\nglon are less.\nfemp", ["\n"]) == 2 + len("glon are less.")
    assert _first_stop("  \n", ["\n"]) is None  # whitespace only: nothing has begun
    assert _first_stop("glon\nfemp", ["femp", "\n"]) == 4
    assert _first_stop("glon", ["\n"]) is None
