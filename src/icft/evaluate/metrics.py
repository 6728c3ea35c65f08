"""Accuracy with 95% bootstrap confidence intervals: over items, and over items and seeds together.

Intervals use the percentile method on a seeded numpy generator, so the same numbers and seed give the
same interval. Resampling keeps the order of values meaningful, so callers pass values in a fixed order
(the world's item order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from icft.worlds.schema import Item

N_RESAMPLES = 2000
CONFIDENCE = 0.95
_CHUNK_VALUES = 1_000_000  # random indices drawn at once: bounds memory for long value lists


class ScoredItem(Protocol):
    """What a split summary reads from one scored item."""

    split: str
    correct_sum: bool  # the option with the highest summed log-probability is correct
    correct_mean: bool  # the option with the highest per-token mean log-probability is correct
    chance: float  # correct options / options


@dataclass(frozen=True)
class Estimate:
    """A mean with its confidence interval; n counts the values (items, over all seeds when pooled)."""

    mean: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class SplitSummary:
    """One test split: accuracy chosen by summed and by per-token mean log-probability, and chance."""

    split: str
    n: int
    accuracy_sum: Estimate
    accuracy_mean: Estimate
    chance: float


def is_correct(chosen: int, item: Item) -> bool:
    """The chosen option is the answer or an equally correct wording of it."""
    return chosen in item.correct


def chance_level(items: Iterable[Item]) -> float:
    """Expected accuracy of guessing: the mean over items of (correct options / options)."""
    chances = [item.chance for item in items]
    if not chances:
        raise ValueError("chance_level needs at least one item")
    return float(np.mean(chances))


def bootstrap_means(values: Sequence[float], n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `n_resamples` resamples (with replacement, same size) of `values`."""
    data = np.asarray(values, dtype=np.float64)
    n = len(data)
    if n == 0:
        raise ValueError("cannot resample an empty list of values")
    rows_per_chunk = max(1, _CHUNK_VALUES // n)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, rows_per_chunk):
        rows = min(rows_per_chunk, n_resamples - start)
        picks = rng.integers(0, n, size=(rows, n))  # (rows, n) item indices
        means[start : start + rows] = data[picks].mean(axis=1)
    return means


def percentile_interval(stats: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def estimate(values: Sequence[float], seed: int = 0, n_resamples: int = N_RESAMPLES,
             confidence: float = CONFIDENCE) -> Estimate:
    """Mean of `values` with a percentile bootstrap interval over them (one value gives a zero-width one)."""
    rng = np.random.default_rng(seed)
    means = bootstrap_means(values, n_resamples, rng)
    low, high = percentile_interval(means, confidence)
    mean = float(np.mean(values))
    # guard float round-off so the interval always contains the mean it is reported with
    return Estimate(mean=mean, low=min(low, mean), high=max(high, mean), n=len(values))


def pooled_estimate(values_per_seed: Sequence[Sequence[float]], seed: int = 0, n_resamples: int = N_RESAMPLES,
                    confidence: float = CONFIDENCE) -> Estimate:
    """Mean over seeds of each seed's mean, with a two-level bootstrap over seeds and items.

    Each resample draws seeds with replacement, then items with replacement inside every drawn seed
    (independently for a seed drawn twice), so the interval reflects both the variation between seeds
    (different worlds, orders or trainings) and the finite number of items. With one seed it is the
    item bootstrap of `estimate`.
    """
    groups = [list(v) for v in values_per_seed]
    if not groups or any(len(g) == 0 for g in groups):
        raise ValueError("pooled_estimate needs at least one seed, each with at least one value")
    rng = np.random.default_rng(seed)
    k = len(groups)
    # item-level resample means for every (resample, slot) a seed could fill: (k, n_resamples, k)
    item_means = np.stack([bootstrap_means(g, n_resamples * k, rng).reshape(n_resamples, k) for g in groups])
    drawn = rng.integers(0, k, size=(n_resamples, k))  # (n_resamples, k) seed indices
    resample_idx = np.arange(n_resamples)[:, None]  # (n_resamples, 1)
    slot_idx = np.arange(k)[None, :]  # (1, k)
    pooled = item_means[drawn, resample_idx, slot_idx].mean(axis=1)  # (n_resamples,)
    low, high = percentile_interval(pooled, confidence)
    mean = float(np.mean([np.mean(g) for g in groups]))
    return Estimate(mean=mean, low=min(low, mean), high=max(high, mean), n=sum(len(g) for g in groups))


def summarize_splits(rows: Sequence[ScoredItem], seed: int = 0, n_resamples: int = N_RESAMPLES) -> list[SplitSummary]:
    """Per-split accuracy (both choice rules) with 95% CIs and chance, splits in first-appearance order.

    `rows` are scored items in a fixed order (the store's `ItemResult` rows fit).
    """
    splits = list(dict.fromkeys(row.split for row in rows))
    summaries = []
    for split in splits:
        in_split = [row for row in rows if row.split == split]
        summaries.append(SplitSummary(
            split=split,
            n=len(in_split),
            accuracy_sum=estimate([float(r.correct_sum) for r in in_split], seed, n_resamples),
            accuracy_mean=estimate([float(r.correct_mean) for r in in_split], seed, n_resamples),
            chance=float(np.mean([r.chance for r in in_split])),
        ))
    return summaries
