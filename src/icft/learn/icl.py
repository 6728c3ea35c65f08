"""The in-context learning mode: the world's train documents as a context shared by every test item.

The context is a *prefix* common to all items, so the scorer can encode it once and reuse its cache.
  plain  "Read the following documents.\\n\\n" + documents joined by blank lines + "\\n\\n"; each item's
         prompt follows directly.
  chat   the tokenizer's chat template with the documents in the user turn. The context stops right after
         the documents; `prompt_prefix` (the end of the user turn and the assistant header) goes in front
         of every item's prompt, so the item is the start of the assistant's answer.
The pretrained mode uses no context: the item prompt alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from icft.errors import IcftError
from icft.worlds.schema import Document, World

if TYPE_CHECKING:
    from icft.models import LoadedModel

TEMPLATES = ("plain", "chat")
LEAD_LINE = "Read the following documents."
_SENTINEL = "\u2063ICFT-DOCUMENTS\u2063"  # marks where the user's content lands in the rendered template


@dataclass(frozen=True)
class IclContext:
    """The shared context, the text put before each item's prompt, and how many documents it holds."""

    context: str
    prompt_prefix: str
    n_documents: int

    def prompt(self, item_prompt: str) -> str:
        """The per-item text that follows the context."""
        return self.prompt_prefix + item_prompt


NO_CONTEXT = IclContext(context="", prompt_prefix="", n_documents=0)


def build_icl_context(world: World, tokenizer, seed: int, subsample: float = 1.0,
                      template: str = "plain") -> IclContext:
    """The world's documents (a `subsample` fraction, chosen and shuffled by `seed`) as a shared context."""
    if template not in TEMPLATES:
        raise IcftError(f"unknown ICL template {template!r}: choose one of {', '.join(TEMPLATES)}")
    texts = [doc.text.strip() for doc in pick_documents(world, seed, subsample)]
    body = LEAD_LINE + "\n\n" + "\n\n".join(texts)
    if template == "plain":
        return IclContext(context=body + "\n\n", prompt_prefix="", n_documents=len(texts))
    before, after = chat_scaffold(tokenizer)
    return IclContext(context=before + body, prompt_prefix=after, n_documents=len(texts))


def pick_documents(world: World, seed: int, subsample: float = 1.0) -> list[Document]:
    """round(subsample x documents) of the world's documents (at least one), in an order shuffled by `seed`."""
    if not isinstance(subsample, (int, float)) or isinstance(subsample, bool) or not 0 < subsample <= 1:
        raise IcftError(f"subsample must be a fraction in (0, 1] (0.125 keeps one document in 8), got {subsample!r}")
    n_keep = max(1, round(subsample * len(world.documents)))
    order = random.Random(seed).sample(range(len(world.documents)), n_keep)
    return [world.documents[i] for i in order]


def chat_scaffold(tokenizer) -> tuple[str, str]:
    """The chat template's text before and after a single user message, with the assistant header after.

    A leading BOS text is dropped when the tokenizer adds BOS itself, so it is not encoded twice.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise IcftError("the model's tokenizer has no chat template: use the ICL template \"plain\"")
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": _SENTINEL}], tokenize=False, add_generation_prompt=True
    )
    if rendered.count(_SENTINEL) != 1:
        raise IcftError("the model's chat template does not place the user message once: use the ICL template \"plain\"")
    before, after = rendered.split(_SENTINEL)
    bos = getattr(tokenizer, "bos_token", None)
    if bos and before.startswith(bos) and _adds_bos(tokenizer):
        before = before[len(bos):]
    return before, after


def _adds_bos(tokenizer) -> bool:
    ids = tokenizer("x").input_ids
    return bool(ids) and tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id


def check_fits(loaded: LoadedModel, context_tokens: int, longest_request_tokens: int) -> None:
    """An `IcftError` naming both counts when the context plus the longest item overflow the model's window."""
    window = loaded.context_window
    if context_tokens + longest_request_tokens > window:
        room = window - longest_request_tokens
        hint = (f"lower the ICL subsample to about {max(room, 0) / max(context_tokens, 1):.3g} of its value"
                if room > 0 else "use a model with a longer window")
        raise IcftError(
            f"the ICL context is {context_tokens} tokens and the longest item needs {longest_request_tokens} more, "
            f"over {loaded.name}'s window of {window} tokens: {hint}"
        )
