"""The records the results store takes and gives back: a run's identity (`RunSpec`), its row (`RunRecord`, or
`TransferRun` from the transfer runs' view), what a run scored (`ItemResult`, `TaskResult`) and what a fit did
(`FitRecord`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from icft.store.identity import content_digest
from icft.store.layout import CellKey


def transfer_key(test_task: str, seed: int, model: str, variant: str) -> CellKey:
    """The key of a transfer run: the runs table keeps its test task as the world label and its variant as the
    mode; the `transfer_runs` view (and `TransferRun`) names them."""
    return CellKey(world_label=test_task, seed=seed, model=model, mode=variant)


class _KeyParts:
    """The parts of a record's `key` by name (a run's model, mode, seed and world label)."""

    key: CellKey

    @property
    def world_label(self) -> str:
        return self.key.world_label

    @property
    def seed(self) -> int:
        return self.key.seed

    @property
    def model(self) -> str:
        return self.key.model

    @property
    def mode(self) -> str:
        return self.key.mode


@dataclass(frozen=True)
class RunSpec(_KeyParts):
    """Everything that determines a run's results: its cell key, its world's content and its config. The hash
    of all but the world's label (how the user named it, not what it holds) is the run id."""

    key: CellKey
    world_id: str  # the world's identity: see `world_identity`
    config: dict  # the resolved config (JSON-serializable): every other setting that changes the results

    @property
    def run_id(self) -> str:
        key = {"world_id": self.world_id, "model": self.model, "mode": self.mode, "seed": self.seed,
               "config": self.config}
        return content_digest(key, 20)


@dataclass(frozen=True, kw_only=True)
class _Stored:
    """What the store keeps of every run beside what it is: its config, the code that ran it and its progress."""

    config: dict
    code_version: str
    started_at: str
    finished_at: str | None
    status: str  # running | finished


@dataclass(frozen=True)
class RunRecord(_Stored, _KeyParts):
    """A row of the runs table."""

    run_id: str
    key: CellKey
    world_id: str


@dataclass(frozen=True)
class TransferRun(_Stored):
    """A row of the transfer_runs view: one test task scored by the unmodified model (variant `BASE`, no
    training task) or by one fit."""

    run_id: str
    test_task: str
    task_id: str
    model: str
    variant: str
    seed: int
    train_task: str | None
    train_size: int | None


@dataclass(frozen=True)
class ItemResult:
    """One scored item: the log-probability of every option and what each choice rule picked.

    A free-form item (`prediction` set) holds its accepted answers' log-probabilities instead of options', its
    greedy answer, SQuAD exact match as correct_sum and correct_mean, and token F1 (`icft.evaluate.free_form`).
    """

    item_id: str
    split: str
    logprobs: tuple[float, ...]
    n_tokens: tuple[int, ...]
    chosen_sum: int
    chosen_mean: int
    correct_sum: bool
    correct_mean: bool
    chance: float
    prediction: str | None = None  # free form: the model's greedy answer
    f1: float | None = None  # free form: SQuAD token F1 against the best accepted answer

    @property
    def free_form(self) -> bool:
        return self.prediction is not None


@dataclass(frozen=True)
class TaskResult:
    """One scored task example: the model's answer and its score (accuracy 0/1, or ROUGE-L F1)."""

    example_id: str
    prediction: str
    score: float
    exact: bool


@dataclass(frozen=True)
class FitRecord:
    """One fine-tuning as the store's `fits` table keeps it (its stats JSON, parsed by `from_stats`): how it
    trained and stopped (`icft.learn.finetune.result.FinetuneResult.summary`), and what its study added (a world
    cell's learned check on its control splits; a transfer fit's training-task score and weight change).

    A record written before a key existed reads that key's default here: `restores` empty, `diverged` False,
    `kept_loss` the final loss, and None where nothing can stand in."""

    steps: int | None = None
    epochs: int | None = None
    tokens: int | None = None
    seconds: float | None = None
    examples: int | None = None
    final_loss: float | None = None  # the epoch loss of the weights the fit kept (own text)
    last_step_loss: float | None = None
    epoch_losses: tuple[float, ...] = ()
    epoch_losses_with_augmentations: tuple[float, ...] = ()
    # the stopping rules (`icft.learn.finetune.stopping`): which ended the fit, the targets, whether it met them
    stopped_by: str | None = None
    target_loss: float | None = None
    recall_target: float | None = None
    epoch_recalls: tuple[float, ...] = ()
    recall_probes: int = 0
    criterion_met: bool | None = None
    diverged: bool = False
    restores: tuple[int, ...] = ()
    restored: bool = False
    kept_epoch: int | None = None
    kept_loss: float | None = None
    divergence_factor: float | None = None
    precision: str | None = None  # of the matrix products, resolved: fp32 | bf16
    compiled: bool = False
    # a world cell's learned check (`icft.evaluate.learned`), added once the fit's run is scored
    control_correct: int | None = None
    control_n: int | None = None
    control_accuracy: float | None = None
    # a transfer fit's: its score on its own training examples, and its mean absolute weight change
    train_score: float | None = None
    train_n: int | None = None
    mean_abs_weight_change: float | None = None
    # a distilled fit's (`icft.learn.distill`): the seconds its teacher's targets took (0 when read from the cache)
    teacher_seconds: float | None = None

    @classmethod
    def from_stats(cls, stats: dict) -> FitRecord:
        """The record of a `fits` row's stats; keys this code does not know (a newer store's) are left out."""
        known = {f.name for f in fields(cls)}
        values = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in stats.items() if key in known}
        if "kept_loss" not in values:  # before the divergence rule, the kept weights were the last epoch's
            values["kept_loss"] = values.get("final_loss")
        if "diverged" not in values:
            values["diverged"] = bool(values.get("restores"))
        return cls(**values)
