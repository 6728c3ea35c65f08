"""The shortcut audit: does any reasoning-free heuristic beat chance on a split that names an inference?

Every baseline of `icft.worlds.baselines` answers every item of every split; it picks the options it scores
highest, and a tie among k options earns the share of them that is correct (1/k each), so a heuristic that
cannot tell the options apart scores exactly chance. Its accuracy gets a 95% Wilson interval, and it is
**above chance** when the interval's lower bound is above the chance level of the items it applies to.

A baseline above chance on a generalization split fails the audit, unless the world declares it inherent
to that split (`World.inherent_baselines`, with the reason): order-free association on a reversal split, for
one, cannot be removed from any reversal test. Control splits are reported and never fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from icft.worlds.baselines import BASELINES, TrainIndex
from icft.worlds.schema import Item, World

CONFIDENCE = 0.95
ORDER_FREE_BASELINES = ("cooccurrence_sentence", "cooccurrence_document")


def order_free_association(split: str) -> dict[tuple[str, str], str]:
    """The shortcut no reversal test can remove, declared inherent to the reversal split `split`."""
    reason = ("order-free association: the answer was trained in the same sentences as the subject (in the "
              "other direction); every reversal test has it")
    return {(split, baseline): reason for baseline in ORDER_FREE_BASELINES}


@dataclass(frozen=True)
class BaselineResult:
    split: str
    baseline: str
    correct: float  # items answered, a tie among k options counting the correct share of them
    n: int  # the items of the split the baseline applies to
    accuracy: float
    low: float  # the 95% Wilson interval of the accuracy
    high: float
    chance: float  # mean over those items of (correct options / options)
    above_chance: bool  # low > chance
    control: bool  # a control split: reported, never a failure
    inherent: str | None  # the world's reason this baseline cannot be removed from this split

    @property
    def fails(self) -> bool:
        """Above chance on a generalization split, and not declared inherent there."""
        return self.above_chance and not self.control and self.inherent is None


def wilson_interval(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion (successes may be fractional: tie credit)."""
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def credit(scores: list[float], correct: frozenset[int] | set[int]) -> float:
    """The share of `correct` option indices among those scored highest (1/k each in a k-way tie)."""
    best = max(scores)
    chosen = [i for i, s in enumerate(scores) if math.isclose(s, best, rel_tol=1e-12, abs_tol=1e-12)]
    return sum(1 for i in chosen if i in correct) / len(chosen)


def audit_world(world: World, baselines: tuple[str, ...] | None = None) -> list[BaselineResult]:
    """Every baseline (or those named) on every split, in split then baseline order; a baseline that
    applies to no item of a split has no row for it; free-form items have no options to pick among, so no
    baseline applies to them."""
    index = TrainIndex(world)
    results = []
    for split in world.splits:
        items = [item for item in world.items_in(split) if not item.free_form]
        for name in baselines or tuple(BASELINES):
            scored = [(item, scores) for item in items if (scores := BASELINES[name](index, item)) is not None]
            if scored:
                results.append(_result(world, split, name, scored))
    return results


def _result(world: World, split: str, name: str, scored: list[tuple[Item, list[float]]]) -> BaselineResult:
    n = len(scored)
    correct = sum(credit(scores, item.correct) for item, scores in scored)
    chance = sum(item.chance for item, _ in scored) / n
    low, high = wilson_interval(correct, n)
    return BaselineResult(
        split=split, baseline=name, correct=correct, n=n, accuracy=correct / n, low=low, high=high, chance=chance,
        above_chance=low > chance + 1e-12, control=split in world.control_splits,
        inherent=world.inherent_baselines.get((split, name)),
    )


def failures(results: list[BaselineResult]) -> list[BaselineResult]:
    return [r for r in results if r.fails]
