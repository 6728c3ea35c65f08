"""What `icft study --dry-run` prints for an ICL-vs-FT study, before any work: the grid with what is done and an
estimate of what is left, the comparisons the report's findings will make with the effect each can detect, and a
warning per world whose control splits are too few for any cell to pass its learned check.

Each reads the study (`icft.study.grid.Study`): its config, its worlds and its cell plans.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from icft.evaluate.learned import world_control_warning
from icft.store import ResultsStore
from icft.study.runner_base import minutes


def preview(study) -> list[Table | Text]:
    return [dry_run(study), planned_table(study), *control_warnings(study)]


def dry_run(study) -> Table:
    """The grid, what is already done, and an estimate of what is left."""
    plans = study.checked_plans()
    table = Table("world", "seed", "model", "mode", "status", "estimate", title=f"study {study.config.name}")
    left = 0.0
    store = ResultsStore(study.db_path) if study.db_path.exists() else None
    for plan in plans:
        done = store is not None and study.is_done(plan, store)
        seconds = study.estimate(plan)
        left += 0 if done else seconds
        table.add_row(plan.cell.world.label, str(plan.cell.seed), plan.cell.model, plan.cell.mode,
                      "done" if done else "to run", "-" if done else minutes(seconds))
    if store is not None:
        store.close()
    table.caption = f"{len(plans)} cells; about {minutes(left)} left, {study.history.describe()}"
    return table


def planned_table(study) -> Table:
    """The comparisons the report's findings will make, each with the effect it can detect (80% power)."""
    from icft.evaluate.metrics import chance_level
    from icft.evaluate.plan import plan, planned_effect
    from icft.evaluate.stats import clusters_by_fact
    from icft.learn.modes import mode_label

    config = study.config
    cells, items, units, chance, controls = [], {}, {}, {}, {}
    for spec in config.worlds:
        world = study.world(spec, config.seeds[0])
        controls[spec.label] = world.control_splits
        for split in world.splits:
            items[(spec.label, split)] = len(world.items_in(split))
            units[(spec.label, split)] = len(set(clusters_by_fact([i.fact_ids for i in world.items_in(split)])))
            chance[(spec.label, split)] = chance_level(world.items_in(split))
            cells += [(spec.label, mode, split) for mode in (spec.modes or config.modes)]
    seeds = len(config.seeds)
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
    table.caption = _planned_caption(config.seeds[0])
    return table


def _planned_caption(first_seed: int) -> str:
    from icft.evaluate.stats import ALPHA, ASSUMED_FIT_SD, ASSUMED_PROB_SD

    return (f"MDE: the effect each comparison detects with 80% power at α = {ALPHA} (two-sided); between "
            f"two modes, on the primary metric p(correct), assuming a paired spread of "
            f"{ASSUMED_PROB_SD:.2f} per fact (a fact's items count once) and, with a fine-tuned side, "
            f"a spread of {ASSUMED_FIT_SD:.2f} between fits (each seed is one fit; with several, t "
            "quantiles over the seeds, as the test); against chance: "
            "the distance from chance in accuracy. Items per split of seed "
            f"{first_seed}'s worlds; more items or seeds lower it.")


def control_warnings(study) -> list[Text]:
    """A line per world whose control splits are too few for any cell to pass its learned check (all seeds'
    control items pooled, as the report's check pools them): said before anything runs."""
    config = study.config
    warnings = (world_control_warning(study.world(spec, config.seeds[0]), spec.label, len(config.seeds))
                for spec in config.worlds)
    return [Text(warning, style="yellow") for warning in warnings if warning]
