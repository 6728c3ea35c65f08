"""The learned check: did a mode take in the facts it was given, before anything is compared with it?

A world names its control splits (`World.control_splits`): test items that ask the trained statements
themselves. Every mode that is given the facts must pass the check: a fine-tuned model (the facts are in its
weights) and ICL (the facts are in its context). A comparison that involves a cell that failed is invalid: the
model did not take in what it was given, so its generalization score means nothing. The pretrained model is
given nothing and is never checked.

The rule (`passes`): the one-sided 95% lower bound of the cell's control accuracy (Wilson, all seeds' control
items pooled) must lie above RECALL_FLOOR = 0.75. It is a test of "recall > 0.75" rather than a point value at a
threshold, so whether a cell passes is decided by evidence, not by where one item falls:
  - false pass: a cell whose true recall is 0.75 passes with probability at most ~5% (exactly, per n, below);
  - false fail: a cell that knows its facts (true recall 0.95) fails with probability `false_fail(n)`: 12% at
    n = 24 control items, 6% at 30 (reversal_curse), 3% at 36 (syllogisms), 0.2% at 48, 0.05% at 144 (the
    default reversals world). At 24 items the cut is 22/24: a cell at 21/24 (0.88) fails on evidence, where a
    point threshold of 0.9 let one item decide.
The worlds' default designs ask each fact several times (reversals: three rephrasings per fact), so a cell that
learned is several items above the cut and a cell that did not (ICL at 0.5-0.67) is far below it: one item
moving between two machines' float sums cannot change the outcome (`LearnedCheck.margin` counts how many
items would have to flip, and the report prints it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from scipy.stats import binom
from statsmodels.stats.proportion import proportion_confint

from icft.learn.modes import is_mode, mode_label, mode_spec
from icft.store.records import FitRecord

RECALL_FLOOR = 0.75  # the recall a cell must be shown to exceed (one-sided 95%) before it is compared
CHECK_CONFIDENCE = 0.90  # two-sided Wilson, so its lower bound is one-sided 95%
KNOWN_RECALL = 0.95  # the true recall at which the false-fail rate is stated


def recall_lower_bound(correct: int, n: int) -> float:
    """One-sided 95% lower bound of recall from `correct` of `n` control items (Wilson)."""
    return float(proportion_confint(correct, n, alpha=1 - CHECK_CONFIDENCE, method="wilson")[0])


def passes(correct: int, n: int) -> bool:
    """The learned check on counts: the lower bound of recall is above RECALL_FLOOR."""
    return n > 0 and recall_lower_bound(correct, n) > RECALL_FLOOR


@lru_cache(maxsize=None)
def fewest_to_pass(n: int) -> int:
    """The fewest correct control items of `n` that pass (n + 1 when none does)."""
    return next((k for k in range(n + 1) if passes(k, n)), n + 1)


def fewest_control_items() -> int:
    """The fewest control items at which a cell that answers all of them passes (below it none can)."""
    return next(n for n in range(1, 1000) if fewest_to_pass(n) <= n)


def too_few_controls(n: int, where: str) -> str | None:
    """A one-line warning when `n` control items (all seeds pooled, as the check pools them) are too few for any
    cell to pass, all of them correct; None when a cell can pass, or when there are none (no check to fail).
    `where` names them: "world kb's control split recall"."""
    if n == 0 or fewest_to_pass(n) <= n:
        return None
    return (f"warning: {where} holds {n} items: even {n}/{n} correct does not pass the learned check "
            f"(recall shown above {RECALL_FLOOR:.2f}, one-sided 95%), so every comparison with a fine-tuned or ICL "
            f"mode will be invalid; ask at least {fewest_control_items()} control questions")


def control_splits_named(world: str, splits) -> str:
    """How a warning names a world's control splits."""
    return f"world {world}'s control split{'s' if len(splits) > 1 else ''} {', '.join(splits)}"


def world_control_warning(world, label: str, seeds: int = 1) -> str | None:
    """`too_few_controls` for a world's control splits (its items in each of `seeds` seeds, pooled as the check
    pools them), named by `label`."""
    count = sum(len(world.items_in(split)) for split in world.control_splits) * seeds
    where = control_splits_named(label, world.control_splits) + (f" ({seeds} seeds)" if seeds > 1 else "")
    return too_few_controls(count, where)


def false_pass(n: int, recall: float = RECALL_FLOOR) -> float:
    """P(pass) for a cell whose true recall is `recall` (at the floor: the rule's false-pass rate)."""
    return float(binom.sf(fewest_to_pass(n) - 1, n, recall))


def false_fail(n: int, recall: float = KNOWN_RECALL) -> float:
    """P(fail) for a cell that knows its facts at `recall`."""
    return float(binom.cdf(fewest_to_pass(n) - 1, n, recall))


def gets_facts(mode: str) -> bool:
    """The mode is given the world's facts (in its weights or its context), so it must pass the check."""
    return is_mode(mode) and (mode_spec(mode).finetunes or mode_spec(mode).context)


@dataclass(frozen=True)
class SeedCheck:
    """One run's learned check: its control accuracy and (fine-tuned runs) what its training did."""

    seed: int
    control_correct: int
    control_n: int
    fit: FitRecord | None = None  # what the fit did (`icft.store.records.FitRecord`): steps, epochs, losses, ...

    @property
    def control_accuracy(self) -> float:
        return self.control_correct / self.control_n


@dataclass(frozen=True)
class LearnedCheck:
    """A (world, mode) cell's learned check over its seeds."""

    world: str
    mode: str
    control_splits: tuple[str, ...]
    seeds: tuple[SeedCheck, ...]

    @property
    def finetuned(self) -> bool:
        return is_mode(self.mode) and mode_spec(self.mode).finetunes

    @property
    def checked(self) -> bool:
        """The mode is given the facts, so the check applies (fine-tuned modes and ICL)."""
        return gets_facts(self.mode)

    @property
    def has_control(self) -> bool:
        return bool(self.control_splits) and all(s.control_n for s in self.seeds)

    @property
    def correct(self) -> int:
        return sum(s.control_correct for s in self.seeds)

    @property
    def n(self) -> int:
        return sum(s.control_n for s in self.seeds)

    @property
    def control_accuracy(self) -> float | None:
        """Control accuracy over all seeds' control items (None when the world has no control split)."""
        return self.correct / self.n if self.has_control else None

    @property
    def lower_bound(self) -> float | None:
        return recall_lower_bound(self.correct, self.n) if self.has_control else None

    @property
    def lowest_control(self) -> float | None:
        return min(s.control_accuracy for s in self.seeds) if self.has_control else None

    @property
    def passed(self) -> bool | None:
        """Recall shown above RECALL_FLOOR on all seeds' control items; None without a control split."""
        return passes(self.correct, self.n) if self.has_control else None

    @property
    def margin(self) -> int | None:
        """How many control items would have to flip to change the outcome (1 = one item decides it)."""
        if not self.has_control:
            return None
        cut = fewest_to_pass(self.n)
        return self.correct - cut + 1 if self.passed else cut - self.correct

    @property
    def invalidates(self) -> bool:
        """A comparison with this cell is invalid: a cell given the facts that failed its control splits."""
        return self.checked and self.passed is False

    def failure(self) -> str:
        """The verdict text for a comparison this cell invalidates."""
        took = "learn" if self.finetuned else "read"
        return f"invalid: {mode_label(self.mode)} did not {took} the facts (control {self.control_accuracy:.2f} = {self.correct}/{self.n})"

    def status(self) -> str:
        if self.passed is None:
            return "no control split: learned check missing"
        if not self.checked:
            return "not given the facts (reference)"
        if self.passed:
            return "learned" if self.finetuned else "read"
        return "NOT learned" if self.finetuned else "NOT read"


def rule_text() -> str:
    """The rule in one sentence, for reports."""
    return (f"a mode given the facts (fine-tuned, or ICL) passes when the one-sided 95% lower bound of its "
            f"control accuracy is above {RECALL_FLOOR:.2f}")


def seed_check_from_rows(seed: int, rows, control_splits, fit: FitRecord | None = None) -> SeedCheck:
    """A run's check from its stored item rows (the grid's console line and the report both count here)."""
    controls = [row for row in rows if row.split in control_splits]
    return SeedCheck(seed, sum(row.correct_sum for row in controls), len(controls), fit)


def rates_line(n: int) -> str:
    """The rule's error rates at `n` control items, for a console line."""
    return (f"pass needs {fewest_to_pass(n)}/{n}; false pass at recall {RECALL_FLOOR:.2f}: "
            f"{false_pass(n):.1%}, false fail at {KNOWN_RECALL:.2f}: {false_fail(n):.1%}")


__all__ = ["RECALL_FLOOR", "LearnedCheck", "SeedCheck", "control_splits_named", "false_fail", "false_pass",
           "fewest_control_items", "fewest_to_pass", "gets_facts", "passes", "rates_line", "recall_lower_bound",
           "rule_text", "seed_check_from_rows", "too_few_controls", "world_control_warning"]
