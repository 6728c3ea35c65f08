"""What a fit did: its steps (`StepLog`), the totals the loop sums (`StepTotals`) and the record a results store
keeps of it (`FinetuneResult`), including which stopping rule ended it (`icft.learn.finetune.stopping`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from icft.learn.finetune.stopping import DIVERGENCE_FACTOR


@dataclass(frozen=True)
class StepLog:
    step: int
    loss: float  # mean cross-entropy per learned token in this step
    learning_rate: float  # the rate this step used
    tokens: int  # real (non-padding) tokens in this step, all processes
    elapsed: float  # seconds from the start of training to the end of this step


@dataclass
class StepTotals:
    """Summed losses and token counts of one step or an epoch's steps, over all processes."""

    loss_sum: float = 0.0  # cross-entropy summed over learned tokens
    learned: int = 0  # learned tokens
    augmentation_loss_sum: float = 0.0  # the part of both on tokens of augmentation examples
    augmentation_learned: int = 0
    real_tokens: int = 0  # tokens through the model that are not padding

    def __iadd__(self, other: StepTotals) -> StepTotals:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def loss(self) -> float:
        """Mean loss per learned token."""
        return self.loss_sum / max(self.learned, 1)

    @property
    def own_text_loss(self) -> float:
        """Mean loss per learned token of the world's own text (augmentations left out)."""
        own = self.learned - self.augmentation_learned
        return (self.loss_sum - self.augmentation_loss_sum) / own if own else math.nan


@dataclass
class FinetuneResult:
    steps: int
    tokens_trained: int  # real (non-padding) tokens through the model, all processes
    seconds: float  # training time, without setup and saving
    curve: list[StepLog] = field(default_factory=list)
    out_dir: Path | None = None
    epochs: int = 0  # passes over the examples (the last one partial when max_steps cut it)
    # mean loss per learned token of the world's own text (documents or their sentences, never augmentations) in
    # each finished epoch: the quantity the stopping rule compares with `target_loss`
    epoch_losses: list[float] = field(default_factory=list)
    # target_loss (the criterion was met) | plateau (the loss went flat first) | recall (the recall target was
    # met) | recall_plateau (the recall stopped rising first) | epochs (the cap) | max_steps
    stopped_by: str = "epochs"
    target_loss: float | None = None
    recall_target: float | None = None
    epoch_recalls: list[float] = field(default_factory=list)  # each epoch's recall rate (with `recall_target`)
    recall_probes: int = 0  # how many probes the recall rule read (held-out augmentation or document sentences)
    # each epoch's mean over every learned token, augmentations included (empty when there were none)
    epoch_losses_with_augmentations: list[float] = field(default_factory=list)
    precision: str = "fp32"  # of the matrix products: fp32 | bf16 (the resolved setting)
    compiled: bool = False  # whether the decoder layers ran compiled (the `compile` setting, resolved)
    # the epochs (1-based) whose loss diverged (`icft.learn.finetune.stopping`): each restored the best epoch's weights
    restores: list[int] = field(default_factory=list)
    kept_epoch: int = 0  # the epoch whose weights the fit ends with (its best, where the last one diverged)

    @property
    def kept_loss(self) -> float:
        """The epoch loss of the weights the fit ends with (and is scored on)."""
        return self.epoch_losses[self.kept_epoch - 1] if self.kept_epoch else math.nan

    @property
    def criterion_met(self) -> bool | None:
        """Whether the recall reached `recall_target` (with one), else the training loss `target_loss` (None when
        the run had neither)."""
        if self.recall_target is not None:
            return bool(self.epoch_recalls) and self.epoch_recalls[-1] >= self.recall_target
        if self.target_loss is None:
            return None
        return bool(self.epoch_losses) and self.kept_loss <= self.target_loss

    def summary(self) -> dict:
        """What a results store keeps of a fine-tuning: the stopping rule and how the run met it."""
        return {"steps": self.steps, "epochs": self.epochs, "tokens": self.tokens_trained,
                "seconds": round(self.seconds, 3), "final_loss": self.final_loss,
                "last_step_loss": self.curve[-1].loss if self.curve else math.nan,
                "epoch_losses": self.epoch_losses, "target_loss": self.target_loss,
                "stopped_by": self.stopped_by, "criterion_met": self.criterion_met, "precision": self.precision,
                "compiled": self.compiled, "diverged": bool(self.restores), "restores": self.restores,
                "restored": bool(self.restores) and self.kept_epoch != self.epochs, "kept_epoch": self.kept_epoch,
                "kept_loss": self.kept_loss, "divergence_factor": DIVERGENCE_FACTOR,
                **({"epoch_losses_with_augmentations": self.epoch_losses_with_augmentations}
                   if self.epoch_losses_with_augmentations else {}),
                **({"recall_target": self.recall_target, "epoch_recalls": self.epoch_recalls,
                    "recall_probes": self.recall_probes} if self.recall_target is not None else {})}

    def stopping_line(self) -> str:
        """How the fit stopped, as the fits table says it (`icft.learn.finetune.stopping.describe`): "loss ≤ 0.2,
        1 divergence (epoch 8): best weights restored"."""
        from icft.learn.finetune.stopping import describe
        from icft.store.records import FitRecord

        return describe(FitRecord.from_stats(self.summary()))

    @property
    def loss_curve(self) -> list[tuple[int, float]]:
        return [(log.step, log.loss) for log in self.curve]

    @property
    def final_loss(self) -> float:
        """The mean training loss of the epoch whose weights the fit kept: what the loss target is compared with."""
        return self.kept_loss
