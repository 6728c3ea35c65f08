"""Hard distractors for the semantic world that no shortcut baseline of the audit can tell from the answer.

A distractor is an entity stated in training to hold the item's relation for another subject (a property
of another category, a child of another category, something another category eats, ...), never for this
subject. Among those, each item's distractors are chosen by herding (`icft.worlds.herding`) from a few
dozen candidate sets, drawn favouring entities some baseline scores at least as high as the answer: so on
average a distractor is as general as the answer (holds the relation for as many subjects), shares as many
sentences and documents with the subject, is as frequent, and so on.

In the inherited splits the answer is often more general than anything else the world holds (a property
of a large ancestor); an item that would put any baseline more than one item ahead of chance is left out
there.
"""

from __future__ import annotations

import itertools
import math
import random

import numpy as np

from icft.worlds.baselines import BASELINES, TrainIndex
from icft.worlds.herding import Herd
from icft.worlds.logic import Claim
from icft.worlds.schema import Item
from icft.worlds.semantic.text import option_text

MAX_DISTRACTORS = 3
POOL_SCORED = 32  # candidates the baselines score per item; half of them at least as general as the answer
SETS_TRIED = 30  # candidate distractor sets weighed per item


class Distractors:
    def __init__(self, index: TrainIndex, known: set[Claim], inherent: set[tuple[str, str]],
                 inherited: tuple[str, ...]):
        self.index = index
        self.known = known  # the closure of the stated facts
        self.herd = Herd(index, inherent, strict=inherited)
        self.objects: dict[str, list[str]] = {}  # relation -> entities stated to hold it for some subject
        for relation, obj in sorted(index.stated_holders):
            self.objects.setdefault(relation, []).append(obj)

    def item(self, rng: random.Random, item_id: str, split: str, prompt: str, claim: Claim,
             fact_ids: tuple[str, ...]) -> Item | None:
        """The item asking `claim` after `prompt`, or None when no fitting distractors exist."""
        s, r, answer = claim
        holders = self.index.stated_holders
        pool = [d for d in self.objects.get(r, ()) if d not in (answer, s) and (s, r, d) not in self.known
                and len(holders[(r, d)]) > (s in holders[(r, d)])]
        if not pool:
            return None
        probe = _probe(item_id, split, prompt, claim, self._shortlist(rng, split, prompt, claim, pool))
        names, versus = self.herd.versus(probe)
        k = min(MAX_DISTRACTORS, len(probe.options) - 1)
        if math.comb(len(probe.options) - 1, k) <= SETS_TRIED:
            sets = list(itertools.combinations(range(len(probe.options) - 1), k))
        else:
            sets = _draw_sets(np.random.default_rng(rng.getrandbits(64)), versus, k)
        best = self.herd.pick(split, names, versus, sets)
        if best is None:
            return None
        chosen = [0, *(i + 1 for i in sets[best])]
        rng.shuffle(chosen)
        return Item(id=item_id, split=split, prompt=prompt, options=tuple(probe.options[i] for i in chosen),
                    answer=chosen.index(0), fact_ids=fact_ids, claims=tuple(probe.claims[i] for i in chosen))

    def _shortlist(self, rng: random.Random, split: str, prompt: str, claim: Claim, pool: list[str]) -> list[str]:
        """At most POOL_SCORED candidates, half of them (where there are) at least as general as the answer."""
        if len(pool) <= POOL_SCORED:
            return pool
        general = BASELINES["most_general"](self.index, _probe("", split, prompt, claim, pool))
        if general is None:
            return sorted(rng.sample(pool, POOL_SCORED), key=pool.index)
        peers = [d for d, g in zip(pool, general[1:]) if g >= general[0]]
        kept = rng.sample(peers, min(len(peers), POOL_SCORED // 2))
        others = [d for d in pool if d not in kept]
        kept += rng.sample(others, POOL_SCORED - len(kept))
        return sorted(kept, key=pool.index)


def _probe(item_id: str, split: str, prompt: str, claim: Claim, pool: list[str]) -> Item:
    """An item with the answer first and every candidate after it, for the baselines to score."""
    s, r, answer = claim
    entities = [answer, *pool]
    return Item(item_id, split, prompt, tuple(option_text(e) for e in entities), 0,
                claims=tuple((s, r, e) for e in entities))


def _draw_sets(generator: np.random.Generator, versus: np.ndarray, k: int) -> list[tuple[int, ...]]:
    """SETS_TRIED sets of `k` distinct candidate indices, each index half the time one that some baseline
    scores at least as high as the answer (so the sets weighed can take the answer's lead away)."""
    n_pool = versus.shape[1]
    rivals = np.concatenate([np.flatnonzero(row >= 0) for row in versus] + [np.arange(n_pool)])
    draws = np.where(generator.random((SETS_TRIED, 3 * k)) < 0.5,
                     rivals[generator.integers(0, len(rivals), (SETS_TRIED, 3 * k))],
                     generator.integers(0, n_pool, (SETS_TRIED, 3 * k)))  # (sets, 3k): spares for repeats
    sets = []
    for row in draws.tolist():
        picked = tuple(dict.fromkeys(row))[:k]
        sets.append(picked if len(picked) == k else tuple(generator.choice(n_pool, k, replace=False)))
    return sets
