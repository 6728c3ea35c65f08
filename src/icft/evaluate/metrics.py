"""Accuracy per split of one run, with Wilson 95% intervals (`icft.evaluate.stats`), and chance levels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from icft.evaluate.stats import Estimate, cell_estimate
from icft.worlds.schema import Item


class ScoredItem(Protocol):
    """What a split summary reads from one scored item."""

    split: str
    correct_sum: bool  # the option with the highest summed log-probability is correct
    correct_mean: bool  # the option with the highest per-token mean log-probability is correct
    chance: float  # correct options / options
    f1: float | None  # free form: SQuAD token F1 (None, or absent, for a multiple-choice item)


@dataclass(frozen=True)
class SplitSummary:
    """One test split: accuracy chosen by summed and by per-token mean log-probability, and chance; a free-form
    split's accuracy is exact match (both rules), beside its token F1."""

    split: str
    n: int
    accuracy_sum: Estimate
    accuracy_mean: Estimate
    chance: float
    f1: Estimate | None = None  # free-form splits only


def is_correct(chosen: int, item: Item) -> bool:
    """The chosen option is the answer or an equally correct wording of it."""
    return chosen in item.correct


def chance_level(items: Iterable[Item]) -> float:
    """Expected accuracy of guessing: the mean over items of (correct options / options)."""
    chances = [item.chance for item in items]
    if not chances:
        raise ValueError("chance_level needs at least one item")
    return float(np.mean(chances))


def summarize_splits(rows: Sequence[ScoredItem]) -> list[SplitSummary]:
    """Per-split accuracy (both choice rules) with Wilson 95% intervals and chance, splits in first-appearance
    order; one run is one seed, so the intervals cover its items only."""
    splits = list(dict.fromkeys(row.split for row in rows))
    summaries = []
    for split in splits:
        in_split = [row for row in rows if row.split == split]
        summaries.append(SplitSummary(
            split=split,
            n=len(in_split),
            accuracy_sum=cell_estimate([[float(r.correct_sum) for r in in_split]]),
            accuracy_mean=cell_estimate([[float(r.correct_mean) for r in in_split]]),
            chance=float(np.mean([r.chance for r in in_split])),
            f1=_f1_estimate(in_split),
        ))
    return summaries


def _f1_estimate(rows: Sequence[ScoredItem]) -> Estimate | None:
    """Mean token F1 of a split's free-form items (None when it has none)."""
    f1 = [f for r in rows if (f := getattr(r, "f1", None)) is not None]  # rows without f1: multiple choice
    return cell_estimate([np.array(f1, dtype=float)]) if f1 else None


__all__ = ["Estimate", "ScoredItem", "SplitSummary", "chance_level", "is_correct", "summarize_splits"]
