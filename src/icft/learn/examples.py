"""Training examples from a world's documents: whole documents, or one example per sentence.

Every way of fine-tuning (plain FT, FT on sentence-split documents, FT on documents plus augmentations, FTICL)
feeds the same loop (`icft.learn.finetune`) a list of `TrainingExample`s; only the list differs. Sentences are
those of `icft.text.sentence_spans`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from icft.text import sentence_spans

if TYPE_CHECKING:  # only for annotations: the learn package does not need the world generators imported
    from icft.worlds.schema import World

SPLIT_MODES = ("independent", "cumulative")


@dataclass(frozen=True)
class TrainingExample:
    """One training sequence: the loss is taken on `completion` only; `prompt` is context.

    The tokenizer's end-of-text token is appended to the completion when the example is tokenized
    (`icft.learn.finetune.packing.tokenize_examples`).
    """

    prompt: str
    completion: str
    # an augmentation (not the world's own text) trains like any other example, but the stopping rule measures
    # the loss on the world's own text only: every mode then stops when the documents it was given are learned
    augmentation: bool = False
    # context distillation only (`icft.learn.distill`): text the teacher reads after its context and before this
    # example, which the student never sees (a document's prefix, DiSC-style)
    teacher_prefix: str = ""


def document_examples(world: World) -> list[TrainingExample]:
    """One example per train document: no prompt, the whole text is learned."""
    return [TrainingExample(prompt="", completion=doc.text) for doc in world.documents]


def document_suffix_examples(world: World) -> list[TrainingExample]:
    """Every document cut at each sentence boundary, DiSC-style (Padmanabhan et al. 2026): the student learns the
    suffix alone, while the teacher reads the prefix before it. The cut at 0 is the whole document, so a
    one-sentence document is one example, the document itself."""
    examples = []
    for doc in world.documents:
        for start, _ in sentence_spans(doc.text):
            examples.append(TrainingExample(prompt="", completion=doc.text[start:], teacher_prefix=doc.text[:start]))
    return examples


def sentence_examples(world: World, how: str = "independent") -> list[TrainingExample]:
    """One example per sentence of every train document, in document order.

    independent: each sentence alone (prompt "").
    cumulative:  each sentence with the document's earlier sentences as the prompt, so the loss is on the new
                 sentence only; the completion keeps the whitespace before it, so prompt + completion is
                 exactly the document text up to that sentence.
    """
    if how not in SPLIT_MODES:
        raise ValueError(f"how must be one of {', '.join(SPLIT_MODES)}, got {how!r}")
    examples = []
    for doc in world.documents:
        spans = sentence_spans(doc.text)
        for n, (start, end) in enumerate(spans):
            if how == "independent" or n == 0:
                examples.append(TrainingExample(prompt="", completion=doc.text[start:end]))
            else:
                first_start, previous_end = spans[0][0], spans[n - 1][1]
                examples.append(
                    TrainingExample(prompt=doc.text[first_start:previous_end], completion=doc.text[previous_end:end])
                )
    return examples
