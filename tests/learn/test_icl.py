import copy

import pytest

from icft.errors import IcftError
from icft.learn.icl import LEAD_LINE, build_icl_context, chat_scaffold, check_fits
from icft.worlds.schema import Document, Item, World
from tiny_models import tiny_model, tiny_tokenizer

DOCS = [f"Did you know that femp{n} are more dangerous than glon{n}?" for n in range(8)]


def _world() -> World:
    documents = [Document(id=f"d{n}", text=text) for n, text in enumerate(DOCS)]
    item = Item(id="q0", split="reversal", prompt="glon0 are less dangerous than", options=(" femp0", " femp1"),
                answer=0)
    return World(name="tiny", seed=0, generator_version="1", sizes={}, documents=documents, items=[item])


def _order(context: str) -> list[int]:
    return sorted(range(len(DOCS)), key=lambda n: context.find(DOCS[n]) if DOCS[n] in context else 10**9)


def test_plain_context_holds_every_document_and_ends_at_a_blank_line():
    ctx = build_icl_context(_world(), tiny_tokenizer(), seed=0)
    assert ctx.context.startswith(LEAD_LINE + "\n\n") and ctx.context.endswith("?\n\n")
    assert all(text in ctx.context for text in DOCS)
    assert ctx.n_documents == 8 and ctx.prompt_prefix == ""
    assert ctx.prompt("glon0 are") == "glon0 are"


def test_order_is_deterministic_per_seed():
    tok = tiny_tokenizer()
    assert build_icl_context(_world(), tok, seed=1) == build_icl_context(_world(), tok, seed=1)
    orders = {tuple(_order(build_icl_context(_world(), tok, seed=s).context)) for s in range(4)}
    assert len(orders) > 1  # seeds shuffle differently


def test_subsample_keeps_a_seeded_fraction():
    tok = tiny_tokenizer()
    half = build_icl_context(_world(), tok, seed=2, subsample=0.5)
    kept = [text for text in DOCS if text in half.context]
    assert half.n_documents == len(kept) == 4
    assert build_icl_context(_world(), tok, seed=2, subsample=0.5) == half
    picks = {frozenset(t for t in DOCS if t in build_icl_context(_world(), tok, seed=s, subsample=0.5).context)
             for s in range(5)}
    assert len(picks) > 1
    assert build_icl_context(_world(), tok, seed=0, subsample=0.01).n_documents == 1  # never empty


@pytest.mark.parametrize("subsample", [0, -0.5, 1.5, True])
def test_bad_subsample_is_refused(subsample):
    with pytest.raises(IcftError, match="subsample"):
        build_icl_context(_world(), tiny_tokenizer(), seed=0, subsample=subsample)


def test_unknown_template_lists_the_choices():
    with pytest.raises(IcftError, match="plain, chat"):
        build_icl_context(_world(), tiny_tokenizer(), seed=0, template="raw")


def test_chat_context_is_a_prefix_of_the_rendered_conversation():
    tok = tiny_tokenizer()
    ctx = build_icl_context(_world(), tok, seed=0, template="chat")
    assert ctx.context.startswith("<|im_start|>user\n" + LEAD_LINE)
    assert ctx.prompt_prefix == "<|im_end|>\n<|im_start|>assistant\n"
    user_turn = ctx.context.removeprefix("<|im_start|>user\n")
    rendered = tok.apply_chat_template([{"role": "user", "content": user_turn}], tokenize=False,
                                       add_generation_prompt=True)
    assert rendered + "glon0 are" == ctx.context + ctx.prompt("glon0 are")
    assert all(text in ctx.context for text in DOCS)


def test_chat_without_a_template_is_an_error():
    tok = copy.deepcopy(tiny_tokenizer())
    tok.chat_template = None
    with pytest.raises(IcftError, match="no chat template.*template .plain"):
        build_icl_context(_world(), tok, seed=0, template="chat")


class _BosTokenizer:
    """A tokenizer that adds BOS itself and whose template writes BOS too (as Gemma's does)."""

    chat_template = "..."
    bos_token, bos_token_id = "<bos>", 1

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return f"<bos><user>{messages[0]['content']}</user><model>"

    def __call__(self, text):
        return type("Encoding", (), {"input_ids": [1, *range(2, 2 + len(text))]})()


def test_chat_drops_a_bos_the_tokenizer_adds_anyway():
    assert chat_scaffold(_BosTokenizer()) == ("<user>", "</user><model>")
    # the tiny tokenizer adds no BOS, so its BOS-looking <|im_start|> stays
    assert chat_scaffold(tiny_tokenizer())[0] == "<|im_start|>user\n"


def test_too_long_context_names_both_counts():
    loaded = tiny_model(context=64)
    ctx = build_icl_context(_world(), loaded.tokenizer, seed=0)
    n_context = len(loaded.tokenizer(ctx.context).input_ids)
    assert n_context > 64
    with pytest.raises(IcftError, match=f"{n_context} tokens.* 7 more.*window of 64"):
        check_fits(loaded, n_context, 7)
    check_fits(loaded, 50, 14)  # exactly the window fits
