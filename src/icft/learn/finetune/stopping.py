"""When a fit stops, and when it has broken: the one home of the stopping rules and of how a fit record says
which one ended it.

Rules read only the training data, at the end of each epoch, in this order:
  1. divergence: the epoch loss (on the world's own text) rose above the best epoch's by more than
     DIVERGENCE_FACTOR. A diverged fit is broken, not learned, and never a plateau: its best epoch's weights are
     restored, the learning rate is halved and Adam's moments (built on the spike) are reset, and training goes on
     from there; after MAX_RESTORES restores it stops on the best weights ("diverged"). No later rule reads a
     diverged epoch, so a fit is never scored on weights whose epoch loss was that far above its best.
  2. recall (`recall_target`): the share of recall probes answered reaches the target, or stopped rising;
  3. the loss target (`target_loss`): the epoch loss is at most the target;
  4. plateau (with a loss target): the loss has gone flat (`plateaued`);
  5. the cap (`epochs`, `max_steps`).

Why a restore and not a stop: at a constant 2e-3 a SmolLM2 LoRA fit's epoch loss jumped from 0.31 to 1.97 in
one epoch; the plateau rule read that as "stopped falling" and the diverged weights were scored, nearer chance
on the reversed items, which looked like generalization. Why 1.5 (benchmarks/fit_stability.py): an epoch loss is
the mean over the epoch's steps, each read before its update, so near its floor it moves with the batches; a
fit of 10 documents in steps of 8 and 2 went 0.219, 0.367 (1.68x), 0.229, 0.202 and met its target on its own,
and at a factor of 1.25 the same fit was restored four times on that noise (0.203 -> 0.294, 1.45x) and ended
without its target. Gemma's floor bounces by 1.34x (0.41-0.55).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the report reads `describe` without loading torch
    import torch

    from icft.learn.finetune.config import FinetuneConfig
    from icft.store.records import FitRecord

DIVERGENCE_FACTOR = 1.5  # an epoch loss above the best epoch's times this is a divergence
MAX_RESTORES = 3  # restores before a diverged fit stops on its best weights
RESTORE_LR_FACTOR = 0.5  # each restore multiplies the learning rate by this

# FinetuneResult.stopped_by values, and how a fits table says each
STOP_REASONS = {
    "target_loss": "loss target", "plateau": "plateau", "recall": "recall target", "recall_plateau": "recall plateau",
    "epochs": "epoch cap", "max_steps": "step cap", "diverged": "diverged",
}


def diverged(loss: float, best: float, factor: float = DIVERGENCE_FACTOR) -> bool:
    """The epoch loss rose above `best` (the lowest epoch loss so far) by more than `factor`; a nan loss too."""
    return math.isnan(loss) or (math.isfinite(best) and loss > best * factor)


def plateaued(epoch_losses: Sequence[float], window: int, tolerance: float) -> bool:
    """Whether the epoch loss has gone flat: the best of the last `window` epochs is not below the best of the
    epochs before them by more than `tolerance` of it (so it needs at least `window` + 1 epochs), and the last
    epoch did not fall by more than `tolerance` from the one before.

    A steady fall of even 2% an epoch never fires it (window 3, tolerance 0.05); a loss that bounces around a
    floor fires it at the first epoch at least `window` after its best that does not fall. A loss recovering
    from a spike (at a constant rate of 2e-3 SmolLM2's went 0.28, 0.47, 0.48, 0.37) is falling, not flat: the
    second condition keeps the rule from stopping a fit there, on the spike's weights. `epoch_losses` holds the
    epochs the divergence rule let stand (a diverged epoch is restored, never read here).
    """
    if len(epoch_losses) <= window or epoch_losses[-1] < epoch_losses[-2] * (1 - tolerance):
        return False
    before, recent = min(epoch_losses[:-window]), min(epoch_losses[-window:])
    return recent > before * (1 - tolerance)


def recall_plateaued(recalls: Sequence[float], window: int) -> bool:
    """The recall has not risen above its best before the last `window` epochs (needs `window` + 1 epochs). A fit
    that has recalled nothing yet has not plateaued: it is still learning (under warm-up its first epochs recall
    nothing), and its `epochs` cap stops it."""
    if window == 0 or len(recalls) <= window or max(recalls) == 0:
        return False
    return max(recalls[-window:]) <= max(recalls[:-window])


def verdict(config: FinetuneConfig, epoch_losses: Sequence[float], restores: Sequence[int],
            recalls: Sequence[float]) -> str | None:
    """After an epoch that did not diverge: the rule that stops the fit now (a `STOP_REASONS` key), or None.

    With `recall_target` the recall rules replace the loss target (memorized is not recalled); the plateau rule
    reads the epochs the divergence rule let stand."""
    if config.recall_target is not None:
        if recalls[-1] >= config.recall_target:
            return "recall"
        return "recall_plateau" if recall_plateaued(recalls, config.plateau_window) else None
    if config.target_loss is None:
        return None
    if epoch_losses[-1] <= config.target_loss:
        return "target_loss"
    standing = [loss for n, loss in enumerate(epoch_losses, start=1) if n not in restores]
    if config.plateau_window and plateaued(standing, config.plateau_window, config.plateau_tolerance):
        return "plateau"
    return None


class BestWeights:
    """The trainable parameters of the fit's best epoch so far (LoRA: the adapter, a few MB; full FT: a copy of
    the weights), to go back to when the fit diverges."""

    def __init__(self, model: torch.nn.Module):
        self._params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self._saved: dict[str, torch.Tensor] | None = None
        self.loss = math.inf
        self.epoch = 0  # 1-based; 0 = none yet

    def offer(self, loss: float, epoch: int) -> None:
        """Keep the current weights if `loss` is the best epoch loss so far."""
        import torch

        if loss < self.loss:
            self.loss, self.epoch = loss, epoch
            with torch.no_grad():
                self._saved = {name: p.detach().clone() for name, p in self._params.items()}

    def restore(self, optimizer: torch.optim.Optimizer, scheduler) -> None:
        """Put the best weights back, reset Adam's moments and scale the learning rate by RESTORE_LR_FACTOR."""
        import torch

        if self._saved is not None:
            with torch.no_grad():
                for name, p in self._params.items():
                    p.copy_(self._saved[name])
        optimizer.state.clear()  # moments built on the spike would push straight back into it
        for group in optimizer.param_groups:
            group["lr"] *= RESTORE_LR_FACTOR
        scheduler.base_lrs = [lr * RESTORE_LR_FACTOR for lr in scheduler.base_lrs]  # the schedule's later steps


def describe(fit: FitRecord) -> str:
    """How a fit stopped, from its stored record: "loss ≤ 0.3", "recall 0.91 ≥ 0.9", "epoch cap, loss > 0.3",
    with ", 1 divergence (epoch 3): best weights restored" where the divergence rule acted."""
    stopped = fit.stopped_by or "epochs"
    if fit.recall_target is not None:  # the recall rule replaces the loss target (`icft.learn.finetune.recall`)
        recall = (fit.epoch_recalls or (float("nan"),))[-1]
        text = (f"recall {recall:.2f} ≥ {fit.recall_target:g}" if fit.criterion_met
                else f"{STOP_REASONS.get(stopped, stopped)}, recall {recall:.2f} < {fit.recall_target:g}")
    elif fit.target_loss is None:
        text = f"{STOP_REASONS.get(stopped, stopped)} (no target)"
    elif fit.criterion_met:
        text = f"loss ≤ {fit.target_loss:g}"
    else:
        text = f"{STOP_REASONS.get(stopped, stopped)}, loss > {fit.target_loss:g}"
    if fit.restores:
        text += (f", {len(fit.restores)} divergence{'s' if len(fit.restores) > 1 else ''} (epoch "
                 f"{', '.join(str(e) for e in fit.restores)}): best weights restored")
    return text
