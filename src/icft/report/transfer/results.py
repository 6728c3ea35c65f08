"""Read a transfer study folder into numbers: one matrix of cells per (model, train size, variant).

A cell is (variant, training task, test task): the mean score on the test task's examples with a 95% CI
(accuracy for classification: Wilson, with a bootstrap over seeds and examples for several seeds; ROUGE-L F1
for generation: the bootstrap), and its examples per seed, so two variants compare on the same examples. The `unmodified`
row holds the base model's runs, the same for every train size and variant. Beside the scores: how the test
task relates to the training task (in-domain, cross-domain, cross-task), how often a model trained on a
classification task answers with one of that task's labels, and how far each fine-tuning moved the weights.

Only `study.json` and `results.db` are read; only finished runs count (unfinished ones are listed as
incomplete, expected cells with no run at all as not run).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from icft.errors import IcftError
from icft.evaluate.stats import Estimate
from icft.report.cases import Cell as Examples, SeedItems, cell_accuracy
from icft.evaluate.learned import passes
from icft.report.folder import FolderResults, latest_finished, read_config
from icft.study.config import StudyConfig
from icft.store import BASE, FINISHED, RESULTS_DB, ResultsStore, TransferRun  # BASE: the unmodified model's runs

UNMODIFIED = "unmodified"  # the row name of those runs
VARIANT_LABELS = {BASE: "unmodified", "ft": "FT", "fticl": "FTICL"}
RELATION_TAGS = {"in-domain": "ID", "cross-domain": "CD", "cross-task": "CT"}
METRICS = {"classification": "accuracy", "generation": "ROUGE-L"}


def variant_label(variant: str) -> str:
    return VARIANT_LABELS.get(variant, variant)


@dataclass(frozen=True)
class TaskInfo:
    """A task as the stored runs name it: "name/domain", its kind and labels (labels only when tested)."""

    key: str
    kind: str
    labels: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return METRICS.get(self.kind, "score")


@dataclass(frozen=True)
class Cell:
    estimate: Estimate
    relation: str | None  # None for the unmodified row
    label_rate: float | None  # share of answers that are a label of the training task (classification training)
    seeds: tuple[int, ...]
    examples: Examples | None = None  # seed -> the scored examples (ids and scores)


@dataclass(frozen=True)
class WeightChange:
    """Mean over seeds of a fine-tuning's mean absolute weight change (and final loss, where stored)."""

    mean_abs: float
    final_loss: float | None
    seeds: tuple[int, ...]
    train_score: float | None = None  # the lowest seed's score on a sample of its own training examples
    train_n: int = 24  # how many training examples that score rests on (24 before it was stored)

    @property
    def learned(self) -> bool | None:
        """The fit's learned check, by the worlds' rule (`icft.evaluate.learned.passes`): its score on its own training
        examples shows recall above the floor (None: not stored)."""
        return None if self.train_score is None else passes(round(self.train_score * self.train_n), self.train_n)

    def failure(self) -> str:
        return f"invalid: the fit did not learn its training task (train score {self.train_score:.2f})"


@dataclass(frozen=True)
class TransferScores:
    """One model at one train size; tables, figures and findings read only this."""

    model: str
    size: int
    tasks: dict[str, TaskInfo]  # every task, columns in order
    train_tasks: tuple[str, ...]  # the rows expected (some may hold no finished run)
    variants: tuple[str, ...]  # the study's variants, in its order
    cells: dict[tuple[str, str, str], Cell]  # (variant, train task, test task); (BASE, UNMODIFIED, test) = base
    weights: dict[tuple[str, str], WeightChange]  # (variant, train task)

    def get(self, variant: str, train: str, test: str) -> Cell | None:
        return self.cells.get((variant, train, test))

    def base(self, test: str) -> Cell | None:
        return self.cells.get((BASE, UNMODIFIED, test))

    def kind(self, task: str) -> str | None:
        info = self.tasks.get(task)
        return info.kind if info else None


@dataclass(frozen=True, kw_only=True)
class TransferResults(FolderResults):
    """A transfer study folder read back: its config, the numbers per (model, size), and what is missing."""

    tasks: dict[str, TaskInfo]
    scores: dict[tuple[str, int], TransferScores]  # (model, train size), models and sizes in the config's order


def load_transfer(folder: str | Path) -> TransferResults:
    """Read `folder`'s study.json and results.db (changing neither)."""
    folder = Path(folder)
    config = read_config(folder)
    if config.kind != "transfer":
        raise IcftError(f"{folder} is a {config.kind!r} study, not a transfer study")
    db = folder / RESULTS_DB
    if not db.is_file():  # checked first: opening a ResultsStore would create an empty database
        raise IcftError(f"{folder} holds no {RESULTS_DB}: run `icft study CONFIG --out {folder}` first")
    with ResultsStore(db) as store:
        runs = store.transfer_runs()
        in_grid = [run for run in runs if _in_grid(run, config)]
        chosen, ignored = _latest_finished(runs, config)
        rows = {run.run_id: store.task_rows(run.run_id) for run in chosen}
        incomplete = tuple(f"{_describe(run)}: incomplete ({len(store.done_item_ids(run.run_id))} examples "
                           f"stored, started {run.started_at})" for run in in_grid if run.status != FINISHED)
        fit_ids = {run.config.get("fit_id") for run in in_grid} - {None}  # every seed's runs name their fit
        fits = {fit_id: store.fit_record(fit_id) for fit_id in sorted(fit_ids)}
    tasks = _tasks(in_grid, config)
    wanted = config.transfer.train
    train_tasks = tuple(t for t in tasks if wanted is None or t in wanted) + tuple(
        t for t in wanted or () if t not in tasks)  # rows in the columns' order; unseen ones last
    scores = {(model, size): _scores(model, size, chosen, rows, fits, in_grid, tasks, train_tasks, config)
              for model in config.models for size in config.transfer.train_sizes}
    return TransferResults(
        folder=folder, config=config, tasks=tasks,
        scores={key: s for key, s in scores.items() if s.cells},
        incomplete=incomplete,
        not_run=tuple(_not_run(runs, config, tasks, train_tasks)),
        ignored=tuple(ignored),
        code_versions=tuple(sorted({run.code_version for run in chosen})),
        precisions=tuple(sorted({run.config.get("precision", "float32") for run in chosen})),
        finetune_precisions=tuple(sorted({fit.precision for fit in fits.values() if fit and fit.precision})),
    )


def label_rate(predictions: list[str], labels: tuple[str, ...]) -> float:
    """Share of predictions that are exactly one of `labels` after strip() and lower()."""
    wanted = {label.strip().lower() for label in labels}
    return float(np.mean([p.strip().lower() in wanted for p in predictions]))


# ---- pieces -------------------------------------------------------------------------------------------------


def _key(run: TransferRun) -> tuple:
    """What a run is a seed of: (model, variant, train task, train size, test task)."""
    return (run.model, run.variant, run.train_task, run.train_size, run.test_task)


def _in_grid(run: TransferRun, config: StudyConfig) -> bool:
    spec = config.transfer
    if run.model not in config.models or run.seed not in config.seeds:
        return False
    if run.variant == BASE:
        return True
    return (run.variant in spec.variants and run.train_size in spec.train_sizes
            and (spec.train is None or run.train_task in spec.train))


def _latest_finished(runs: list[TransferRun], config: StudyConfig) -> tuple[list[TransferRun], list[str]]:
    """The finished run of each (cell, seed), the latest if several, and a line per run left out."""
    chosen, ignored = latest_finished(runs, in_grid=lambda run: _in_grid(run, config),
                                      cell=lambda run: (*_key(run), run.seed), describe=_describe)
    return sorted(chosen, key=lambda r: (r.seed, r.run_id)), ignored


def _tasks(runs: list[TransferRun], config: StudyConfig) -> dict[str, TaskInfo]:
    """Every task the runs name, classification first, then in the config's task and domain order."""
    kinds, labels = {}, {}
    for run in runs:
        kinds[run.test_task] = run.config.get("test_kind")
        labels[run.test_task] = tuple(run.config.get("labels") or ())
        if run.train_task:
            kinds.setdefault(run.train_task, run.config.get("train_kind"))
    spec = config.transfer
    names = list(dict.fromkeys([*spec.builtin_tasks, *(t.name for t in spec.tasks)]))
    domains = list(dict.fromkeys([*spec.builtin_domains, *(t.domain for t in spec.tasks)]))

    def order(key: str) -> tuple:
        name, _, domain = key.partition("/")
        kind = kinds[key]
        return (0 if kind == "classification" else 1, names.index(name) if name in names else len(names),
                domains.index(domain) if domain in domains else len(domains), key)

    return {key: TaskInfo(key, kinds[key] or "unknown", labels.get(key, ())) for key in sorted(kinds, key=order)}


def _scores(model: str, size: int, chosen: list[TransferRun], rows: dict, fits: dict, in_grid: list[TransferRun],
            tasks: dict[str, TaskInfo], train_tasks: tuple[str, ...], config: StudyConfig) -> TransferScores:
    per_cell: dict[tuple[str, str, str], dict[int, list]] = defaultdict(dict)
    relations = {}
    for run in chosen:
        _, variant, train, train_size, test = _key(run)
        if run.model != model or (variant != BASE and train_size != size) or not rows[run.run_id]:
            continue
        cell = (variant, UNMODIFIED if variant == BASE else train, test)
        per_cell[cell][run.seed] = rows[run.run_id]  # the store keeps each run's example order
        relations[cell] = run.config.get("relation")
    cells = {}
    for (variant, train, test), per_seed in per_cell.items():
        seeds = sorted(per_seed)
        examples = {s: SeedItems(ids=tuple(r.example_id for r in per_seed[s]),
                                 scores=np.array([r.score for r in per_seed[s]])) for s in seeds}
        estimate = cell_accuracy(examples)
        info = tasks.get(train)
        rate = None
        if info is not None and info.kind == "classification" and info.labels:
            rate = label_rate([r.prediction for s in seeds for r in per_seed[s]], info.labels)
        cells[(variant, train, test)] = Cell(estimate, relations[(variant, train, test)], rate, tuple(seeds), examples)
    return TransferScores(model=model, size=size, tasks=tasks, train_tasks=train_tasks,
                          variants=tuple(config.transfer.variants), cells=cells,
                          weights=_weights(model, size, fits, in_grid))


def _weights(model: str, size: int, fits: dict, runs: list[TransferRun]) -> dict[tuple[str, str], WeightChange]:
    """Each fit counted once (many runs name it), averaged over the seeds of (variant, train task)."""
    by_fit = {}
    for run in runs:
        fit_id = run.config.get("fit_id")
        stats = fits.get(fit_id) if fit_id else None
        if run.model == model and run.train_size == size and stats and stats.mean_abs_weight_change is not None:
            by_fit[fit_id] = (run.variant, run.train_task, run.seed, stats)
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for variant, train, seed, stats in by_fit.values():
        grouped[(variant, train)].append((seed, stats))
    weights = {}
    for key, fitted in grouped.items():
        losses = [s.final_loss for _, s in fitted if s.final_loss is not None]
        train_scores = [s.train_score for _, s in fitted if s.train_score is not None]
        train_ns = [24 if s.train_n is None else s.train_n for _, s in fitted if s.train_score is not None]
        weights[key] = WeightChange(mean_abs=float(np.mean([s.mean_abs_weight_change for _, s in fitted])),
                                    final_loss=float(np.mean(losses)) if losses else None,
                                    seeds=tuple(sorted(seed for seed, _ in fitted)),
                                    train_score=min(train_scores) if train_scores else None,
                                    train_n=min(train_ns) if train_ns else 24)
    return weights


def _not_run(runs: list[TransferRun], config: StudyConfig, tasks: dict[str, TaskInfo],
             train_tasks: tuple[str, ...]) -> list[str]:
    """Expected (cell, seed) pairs with no stored run, one line per model and row; tasks are those seen."""
    stored = {(*_key(run), run.seed) for run in runs}
    spec = config.transfer
    rows = [(BASE, None, None)] + [(v, t, n) for v in spec.variants for n in spec.train_sizes for t in train_tasks]
    lines = []
    for model in config.models:
        for variant, train, size in rows:
            missing = [f"{test} s{seed}" for test in tasks for seed in config.seeds
                       if (model, variant, train, size, test, seed) not in stored]
            if missing:
                row = UNMODIFIED if variant == BASE else f"{variant_label(variant)} n={size} trained on {train}"
                shown = ", ".join(missing[:4]) + (f", … ({len(missing)} in all)" if len(missing) > 4 else "")
                lines.append(f"{model} · {row}: not run on {shown}")
    return lines


def _describe(run: TransferRun) -> str:
    if run.variant == BASE:
        return f"{run.model} · unmodified · s{run.seed} → {run.test_task}"
    return (f"{run.model} · {variant_label(run.variant)} n={run.train_size} trained on {run.train_task} · "
            f"s{run.seed} → {run.test_task}")
