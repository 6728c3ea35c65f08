"""The data model of a task (Yang et al. 2024): an instruction, input -> output examples, a kind and a domain.

A task is `classification` (a fixed label set; every output is one label, scored by the log-likelihood of
each label after the prompt, metric accuracy) or `generation` (free text, metric ROUGE-L F1 plus exact
match). Its `domain` names where the data comes from (a world, XSum, Amazon reviews, ...), so a study can
tell in-domain (same task, same domain), cross-domain (same task, other domain) and cross-task cells apart.
`train` feeds fine-tuning (and the demonstrations of FTICL and k-shot prompts); `test` is only ever scored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from icft.errors import IcftError

TASK_KINDS = ("classification", "generation")


@dataclass(frozen=True)
class TaskExample:
    id: str
    input: str
    output: str  # classification: one of the task's labels


@dataclass(frozen=True)
class Task:
    """A task in one domain; validated on construction (an `IcftError` names the task and the problem)."""

    name: str
    domain: str
    kind: str
    instruction: str
    train: tuple[TaskExample, ...]
    test: tuple[TaskExample, ...]
    labels: tuple[str, ...] = ()  # classification only

    def __post_init__(self):
        object.__setattr__(self, "train", tuple(self.train))
        object.__setattr__(self, "test", tuple(self.test))
        object.__setattr__(self, "labels", tuple(self.labels))
        where = f"task {self.key}"
        if not self.name or not self.domain or "/" in self.name or "/" in self.domain:
            raise IcftError(f"{where}: name and domain must be non-empty and contain no '/'")
        if self.kind not in TASK_KINDS:
            raise IcftError(f"{where}: kind must be one of {', '.join(TASK_KINDS)}, got {self.kind!r}")
        if self.kind == "classification":
            if len(set(self.labels)) < 2 or len(set(self.labels)) != len(self.labels):
                raise IcftError(f"{where}: a classification task needs at least two distinct labels, "
                                f"got {list(self.labels)}")
            for example in (*self.train, *self.test):
                if example.output not in self.labels:
                    raise IcftError(f"{where}: example {example.id!r} has output {example.output!r}, "
                                    f"which is not one of the labels {list(self.labels)}")
        elif self.labels:
            raise IcftError(f"{where}: a generation task has no labels (drop `labels` or use kind classification)")
        for part in ("train", "test"):
            if not getattr(self, part):
                raise IcftError(f"{where}: it has no {part} examples")
        seen: set[str] = set()
        for example in (*self.train, *self.test):
            if not example.input.strip() or not example.output.strip():
                raise IcftError(f"{where}: example {example.id!r} has an empty input or output")
            if example.id in seen:
                raise IcftError(f"{where}: two examples have the id {example.id!r} (ids are unique across "
                                "train and test)")
            seen.add(example.id)

    @property
    def key(self) -> str:
        """"name/domain": how studies, stores and reports name the task."""
        return f"{self.name}/{self.domain}"

    @property
    def identity(self) -> str:
        """The key plus a digest of everything that changes results (hashed into run ids)."""
        content = {"kind": self.kind, "instruction": self.instruction, "labels": list(self.labels),
                   "train": [[e.id, e.input, e.output] for e in self.train],
                   "test": [[e.id, e.input, e.output] for e in self.test]}
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.key}/{digest}"


def cell_relation(train: Task, test: Task) -> str:
    """How a test task relates to a training task: in-domain, cross-domain (same task) or cross-task."""
    if train.name == test.name:
        return "in-domain" if train.domain == test.domain else "cross-domain"
    return "cross-task"
