"""The comparisons behind the findings of Lampinen et al., planned from the cells a study holds.

The report tests exactly these (`icft.report.grid.findings`); `icft study CONFIG --dry-run` prints them with the
minimum detectable effect each will have, from items x seeds and an assumed discordance, before anything runs.
It lives with the statistics, below both, so the study runner does not import the report.

Findings 1-8 name the built-in worlds' splits. Every other world (an imported one, or a generated one under
another label) gets the same kinds of comparison on each of its generalization splits (every split that is not
one of its control splits), numbered after them:
  1   pretrained ≈ chance (finding 1 itself, on those splits)
  9   ICL > FT
  10  each augmented fine-tuning mode (any that trains on more than the documents) > FT
  11  each augmented fine-tuning mode ≥ ICL (non-inferiority; the report also reads its A > B test)
Context distillation (`icft.learn.distill`) is tested on the generalization splits of every world, built-in or not:
  12  each distilled mode > FT
  13  each distilled mode ≥ ICL (non-inferiority)
The report's answer per split (`icft.report.grid.where`) is decided from these cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from icft.evaluate.stats import ASSUMED_FIT_SD, POWER_Z, PRIMARY_METRIC, planned_mde, planned_prob_mde
from icft.learn.modes import distilled, fitted, is_mode, mode_spec

GREATER = "A > B"
NEAR_CHANCE = "A ≈ chance"
AT_LEAST = "A ≥ B"
NO_GAIN = "no gain of A over B"
GAIN_ACROSS = "gain(A) > gain(B)"  # normalized gains (acc - chance) / (1 - chance) on two worlds

# The splits that test generalization (not memorization of trained statements, nor a control), per world.
GENERALIZATION_SPLITS = {
    "reversals": ("reversed",),
    "syllogisms": ("syllogism", "syllogism_conflict"),
    "semantic": ("reversed", "syllogism", "category_holdout"),
    "reversal_curse": ("reverse_a",),
    "process": ("seen_combinations", "held_out_combinations"),
}
SIMPLE_WORLDS = tuple(w for w in GENERALIZATION_SPLITS if w != "semantic")  # the paper: splitting hurt on semantic
AUGMENTED_MODES = ("ft-local", "ft-global", "ft-local-global")
ICL_VS_FT, AUGMENTED_VS_FT, AUGMENTED_VS_ICL = 9, 10, 11  # the comparisons planned for any other world
DISTILLED_VS_FT, DISTILLED_VS_ICL = 12, 13  # on every world


@dataclass(frozen=True)
class Planned:
    """One case a finding tests: mode A (against B, or against chance when B is None) on world/split."""

    finding: int
    claim: str
    world: str
    split: str
    a: str
    b: str | None = None
    world_b: str | None = None  # GAIN_ACROSS: B's world and split
    split_b: str | None = None


def plan(cells: Iterable[tuple[str, str, str]], control_splits: Mapping[str, Iterable[str]] | None = None
         ) -> list[Planned]:
    """Every case of findings 1-11 that the (world, mode, split) cells allow, in finding order (finding 1 in
    the order the cells come). `control_splits` names each world's control splits: a world findings 2-8 do
    not name has every other split planned as a generalization split."""
    cells = list(cells)
    present = set(cells)

    def has(world: str, split: str, *modes: str) -> bool:
        return all((world, mode, split) in present for mode in modes)

    order = list(dict.fromkeys((w, s) for w, _, s in cells))
    generalization = generalization_splits(order, control_splits or {})
    # finding 1 (the worlds are novel) reads the generalization splits: a control split may hold a prior the
    # pretrained model follows (most trained premises say "all"), which is no knowledge of the world
    out = [Planned(1, NEAR_CHANCE, w, s, "pretrained") for w, s in order
           if has(w, s, "pretrained") and s in generalization[w]]
    out += [Planned(n, GREATER, w, s, "icl", "ft") for n, w, s in ((2, "reversals", "reversed"),
                                                                 (3, "syllogisms", "syllogism")) if has(w, s, "icl", "ft")]
    if has("semantic", "reversed", "ft") and has("reversals", "reversed", "ft"):
        out.append(Planned(4, GAIN_ACROSS, "semantic", "reversed", "ft", "ft", "reversals", "reversed"))
    out += _against(5, GREATER, AUGMENTED_MODES, "ft", GENERALIZATION_SPLITS, has)
    out += _against(6, AT_LEAST, ("ft-global",), "icl", GENERALIZATION_SPLITS, has)
    out += _against(7, GREATER, ("ft-split",), "ft", {w: GENERALIZATION_SPLITS[w] for w in SIMPLE_WORLDS}, has)
    if has("reversal_curse", "reverse_a", "ft", "icl"):  # FT near chance where ICL is high: both or neither
        out += [Planned(8, NEAR_CHANCE, "reversal_curse", "reverse_a", "ft"),
                Planned(8, GREATER, "reversal_curse", "reverse_a", "icl", "ft")]
    out += _any_world(cells, {w: s for w, s in generalization.items() if w not in GENERALIZATION_SPLITS}, has)
    distilled_modes = [m for m in dict.fromkeys(m for _, m, _ in cells) if distilled(m)]
    out += _against(DISTILLED_VS_FT, GREATER, tuple(distilled_modes), "ft", generalization, has)
    return out + _against(DISTILLED_VS_ICL, AT_LEAST, tuple(distilled_modes), "icl", generalization, has)


def generalization_splits(order: Iterable[tuple[str, str]], control_splits: Mapping[str, Iterable[str]]
                          ) -> dict[str, tuple[str, ...]]:
    """Per world (in `order`, (world, split) pairs), its generalization splits: a built-in world's named ones,
    any other world's splits that are not its control splits."""
    out: dict[str, list[str]] = {}
    for world, split in order:
        named = GENERALIZATION_SPLITS.get(world)
        keep = split in named if named is not None else split not in set(control_splits.get(world, ()))
        out.setdefault(world, [])
        if keep:
            out[world].append(split)
    return {world: tuple(splits) for world, splits in out.items()}


def augmented(mode: str) -> bool:
    """A fine-tuning mode that trains on more (or other) than the plain documents: the augmented and split modes,
    the oracle's controls and the scaling curve's budgets (not the distilled modes: findings 12-13 test them)."""
    return is_mode(mode) and mode_spec(mode).finetunes and mode != "ft" and not mode_spec(mode).distills


def _any_world(cells: list[tuple[str, str, str]], splits: dict[str, tuple[str, ...]],
               has: Callable[..., bool]) -> list[Planned]:
    """Findings 9-11 on the generalization splits of the worlds findings 2-8 do not name."""
    modes = [m for m in dict.fromkeys(m for _, m, _ in cells) if augmented(m)]
    out = []
    for world, names in splits.items():
        for split in names:
            if has(world, split, "icl", "ft"):
                out.append(Planned(ICL_VS_FT, GREATER, world, split, "icl", "ft"))
            out += [Planned(AUGMENTED_VS_FT, GREATER, world, split, m, "ft") for m in modes if has(world, split, m, "ft")]
            out += [Planned(AUGMENTED_VS_ICL, AT_LEAST, world, split, m, "icl") for m in modes
                    if has(world, split, m, "icl")]
    return out


def planned_effect(case: Planned, items: int, seeds: int, chance: float, units: int | None = None,
                   items_b: int | None = None, chance_b: float | None = None) -> float:
    """The effect a planned case will detect with 80% power: a paired difference of the primary metric
    (p(correct): an assumed spread over `units` independent items, the split's fact clusters; accuracy: an
    assumed discordance), a distance from chance, or a difference of normalized gains (binomial variance at 0.5
    in both cells)."""
    if case.claim == NEAR_CHANCE:
        return POWER_Z * float(np.sqrt(chance * (1 - chance) / (items * seeds)))
    if case.claim == GAIN_ACROSS:
        variance = 0.25 / (items * seeds) / (1 - chance) ** 2 + 0.25 / ((items_b or items) * seeds) / (
            1 - (chance_b if chance_b is not None else chance)) ** 2
        return POWER_Z * float(np.sqrt(variance))
    if PRIMARY_METRIC == "p_correct":  # a fine-tuned side: each seed is a fit, and fits vary (stats.fit_spread)
        fit_sd = ASSUMED_FIT_SD if fitted(case.a) or fitted(case.b) else None
        return planned_prob_mde(units or items, seeds, fit_sd=fit_sd)
    return planned_mde(items, seeds)


def _against(number: int, claim: str, modes: tuple[str, ...], baseline: str, splits: dict[str, tuple[str, ...]],
             has: Callable[..., bool]) -> list[Planned]:
    return [Planned(number, claim, world, split, mode, baseline) for world, names in splits.items()
            for split in names for mode in modes if has(world, split, mode, baseline)]

