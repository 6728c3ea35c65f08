"""Run a study: expand the grid, run each cell once, store everything, resume after any interruption.

A cell is (world, seed, model, mode), planned once (`icft.study.cells.CellPlan`). Its identity is the run id of
its evaluation (`RunSpec`): a cell whose run is finished in the study's results store is never recomputed, so
rerunning the same command after Ctrl-C or kill -9 does only the missing cells. The dry run is
`icft.study.preview`; the fine-tuned cells' fits are `icft.study.fits`. What is expensive and shared is cached
on disk:
  worlds/      each (world, seed) built once
  augment/     augmentations per (world, seed, generator, strategy), plus the generation cache: an
               interrupted augmentation resumes, and ft-local / ft-local-global share the local file; the
               oracle's augmentations too (`icft.study.augmentations`)
  finetune/    one folder per fine-tuning cell: training curve and config (small); the weights only with
               `keep_weights`, in which case a rerun that needs them loads them instead of training again
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from icft.evaluate.learned import gets_facts
from icft.evaluate.runner import EvalSummary, evaluate_run, stored_summary
from icft.study.cells import (Cell, CellPlan, Worlds, expand_grid, plan_cell, refuse_oracle,
                              refuse_shared_runs)
from icft.study.config import StudyConfig, WorldSpec
from icft.study.costs import ICL, SCORE, cell_tokens, estimate_seconds
from icft.study.fits import Fits
from icft.study.runner_base import StudyRunner, minutes, run_or_plan
from icft.store import ResultsStore
from icft.store.layout import finetune_folder, world_folder
from icft.worlds import save_world
from icft.worlds.schema import World



class Study(StudyRunner):
    """One study folder: its config, worlds, cell plans, caches and results store."""

    kind = "icl_vs_ft"

    def __init__(self, config: StudyConfig, out: str | Path, console: Console | None = None):
        super().__init__(config, out, console)
        self._worlds = Worlds(self.console)
        self._plans: dict[Cell, CellPlan] = {}
        self.fits = Fits(self)

    # ---- the grid ---------------------------------------------------------------------------------------

    def run(self, progress: bool = True) -> list[EvalSummary]:
        plans = self.checked_plans()
        summaries = []
        with self.claimed(), ResultsStore(self.db_path) as store, _grid_progress(progress) as bar:
            status = {plan: self.is_done(plan, store) for plan in plans}
            costs = {plan: self.estimate(plan) for plan in plans}
            task = bar.add_task("study", total=sum(costs.values()),
                                completed=sum(c for plan, c in costs.items() if status[plan]))
            done = sum(status.values())
            if done:
                self.console.print(f"resuming: {done} of {len(plans)} cells already in {self.db_path}")
            for plan in plans:  # the worlds as the study saw them, for readers and `icft eval`
                folder = world_folder(self.out, plan.key)
                if plan.cell.world.path is None and not (folder / "test.jsonl").exists():
                    save_world(plan.world, folder)
            for n, plan in enumerate(plans, start=1):
                bar.update(task, description=f"cell {n}/{len(plans)}: {plan.label}", cell_started=time.monotonic(),
                           cell_cost=0.0 if status[plan] else costs[plan])
                started, loading = time.perf_counter(), self._base.loading_seconds
                summaries.append(self.run_cell(plan, store, progress))
                if not status[plan]:
                    seconds = time.perf_counter() - started - (self._base.loading_seconds - loading)
                    self._record_scoring_time(plan, store, summaries[-1], seconds)
                    bar.advance(task, costs[plan])
        return summaries

    @functools.cached_property
    def cells(self) -> list[Cell]:
        """The grid, expanded once (`icft.study.cells.expand_grid`)."""
        return expand_grid(self.config)

    def plan(self, cell: Cell) -> CellPlan:
        """The cell's plan, built on its first use and kept (`icft.study.cells.plan_cell`)."""
        if cell not in self._plans:
            world = self.world(cell.world, cell.seed)
            self._plans[cell] = plan_cell(self.config, cell, world, self.precision)
        return self._plans[cell]

    def checked_plans(self) -> list[CellPlan]:
        """Every cell's plan, in the grid's order; an oracle mode on a world without facts, or two cells that would
        be one run, is refused in one line before any work."""
        plans = [self.plan(cell) for cell in self.cells]
        refuse_oracle(plans)
        refuse_shared_runs(plans)
        return plans

    def dry_run_tables(self) -> list[Table | Text]:
        from icft.study.preview import preview

        return preview(self)

    def done_line(self, summaries: list[EvalSummary], seconds: float) -> str:
        return f"study {self.config.name}: {len(summaries)} cells in {minutes(seconds)}; results in {self.db_path}"

    def run_cell(self, plan: CellPlan, store: ResultsStore, progress: bool) -> EvalSummary:
        if store.run_status(plan.run_id) == "finished":
            return stored_summary(store, plan.spec, plan.world)
        if not plan.mode.finetunes:
            summary = evaluate_run(self.base_model(plan.cell.model), plan.world, plan.spec, store, progress=progress)
            if gets_facts(plan.cell.mode):
                self.fits.print_learned_check(store.item_rows(plan.run_id), plan.world)
            return summary
        folder = finetune_folder(self.out, plan.run_id)
        model = self.fits.model(plan, folder, store)
        summary = evaluate_run(model, plan.world, plan.spec, store, progress=progress)
        del model
        self.fits.record_learned_check(store, plan.run_id, plan.world)  # the fit's id is its cell's run id
        self.release_weights(folder)
        return summary

    def estimate(self, plan: CellPlan) -> float:
        return estimate_seconds(plan.world, plan.cell.mode, self.config, plan.finetune, plan.cell.model,
                                rate=lambda step: self.history.rate(plan.cell.model, step))

    def is_done(self, plan: CellPlan, store: ResultsStore) -> bool:
        return store.run_status(plan.run_id) == "finished"

    @functools.cached_property
    def precision(self) -> str:
        """The precision every cell's model runs in (`icft.models.device`: bf16 on a GPU that supports it, else
        fp32), resolved once per study."""
        from icft.models.device import device_precision

        return device_precision(self.config.device)

    def world(self, spec: WorldSpec, seed: int) -> World:
        """Build (or load) a world once per study."""
        return self._worlds.get(spec, seed)

    def base_model(self, name: str):
        """The study's unmodified model, shared by its cells."""
        return self._base.get(name)

    # ---- timings for later estimates (`icft.study.history`) ------------------------------------------

    def _record_scoring_time(self, plan: CellPlan, store: ResultsStore, summary: EvalSummary, seconds: float) -> None:
        """A pretrained or ICL cell's scoring speed (a fine-tuned cell's time is mostly its fit, recorded apart)."""
        if plan.mode.finetunes or not summary.n_scored:
            return
        tokens = cell_tokens(plan.world, plan.cell.mode, self.config, model=plan.cell.model)
        step = ICL if ICL in tokens else SCORE
        share = summary.n_scored / len(plan.world.items)  # a resumed cell scores only its missing items
        self.record_timing(store, plan.cell.model, step, tokens[step] * share, seconds)


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
