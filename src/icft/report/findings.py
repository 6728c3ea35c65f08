"""The findings of Lampinen et al. (2025), each tested on one model's numbers in a study.

Every finding is a pure function of a `Scores` (accuracy estimates per (world, mode, split) and chance per
(world, split)) and returns one of four verdicts:
  reproduces              the study's numbers show the paper's direction, by the rules below
  does not reproduce      they show the opposite direction
  not shown at this size  neither: the 95% CIs overlap, or are too wide to say "near chance"
  not tested              the worlds, modes or splits the finding needs are not in the study
  invalid                 a fine-tuned model it compares did not learn the facts it was given (it failed its
                          world's learned check, `icft.report.learned`): no comparison is made with it

Rules (conservative on purpose, so the report never claims more than the numbers show):
  A > B        A's 95% CI lies entirely above B's (A.low > B.high); the opposite ordering is "does not
               reproduce". Two 95% intervals that do not overlap imply a difference well beyond the 5% level,
               so this errs toward "not shown". CIs are the study's bootstrap over items and seeds.
  near chance  the CI contains chance and lies within NEAR_CHANCE_MARGIN of it; a CI entirely above (or
               below) chance is "does not reproduce"; a CI containing chance but reaching further than the
               margin is "not shown at this size" (too few items to call it near chance).
  A >= B       (finding 6) "does not reproduce" when B > A by the rule above; "reproduces" when A > B, or
               when A's point estimate is at least B's and A's CI lower bound is no more than
               NON_INFERIORITY_MARGIN below B's point estimate; otherwise "not shown at this size".
Findings over several worlds or splits combine their cases: `all_cases` (every tested case must reproduce,
any opposite case is "does not reproduce", an invalid case makes "every case" unknowable: invalid) or
`any_case` (some valid case reproduces and none is opposite; invalid when no case is valid).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from icft.evaluate.metrics import Estimate
from icft.learn.modes import mode_label
from icft.report.results import Scores, format_estimate

REPRODUCES = "reproduces"
DOES_NOT_REPRODUCE = "does not reproduce"
NOT_SHOWN = "not shown at this size"
NOT_TESTED = "not tested"
INVALID = "invalid"
VERDICTS = (REPRODUCES, DOES_NOT_REPRODUCE, NOT_SHOWN, NOT_TESTED, INVALID)

NEAR_CHANCE_MARGIN = 0.15  # accuracy points: how far from chance a CI may reach and still be "near chance"
NON_INFERIORITY_MARGIN = 0.10  # accuracy points: how far below B the CI of A may reach in "A >= B"

# The splits that test generalization (not memorization of trained statements, nor a control), per world.
GENERALIZATION_SPLITS = {
    "reversals": ("reversed",),
    "syllogisms": ("syllogism", "syllogism_conflict"),
    "semantic": ("reversed", "syllogism", "category_holdout"),
    "reversal_curse": ("reverse_a",),
    "process": ("seen_combinations", "held_out_combinations"),
}
AUGMENTED_MODES = ("ft-local", "ft-global", "ft-local-global")


@dataclass(frozen=True)
class Finding:
    """One finding tested: its verdict, one sentence with the numbers, and a line per case it combines."""

    number: int
    claim: str
    verdict: str
    sentence: str
    details: tuple[str, ...] = ()


# ---- verdicts on estimates ----------------------------------------------------------------------------------


def greater(a: Estimate, b: Estimate) -> str:
    """A > B: non-overlapping 95% CIs decide, either way."""
    if a.low > b.high:
        return REPRODUCES
    if b.low > a.high:
        return DOES_NOT_REPRODUCE
    return NOT_SHOWN


def near_chance(a: Estimate, chance: float) -> str:
    if a.low > chance or a.high < chance:
        return DOES_NOT_REPRODUCE
    if a.low >= chance - NEAR_CHANCE_MARGIN and a.high <= chance + NEAR_CHANCE_MARGIN:
        return REPRODUCES
    return NOT_SHOWN


def at_least(a: Estimate, b: Estimate) -> str:
    """A >= B: see the module docstring (non-inferiority with a stated margin)."""
    strict = greater(a, b)
    if strict != NOT_SHOWN:
        return strict
    if a.mean >= b.mean and a.low >= b.mean - NON_INFERIORITY_MARGIN:
        return REPRODUCES
    return NOT_SHOWN


def all_cases(verdicts: Iterable[str]) -> str:
    """Every tested case reproduces; any opposite case makes it "does not reproduce"."""
    tested = [v for v in verdicts if v != NOT_TESTED]
    if not tested:
        return NOT_TESTED
    if DOES_NOT_REPRODUCE in tested:
        return DOES_NOT_REPRODUCE
    if INVALID in tested:
        return INVALID
    return REPRODUCES if all(v == REPRODUCES for v in tested) else NOT_SHOWN


def any_case(verdicts: Iterable[str]) -> str:
    """Some case reproduces and none is opposite (mixed or all-overlapping cases are "not shown")."""
    tested = [v for v in verdicts if v != NOT_TESTED]
    if not tested:
        return NOT_TESTED
    tested = [v for v in tested if v != INVALID] or [INVALID]
    if tested == [INVALID]:
        return INVALID
    up, down = REPRODUCES in tested, DOES_NOT_REPRODUCE in tested
    if up and not down:
        return REPRODUCES
    if down and not up:
        return DOES_NOT_REPRODUCE
    return NOT_SHOWN


# ---- the findings -------------------------------------------------------------------------------------------


def pretrained_near_chance(scores: Scores) -> Finding:
    claim = "The pretrained model is near chance on every world (the worlds are novel)."
    per_world, details, below = [], [], False
    for world in scores.worlds():
        cases = []
        for split in scores.splits(world):
            estimate = scores.get(world, "pretrained", split)
            if estimate is None:
                continue
            chance = scores.chance[(world, split)]
            verdict = near_chance(estimate, chance)
            cases.append(verdict)
            side = "above" if estimate.low > chance else "below" if estimate.high < chance else "around"
            below = below or side == "below"
            details.append(f"pretrained {format_estimate(estimate)} vs chance {chance:.2f} on {world}/{split} "
                           f"({side} chance): {verdict}.")
        if cases:
            per_world.append((world, all_cases(cases)))
    if not per_world:
        return _not_tested(1, claim, "the study has no pretrained runs")
    verdict = all_cases(v for _, v in per_world)
    sentence = f"Pretrained ≈ chance: {_per_world(per_world)}; overall: {verdict}."
    if below:
        sentence += " (Below chance means the options are biased, not that the world is known.)"
    return Finding(1, claim, verdict, sentence, tuple(details))


def icl_beats_ft(scores: Scores, number: int, world: str, split: str) -> Finding:
    claim = f"ICL generalizes better than FT on {world} (split {split})."
    icl, ft = scores.get(world, "icl", split), scores.get(world, "ft", split)
    if icl is None or ft is None:
        return _not_tested(number, claim, f"the study has no {_missing(icl=icl, ft=ft)} results on {world}/{split}")
    if invalid := scores.invalid(world, "ft"):
        return _invalid(number, claim, f"{invalid} on {world}; ICL {format_estimate(icl)} vs FT {format_estimate(ft)}")
    verdict = greater(icl, ft)
    return Finding(number, claim, verdict,
                   f"ICL {format_estimate(icl)} vs FT {format_estimate(ft)} on {world}/{split}: {verdict}.")


def structure_helps_ft_reversals(scores: Scores) -> Finding:
    claim = ("FT generalizes reversals inside the semantic hierarchy better than isolated reversals "
             "(accuracy above chance: semantic/reversed > reversals/reversed).")
    semantic, isolated = scores.get("semantic", "ft", "reversed"), scores.get("reversals", "ft", "reversed")
    if semantic is None or isolated is None:
        where = " or ".join(name for name, e in (("semantic/reversed", semantic), ("reversals/reversed", isolated))
                            if e is None)
        return _not_tested(4, claim, f"the study has no FT results on {where}")
    if invalid := scores.invalid("semantic", "ft") or scores.invalid("reversals", "ft"):
        return _invalid(4, claim, invalid)
    semantic_gain = _minus(semantic, scores.chance[("semantic", "reversed")])
    isolated_gain = _minus(isolated, scores.chance[("reversals", "reversed")])
    verdict = greater(semantic_gain, isolated_gain)
    return Finding(4, claim, verdict,
                   f"FT above chance on semantic/reversed {_signed(semantic_gain)} vs on reversals/reversed "
                   f"{_signed(isolated_gain)}: {verdict}.")


def augmentation_helps(scores: Scores) -> Finding:
    claim = "Augmented FT (local, global or both) generalizes better than plain FT."
    per_world, details = _per_world_comparisons(scores, AUGMENTED_MODES, "ft", greater, any_case)
    if not per_world:
        return _not_tested(5, claim, "the study has no FT and augmented-FT results on a generalization split")
    verdict = all_cases(v for _, v in per_world)
    return Finding(5, claim, verdict, f"Augmented FT > FT: {_per_world(per_world)}; overall: {verdict}.", details)


def global_augmentation_matches_icl(scores: Scores) -> Finding:
    claim = "FT with global augmentation is at least as good as ICL."
    per_world, details = _per_world_comparisons(scores, ("ft-global",), "icl", at_least, all_cases)
    if not per_world:
        return _not_tested(6, claim, "the study has no FT-global and ICL results on a generalization split")
    verdict = all_cases(v for _, v in per_world)
    return Finding(6, claim, verdict,
                   f"FT-global ≥ ICL (point estimate at least ICL's, CI reaching at most "
                   f"{NON_INFERIORITY_MARGIN:.2f} below it): {_per_world(per_world)}; overall: {verdict}.", details)


def splitting_helps(scores: Scores) -> Finding:
    claim = "Sentence splitting helps FT on the simple worlds (FT-split > FT)."
    simple = {w: s for w, s in GENERALIZATION_SPLITS.items() if w != "semantic"}  # the paper: splitting hurt there
    per_world, details = _per_world_comparisons(scores, ("ft-split",), "ft", greater, any_case, simple)
    if not per_world:
        return _not_tested(7, claim, "the study has no FT-split and FT results on reversals, syllogisms or "
                                     "reversal_curse")
    verdict = all_cases(v for _, v in per_world)
    return Finding(7, claim, verdict, f"FT-split > FT: {_per_world(per_world)}; overall: {verdict}.", details)


def reversal_curse(scores: Scores) -> Finding:
    claim = "Reversal curse: plain FT is near chance on reversed set-A facts while ICL is high."
    ft, icl = scores.get("reversal_curse", "ft", "reverse_a"), scores.get("reversal_curse", "icl", "reverse_a")
    if ft is None or icl is None:
        return _not_tested(8, claim, f"the study has no {_missing(icl=icl, ft=ft)} results on "
                                     "reversal_curse/reverse_a")
    if invalid := scores.invalid("reversal_curse", "ft"):  # near chance means nothing if the facts were not learned
        return _invalid(8, claim, f"{invalid}; FT {format_estimate(ft)} on reversal_curse/reverse_a")
    chance = scores.chance[("reversal_curse", "reverse_a")]
    ceiling = chance + NEAR_CHANCE_MARGIN
    if ft.low > ceiling or ft.low > icl.high or icl.high <= ceiling:
        verdict = DOES_NOT_REPRODUCE  # FT clearly above chance, FT above ICL, or ICL itself near chance
    elif ft.high <= ceiling and icl.low > ft.high:
        verdict = REPRODUCES
    else:
        verdict = NOT_SHOWN
    return Finding(8, claim, verdict,
                   f"FT {format_estimate(ft)} vs ICL {format_estimate(icl)} on reversal_curse/reverse_a "
                   f"(chance {chance:.2f}; near chance means at most {ceiling:.2f}): {verdict}.")


def all_findings(scores: Scores) -> list[Finding]:
    """Findings 1-8 in the order of the paper's claims."""
    return [
        pretrained_near_chance(scores),
        icl_beats_ft(scores, 2, "reversals", "reversed"),
        icl_beats_ft(scores, 3, "syllogisms", "syllogism"),
        structure_helps_ft_reversals(scores),
        augmentation_helps(scores),
        global_augmentation_matches_icl(scores),
        splitting_helps(scores),
        reversal_curse(scores),
    ]


# ---- pieces -------------------------------------------------------------------------------------------------


def _per_world_comparisons(scores: Scores, modes: tuple[str, ...], baseline: str, rule: Callable, combine: Callable,
                           splits_by_world: dict[str, tuple[str, ...]] = GENERALIZATION_SPLITS,
                           ) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """Compare each of `modes` with `baseline` by `rule` on every generalization split of every world present.

    Returns [(world, `combine` of its cases)] in `splits_by_world` order, and a sentence per case.
    """
    per_world, details = [], []
    for world, splits in splits_by_world.items():
        cases = []
        for split in splits:
            base = scores.get(world, baseline, split)
            for mode in modes:
                estimate = scores.get(world, mode, split)
                if base is None or estimate is None:
                    continue
                invalid = scores.invalid(world, mode, baseline)
                verdict = INVALID if invalid else rule(estimate, base)
                cases.append(verdict)
                details.append(f"{mode_label(mode)} {format_estimate(estimate)} vs {mode_label(baseline)} "
                               f"{format_estimate(base)} on {world}/{split}: {invalid or verdict}.")
        if cases:
            per_world.append((world, combine(cases)))
    return per_world, tuple(details)


def _not_tested(number: int, claim: str, reason: str) -> Finding:
    return Finding(number, claim, NOT_TESTED, f"Not tested: {reason}.")


def _invalid(number: int, claim: str, reason: str) -> Finding:
    return Finding(number, claim, INVALID, f"{reason[0].upper()}{reason[1:]}: no comparison is made.")


def _missing(**estimates: Estimate | None) -> str:
    names = [mode_label(name) for name, estimate in estimates.items() if estimate is None]
    return " or ".join(names)


def _per_world(per_world: list[tuple[str, str]]) -> str:
    return "; ".join(f"{world}: {verdict}" for world, verdict in per_world)


def _minus(estimate: Estimate, value: float) -> Estimate:
    return replace(estimate, mean=estimate.mean - value, low=estimate.low - value, high=estimate.high - value)


def _signed(estimate: Estimate) -> str:
    def sign(x: float) -> str:
        return f"{x:+.2f}".replace("-0.00", "+0.00")

    return f"{sign(estimate.mean)} [{sign(estimate.low)}, {sign(estimate.high)}]"
