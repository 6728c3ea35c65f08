"""How text becomes token ids for scoring and generation: a shared context once, then each request after it.

The context is tokenized once and every request's tokens are appended to it, so its key/value cache can
be computed once and shared. Two choices keep these ids close to how the model sees running text:

- The context is tokenized *as it is when a word follows it*: we tokenize `context + "a"` and keep the
  tokens that end inside the context. Byte-level BPE tokenizers (SmolLM2, GPT-2, Llama 3) write a final
  "\\n\\n" on its own as one token but as two "\\n" tokens before a word, which is how every earlier
  "\\n\\n" of the context and every running text is tokenized. Where the probe merges into the
  context's last token (a context ending inside a word, or in a space that a SentencePiece tokenizer
  joins to the next word), the context is tokenized on its own instead. End a context at a natural
  boundary, "\\n\\n", and start each prompt with a non-space character: the ids then equal those of
  tokenizing context + prompt as one string (which is what lm-evaluation-harness does).
- A request (prompt + option) is tokenized as one string, without special tokens, and its scored
  tokens are those after the prompt: the first scored token is the first whose character span ends
  after the prompt's length. A token that merges the prompt's last characters with the option's first
  ones ("hel" + "lo world" -> "hello", "Ġwor", "ld") therefore counts to the option.

The tokenizer's leading special tokens (a BOS, for tokenizers that add one) start the context, also when
the context is "".
"""

from __future__ import annotations

from dataclasses import dataclass

from icft.errors import IcftError

_PROBE = "a"  # a word character: what follows a context in practice (the prompt)


@dataclass(frozen=True)
class Continuation:
    """The tokens of prompt + option, and the index of the first one that belongs to the option."""

    ids: tuple[int, ...]
    start: int


def context_ids(tokenizer, context: str, add_special_tokens: bool = True) -> list[int]:
    """The context's token ids, led by the tokenizer's BOS if it adds one (see the module docstring).

    add_special_tokens=False leaves the BOS out, for text that writes its own (a rendered chat template).
    """
    ids = leading_special_ids(tokenizer) if add_special_tokens else []
    if not context:
        return ids
    probe = _encode(tokenizer, context + _PROBE)
    inside = [i for i, (_, end) in enumerate(probe.offset_mapping) if end <= len(context)]
    boundary = len(inside)
    clean = inside == list(range(boundary)) and probe.offset_mapping[boundary][0] >= len(context)
    if clean:
        return ids + probe.input_ids[:boundary]
    return ids + _encode(tokenizer, context).input_ids


def continuation(tokenizer, prompt: str, option: str) -> Continuation:
    """Tokenize prompt + option as one string; the option's tokens start at the first span ending past the prompt."""
    encoded = _encode(tokenizer, prompt + option)
    start = next(i for i, (_, end) in enumerate(encoded.offset_mapping) if end > len(prompt))
    return Continuation(ids=tuple(encoded.input_ids), start=start)


def text_ids(tokenizer, text: str) -> list[int]:
    """Plain token ids of `text`, without special tokens."""
    return _encode(tokenizer, text).input_ids if text else []


def leading_special_ids(tokenizer) -> list[int]:
    """The special tokens the tokenizer puts before any text (a BOS, or nothing)."""
    encoded = tokenizer(_PROBE, add_special_tokens=True, return_special_tokens_mask=True)
    ids = []
    for token, special in zip(encoded.input_ids, encoded.special_tokens_mask):
        if not special:
            break
        ids.append(token)
    return ids


def _encode(tokenizer, text: str):
    if not getattr(tokenizer, "is_fast", False):
        raise IcftError(
            f"tokenizer {type(tokenizer).__name__} has no offsets mapping: load the model with a fast tokenizer"
        )
    return tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
