"""The settings of one fine-tuning run: the one home of their defaults (no torch, so configs can hold them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LR_SCHEDULES = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}
PRECISIONS = ("auto", "fp32", "bf16")
COMPILE_SETTINGS = ("auto", "on", "off")
ADDED_UNSET_OMITTED = ("recall_target",)  # settings newer than stored runs: out of the run identity while None
EXECUTION_ONLY = ("compile",)  # settings of how a fit runs, never in the run identity


@dataclass(frozen=True)
class FinetuneConfig:
    """Everything that decides a fine-tuning run; validated on construction (ValueError names the field)."""

    epochs: int = 3  # passes over the examples; with `target_loss`, the most passes allowed (the cap)
    max_steps: int | None = None  # stop after this many optimizer steps, even mid-epoch
    # the stopping rule "train until learned": stop at the end of the first epoch whose mean training loss
    # (per learned token, over the whole epoch) is at most this; it reads only the training data, never a
    # test split. None = always train `epochs` epochs
    target_loss: float | None = None
    # ... or stop when the epoch loss has gone flat (only with `target_loss`: a fit that trains until learned):
    # at the end of an epoch, when the best of the last `plateau_window` epoch losses is not below the best of the
    # epochs before them by more than `plateau_tolerance` (relative). 0 = no plateau rule
    plateau_window: int = 3
    plateau_tolerance: float = 0.05
    # the stopping rule "train until the facts can be recalled" (`icft.learn.finetune.recall`): stop at the end of the first
    # epoch at which this share of recall probes, built from the training data only (the documents' sentences,
    # and held-out augmentations), is answered; it replaces the loss target, and `plateau_window` epochs without a
    # better recall stop it too. None = no recall rule
    recall_target: float | None = None
    learning_rate: float = 1e-4
    lr_schedule: str = "cosine"  # constant | linear | cosine (after linear warmup)
    warmup_steps: int = 0
    row_tokens: int = 512  # packing row length: the longest example allowed (attention cost grows with it)
    batch_tokens: int = 512  # tokens per optimizer step (row_tokens x rows): ~9 semantic documents, as the paper
    micro_batch_tokens: int = 512  # tokens per forward/backward; gradients accumulate up to batch_tokens
    # examples per optimizer step instead of batch_tokens: steps then do not depend on example length, so
    # data with longer prompts (FTICL) takes as many steps as the same examples without them
    batch_examples: int | None = None
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max gradient norm; 0 turns clipping off
    seed: int = 0
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = LLAMA_PROJECTIONS
    merge_lora: bool = True  # merge the adapter into the weights after training (the adapter is saved first)
    save_weights: bool = True  # write the weights or adapter to out_dir (curve and config are always written)
    # matrix products in bf16 (weights, LoRA parameters and optimizer state stay fp32): "auto" is bf16 where the
    # hardware multiplies bf16 natively (`icft.models.device.resolve_precision`), a run records what it resolved to
    precision: str = "auto"
    # compile the decoder layers with torch.compile (`icft.learn.finetune.speedups`): on | off | auto (bf16 fits of 40 steps
    # or more of a model it was measured to speed up, where a C++ compiler is at hand). How the fit runs, not what it computes (beyond float rounding, as
    # a thread count): not part of a run's identity
    compile: str = "auto"

    def __post_init__(self):
        if isinstance(self.lora_targets, str) or not isinstance(self.lora_targets, (list, tuple)):
            raise ValueError(f"lora_targets must be a list of module names, got {self.lora_targets!r}")
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))  # a list from JSON is fine
        self._check_types()
        positive = ("epochs", "learning_rate", "row_tokens", "batch_tokens", "micro_batch_tokens", "lora_rank",
                    "lora_alpha")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("warmup_steps", "weight_decay", "grad_clip", "plateau_window"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")
        if self.recall_target is not None and not 0 < self.recall_target <= 1:
            raise ValueError(f"recall_target must be in (0, 1] or None, got {self.recall_target!r}")
        for name in ("max_steps", "batch_examples", "target_loss"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive or None, got {getattr(self, name)!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.compile not in COMPILE_SETTINGS:
            raise ValueError(f"compile must be one of {', '.join(COMPILE_SETTINGS)}, got {self.compile!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not 0 <= self.plateau_tolerance < 1:
            raise ValueError(f"plateau_tolerance must be in [0, 1), got {self.plateau_tolerance!r}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}")
        if not self.lora_targets or not all(isinstance(t, str) and t for t in self.lora_targets):
            raise ValueError(f"lora_targets must be a non-empty list of module names, got {self.lora_targets!r}")
        for name in ("batch_tokens", "micro_batch_tokens"):
            if getattr(self, name) % self.row_tokens:
                raise ValueError(
                    f"{name} must be a multiple of row_tokens ({self.row_tokens}), got {getattr(self, name)}"
                )
        if self.batch_tokens % self.micro_batch_tokens:
            raise ValueError(
                f"batch_tokens ({self.batch_tokens}) must be a multiple of micro_batch_tokens "
                f"({self.micro_batch_tokens})"
            )

    def _check_types(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "lora_targets":
                ok = True  # checked with its values
            elif f.name in ("max_steps", "batch_examples"):
                ok = value is None or _is_int(value)
            elif f.name in ("target_loss", "recall_target"):
                ok = value is None or _is_int(value) or isinstance(value, float)
            elif isinstance(f.default, str):
                ok = isinstance(value, str)
            elif isinstance(f.default, bool):
                ok = isinstance(value, bool)
            elif isinstance(f.default, int):
                ok = _is_int(value)
            else:  # float fields also take ints
                ok = _is_int(value) or isinstance(value, float)
            if not ok:
                raise ValueError(f"{f.name} has the wrong type: got {value!r}")

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["lora_targets"] = list(self.lora_targets)
        return values

    def identity(self) -> dict:
        """The settings as a run's identity hashes them: a setting added after runs were made is left out while
        unset, so those runs keep their ids; settings of how it runs (`EXECUTION_ONLY`) are left out."""
        values = self.to_dict()
        for name in EXECUTION_ONLY:
            del values[name]
        for name in ADDED_UNSET_OMITTED:
            if values[name] is None:
                del values[name]
        return values


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

