"""The filters of generated augmentations: cleaning a completion into sentences, and why a sentence is dropped.

Each completion is split into sentences and cleaned (numbering, bullets, labels, markdown, quotes); then the first
filter that applies drops a sentence, and `icft.learn.augment` counts each reason:
  empty          nothing left after cleaning ("1.", "Inferences:")
  too_long       more than `max_words` words
  no_world_term  mentions none of the world's nonsense words (off-topic or generic text)
  unknown_word   has a word that is neither English nor the world's: mostly a misspelt world word
                 ("gkuad" for "gukad"), which would teach a new entity
  tautology      relates one world word to itself ("some lebit are lebit"), a common small-model failure
  copy_of_input  repeats the sentence (local) or a sentence of the document (global) it came from
  copy_of_template  repeats a sentence of the template (a small model copies the few-shot examples)
  in_train       repeats another train sentence
  duplicate      repeats an augmentation kept earlier
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from icft.text import split_sentences
from icft.worlds.schema import World
from icft.worlds.vocabulary import is_english, is_nonce_word

FILTERS = (
    "empty", "too_long", "no_world_term", "unknown_word", "tautology", "copy_of_input", "copy_of_template", "in_train",
    "duplicate",
)


class SentenceFilter:
    """The filters of one augmentation run, in `FILTERS` order; it remembers what it kept (for `duplicate`)."""

    def __init__(self, world: World, template_text: str, max_words: int):
        self.vocabulary = world_vocabulary(world)
        self.train_words = frozenset(_words(" ".join(d.text for d in world.documents)))
        self.train = {normalize(s) for d in world.documents for s in split_sentences(d.text)}
        self.template = {normalize(s) for s in split_sentences(template_text)}
        self.kept: set[str] = set()
        self.max_words = max_words

    def drop_reason(self, sentence: str, inputs: Iterable[str]) -> str | None:
        """The first filter that drops `sentence` (a sentence of the completion of `inputs`), or None: then it is
        kept, and a later copy of it is a duplicate."""
        reason = self._reason(sentence, {normalize(s) for s in inputs})
        if reason is None:
            self.kept.add(normalize(sentence))
        return reason

    def _reason(self, sentence: str, inputs: set[str]) -> str | None:
        key, vocabulary = normalize(sentence), self.vocabulary
        if not key:
            return "empty"
        if len(sentence.split()) > self.max_words:
            return "too_long"
        if vocabulary and not mentions_world_term(sentence, vocabulary):
            return "no_world_term"
        if vocabulary and unknown_words(sentence, vocabulary, self.train_words):
            return "unknown_word"
        if vocabulary and _is_tautology(sentence, vocabulary):
            return "tautology"
        if key in inputs:
            return "copy_of_input"
        if key in self.template:
            return "copy_of_template"
        if key in self.train:
            return "in_train"
        if key in self.kept:
            return "duplicate"
        return None


_BULLET = re.compile(r"^\s*(?:[-*•+>]+|\(?\d+[.):]|\(?[a-z]\))\s*")
_LABEL = re.compile(
    r"^(?:inferences?|statements?|rephrasings?|reversals?|conclusions?|answer|step \d+)\s*:\s*", re.IGNORECASE
)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_QUOTES = "\"'“”‘’`"


def clean_completion(completion: str, stop: tuple[str, ...] = ()) -> list[str]:
    """The sentences of a completion with numbering, bullets, labels and markdown removed.

    A line that is blank to begin with is skipped; one that cleaning empties ("2.", "Inferences:") comes
    back as "" so the `empty` filter counts it.
    """
    for marker in stop:
        completion = completion.split(marker)[0]
    sentences = []
    for line in completion.splitlines():
        if not line.strip():
            continue
        line = _strip_decoration(line)
        parts = split_sentences(line) or [""]
        sentences.extend(_finish(_strip_decoration(p)) for p in parts)
    return sentences


def _strip_decoration(text: str) -> str:
    text = text.replace("**", "").replace("__", "")
    previous = None
    while previous != text:  # "1. Inference: - ..." carries several layers
        previous = text
        text = _LABEL.sub("", _BULLET.sub("", text)).strip()
    return " ".join(text.split())


def _finish(sentence: str) -> str:
    """Drop quotes around a whole sentence and end it with a full stop."""
    if len(sentence) >= 2 and sentence[0] in _QUOTES and sentence[-1] in _QUOTES:
        sentence = sentence[1:-1].strip()
    if sentence and sentence[-1] not in ".!?":
        sentence += "."
    return sentence


def normalize(sentence: str) -> str:
    """The form two sentences are compared in: lower case, single spaces, no end punctuation or quotes."""
    return " ".join(sentence.lower().split()).strip(_QUOTES + " .!?;:,")


def world_vocabulary(world: World) -> frozenset[str]:
    """The world's own words (lower case): the non-English words of its facts plus the nonsense words
    of its documents; for a world with neither (imported data), every non-English word of its documents."""
    from_facts = {w for f in world.facts for w in _words(f"{f.subject} {f.object}") if not is_english(w)}
    text = " ".join(d.text for d in world.documents)
    from_docs = {w for w in _words(text) if is_nonce_word(w)}
    vocabulary = from_facts | from_docs
    if not vocabulary:
        vocabulary = {w for w in _words(text) if len(w) >= 3 and not is_english(w)}
    return frozenset(vocabulary)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if "'" not in w]


def mentions_world_term(sentence: str, vocabulary: frozenset[str]) -> bool:
    """True when a word of the sentence, or its singular, is one of the world's words."""
    return any(_forms(word) & vocabulary for word in _words(sentence))


def unknown_words(sentence: str, vocabulary: frozenset[str], train_words: frozenset[str] = frozenset()) -> list[str]:
    """The words of the sentence (3+ letters) that are neither English, the world's, nor in its documents."""
    return [
        w for w in _words(sentence)
        if len(w) >= 3 and not _forms(w) & (vocabulary | train_words) and not _is_english_form(w)
    ]


def _is_tautology(sentence: str, vocabulary: frozenset[str]) -> bool:
    """The sentence names one world word only, more than once."""
    terms = [min(_forms(w) & vocabulary) for w in _words(sentence) if _forms(w) & vocabulary]
    return len(terms) > 1 and len(set(terms)) == 1


def _forms(word: str) -> set[str]:
    return {word, word.removesuffix("s"), word.removesuffix("es")}


_INFLECTIONS = (("ied", "y"), ("ier", "y"), ("iest", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                ("er", ""), ("er", "e"), ("est", ""), ("est", "e"), ("ly", ""))


def _is_english_form(word: str) -> bool:
    """English, or an inflection of an English word ("showed", "dirtier", "wetter"): the lists hold stems."""
    if is_english(word):
        return True
    for suffix, replacement in _INFLECTIONS:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            if is_english(stem + replacement):
                return True
            if replacement == "" and len(stem) > 2 and stem[-1] == stem[-2] and is_english(stem[:-1]):
                return True  # a doubled consonant: "wetter" -> "wet"
    return False
