"""Run a study: expand the grid, run each cell once, store everything, resume after any interruption.

A cell is (world, seed, model, mode). Its identity is the run id of its evaluation (`RunSpec`): a cell whose
run is finished in the study's results store is never recomputed, so rerunning the same command after
Ctrl-C or kill -9 does only the missing cells. What is expensive and shared is cached on disk:
  worlds/      each (world, seed) built once
  augment/     augmentations per (world, seed, generator, strategy), plus the generation cache: an
               interrupted augmentation resumes, and ft-local / ft-local-global share the local file; the
               oracle's augmentations too (`icft.study.augmentations`)
  finetune/    one folder per fine-tuning cell: training curve and config (small); the weights only with
               `keep_weights`, in which case a rerun that needs them loads them instead of training again
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from icft.errors import IcftError
from icft.evaluate.runner import EvalSummary, eval_config, evaluate_world, run_spec, stored_summary
from icft.jsonl import write_text_atomic
from icft.evaluate.learned import (SeedCheck, gets_facts, passes, rates_line, seed_check_from_rows,
                                  world_control_warning)
from icft.learn.modes import mode_spec
from icft.study.augmentations import generator_source, oracle_file, world_modes
from icft.study.config import StudyConfig, WorldSpec
from icft.study.costs import ICL, SCORE, TRAIN, cell_tokens, estimate_seconds
from icft.study.runner_base import StudyRunner, minutes, run_or_plan
from icft.store import CellKey, ResultsStore, RunSpec
from icft.store.layout import augment_file, finetune_folder, generation_cache, world_folder
from icft.worlds import build_world, check_world, load_world, save_world
from icft.worlds.schema import World


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity (a WorldSpec holds a dict)
class Cell:
    world: WorldSpec
    seed: int
    model: str
    mode: str

    @property
    def key(self) -> CellKey:
        return CellKey(self.world.label, self.seed, self.model, self.mode)

    @property
    def label(self) -> str:
        return self.key.label


def expand_grid(config: StudyConfig) -> list[Cell]:
    """Every cell, grouped so a world and a model are prepared once: world > seed > model > mode."""
    return [Cell(w, seed, model, mode) for w in config.worlds for seed in config.seeds
            for model in config.models for mode in world_modes(config, w)]


class Study(StudyRunner):
    """One study folder: its config, worlds, caches and results store."""

    kind = "icl_vs_ft"

    def __init__(self, config: StudyConfig, out: str | Path, console: Console | None = None):
        super().__init__(config, out, console)
        self._worlds: dict[tuple, World] = {}

    # ---- the grid ---------------------------------------------------------------------------------------

    def run(self, progress: bool = True) -> list[EvalSummary]:
        cells = expand_grid(self.config)
        self.refuse_oracle(cells)
        self.refuse_shared_runs(cells)
        summaries = []
        with self.claimed(), ResultsStore(self.db_path) as store, _grid_progress(progress) as bar:
            status = {cell: self._is_done(cell, store) for cell in cells}
            costs = {cell: self.estimate(cell) for cell in cells}
            task = bar.add_task("study", total=sum(costs.values()),
                                completed=sum(c for cell, c in costs.items() if status[cell]))
            done = sum(status.values())
            if done:
                self.console.print(f"resuming: {done} of {len(cells)} cells already in {self.db_path}")
            for cell in cells:  # the worlds as the study saw them, for readers and `icft eval`
                folder = world_folder(self.out, cell.key)
                if cell.world.path is None and not (folder / "test.jsonl").exists():
                    save_world(self.world(cell.world, cell.seed), folder)
            for n, cell in enumerate(cells, start=1):
                bar.update(task, description=f"cell {n}/{len(cells)}: {cell.label}", cell_started=time.monotonic(),
                           cell_cost=0.0 if status[cell] else costs[cell])
                started, loading = time.perf_counter(), self._base.loading_seconds
                summaries.append(self.run_cell(cell, store, progress))
                if not status[cell]:
                    seconds = time.perf_counter() - started - (self._base.loading_seconds - loading)
                    self._record_scoring_time(cell, store, summaries[-1], seconds)
                    bar.advance(task, costs[cell])
        return summaries

    def dry_run(self) -> Table:
        """The grid, what is already done, and an estimate of what is left."""
        cells = expand_grid(self.config)
        self.refuse_oracle(cells)
        self.refuse_shared_runs(cells)
        table = Table("world", "seed", "model", "mode", "status", "estimate", title=f"study {self.config.name}")
        left = 0.0
        store = ResultsStore(self.db_path) if self.db_path.exists() else None
        for cell in cells:
            done = store is not None and self._is_done(cell, store)
            seconds = self.estimate(cell)
            left += 0 if done else seconds
            table.add_row(cell.world.label, str(cell.seed), cell.model, cell.mode, "done" if done else "to run",
                          "-" if done else minutes(seconds))
        if store is not None:
            store.close()
        table.caption = f"{len(cells)} cells; about {minutes(left)} left, {self.history.describe()}"
        return table

    def planned_table(self) -> Table:
        """The comparisons the report's findings will make, each with the effect it can detect (80% power)."""
        from icft.evaluate.metrics import chance_level
        from icft.evaluate.stats import ALPHA, ASSUMED_FIT_SD, ASSUMED_PROB_SD, clusters_by_fact
        from icft.learn.modes import mode_label
        from icft.evaluate.plan import plan, planned_effect

        cells, items, units, chance, controls = [], {}, {}, {}, {}
        for spec in self.config.worlds:
            world = self.world(spec, self.config.seeds[0])
            controls[spec.label] = world.control_splits
            for split in world.splits:
                items[(spec.label, split)] = len(world.items_in(split))
                units[(spec.label, split)] = len(set(clusters_by_fact([i.fact_ids for i in world.items_in(split)])))
                chance[(spec.label, split)] = chance_level(world.items_in(split))
                cells += [(spec.label, mode, split) for mode in (spec.modes or self.config.modes)]
        seeds = len(self.config.seeds)
        table = Table("finding", "claim", "world / split", "A", "B", "items (facts) × seeds", "MDE",
                      title="planned comparisons")
        for case in plan(cells, controls):
            where, other = (case.world, case.split), (case.world_b, case.split_b)
            mde = planned_effect(case, items[where], seeds, chance[where], units=units[where],
                                 items_b=items.get(other), chance_b=chance.get(other))
            shown = f"{case.world}/{case.split}" + (f" vs {case.world_b}/{case.split_b}" if case.world_b else "")
            table.add_row(str(case.finding), case.claim, shown, mode_label(case.a),
                          mode_label(case.b) if case.b else "chance", f"{items[where]} ({units[where]}) × {seeds}",
                          f"{mde:.2f}")
        table.caption = (f"MDE: the effect each comparison detects with 80% power at α = {ALPHA} (two-sided); between "
                         f"two modes, on the primary metric p(correct), assuming a paired spread of "
                         f"{ASSUMED_PROB_SD:.2f} per fact (a fact's items count once) and, with a fine-tuned side, "
                         f"a spread of {ASSUMED_FIT_SD:.2f} between fits (each seed is one fit; with several, t "
                         "quantiles over the seeds, as the test); against chance: "
                         "the distance from chance in accuracy. Items per split of seed "
                         f"{self.config.seeds[0]}'s worlds; more items or seeds lower it.")
        return table

    def dry_run_tables(self) -> list[Table | Text]:
        return [self.dry_run(), self.planned_table(), *self.control_warnings()]

    def control_warnings(self) -> list[Text]:
        """A line per world whose control splits are too few for any cell to pass its learned check (all seeds'
        control items pooled, as the report's check pools them): said before anything runs."""
        warnings = (world_control_warning(self.world(spec, self.config.seeds[0]), spec.label, len(self.config.seeds))
                    for spec in self.config.worlds)
        return [Text(warning, style="yellow") for warning in warnings if warning]

    def done_line(self, summaries: list[EvalSummary], seconds: float) -> str:
        return f"study {self.config.name}: {len(summaries)} cells in {minutes(seconds)}; results in {self.db_path}"

    def run_cell(self, cell: Cell, store: ResultsStore, progress: bool) -> EvalSummary:
        world = self.world(cell.world, cell.seed)
        spec = self.cell_spec(cell)
        if store.run_status(spec.run_id) == "finished":
            return stored_summary(store, spec, world)
        mode = mode_spec(cell.mode)
        kwargs = dict(seed=cell.seed, progress=progress)
        if mode.context:
            kwargs.update(subsample=self.config.icl.subsample, template=self.config.icl.template)
        if not mode.finetunes:
            summary = evaluate_world(self._base_model(cell.model), world, cell.world.label, cell.mode, store, **kwargs)
            if gets_facts(cell.mode):
                self._print_learned_check(store.item_rows(spec.run_id), world)
            return summary
        training = spec.config["training"]
        folder = finetune_folder(self.out, spec.run_id)
        model = self._finetuned_model(cell, world, training, folder, store, spec.run_id)
        summary = evaluate_world(model, world, cell.world.label, cell.mode, store, training=training, **kwargs)
        del model
        self._record_learned_check(store, spec.run_id, world)  # the fit's id is its cell's run id
        self.release_weights(folder)
        return summary

    def _record_learned_check(self, store: ResultsStore, fit_id: str, world: World) -> None:
        """Add the fit's control-split accuracy (its learned check) to its record, beside how it trained."""
        stats = store.fit_stats(fit_id)
        check = self._print_learned_check(store.item_rows(fit_id), world)
        if stats is None or check is None:
            return
        store.add_fit(fit_id, store.fit_config(fit_id), {**stats, "control_correct": check.control_correct,
                                                          "control_n": check.control_n,
                                                          "control_accuracy": check.control_accuracy})

    def _print_learned_check(self, rows, world: World) -> SeedCheck | None:
        """The run's learned check on the console (the report decides it again from the store, by the same rule)."""
        check = seed_check_from_rows(0, rows, world.control_splits)
        if not check.control_n:
            return None
        outcome = "passed" if passes(check.control_correct, check.control_n) else "FAILED"
        self.console.print(f"learned check: {check.control_correct}/{check.control_n} = {check.control_accuracy:.2f} "
                           f"on {', '.join(world.control_splits)}: {outcome} ({rates_line(check.control_n)})",
                           highlight=False)
        return check

    def estimate(self, cell: Cell) -> float:
        finetune = self.finetune_settings(cell) if mode_spec(cell.mode).finetunes else None
        return estimate_seconds(self.world(cell.world, cell.seed), cell.mode, self.config, finetune, cell.model,
                                rate=lambda step: self.history.rate(cell.model, step))

    def cell_spec(self, cell: Cell) -> RunSpec:
        """The run a cell stores; its id says whether the cell is done, before any work."""
        mode = mode_spec(cell.mode)
        config = eval_config(
            cell.mode,
            self.config.icl.subsample if mode.context else 1.0,
            self.config.icl.template if mode.context else "plain",
            self.training(cell) if mode.finetunes else None,
        )
        return run_spec(cell.key, self.world(cell.world, cell.seed), config, self.precision)

    @property
    def precision(self) -> str:
        """The precision every cell runs in (`icft.models.device`: bf16 on a GPU that supports it, else fp32)."""
        from icft.models.device import device_precision

        return device_precision(self.config.device)

    # ---- pieces of a cell -------------------------------------------------------------------------------

    def world(self, spec: WorldSpec, seed: int) -> World:
        """Build (or load) a world once per study."""
        key = (spec.model_dump_json(), seed)
        if key not in self._worlds:
            if spec.path is not None:
                world = load_world(spec.path)
            else:
                world = build_world(spec.name, seed=seed, preset=spec.preset, **spec.sizes)
                problems = check_world(world)
                if problems:
                    raise IcftError(f"world {spec.label} (seed {seed}) failed its check: {problems[0]}")
                self._warn_of_shortcuts(world, spec.label, seed)
            self._worlds[key] = world
        return self._worlds[key]

    def _warn_of_shortcuts(self, world: World, label: str, seed: int) -> None:
        """Say so when a heuristic that needs no reasoning beats chance on a generalization split: that split then
        does not measure the inference it names (the report shows the baseline beside chance)."""
        from icft.worlds.audit import audit_world, failures

        for result in failures(audit_world(world)):
            self.console.print(f"warning: world {label} (seed {seed}): the shortcut {result.baseline!r} scores "
                               f"{result.accuracy:.2f} [{result.low:.2f}, {result.high:.2f}] on {result.split} "
                               f"(chance {result.chance:.2f}): that split does not measure its inference at "
                               "these sizes; try other sizes or seeds", highlight=False)

    def finetune_settings(self, cell: Cell, **extra):
        """The cell's `FinetuneConfig`: its model's defaults, the study's [finetune], then its world's overrides,
        seeded by the cell (`StudyConfig.finetune_for`)."""
        return self.config.finetune_for(cell.model, cell.world.finetune, self._cell_defaults(cell), seed=cell.seed,
                                        **extra)

    def _cell_defaults(self, cell: Cell) -> dict:
        """An imported world's augmented modes train until their facts are recalled (`icft.learn.finetune.recall`): the
        loss target stops a fit that memorized the user's documents before it can say their facts in other words.
        A study's or world's [finetune] keys still win."""
        from icft.learn.finetune.recall import IMPORTED_DEFAULTS
        from icft.worlds.imported import GENERATOR_VERSION as IMPORTED

        mode = mode_spec(cell.mode)
        imported = self.world(cell.world, cell.seed).generator_version == IMPORTED
        return dict(IMPORTED_DEFAULTS) if imported and (mode.augmentations or mode.oracle) else {}

    def training(self, cell: Cell) -> dict:
        """Everything that determines a fine-tuned model: hashed into the cell's run id."""
        from icft.learn.finetune.training import training_identity

        return training_identity(cell.mode, self.finetune_settings(cell), self.config.split,
                                 self.config.augment.model_dump(), self.config.device)

    def examples(self, cell: Cell, world: World) -> list:
        from icft.learn.finetune.training import mode_examples

        files = [self.augmentations(cell, world, strategy) for strategy in (*mode_spec(cell.mode).augmentations, *mode_spec(cell.mode).oracle)]
        return mode_examples(cell.mode, world, self.config.split, files)

    def augmentations(self, cell: Cell, world: World, strategy: str) -> Path:
        """The augmentation file of (world, seed, generator, strategy), generated once (cached, resumable)."""
        from icft.learn.augment import augment_world
        from icft.learn.augment.settings import AugmentSettings
        from icft.learn.augment.generators import make_generator

        if strategy.startswith("oracle-"):
            return oracle_file(self.out, cell.key, world, strategy)
        spec = self.config.augment
        source = generator_source(spec, cell.model)
        path = augment_file(self.out, cell.key, source.name, strategy)
        if path.exists():
            return path
        loaded = self._base_model(source.model) if source.model else None  # the study's copy, not a second one
        generator = make_generator(source, loaded=loaded)
        settings = AugmentSettings(max_new_tokens=spec.max_new_tokens, temperature=spec.temperature,
                                   seed=cell.seed, cache_path=str(generation_cache(self.out)))
        self.console.print(f"augmenting {cell.key.world_ref} ({strategy}) with {generator.name}")
        result = augment_world(world, generator, strategy, path, settings)
        self.console.print(result.describe(), highlight=False)
        return path

    def _finetuned_model(self, cell: Cell, world: World, training: dict, folder: Path, store: ResultsStore,
                         fit_id: str):
        from icft.learn.finetune import finetune
        from icft.models import load, load_finetuned

        kept = load_finetuned(folder, cell.model, device=self.config.device)  # from an earlier run (keep_weights)
        if kept is not None:
            self.console.print(f"reusing the fine-tuned weights kept in {folder}")
            return kept
        examples = self.examples(cell, world)
        config = self.finetune_settings(cell, save_weights=self.config.keep_weights)
        fresh = load(cell.model, device=self.config.device)  # fine-tuning changes the model in place: never train the shared base copy
        self.console.print(f"fine-tuning {cell.label} on {len(examples)} examples")
        result = finetune(fresh, examples, config, out_dir=folder)
        # the fit's record (steps, tokens, seconds, losses, the stopping rule and whether it was met) is keyed by
        # the cell's run id; the report joins it with the run's control-split accuracy (the learned check)
        store.add_fit(fit_id, training, {**result.summary(), "examples": len(examples)})
        self.record_timing(store, cell.model, TRAIN, result.tokens_trained, result.seconds)
        with_augmentations = result.epoch_losses_with_augmentations
        all_data = f" ({with_augmentations[-1]:.3f} with the augmentations)" if with_augmentations else ""
        self.console.print(f"trained {result.steps} steps ({result.epochs} epochs) to loss {result.final_loss:.3f} on "
                           f"the world's own text{all_data}: stopped by {result.stopped_by}", highlight=False)
        write_text_atomic(folder / "cell.json", json.dumps({"cell": cell.label, "training": training}, indent=1))
        return fresh

    def refuse_oracle(self, cells: list[Cell]) -> None:
        """The oracle's modes on a world without facts or wordings (imported, process): a one-line error."""
        from icft.learn.augment.oracle import require_oracle

        for cell in cells:
            if mode_spec(cell.mode).oracle:
                require_oracle(self.world(cell.world, cell.seed))

    def refuse_shared_runs(self, cells: list[Cell]) -> None:
        """Two cells whose runs would be one (the same world content, model, mode, seed and settings: e.g. two
        entries of one world told apart by a label alone): a one-line error naming both, before any work, since
        the store would count the second as done and the report list it as not run."""
        seen: dict[str, Cell] = {}
        for cell in cells:
            run_id = self.cell_spec(cell).run_id
            if run_id in seen:
                raise IcftError(f"cells {seen[run_id].label} and {cell.label} would be the same run ({run_id}): "
                                "give one of their [[worlds]] entries other sizes or a fine-tuning setting of its "
                                "own (finetune = { seed = 1 } for another fit), or drop one")
            seen[run_id] = cell

    def _base_model(self, name: str):
        return self._base.get(name)

    def _is_done(self, cell: Cell, store: ResultsStore) -> bool:
        return store.run_status(self.cell_spec(cell).run_id) == "finished"

    # ---- timings for later estimates (`icft.study.history`) ------------------------------------------

    def _record_scoring_time(self, cell: Cell, store: ResultsStore, summary: EvalSummary, seconds: float) -> None:
        """A pretrained or ICL cell's scoring speed (a fine-tuned cell's time is mostly its fit, recorded apart)."""
        if mode_spec(cell.mode).finetunes or not summary.n_scored:
            return
        world = self.world(cell.world, cell.seed)
        tokens = cell_tokens(world, cell.mode, self.config, model=cell.model)
        step = ICL if ICL in tokens else SCORE
        share = summary.n_scored / len(world.items)  # a resumed cell scores only its missing items
        self.record_timing(store, cell.model, step, tokens[step] * share, seconds)


def run_study(config: StudyConfig, out: str | Path, dry_run: bool = False, progress: bool = True,
              console: Console | None = None) -> list[EvalSummary]:
    return run_or_plan(Study(config, out, console), dry_run, progress) or []


def _grid_progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), _EstimatedLeft(),
                    disable=not enabled)


class _EstimatedLeft(ProgressColumn):
    """The ETA from the cells' estimates (history or constants, as the dry run's): the cells still to run, less
    the time the current one has run (never below zero for it)."""

    def render(self, task) -> Text:
        left = (task.total or 0) - task.completed
        if "cell_started" in task.fields:
            left -= min(task.fields["cell_cost"], time.monotonic() - task.fields["cell_started"])
        return Text(f"ETA ~{minutes(max(left, 0.0))}", style="progress.remaining")
