"""The learned check: did a mode learn the facts it was given, before anything is compared with it?

A world names its control splits (`World.control_splits`): test items that ask the trained statements
themselves. A fine-tuned model passes the check when its accuracy on them (all control items pooled) is at
least `LEARNED_THRESHOLD`, for every seed. A comparison that involves a fine-tuned cell that did not pass is
invalid: the model did not learn what it was given, so its generalization score means nothing. Modes that do
not fine-tune (pretrained, ICL) are shown beside them for reference but never invalidate a comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

from icft.learn.modes import is_mode, mode_label, mode_spec

LEARNED_THRESHOLD = 0.9  # control-split accuracy a fine-tuned model must reach before it is compared


@dataclass(frozen=True)
class SeedCheck:
    """One run's learned check: its control accuracy and (fine-tuned runs) what its training did."""

    seed: int
    control_correct: int
    control_n: int
    fit: dict | None = None  # the store's fit stats: steps, epochs, tokens, seconds, final_loss, criterion_met, ...

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
    def has_control(self) -> bool:
        return bool(self.control_splits) and all(s.control_n for s in self.seeds)

    @property
    def control_accuracy(self) -> float | None:
        """Control accuracy over all seeds' control items (None when the world has no control split)."""
        if not self.has_control:
            return None
        return sum(s.control_correct for s in self.seeds) / sum(s.control_n for s in self.seeds)

    @property
    def lowest_control(self) -> float | None:
        return min(s.control_accuracy for s in self.seeds) if self.has_control else None

    @property
    def passed(self) -> bool | None:
        """Every seed reached the threshold; None when the world has no control split to check."""
        if not self.has_control:
            return None
        return all(s.control_accuracy >= LEARNED_THRESHOLD for s in self.seeds)

    @property
    def invalidates(self) -> bool:
        """A comparison with this cell is invalid: a fine-tuned cell that failed its control splits."""
        return self.finetuned and self.passed is False

    def failure(self) -> str:
        """The verdict text for a comparison this cell invalidates."""
        return f"invalid: {mode_label(self.mode)} did not learn the facts (control {self.lowest_control:.2f})"

    def status(self) -> str:
        if self.passed is None:
            return "no control split: learned check missing"
        if self.passed:
            return "learned"
        return "NOT learned" if self.finetuned else "below threshold (reference)"
