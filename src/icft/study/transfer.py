"""Run a transfer study (Yang et al. 2024): fine-tune on each training task, score on every test task.

The grid, per model and seed:
  base            the unmodified model on every test task (the matrix's baseline row)
  fit             (training task, train size, variant ft | fticl): one fine-tuning run of the one training
                  loop (`icft.learn.finetune`) on `icft.learn.fticl`'s data, then every test task scored
A fit's identity (`fit_id`) hashes its model, seed, task, size, variant, demonstrations and fine-tuning
config; each scored test task is a run in the results store whose config names the fit. A fit whose runs are
all finished is never trained again; an interrupted one trains again (same seed, same weights) and scores
only the examples still missing. The store's `fits` table records what each fit did to the model: steps,
final loss and the mean absolute weight change (fine-tuned minus base, over every weight).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from icft.errors import IcftError
from icft.models.device import device_precision
from icft.jsonl import write_text_atomic
from icft.learn.finetune.training import finetune_identity
from icft.study.config import StudyConfig
from icft.study.costs import TRAIN
from icft.store import BASE, ResultsStore, RunSpec, content_digest, transfer_key
from icft.store.layout import finetune_folder
from icft.study.runner_base import StudyRunner, minutes, run_or_plan
from icft.tasks.schema import Task, cell_relation


@dataclass(frozen=True)
class Fit:
    """One fine-tuning of the grid."""

    model: str
    seed: int
    train_task: str
    size: int
    variant: str

    @property
    def label(self) -> str:
        return f"{self.model} {self.variant} on {self.train_task} (n={self.size}, seed {self.seed})"


class TransferStudy(StudyRunner):
    """One transfer study folder: its config, tasks, results store and fine-tuning records."""

    kind = "transfer"

    def __init__(self, config: StudyConfig, out: str | Path, console: Console | None = None):
        super().__init__(config, out, console)
        self.spec = config.transfer
        self._tasks: dict[int, dict[str, Task]] = {}

    # ---- what the grid holds ------------------------------------------------------------------------

    def tasks(self, seed: int) -> dict[str, Task]:
        """Every task of the study by key: the built-in suite (built with `seed`) plus the user's tasks."""
        if seed not in self._tasks:
            from icft.tasks.builtin import builtin_tasks
            from icft.tasks.io import load_tasks

            tasks = builtin_tasks(self.spec.builtin_domains, self.spec.builtin_tasks, seed=seed,
                                  sizes=self.spec.builtin_sizes) if self.spec.builtin_domains else []
            tasks += load_tasks(self.spec.tasks, seed=seed)  # relative paths: from the working directory
            by_key: dict[str, Task] = {}
            for task in tasks:
                if task.key in by_key:
                    raise IcftError(f"two tasks are named {task.key}: give one another name or domain")
                by_key[task.key] = task
            if not by_key:
                raise IcftError("the transfer study has no tasks: keep builtin_domains or add [[transfer.tasks]]")
            self._tasks[seed] = by_key
        return self._tasks[seed]

    def train_keys(self, seed: int) -> list[str]:
        tasks = self.tasks(seed)
        keys = self.spec.train if self.spec.train is not None else list(tasks)
        for key in keys:
            if key not in tasks:
                raise IcftError(f"transfer.train names {key!r}, which is not a task of this study: "
                                f"choose from {', '.join(tasks)}")
        return keys

    def fits(self) -> list[Fit]:
        return [Fit(model, seed, key, size, variant) for model in self.config.models for seed in self.config.seeds
                for key in self.train_keys(seed) for size in self.spec.train_sizes for variant in self.spec.variants]

    def fit_config(self, fit: Fit) -> dict:
        """Everything that determines a fine-tuned model (hashed into its fit id)."""
        return {"model": fit.model, "seed": fit.seed, "train_task": fit.train_task,
                "task_identity": self.tasks(fit.seed)[fit.train_task].identity, "train_size": fit.size,
                "variant": fit.variant, "demonstrations": self.spec.demonstrations if fit.variant == "fticl" else 0,
                "finetune": finetune_identity(self.config.finetune_for(fit.model, seed=fit.seed), self.config.device)}

    def fit_id(self, fit: Fit) -> str:
        return content_digest(self.fit_config(fit), 16)

    def run_spec(self, model: str, seed: int, test_key: str, fit: Fit | None) -> RunSpec:
        """A scored test task: of the unmodified model (fit None) or of one fit."""
        tasks = self.tasks(seed)
        test = tasks[test_key]
        train = tasks[fit.train_task] if fit else None
        config = {
            "kind": "transfer", "test_task": test_key, "test_kind": test.kind, "labels": list(test.labels),
            "train_task": fit.train_task if fit else None, "train_kind": train.kind if train else None,
            "relation": cell_relation(train, test) if train else None, "train_size": fit.size if fit else None,
            "fit_id": self.fit_id(fit) if fit else None, "eval_shots": self.spec.eval_shots,
            "test_examples": self.spec.test_examples, "max_new_tokens": self.spec.max_new_tokens,
        }
        precision = device_precision(self.config.device)
        if precision != "float32":  # fp32 runs keep the ids they had before precision was recorded
            config["precision"] = precision
        return RunSpec(key=transfer_key(test_key, seed, model, fit.variant if fit else BASE), world_id=test.identity,
                       config=config)

    # ---- running ------------------------------------------------------------------------------------

    def run(self, progress: bool = True) -> int:
        """Run every missing piece of the grid; returns the number of fits trained by this call."""
        fits = self.fits()  # builds and checks every task first: a bad task file leaves no folder behind
        trained = 0
        with self.claimed(), ResultsStore(self.db_path) as store, _progress(progress) as bar:
            total = bar.add_task("transfer study", total=len(self.config.models) * len(self.config.seeds) + len(fits))
            for model in self.config.models:
                for seed in self.config.seeds:
                    bar.update(total, description=f"{model}: unmodified model (seed {seed})")
                    self._score_all(self._base.get(model), model, seed, None, store, bar)
                    bar.advance(total)
            for n, fit in enumerate(fits, start=1):
                bar.update(total, description=f"fit {n}/{len(fits)}: {fit.label}")
                if not self._fit_done(fit, store):
                    self._run_fit(fit, store, bar)
                    trained += 1
                bar.advance(total)
        return trained

    def dry_run(self) -> Table:
        table = Table("model", "seed", "train task", "size", "variant", "status", title=f"transfer study {self.config.name}")
        store = ResultsStore(self.db_path) if self.db_path.exists() else None
        fits = self.fits()
        for fit in fits:
            done = store is not None and self._fit_done(fit, store)
            table.add_row(fit.model, str(fit.seed), fit.train_task, str(fit.size), fit.variant,
                          "done" if done else "to run")
        if store is not None:
            store.close()
        tasks = self.tasks(self.config.seeds[0])
        table.caption = (f"{len(fits)} fine-tunings, each scored on {len(tasks)} test tasks "
                         f"({', '.join(tasks)}), plus the unmodified model")
        return table

    def dry_run_tables(self) -> list[Table]:
        return [self.dry_run()]

    def done_line(self, trained: int, seconds: float) -> str:
        return (f"transfer study {self.config.name}: {trained} fine-tunings run in {minutes(seconds)}; "
                f"results in {self.db_path}")

    def _fit_done(self, fit: Fit, store: ResultsStore) -> bool:
        return store.fit_stats(self.fit_id(fit)) is not None and all(
            store.run_status(self.run_spec(fit.model, fit.seed, key, fit).run_id) == "finished"
            for key in self.tasks(fit.seed))

    def _run_fit(self, fit: Fit, store: ResultsStore, bar: Progress) -> None:
        from icft.learn.finetune import finetune
        from icft.learn.fticl import task_training_examples
        from icft.models import load

        task = self.tasks(fit.seed)[fit.train_task]
        examples = task_training_examples(task, fit.variant, fit.size, fit.seed, self.spec.demonstrations)
        fit_config, fit_id = self.fit_config(fit), self.fit_id(fit)
        folder = finetune_folder(self.out, fit_id)
        config = self.config.finetune_for(fit.model, seed=fit.seed, save_weights=self.config.keep_weights)
        model = load(fit.model, device=self.config.device)  # fine-tuning changes the model in place: never train the shared base copy
        self.console.print(f"fine-tuning {fit.label}: {len(examples)} examples")
        result = finetune(model, examples, config, out_dir=folder, progress=not bar.disable)  # steps, with an ETA
        self.record_timing(store, fit.model, TRAIN, result.tokens_trained, result.seconds)
        stats = {**result.summary(), "examples": len(examples),
                 **self._train_score(model, task, fit),
                 "mean_abs_weight_change": mean_abs_weight_change(self._base.get(fit.model).model, model.model)}
        write_text_atomic(folder / "fit.json", json.dumps({"fit": fit_config, "stats": stats}, indent=1))
        self._score_all(model, fit.model, fit.seed, fit, store, bar)
        store.add_fit(fit_id, fit_config, stats)  # last: a fit is done once all its columns are
        self.release_weights(folder)

    def _train_score(self, loaded, task, fit: Fit) -> dict:
        """The learned check of a fit: its mean score on a sample of its own training examples, asked as it was
        trained on them (FTICL: with the demonstrations it trained with). A fit near chance here learned the answer
        format, not the task. The test's format is what the findings compare: an FTICL fit that learned its task
        with demonstrations and answers it less well without them (measured: judge/reversals 0.03 training loss,
        0.80 asked zero-shot) took in what it was given, and its zero-shot score is a result, not an invalid one."""
        from icft.evaluate.tasks import score_examples
        from icft.learn.fticl import task_training_examples, training_subset

        sample = training_subset(task, fit.size, fit.seed)[:TRAIN_CHECK_EXAMPLES]
        trained = task_training_examples(task, fit.variant, fit.size, fit.seed, self.spec.demonstrations)
        prompts = [example.prompt for example in trained[: len(sample)]]  # the same examples, in the same order
        rows = score_examples(loaded, task, sample, prompts, self.spec.max_new_tokens)
        return {"train_score": sum(row.score for row in rows) / len(rows), "train_n": len(rows),
                "train_format": "as trained"}

    def _score_all(self, loaded, model: str, seed: int, fit: Fit | None, store: ResultsStore, bar: Progress) -> None:
        from icft.evaluate.tasks import evaluate_task

        for key, task in self.tasks(seed).items():
            evaluate_task(loaded, task, self.run_spec(model, seed, key, fit), store, shots=self.spec.eval_shots,
                          n_examples=self.spec.test_examples, max_new_tokens=self.spec.max_new_tokens, progress=bar)



# training examples a fit is scored on for its learned check: enough that a fit that learned its task is several
# examples above the rule's cut (`icft.evaluate.learned`), so one example cannot decide it
TRAIN_CHECK_EXAMPLES = 72


def mean_abs_weight_change(base: torch.nn.Module, tuned: torch.nn.Module) -> float:
    """Mean over every weight of |tuned - base| (tied weights counted once), as Yang et al. compare FT and FTICL."""
    base_weights = dict(base.named_parameters())
    total, count = 0.0, 0
    with torch.no_grad():
        for name, weight in tuned.named_parameters():
            if name not in base_weights:
                raise IcftError(f"the fine-tuned model has a weight {name!r} the base model lacks")
            base_weight = base_weights[name].to(weight.device, torch.float32)  # one device, fp32 differences
            total += float((weight.float() - base_weight).abs().sum())
            count += weight.numel()
    return total / max(count, 1)


def run_transfer_study(config: StudyConfig, out: str | Path, dry_run: bool = False, progress: bool = True,
                       console: Console | None = None) -> int:
    """Run (or plan) a transfer study; returns the number of fits trained by this call."""
    return run_or_plan(TransferStudy(config, out, console), dry_run, progress) or 0


def _progress(enabled: bool) -> Progress:
    """The grid's bar (the unmodified model's scorings, then the fits) and each test task's, each with an ETA."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), disable=not enabled)
