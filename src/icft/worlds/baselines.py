"""Heuristic baselines: ways to answer an item with no reasoning, fit only on a world's own train documents.

Each baseline scores every option of an item (higher is preferred) or returns None where it does not apply
(no logical forms, no hierarchy, not a syllogism). What a baseline may read: the train text, and the facts
the train documents state (`Document.fact_ids`, the same statements in structured form); the item's prompt,
options and their logical forms. Never the world's hidden structure or which option is correct.

  ngram                   a word bigram language model of the train text: log-likelihood of the option
  longest, shortest       the option's length in characters
  prompt_overlap          option words that also appear in the prompt
  cooccurrence_sentence   train sentences holding the subject and the option's own words
  cooccurrence_document   the same, over whole documents
  train_frequency         how often the option's words occur verbatim, in order, in the train text
  most_general            how many subjects hold the item's relation to the option, inferred from the stated
                          facts (a category's descendants, a property's holders); worlds with a hierarchy
  relation_elsewhere      how many other subjects are stated to hold the item's relation to the option
  atmosphere              a syllogism's conclusion quantifier read off its premises: "no" if a premise says
                          no, else "some" if one says some, else "all"

The semantic and process generators choose their distractors against these baselines (`icft.worlds.herding`):
a change here changes their worlds, so bump their GENERATOR_VERSION with it.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable
from functools import cached_property

from icft.worlds.logic import closure
from icft.worlds.schema import Item, World
from icft.worlds.syllogisms import QUANTIFIERS

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n")
BIGRAM_WEIGHT = 0.9  # interpolation with the add-one unigram model


@functools.lru_cache(maxsize=100_000)
def tokens(text: str) -> tuple[str, ...]:
    """Lower-case words and punctuation marks (cached: options and prompts repeat across items)."""
    return tuple(_TOKEN.findall(text.lower()))


class TrainIndex:
    """What the baselines read from a world's train documents, computed once per world."""

    def __init__(self, world: World):
        self.world = world
        self.doc_tokens = [tokens.__wrapped__(d.text) for d in world.documents]  # not cached: read once
        self.documents_of = _inverted([set(t) for t in self.doc_tokens])
        self.sentences_of = _inverted([set(tokens.__wrapped__(s)) for d in world.documents
                                       for s in _SENTENCE.split(d.text)])
        self.unigrams = Counter(t for doc in self.doc_tokens for t in doc)
        self.total = sum(self.unigrams.values()) + len(self.unigrams) + 1  # add-one, with one unseen word
        self.bigrams = Counter(pair for doc in self.doc_tokens for pair in zip(doc, doc[1:]))
        self.contexts: Counter = Counter()
        for (v, _), count in self.bigrams.items():
            self.contexts[v] += count
        self._phrases: dict[int, Counter] = {}

    @cached_property
    def stated(self) -> set[tuple[str, str, str]]:
        facts = {f.id: f for f in self.world.facts}
        return {facts[fid].claim for d in self.world.documents for fid in d.fact_ids if fid in facts}

    @cached_property
    def stated_holders(self) -> dict[tuple[str, str], set[str]]:
        """(relation, object) -> subjects, over the stated facts and their direct converses."""
        converses = self.world.rules.converses
        out: dict[tuple[str, str], set[str]] = {}
        for s, r, o in self.stated:
            out.setdefault((r, o), set()).add(s)
            if r in converses:
                out.setdefault((converses[r], s), set()).add(o)
        return out

    @cached_property
    def inferred_holders(self) -> dict[tuple[str, str], set[str]]:
        """(relation, object) -> subjects, over everything that follows from the stated facts."""
        out: dict[tuple[str, str], set[str]] = {}
        for s, r, o in closure(self.stated, self.world.rules):
            out.setdefault((r, o), set()).add(s)
        return out

    @staticmethod
    def units_with(units_of: dict[str, set[int]], words: set[str]) -> int:
        """How many units (sentences or documents) hold every one of `words`."""
        common: set[int] | None = None
        for word in words:
            units = units_of.get(word)
            if not units:
                return 0
            common = units if common is None else common & units  # iterates over the smaller side
        return len(common or ())

    def phrase_count(self, phrase: tuple[str, ...]) -> int:
        n = len(phrase)
        if n not in self._phrases:
            self._phrases[n] = Counter(tuple(doc[i:i + n]) for doc in self.doc_tokens for i in range(len(doc) - n + 1))
        return self._phrases[n][phrase]

    def log_prob(self, context: str | None, word: str) -> float:
        unigram = (self.unigrams[word] + 1) / self.total
        if context is None or not self.contexts[context]:
            return math.log(unigram)
        bigram = self.bigrams[(context, word)] / self.contexts[context]
        return math.log(BIGRAM_WEIGHT * bigram + (1 - BIGRAM_WEIGHT) * unigram)


def _inverted(units: list[set[str]]) -> dict[str, set[int]]:
    """word -> the indices of the units that hold it."""
    out: dict[str, set[int]] = {}
    for n, unit in enumerate(units):
        for word in unit:
            out.setdefault(word, set()).add(n)
    return out


Scores = list[float] | None
Baseline = Callable[[TrainIndex, Item], Scores]


def ngram(index: TrainIndex, item: Item) -> Scores:
    context = (tokens(item.prompt) or (None,))[-1]
    out = []
    for option in item.options:
        words = [context, *tokens(option)]
        out.append(sum(index.log_prob(v, w) for v, w in zip(words, words[1:])))
    return out


def longest(index: TrainIndex, item: Item) -> Scores:
    return [float(len(o.strip())) for o in item.options]


def shortest(index: TrainIndex, item: Item) -> Scores:
    return [-float(len(o.strip())) for o in item.options]


def prompt_overlap(index: TrainIndex, item: Item) -> Scores:
    prompt = set(tokens(item.prompt))
    return [float(len(set(tokens(o)) & prompt)) for o in item.options]


def _subject_words(index: TrainIndex, item: Item) -> set[str]:
    """The words that name the item's subject: its logical subjects as the prompt spells them, or without
    logical forms the prompt's rarest word the train text knows."""
    prompt = set(tokens(item.prompt))
    if item.claims is not None:
        return {w for claim in item.claims if claim is not None for w in tokens(claim[0]) if w in prompt}
    known = {w: len(index.documents_of[w]) for w in prompt if w in index.documents_of}
    return {w for w, f in known.items() if f == min(known.values())} if known else set()


def _own_words(item: Item, subject: set[str]) -> list[set[str]]:
    """Each option's words that not every option has (what tells the options apart), subject left out."""
    sets = [set(tokens(o)) for o in item.options]
    shared = set.intersection(*sets)
    return [s - shared - subject for s in sets]


def _cooccurrence(units_of: Callable[[TrainIndex], dict[str, set[int]]]) -> Baseline:
    def baseline(index: TrainIndex, item: Item) -> Scores:
        subject = _subject_words(index, item)
        if not subject:
            return None
        units = units_of(index)
        return [float(index.units_with(units, subject | own)) if own else 0.0 for own in _own_words(item, subject)]

    return baseline


def train_frequency(index: TrainIndex, item: Item) -> Scores:
    return [float(index.phrase_count(tokens(o))) for o in item.options]


def _holders(table: Callable[[TrainIndex], dict], needs_hierarchy: bool) -> Baseline:
    """Subjects other than the item's own that hold the item's relation to each option."""

    def baseline(index: TrainIndex, item: Item) -> Scores:
        if item.claims is None or any(c is None for c in item.claims):
            return None
        if needs_hierarchy and not any(r == "is_a" for _, r, _ in index.stated):
            return None
        holders = table(index)
        empty: set[str] = set()
        return [float(len(h := holders.get((r, o), empty)) - (s in h)) for s, r, o in item.claims]

    return baseline


def atmosphere(index: TrainIndex, item: Item) -> Scores:
    if item.claims is None or not all(c is not None and c[1] in QUANTIFIERS for c in item.claims):
        return None
    terms = {c[0] for c in item.claims} | {c[2] for c in item.claims}
    premises = {r for s, r, o in index.stated if r in QUANTIFIERS and (s in terms or o in terms)}
    mood = next((q for q in ("no", "some") if q in premises), "all")
    return [float(c[1] == mood) for c in item.claims]


BASELINES: dict[str, Baseline] = {
    "ngram": ngram,
    "longest": longest,
    "shortest": shortest,
    "prompt_overlap": prompt_overlap,
    "cooccurrence_sentence": _cooccurrence(lambda index: index.sentences_of),
    "cooccurrence_document": _cooccurrence(lambda index: index.documents_of),
    "train_frequency": train_frequency,
    "most_general": _holders(lambda index: index.inferred_holders, needs_hierarchy=True),
    "relation_elsewhere": _holders(lambda index: index.stated_holders, needs_hierarchy=False),
    "atmosphere": atmosphere,
}
