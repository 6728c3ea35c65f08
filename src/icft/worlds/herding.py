"""Herding: choose each item's distractors so that no shortcut baseline of the audit runs ahead of chance.

A generator offers, for one item, the answer and every candidate distractor (an item `probe` with the answer
at index 0) and a few candidate sets of distractors. Every baseline of `icft.worlds.baselines` scores the
probe once; the set is kept that brings every baseline's running accuracy in the split (ties earning 1/k,
as in the audit) closest to its running chance level. Baselines a world declares inherent to a split are
not weighed there. In a `strict` split an item that would still put a baseline more than `tolerance` items
ahead of chance is refused (None), and the generator moves on to its next candidate item.
"""

from __future__ import annotations

import numpy as np

from icft.worlds.baselines import BASELINES, TrainIndex
from icft.worlds.schema import Item


class Herd:
    def __init__(self, index: TrainIndex, inherent: set[tuple[str, str]], strict: tuple[str, ...] = (),
                 tolerance: float = 1.0):
        self.index = index
        self.inherent = inherent
        self.strict = strict
        self.tolerance = tolerance
        self.running: dict[tuple[str, str], tuple[float, float]] = {}  # (split, baseline) -> (credit, chance)

    def versus(self, probe: Item) -> tuple[list[str], np.ndarray]:
        """The baselines weighed in the probe's split, and a (baselines, candidates) matrix: +1 where the
        baseline prefers the candidate to the answer, 0 a tie, -1 where it prefers the answer."""
        scores = [(n, BASELINES[n](self.index, probe)) for n in BASELINES if (probe.split, n) not in self.inherent]
        scores = [(n, v) for n, v in scores if v is not None]
        matrix = np.sign(np.array([v[1:] for _, v in scores]) - np.array([[v[0]] for _, v in scores]))
        return [n for n, _ in scores], matrix.astype(int)

    def pick(self, split: str, names: list[str], versus: np.ndarray, sets: list[tuple[int, ...]]) -> int | None:
        """The index in `sets` (each a tuple of 0-based candidate indices, all of one size k) to keep, or None
        in a strict split when every set leaves a baseline too far ahead."""
        k = len(sets[0])
        gathered = versus[:, np.array(sets)]  # (baselines, sets, k)
        won = np.where((gathered > 0).any(axis=2), 0.0, 1.0 / (1 + (gathered == 0).sum(axis=2)))  # (baselines, sets)
        before = np.array([self.running.get((split, n), (0.0, 0.0)) for n in names]).reshape(-1, 2)
        lead_before = before[:, 0] - before[:, 1]
        lead = lead_before[:, None] + won - 1 / (k + 1)  # (baselines, sets): credit minus chance so far
        best = int(np.argmin((lead**2).sum(axis=0)))
        if split in self.strict and np.any((lead[:, best] > self.tolerance) & (lead[:, best] > lead_before)):
            return None
        for n, credit, chance in zip(names, before[:, 0] + won[:, best], before[:, 1] + 1 / (k + 1)):
            self.running[(split, n)] = (float(credit), float(chance))
        return best
