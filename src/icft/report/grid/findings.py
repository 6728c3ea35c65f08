"""The findings of Lampinen et al. (2025), each tested on one model's per-item results in a study.

Every finding tests the cases `icft.evaluate.plan` lists for it, decided and combined by the rules of
`icft.report.verdicts` (its five verdicts, the margin, Holm within a "some case" family)."""

from __future__ import annotations

from dataclasses import replace

from icft.learn.modes import mode_label
from icft.report.cases import Case, across_worlds, compare, versus_chance
from icft.evaluate.plan import (
    AT_LEAST, AUGMENTED_VS_FT, AUGMENTED_VS_ICL, DISTILLED_VS_FT, DISTILLED_VS_ICL, GAIN_ACROSS, ICL_VS_FT, NEAR_CHANCE,
    NO_GAIN, SIMPLE_WORLDS,
    Planned, plan,
)
from icft.report.grid.results import Scores
from icft.report.verdicts import (INVALID, MARGIN, NOT_TESTED, OPTION_BIAS, Finding, all_cases, any_case, case_line,
                                  decide, with_holm)

# ---- the findings -------------------------------------------------------------------------------------------


def pretrained_near_chance(scores: Scores) -> Finding:
    claim = "The pretrained model is near chance on every world (the worlds are novel)."
    cases = [decide(measure(scores, p)) for p in _planned(scores, 1)]
    if not cases:
        return _not_tested(1, claim, "the study has no pretrained runs")
    per_world = _combine_per_world(cases, all_cases)
    verdict = all_cases(v for _, v in per_world)
    sentence = f"Pretrained ≈ chance (margin ±{MARGIN:.2f}): {_per_world(per_world)}; overall: {verdict}."
    if any(c.verdict == OPTION_BIAS for c in cases):
        sentence += " (Below chance means the picks lean to one option, not that the world is known.)"
    return _finding(1, claim, verdict, sentence, cases)


def icl_beats_ft(scores: Scores, number: int, world: str, split: str) -> Finding:
    claim = f"ICL generalizes better than FT on {world} (split {split})."
    cases = [decide(measure(scores, p)) for p in _planned(scores, number)]
    if not cases:
        missing = _missing(scores, world, split, "icl", "ft")
        return _not_tested(number, claim, f"the study has no {missing} results on {world}/{split}")
    return _single(number, claim, cases[0])


def structure_helps_ft_reversals(scores: Scores) -> Finding:
    claim = ("FT generalizes reversals inside the semantic hierarchy better than isolated reversals "
             "(normalized gain above chance: semantic/reversed > reversals/reversed).")
    cases = [decide(measure(scores, p)) for p in _planned(scores, 4)]
    if not cases:
        where = " or ".join(f"{w}/reversed" for w in ("semantic", "reversals") if scores.get(w, "ft", "reversed")
                            is None)
        return _not_tested(4, claim, f"the study has no FT results on {where}")
    return _single(4, claim, cases[0])


def augmentation_helps(scores: Scores) -> Finding:
    claim = "Augmented FT (local, global or both) generalizes better than plain FT."
    return _per_world_finding(scores, 5, claim, any_case, "Augmented FT > FT",
                              "the study has no FT and augmented-FT results on a generalization split")


def global_augmentation_matches_icl(scores: Scores) -> Finding:
    claim = "FT with global augmentation is at least as good as ICL."
    return _per_world_finding(scores, 6, claim, all_cases, f"FT-global ≥ ICL (within {MARGIN:.2f})",
                              "the study has no FT-global and ICL results on a generalization split")


def splitting_helps(scores: Scores) -> Finding:
    claim = "Sentence splitting helps FT on the simple worlds (FT-split > FT)."
    return _per_world_finding(scores, 7, claim, any_case, "FT-split > FT",
                              f"the study has no FT-split and FT results on {' or '.join(SIMPLE_WORLDS)}")


def reversal_curse(scores: Scores) -> Finding:
    claim = "Reversal curse: plain FT is near chance on reversed set-A facts while ICL is high."
    cases = [decide(measure(scores, p)) for p in _planned(scores, 8)]
    if not cases:
        missing = _missing(scores, "reversal_curse", "reverse_a", "icl", "ft")
        return _not_tested(8, claim, f"the study has no {missing} results on reversal_curse/reverse_a")
    verdict = all_cases(c.verdict for c in cases)
    parts = "; ".join(f"{'FT ≈ chance' if c.claim == NEAR_CHANCE else 'ICL > FT'}: {c.verdict}" for c in cases)
    return _finding(8, claim, verdict, f"On reversal_curse/reverse_a: {parts}; overall: {verdict}.", cases)


# ---- the same comparisons on any other world (an imported one): findings 9-11 ---------------------------------

ANY_WORLD_CLAIMS = {
    ICL_VS_FT: "On the worlds findings 2-8 do not name: ICL generalizes better than FT on each generalization split.",
    AUGMENTED_VS_FT: "On the worlds findings 2-8 do not name: augmented FT generalizes better than plain FT.",
    AUGMENTED_VS_ICL: (f"On the worlds findings 2-8 do not name: augmented FT is at least as good as ICL (within "
                       f"{MARGIN:.2f})."),
}


def any_world_finding(scores: Scores, number: int) -> Finding | None:
    """Finding 9, 10 or 11 (None when the study has no world they apply to). Each (world, split) is one family:
    its augmented modes are Holm-adjusted together (the answer may name any of them); ICL vs FT is one case."""
    planned = _planned(scores, number)
    if not planned:
        return None
    cases = []
    for where in dict.fromkeys((p.world, p.split) for p in planned):
        cases += with_holm([measure(scores, p) for p in planned if (p.world, p.split) == where])
    combine = all_cases if number == ICL_VS_FT else any_case
    per_split = [(f"{w}/{s}", combine(c.verdict for c in cases if (c.world, c.split) == (w, s)))
                 for w, s in dict.fromkeys((c.world, c.split) for c in cases)]
    verdict = all_cases(v for _, v in per_split)
    label = {ICL_VS_FT: "ICL > FT", AUGMENTED_VS_FT: "augmented FT > FT",
             AUGMENTED_VS_ICL: f"augmented FT ≥ ICL (within {MARGIN:.2f})"}[number]
    return _finding(number, ANY_WORLD_CLAIMS[number], verdict, f"{label}: {_per_world(per_split)}; overall: {verdict}.",
                    cases)


# ---- context distillation (`icft.learn.distill`), on every world: findings 12-13 ----------------------------------


def distillation_beats_ft(scores: Scores) -> Finding | None:
    """Finding 12 (None when the study has no distilled mode beside FT): per world, its splits and distilled modes
    are one family (Holm), as for augmented FT."""
    if not _planned(scores, DISTILLED_VS_FT):
        return None
    claim = "Distilled FT (trained on the model's own distribution with the facts in its context) generalizes better than FT."
    return _per_world_finding(scores, DISTILLED_VS_FT, claim, any_case, "Distilled FT > FT", "")


def distillation_matches_icl(scores: Scores) -> Finding | None:
    """Finding 13 (None when the study has no distilled mode beside ICL)."""
    if not _planned(scores, DISTILLED_VS_ICL):
        return None
    claim = "Distilled FT is at least as good as ICL."
    return _per_world_finding(scores, DISTILLED_VS_ICL, claim, all_cases, f"Distilled FT ≥ ICL (within {MARGIN:.2f})",
                              "")


def all_findings(scores: Scores) -> list[Finding]:
    """Findings 1-8 in the order of the paper's claims, then 9-11 where the study has a world 2-8 do not name, and
    12-13 where it has distilled modes."""
    found = [
        pretrained_near_chance(scores),
        icl_beats_ft(scores, 2, "reversals", "reversed"),
        icl_beats_ft(scores, 3, "syllogisms", "syllogism"),
        structure_helps_ft_reversals(scores),
        augmentation_helps(scores),
        global_augmentation_matches_icl(scores),
        splitting_helps(scores),
        reversal_curse(scores),
    ]
    found += [f for n in (ICL_VS_FT, AUGMENTED_VS_FT, AUGMENTED_VS_ICL) if (f := any_world_finding(scores, n))]
    return found + [f for f in (distillation_beats_ft(scores), distillation_matches_icl(scores)) if f]


# ---- pieces -------------------------------------------------------------------------------------------------


def measure(scores: Scores, planned: Planned) -> Case:
    """The numbers of a planned case; a case with an unlearned fine-tuned cell is invalid and not tested."""
    p = planned
    modes = [m for m in (p.a, p.b) if m is not None]
    reason = scores.invalid(p.world, *modes) or (scores.invalid(p.world_b, p.b) if p.world_b else None)
    if reason:
        return Case(**vars(p), verdict=INVALID, note=reason)
    if p.claim == NEAR_CHANCE:
        return versus_chance(p.finding, p.claim, p.world, p.split, p.a, scores.cell(p.world, p.a, p.split),
                             scores.chance[(p.world, p.split)], MARGIN)
    if p.claim == GAIN_ACROSS:
        return across_worlds(p.finding, p.claim,
                             (p.world, p.split, p.a, scores.cell(p.world, p.a, p.split), scores.chance[(p.world, p.split)]),
                             (p.world_b, p.split_b, p.b, scores.cell(p.world_b, p.b, p.split_b),
                              scores.chance[(p.world_b, p.split_b)]))
    margin = MARGIN if p.claim in (AT_LEAST, NO_GAIN) else None
    case = compare(p.finding, p.claim, p.world, p.split, p.a, p.b, scores.cell(p.world, p.a, p.split),
                   scores.cell(p.world, p.b, p.split), margin)
    return replace(case, known=on_known_facts_of_both(scores, p))


def on_known_facts_of_both(scores: Scores, p: Planned):
    """The paired comparison (primary metric) on the items whose facts both modes know, or None."""
    first, second = scores.known_cell(p.world, p.split, p.a, p.b), scores.known_cell(p.world, p.split, p.b, p.a)
    if not first or not second:
        return None
    known = compare(p.finding, p.claim, p.world, p.split, p.a, p.b, first, second)
    return None if known.diff is None else (known.prob if known.metric == "p(correct)" else known.accuracy)


def _planned(scores: Scores, number: int) -> list[Planned]:
    controls = {world: scores.control_splits(world) for world in scores.worlds()}
    return [p for p in plan(scores.accuracy, controls) if p.finding == number]


def _per_world_finding(scores: Scores, number: int, claim: str, combine, label: str, untested: str) -> Finding:
    """Cases per world (Holm within a world's family when `combine` is any_case), then every world."""
    planned = _planned(scores, number)
    if not planned:
        return _not_tested(number, claim, untested)
    cases = []
    for world in dict.fromkeys(p.world for p in planned):
        measured = [measure(scores, p) for p in planned if p.world == world]
        cases += with_holm(measured) if combine is any_case else [decide(c) for c in measured]
    per_world = _combine_per_world(cases, combine)
    verdict = all_cases(v for _, v in per_world)
    return _finding(number, claim, verdict, f"{label}: {_per_world(per_world)}; overall: {verdict}.", cases)


def _single(number: int, claim: str, case: Case) -> Finding:
    if case.verdict == INVALID:
        return _finding(number, claim, INVALID, f"{case.note[0].upper()}{case.note[1:]} on {case.where}: no "
                                                f"comparison is made.", [case])
    return Finding(number, claim, case.verdict, case_line(case), (), (case,))  # the sentence is the case


def _finding(number: int, claim: str, verdict: str, sentence: str, cases: list[Case]) -> Finding:
    return Finding(number, claim, verdict, sentence, tuple(case_line(c) for c in cases), tuple(cases))


def _combine_per_world(cases: list[Case], combine) -> list[tuple[str, str]]:
    worlds = dict.fromkeys(c.world for c in cases)
    return [(w, combine(c.verdict for c in cases if c.world == w)) for w in worlds]


def _not_tested(number: int, claim: str, reason: str) -> Finding:
    return Finding(number, claim, NOT_TESTED, f"Not tested: {reason}.")


def _missing(scores: Scores, world: str, split: str, *modes: str) -> str:
    return " or ".join(mode_label(m) for m in modes if scores.get(world, m, split) is None)


def _per_world(per_world: list[tuple[str, str]]) -> str:
    return "; ".join(f"{world}: {verdict}" for world, verdict in per_world)

