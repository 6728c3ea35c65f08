"""The grid of an ICL-vs-FT study, expanded once, and the plan of each of its cells, worked out once.

A cell is (world, seed, model, mode); the grid runner (`icft.study.grid`), its dry run (`icft.study.preview`)
and the report (`icft.report.grid.results`: which stored runs are in the grid, which cells were not run) all read
this one expansion. A `CellPlan` holds what a cell runs by, resolved before any work: its world, its mode, its
merged fine-tuning settings with their precision resolved on the study's device, and the run it stores (whose id
says whether the cell is done). The estimate, the done check, the fit and the scoring all read the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console

from icft.errors import IcftError
from icft.learn.modes import BUDGETED, Mode, budget_mode, mode_spec
from icft.store import CellKey, RunSpec
from icft.study.config import StudyConfig, WorldSpec
from icft.worlds.schema import World

if TYPE_CHECKING:
    from icft.learn.finetune.config import FinetuneConfig


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


def world_modes(config: StudyConfig, spec: WorldSpec) -> list[str]:
    """A world's cells' modes: its own, then, when it has ft-oracle-local, that mode at each budget of
    `[augment] per_fact` above 0 (0 is plain FT: the curve reads the world's ft cell)."""
    modes = list(spec.modes or config.modes)
    if BUDGETED in modes:
        modes += [budget_mode(k) for k in config.augment.per_fact if k > 0]
    return modes


def expand_grid(config: StudyConfig) -> list[Cell]:
    """Every cell, grouped so a world and a model are prepared once: world > seed > model > mode."""
    return [Cell(w, seed, model, mode) for w in config.worlds for seed in config.seeds
            for model in config.models for mode in world_modes(config, w)]


def grid_keys(config: StudyConfig) -> list[CellKey]:
    """The key of every cell of the grid, in the grid's order (what the report expects to find stored)."""
    return [cell.key for cell in expand_grid(config)]


@dataclass(frozen=True, eq=False)
class CellPlan:
    """Everything a cell runs by, built once per cell (`plan_cell`)."""

    cell: Cell
    world: World
    mode: Mode
    # the merged settings (the model's defaults < cell defaults < the study's [finetune] < the world's), precision
    # resolved (fp32 or bf16); None for a mode that does not fine-tune. `save_weights` is the default: the fit
    # sets the study's `keep_weights`, which is not part of the identity
    finetune: FinetuneConfig | None
    spec: RunSpec
    run_id: str  # spec.run_id, hashed once

    @property
    def key(self) -> CellKey:
        return self.cell.key

    @property
    def label(self) -> str:
        return self.cell.label

    @property
    def training(self) -> dict | None:
        """What the fit's identity hashes (`icft.learn.finetune.training.training_identity`); None without a fit."""
        return self.spec.config.get("training")


def plan_cell(config: StudyConfig, cell: Cell, world: World, weights: str) -> CellPlan:
    """The plan of `cell` on its `world` (built by the study), whose models run in `weights` precision
    ("float32", "bfloat16": `icft.models.device.device_precision`)."""
    from icft.evaluate.runner import eval_config, run_spec

    mode = mode_spec(cell.mode)
    finetune = training = None
    if mode.finetunes:
        from icft.learn.finetune.training import resolved_finetune, training_identity

        merged = config.finetune_for(cell.model, cell.world.finetune, cell_defaults(mode, world), seed=cell.seed)
        finetune = resolved_finetune(merged, config.device)
        training = training_identity(cell.mode, finetune, config.split, config.augment.model_dump(), config.device,
                                     distill_identity(config, cell.world) if mode.distills else None)
    settings = eval_config(cell.mode, config.icl.subsample if mode.context else 1.0,
                           config.icl.template if mode.context else "plain", training)
    spec = run_spec(cell.key, world, settings, weights)
    return CellPlan(cell, world, mode, finetune, spec, spec.run_id)


def distill_identity(config: StudyConfig, spec: WorldSpec) -> dict:
    """A distilled cell's teacher and loss, as its fit's identity hashes them (`DistillSettings.identity`): the
    study's [distill] with its world's own keys over them."""
    return config.distill.settings(spec.distill).identity(config.icl.model_dump())


def cell_defaults(mode: Mode, world: World) -> dict:
    """An imported world's augmented modes train until their facts are recalled (`icft.learn.finetune.recall`):
    the loss target stops a fit that memorized the user's documents before it can say their facts in other words.
    A study's or world's [finetune] keys still win."""
    from icft.learn.finetune.recall import IMPORTED_DEFAULTS
    from icft.worlds.imported import GENERATOR_VERSION as IMPORTED

    imported = world.generator_version == IMPORTED
    # not a distilled mode: recall probes held out of its examples would leave the teacher's targets unmatched
    return dict(IMPORTED_DEFAULTS) if imported and (mode.augmentations or mode.oracle) and not mode.distills else {}


def refuse_shared_runs(plans: list[CellPlan]) -> None:
    """Two cells whose runs would be one (the same world content, model, mode, seed and settings: e.g. two
    entries of one world told apart by a label alone): a one-line error naming both, before any work, since
    the store would count the second as done and the report list it as not run."""
    seen: dict[str, CellPlan] = {}
    for plan in plans:
        if plan.run_id in seen:
            fix = ("give one of their [[worlds]] entries other sizes or a fine-tuning setting of its own "
                   "(finetune = { seed = 1 } for another fit), or drop one" if plan.mode.finetunes else
                   f"{plan.cell.mode} does not fine-tune, so one run serves both: give the second entry only "
                   "fine-tuned modes (modes = [\"ft\"]) and a fine-tuning setting of its own (finetune = "
                   "{ seed = 1 } for another fit), or drop one")
            raise IcftError(f"cells {seen[plan.run_id].label} and {plan.label} would be the same run ({plan.run_id}): "
                            f"{fix}")
        seen[plan.run_id] = plan


def refuse_oracle(plans: list[CellPlan]) -> None:
    """The oracle's modes on a world without facts or wordings (imported, process): a one-line error."""
    from icft.learn.augment.oracle import require_oracle

    for plan in plans:
        if plan.mode.oracle:
            require_oracle(plan.world)


class Worlds:
    """A study's worlds: each (world, seed) built (or loaded) once and checked; a shortcut that beats chance on a
    generalization split is said on the console as the world is built."""

    def __init__(self, console: Console):
        self.console = console
        self._built: dict[tuple, World] = {}

    def get(self, spec: WorldSpec, seed: int) -> World:
        from icft.worlds import build_world, check_world, load_world

        key = (spec.model_dump_json(), seed)
        if key not in self._built:
            if spec.path is not None:
                world = load_world(spec.path)
            else:
                world = build_world(spec.name, seed=seed, preset=spec.preset, **spec.sizes)
                problems = check_world(world)
                if problems:
                    raise IcftError(f"world {spec.label} (seed {seed}) failed its check: {problems[0]}")
                self._warn_of_shortcuts(world, spec.label, seed)
            self._built[key] = world
        return self._built[key]

    def _warn_of_shortcuts(self, world: World, label: str, seed: int) -> None:
        """Say so when a heuristic that needs no reasoning beats chance on a generalization split: that split then
        does not measure the inference it names (the report shows the baseline beside chance)."""
        from icft.worlds.audit import audit_world, failures

        for result in failures(audit_world(world)):
            self.console.print(f"warning: world {label} (seed {seed}): the shortcut {result.baseline!r} scores "
                               f"{result.accuracy:.2f} [{result.low:.2f}, {result.high:.2f}] on {result.split} "
                               f"(chance {result.chance:.2f}): that split does not measure its inference at "
                               "these sizes; try other sizes or seeds", highlight=False)
