"""The records the results store takes and gives back: a run's identity (`RunSpec`), its row (`RunRecord`, or
`TransferRun` from the transfer runs' view), and what a run scored (`ItemResult`, `TaskResult`)."""

from __future__ import annotations

from dataclasses import dataclass

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
