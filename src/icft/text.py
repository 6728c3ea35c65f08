"""Splitting text into sentences: the sentences of a world's documents (fine-tuning on split sentences, the
requests of local augmentation, the oracle's train sentences) and of a task's texts.

A small rule-based splitter, enough for the text our worlds and tasks hold:
  - a line break always ends a sentence (list items, premises and Q/A lines are one line each);
  - inside a line, `.`, `?` or `!` (optionally followed by a closing quote or bracket) and then whitespace
    ends a sentence, except after a list marker ("1.", "b)") or a known abbreviation ("e.g.", "Dr.");
  - an answer ("A: ..." or "Answer: ...") stays with the question before it, and a heading (a line ending
    in ":", or a line with no end punctuation that is not a list item: "Gruds", "Notes on femp:") stays
    with the sentence after it: alone, either would be an example with no fact in it.
"""

from __future__ import annotations

import re

ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.")
_SENTENCE_END = re.compile(r"[.?!]+[\"')\]]*(?=\s)")
_LIST_MARKER = re.compile(r"\s*(?:[-*•]\s*)?(?:\d+|[A-Za-z])[.)]")
_ANSWER = re.compile(r"(?:A|Answer)\s*:", re.IGNORECASE)
_ENDS_SENTENCE = re.compile(r"[.?!][\"')\]]*$")
_BULLET = re.compile(r"(?:[-*•]|\d+[.)])\s")


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
