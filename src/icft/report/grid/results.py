"""Read a study folder into numbers: per (world, mode, split) its items per seed, accuracy with a 95% CI.

The folder's `study.json` and `results.db` are read, and the worlds the study saved (`worlds/<world>-s<seed>/`,
or an imported world's folder) for what the store does not hold: each item's facts (items sharing a fact are
a cluster), its correct options (for the probability of the correct option) and its options' wordings (for
the option bias); a world whose content no longer matches the run's is not used. Nothing is scored again.
Accuracy is the summed log-likelihood choice (`correct_sum`). Only finished runs count: a run still marked
running (interrupted, or in progress in another process) is listed as incomplete, and a grid cell with no
run at all as not run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from icft.errors import IcftError
from icft.evaluate.stats import Estimate
from icft.learn.modes import MODES, is_mode, mode_spec
from icft.evaluate.stats import clusters_by_fact
from icft.report.cases import (Cell, SeedItems, cell_accuracy, cell_f1, cell_probability,
                               known_facts, on_known_facts)
from icft.evaluate.free_form import answer_probability
from icft.evaluate.learned import LearnedCheck, seed_check_from_rows
from icft.report.folder import FolderResults, latest_finished, read_config
from icft.study.cells import grid_keys
from icft.study.config import StudyConfig
from icft.store import FINISHED, RESULTS_DB, CellKey, ItemResult, ResultsStore, RunRecord, world_identity
from icft.store.layout import world_folder
from icft.worlds.io import load_world
from icft.worlds.schema import Item, World


@dataclass(frozen=True)
class Scores:
    """One model's numbers in one study; tables, figures and findings read only this.

    `accuracy` maps (world, mode, split) to the pooled estimate; `chance` maps (world, split) to the mean
    chance of the split's items. Worlds and splits keep the order in which they first appear in `accuracy`.
    """

    accuracy: dict[tuple[str, str, str], Estimate]
    chance: dict[tuple[str, str], float]
    seeds: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)  # (world, mode) -> finished seeds
    learned: dict[tuple[str, str], LearnedCheck] = field(default_factory=dict)  # (world, mode) -> learned check
    items: dict[tuple[str, str, str], Cell] = field(default_factory=dict)  # (world, mode, split) -> seed -> items
    probability: dict[tuple[str, str, str], Estimate] = field(default_factory=dict)  # mean p(correct option)
    # (world, split) -> (name, accuracy) of the best shortcut baseline on that generalization split
    baselines: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    # (world, mode, split) -> mean SQuAD token F1, for splits with free-form items (their accuracy is exact match)
    f1: dict[tuple[str, str, str], Estimate] = field(default_factory=dict)

    def free_form(self, world: str, split: str) -> bool:
        """The split holds free-form items: its accuracy is exact match, beside token F1."""
        return any(w == world and s == split for w, _, s in self.f1)

    def get(self, world: str, mode: str, split: str) -> Estimate | None:
        return self.accuracy.get((world, mode, split))

    def cell(self, world: str, mode: str, split: str) -> Cell | None:
        """The cell's items per seed (None when the study has no such cell)."""
        return self.items.get((world, mode, split))

    def invalid(self, world: str, *modes: str) -> str | None:
        """Why a comparison of `modes` on `world` is invalid (a fine-tuned one did not learn), or None."""
        for mode in modes:
            check = self.learned.get((world, mode))
            if check is not None and check.invalidates:
                return check.failure()
        return None

    def known(self, world: str, mode: str) -> dict[int, frozenset[str]]:
        """Per seed, the facts `mode` knows on `world`: every control item asking them answered."""
        out = {}
        for seed in self.seeds.get((world, mode), ()):
            controls = [self.items[(world, mode, s)][seed] for s in self.control_splits(world)
                        if seed in self.items.get((world, mode, s), {})]
            facts = known_facts(controls) if controls else None
            if facts is not None:
                out[seed] = facts
        return out

    def known_cell(self, world: str, split: str, mode: str, *others: str) -> Cell:
        """`mode`'s items of `split` whose facts it and every mode in `others` know."""
        known = self.known(world, mode)
        for other in others:
            theirs = self.known(world, other)
            known = {seed: facts & theirs[seed] for seed, facts in known.items() if seed in theirs}
        return on_known_facts(self.items.get((world, mode, split), {}), known)

    def control_splits(self, world: str) -> tuple[str, ...]:
        checks = [c for (w, _), c in self.learned.items() if w == world]
        return checks[0].control_splits if checks else ()

    def worlds(self) -> list[str]:
        return list(dict.fromkeys(world for world, _, _ in self.accuracy))

    def modes(self, world: str) -> list[str]:
        """The modes with results on `world`, in `MODES` order (unknown modes last, sorted)."""
        present = {mode for w, mode, _ in self.accuracy if w == world}
        return [m for m in MODES if m in present] + sorted(present - set(MODES))

    def splits(self, world: str) -> list[str]:
        return list(dict.fromkeys(split for w, _, split in self.accuracy if w == world))


@dataclass(frozen=True, kw_only=True)
class StudyResults(FolderResults):
    """A study folder read back: its config, the numbers per model, and what is missing."""

    scores: dict[str, Scores]  # per model, in the config's model order

    @property
    def models(self) -> list[str]:
        return list(self.scores)


def load_study(folder: str | Path) -> StudyResults:
    """Read `folder`'s study.json and results.db (changing neither)."""
    folder = Path(folder)
    config = read_config(folder)
    db = folder / RESULTS_DB
    if not db.is_file():  # checked first: opening a ResultsStore would create an empty database
        raise IcftError(f"{folder} holds no {RESULTS_DB}: run `icft study CONFIG --out {folder}` first")
    with ResultsStore(db) as store:
        runs = store.runs()
        grid = set(grid_keys(config))  # the grid as the study expanded it (`icft.study.cells`)
        chosen, ignored = _finished_runs_in_grid(runs, grid)
        rows = {run.run_id: store.item_rows(run.run_id) for run in chosen}
        worlds = _saved_worlds(folder, config, chosen)
        fits = {run.run_id: store.fit_record(run.run_id) for run in chosen if is_mode(run.mode) and
                mode_spec(run.mode).finetunes}
        incomplete = tuple(f"{_describe(run)}: incomplete ({len(store.done_item_ids(run.run_id))} items stored, "
                           f"started {run.started_at})"
                           for run in runs if run.status != FINISHED and run.key in grid)
    scores = {model: _model_scores([r for r in chosen if r.model == model], rows, fits, worlds, config)
              for model in config.models}
    return StudyResults(
        folder=folder,
        config=config,
        scores={model: s for model, s in scores.items() if s.accuracy},
        incomplete=incomplete,
        not_run=tuple(_cells_not_run(runs, config)),
        ignored=tuple(ignored),
        code_versions=tuple(sorted({run.code_version for run in chosen})),
        precisions=tuple(sorted({run.config.get("precision", "float32") for run in chosen})),
        finetune_precisions=tuple(sorted({fit.precision for fit in fits.values() if fit and fit.precision})),
    )


def _finished_runs_in_grid(runs: list[RunRecord], grid: set[CellKey]) -> tuple[list[RunRecord], list[str]]:
    """The finished run of each grid cell (the latest if several), and a line per run left out."""
    chosen, ignored = latest_finished(
        runs, in_grid=lambda run: run.key in grid,
        cell=lambda run: run.key, describe=_describe)
    return sorted(chosen, key=lambda r: r.run_id), ignored


def _model_scores(runs: list[RunRecord], rows: dict, fits: dict, worlds: dict, config: StudyConfig) -> Scores:
    """Each (world, mode, split) with its items per finished seed; worlds and modes in the config's order."""
    items: dict[tuple[str, str, str], Cell] = defaultdict(dict)
    chances: dict[tuple[str, str], list[float]] = defaultdict(list)
    seeds: dict[tuple[str, str], list[int]] = defaultdict(list)
    checks: dict[tuple[str, str], list[SeedCheck]] = defaultdict(list)
    controls: dict[str, tuple[str, ...]] = {}
    order = {w.label: n for n, w in enumerate(config.worlds)}
    mode_order = {m: n for n, m in enumerate(MODES)}
    item_index = {world_id: {item.id: item for item in w.items} for world_id, w in worlds.items()}
    for run in sorted(runs, key=lambda r: (order[r.world_label], mode_order.get(r.mode, len(MODES)), r.seed)):
        world = run.world_label
        seeds[(world, run.mode)].append(run.seed)
        for split, split_rows in _by_split(rows[run.run_id]).items():
            items[(world, run.mode, split)][run.seed] = seed_items(split_rows, item_index.get(run.world_id))
            chances[(world, split)] += [row.chance for row in split_rows]
        controls[world] = tuple(run.config.get("control_splits", ()))
        checks[(world, run.mode)].append(seed_check_from_rows(run.seed, rows[run.run_id], controls[world],
                                                              fits.get(run.run_id)))
    learned = {(world, mode): LearnedCheck(world, mode, controls[world], tuple(seed_checks))
               for (world, mode), seed_checks in checks.items()}
    scores = scores_from_items(dict(items), {key: float(np.mean(c)) for key, c in chances.items()},
                               {key: tuple(s) for key, s in seeds.items()}, learned)
    used = {run.world_label: [] for run in runs}
    for run in runs:
        if run.world_id in worlds and worlds[run.world_id] not in used[run.world_label]:
            used[run.world_label].append(worlds[run.world_id])
    return replace(scores, baselines=best_baselines(used))


def best_baselines(worlds: dict[str, list[World]]) -> dict[tuple[str, str], tuple[str, float]]:
    """(world, split) -> the shortcut baseline that scores best on the split (mean over the seeds' worlds), for
    every generalization split: the report draws it beside chance. Baselines read only train documents."""
    from icft.worlds.audit import audit_world

    best: dict[tuple[str, str], tuple[str, float]] = {}
    for label, built in worlds.items():
        results = [r for world in built for r in audit_world(world) if not r.control]
        for split in dict.fromkeys(r.split for r in results):
            means = defaultdict(list)
            for r in results:
                if r.split == split:
                    means[r.baseline].append(r.accuracy)
            name, values = max(means.items(), key=lambda kv: (np.mean(kv[1]), kv[0]))
            inherent = any(r.inherent for r in results if r.split == split and r.baseline == name)
            best[(label, split)] = (f"{name}, declared inherent" if inherent else name, float(np.mean(values)))
    return best


def scores_from_items(items: dict[tuple[str, str, str], Cell], chance: dict[tuple[str, str], float],
                      seeds: dict[tuple[str, str], tuple[int, ...]] | None = None,
                      learned: dict[tuple[str, str], LearnedCheck] | None = None) -> Scores:
    """`Scores` from per-seed items: accuracy and p(correct) estimated per cell; seeds default to the items'."""
    accuracy = {key: cell_accuracy(cell) for key, cell in items.items()}
    probability = {key: e for key, cell in items.items() if (e := cell_probability(cell)) is not None}
    f1 = {key: e for key, cell in items.items() if (e := cell_f1(cell)) is not None}
    if seeds is None:
        seeds = {}
        for (world, mode, _), cell in items.items():
            seeds[(world, mode)] = tuple(sorted(set(seeds.get((world, mode), ())) | set(cell)))
    return Scores(accuracy=accuracy, chance=chance, seeds=seeds, learned=learned or {}, items=items,
                  probability=probability, f1=f1)


def seed_items(rows: list[ItemResult], world_items: dict[str, Item] | None) -> SeedItems:
    """One run's rows of one split as arrays; clusters, p(correct) and wordings need the world's items.

    A free-form row's score is exact match and its p(correct) the probability of its likeliest accepted answer
    (`answer_probability`, read from the store alone); a split with free-form rows also keeps token F1 per item.
    """
    chosen = np.array([row.chosen_sum for row in rows])
    scores = np.array([float(row.correct_sum) for row in rows])
    ids = tuple(row.item_id for row in rows)
    f1 = (np.array([row.f1 if row.free_form else float(row.correct_sum) for row in rows])
          if any(row.free_form for row in rows) else None)
    known = world_items is not None and all(i in world_items for i in ids)
    if not known:
        p_correct = (np.array([answer_probability(row.logprobs, row.n_tokens) for row in rows])
                     if all(row.free_form for row in rows) else None)
        return SeedItems(ids=ids, scores=scores, p_correct=p_correct, chosen=chosen, f1=f1)
    items = [world_items[i] for i in ids]
    p_correct = [answer_probability(row.logprobs, row.n_tokens) if row.free_form
                 else _p_correct(row.logprobs, item.correct) for row, item in zip(rows, items)]
    return SeedItems(ids=ids, scores=scores, clusters=clusters_by_fact([item.fact_ids for item in items]),
                     p_correct=np.array(p_correct), chosen=chosen, wordings=_wordings(items),
                     fact_ids=tuple(item.fact_ids for item in items), f1=f1)


def _p_correct(logprobs: tuple[float, ...], correct: frozenset[int]) -> float:
    """Softmax over the options' summed log-likelihoods, summed over the correct options."""
    scores = np.asarray(logprobs, dtype=np.float64)
    weights = np.exp(scores - scores.max())
    return float(weights[sorted(correct)].sum() / weights.sum())


def _wordings(items: list[Item]) -> tuple[tuple[str, ...], ...] | None:
    """Each option's wording: the relation its claim states (None for worlds without claims)."""
    if any(item.free_form or item.claims is None or any(c is None for c in item.claims) for item in items):
        return None
    return tuple(tuple(claim[1] for claim in item.claims) for item in items)


def _by_split(rows: list[ItemResult]) -> dict[str, list[ItemResult]]:
    """Rows per split in first-appearance order (the store keeps each run's item order)."""
    out: dict[str, list[ItemResult]] = {}
    for row in rows:
        out.setdefault(row.split, []).append(row)
    return out


def _saved_worlds(folder: Path, config: StudyConfig, runs: list[RunRecord]) -> dict[str, World]:
    """world_id -> the world the study saved (or imported), for each run whose world content it is."""
    paths = {w.label: w.path for w in config.worlds}
    found: dict[str, World] = {}
    for run in runs:
        if run.world_id in found:
            continue
        for candidate in (world_folder(folder, run.key), paths.get(run.world_label)):
            if candidate is None or not (Path(candidate) / "test.jsonl").is_file():
                continue
            try:
                world = load_world(candidate)
            except IcftError:
                continue  # unreadable: the report goes on without clusters, p(correct) and wordings
            if world_identity(world) == run.world_id:
                found[run.world_id] = world
                break
    return found


def _cells_not_run(runs: list[RunRecord], config: StudyConfig) -> list[str]:
    stored = {run.key for run in runs}
    return [f"{_describe_key(key)}: not run" for key in grid_keys(config) if key not in stored]


def _describe(run: RunRecord) -> str:
    return _describe_key(run.key)


def _describe_key(key: CellKey) -> str:
    return f"{key.world_ref} · {key.model} · {key.mode}"
