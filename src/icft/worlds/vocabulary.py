"""Pronounceable nonsense words ("femp", "glon", "abmes"), so no fact can come from pretraining.

Every word has 4-5 letters and two syllables built from common English onsets, vowels and codas, and is
checked against two English word lists (Webster's 2nd and GCIDE, from the `english-words` package), in the
word itself and in its plural and singular forms. The candidate list is enumerated in a fixed order and
sampled with the caller's seeded RNG, so the same seed gives the same words.

Each world draws from its own part of the list (a stable hash of the word picks the part), so worlds of any
seeds never share a word: a study that mixes worlds never gives one word two meanings.
"""

from __future__ import annotations

import functools
import random
import re
import zlib

from icft.errors import IcftError

ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "bl", "br", "dr", "fl",
          "fr", "gl", "gr", "kl", "pl", "pr", "sk", "sl", "sn", "sp", "st", "tr")
VOWELS = ("a", "e", "i", "o", "u")
CODAS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "t", "x", "mp", "nd", "nk", "nt", "rk", "sk",
         "st")
MIN_LETTERS, MAX_LETTERS = 4, 5
_SYLLABLE = re.compile(r"[aeiou]+")
# world -> its part of the word list; PARTS parts in all, the spare ones for worlds to come
PARTITIONS = {"reversals": 0, "syllogisms": 1, "semantic": 2, "reversal_curse": 3, "process": 4}
PARTS = 8


def syllable_count(word: str) -> int:
    """Vowel groups: a fair syllable count for the shapes generated here."""
    return len(_SYLLABLE.findall(word))


@functools.cache
def english_words() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2", "gcide"], alpha=True, lower=True))


def is_english(word: str) -> bool:
    words = english_words()
    forms = {word, word + "s", word + "es"}
    if word.endswith("s"):
        forms.add(word[:-1])
    return any(form in words for form in forms)


def is_nonce_word(word: str) -> bool:
    """The rules every generated word obeys (also used by the tests and the checker)."""
    return (
        word.isalpha()
        and word.islower()
        and MIN_LETTERS <= len(word) <= MAX_LETTERS
        and syllable_count(word) == 2
        and not word.endswith("s")  # nouns are used as bare plurals: "femp are ..."
        and not is_english(word)
    )


@functools.cache
def candidates() -> tuple[str, ...]:
    """All words of the allowed shapes, sorted, English words removed."""
    shapes = set()
    for v1 in VOWELS:
        for v2 in VOWELS:
            for c in ONSETS:
                shapes.update(v1 + c + v2 + coda for coda in CODAS)  # VCVC: "abem", "omask"
                for o in ONSETS:
                    shapes.add(o + v1 + c + v2)  # CVCV: "tifa", "glomi"
                    shapes.update(o + v1 + c + v2 + coda for coda in CODAS if len(coda) == 1)  # CVCVC
    return tuple(sorted(w for w in shapes if is_nonce_word(w)))


def partition(word: str) -> int:
    """The part of the word list `word` belongs to (stable across runs and machines)."""
    return zlib.crc32(word.encode()) % PARTS


@functools.cache
def world_candidates(world: str) -> tuple[str, ...]:
    """The candidates only `world` draws from."""
    if world not in PARTITIONS:
        raise ValueError(f"world {world!r} has no part of the word list: add it to PARTITIONS")
    return tuple(w for w in candidates() if partition(w) == PARTITIONS[world])


class NonceVocabulary:
    """Draws words that are unique within one world, from that world's own part of the word list."""

    def __init__(self, rng: random.Random, world: str):
        self._rng = rng
        self._pool = world_candidates(world)
        self._used: set[str] = set()
        self._stems: set[str] = set()  # the first four letters of the five-letter words drawn

    def draw(self, n: int) -> list[str]:
        words: list[str] = []
        for _ in range(20 * len(self._pool)):
            if len(words) == n:
                return words
            word = self._pool[self._rng.randrange(len(self._pool))]
            # a word that starts another would blur matching in filters and the checker (all are 4-5 letters)
            if word in self._used or word in self._stems or word[:4] in self._used:
                continue
            self._used.add(word)
            if len(word) == MAX_LETTERS:
                self._stems.add(word[:MIN_LETTERS])
            words.append(word)
        if len(words) == n:
            return words
        raise IcftError(f"this world's part of the word list ran out after {len(self._used)} words: "
                        "make the world smaller")
