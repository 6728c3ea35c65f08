"""Training examples from a world's documents: whole documents, or one example per sentence.

Every way of fine-tuning (plain FT, FT on sentence-split documents, FT on documents plus augmentations, FTICL)
feeds the same loop (`icft.learn.finetune`) a list of `TrainingExample`s; only the list differs.

Sentence splitting is a small rule-based splitter, enough for the text our worlds generate:
  - a line break always ends a sentence (list items, premises and Q/A lines are one line each);
  - inside a line, `.`, `?` or `!` (optionally followed by a closing quote or bracket) and then whitespace
    ends a sentence, except after a list marker ("1.", "b)") or a known abbreviation ("e.g.", "Dr.");
  - an answer ("A: ..." or "Answer: ...") stays with the question before it, and a heading (a line ending
    in ":", or a line with no end punctuation that is not a list item: "Gruds", "Notes on femp:") stays
    with the sentence after it: alone, either would be an example with no fact in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: the learn package does not need the world generators imported
    from icft.worlds.schema import World

SPLIT_MODES = ("independent", "cumulative")
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.")
_SENTENCE_END = re.compile(r"[.?!]+[\"')\]]*(?=\s)")
_LIST_MARKER = re.compile(r"\s*(?:[-*•]\s*)?(?:\d+|[A-Za-z])[.)]")
_ANSWER = re.compile(r"(?:A|Answer)\s*:", re.IGNORECASE)
_ENDS_SENTENCE = re.compile(r"[.?!][\"')\]]*$")
_BULLET = re.compile(r"(?:[-*•]|\d+[.)])\s")


@dataclass(frozen=True)
class TrainingExample:
    """One training sequence: the loss is taken on `completion` only; `prompt` is context.

    The tokenizer's end-of-text token is appended to the completion when the example is tokenized
    (`icft.learn.packing.tokenize_examples`).
    """

    prompt: str
    completion: str
    # an augmentation (not the world's own text) trains like any other example, but the stopping rule measures
    # the loss on the world's own text only: every mode then stops when the documents it was given are learned
    augmentation: bool = False


def document_examples(world: World) -> list[TrainingExample]:
    """One example per train document: no prompt, the whole text is learned."""
    return [TrainingExample(prompt="", completion=doc.text) for doc in world.documents]


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


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each stripped of surrounding whitespace (see the module docstring)."""
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each sentence; text[start:end] has no surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    after_heading = False
    for start, end in _raw_spans(text):
        if spans and (after_heading or _ANSWER.match(text[start:end])):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
        after_heading = _is_heading(text[start:end])
    return spans


def _is_heading(piece: str) -> bool:
    """A line that introduces what follows: it ends in ":", or has no end punctuation and is no list item."""
    return piece.endswith(":") or not (_ENDS_SENTENCE.search(piece) or _BULLET.match(piece))


def _raw_spans(text: str) -> list[tuple[int, int]]:
    """Spans cut at line breaks and sentence-ending punctuation, before answers and headers are joined."""
    spans = []
    offset = 0
    for line in text.split("\n"):
        start = 0
        for match in _SENTENCE_END.finditer(line):
            if _is_false_end(line[start : match.end()]):
                continue
            spans.append(_strip(line, start, match.end(), offset))
            start = match.end()
        spans.append(_strip(line, start, len(line), offset))
        offset += len(line) + 1
    return [(s, e) for s, e in spans if e > s]


def _is_false_end(piece: str) -> bool:
    """Punctuation that ends a list marker or an abbreviation, not a sentence."""
    if _LIST_MARKER.fullmatch(piece):
        return True
    words = piece.split()
    return bool(words) and words[-1] in ABBREVIATIONS


def _strip(line: str, start: int, end: int, offset: int) -> tuple[int, int]:
    """Offsets of line[start:end] without its surrounding whitespace, in the coordinates of the whole text."""
    piece = line[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    return offset + start + left, offset + start + max(left, right)
