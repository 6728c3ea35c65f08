"""The findings of Lampinen et al. (2025), each tested on one model's per-item results in a study.

Every finding tests the cases `icft.evaluate.plan` lists for it and returns one of five verdicts:
  reproduces              the study's numbers show the paper's claim, by the rules below
  does not reproduce      they show the opposite
  not shown at this size  neither; the finding says which effects its items and seeds cannot detect
  not tested              the worlds, modes or splits the finding needs are not in the study
  invalid                 a fine-tuned model it compares did not learn the facts it was given (it failed its
                          world's learned check, `icft.evaluate.learned`): no comparison is made with it
A near-chance case below chance gets a sixth, OPTION_BIAS: the model shows no knowledge, its picks lean to one
option; it does not count against a claim of no knowledge.

Rules (ALPHA = 0.05; the numbers come from `icft.report.cases` and `icft.evaluate.stats`). The invalid check
comes first: an invalid case is never tested.
  A > B        the two modes on the same items, joined on item id within each (world, seed, split): the paired
               difference, its 95% interval and a two-sided p (mid-p McNemar; with several seeds or fact
               clusters also a paired cluster bootstrap). Reproduces when the difference is positive, p (Holm-
               adjusted in a "some case" family) is below ALPHA and the 95% interval lies above 0, i.e. a
               one-sided test at ALPHA / 2. The mirror image (upper bound below 0) does not reproduce.
  A ≈ chance   equivalence (TOST) with margin MARGIN: reproduces when the 90% interval of accuracy - chance
               lies inside ±MARGIN and the TOST p is below ALPHA; a 95% interval above chance does not
               reproduce; one below chance is OPTION_BIAS.
  A ≥ B        non-inferiority: reproduces when the paired 95% lower bound is above -MARGIN; does not
               reproduce when the upper bound is below 0 (B is better, beyond the margin's reach).
  no gain      absence: reproduces when the paired 95% upper bound is below +MARGIN in every cell; does not
               reproduce when some cell shows a gain (decided as A > B, Holm over the cells).
  gain(A) > gain(B)  across worlds with different chance levels: normalized gains (acc - chance) / (1 - chance),
               their difference tested directly; decided as A > B.
Findings over several cases combine them: `all_cases` (every case must reproduce: an intersection-union
test, no adjustment; any opposite case: does not reproduce; an invalid case makes "every case" unknowable)
or `any_case` (some valid case reproduces, Holm-adjusted within the family, and none is opposite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from icft.evaluate.stats import ALPHA, holm
from icft.learn.modes import mode_label
from icft.report.cases import Case, across_worlds, compare, describe, versus_chance
from icft.evaluate.plan import (
    AT_LEAST, AUGMENTED_VS_FT, AUGMENTED_VS_ICL, GAIN_ACROSS, GREATER, ICL_VS_FT, NEAR_CHANCE, NO_GAIN, SIMPLE_WORLDS,
    Planned, plan,
)
from icft.report.results import Scores

REPRODUCES = "reproduces"
DOES_NOT_REPRODUCE = "does not reproduce"
NOT_SHOWN = "not shown at this size"
NOT_TESTED = "not tested"
INVALID = "invalid"
VERDICTS = (REPRODUCES, DOES_NOT_REPRODUCE, NOT_SHOWN, NOT_TESTED, INVALID)
OPTION_BIAS = "no knowledge; option bias"  # a case's verdict only: counts as near chance in a finding

MARGIN = 0.15  # accuracy points: the equivalence margin (near chance), non-inferiority and absence margin


@dataclass(frozen=True)
class Finding:
    """One finding tested: its verdict, one sentence with the numbers, a line per case and the cases."""

    number: int
    claim: str
    verdict: str
    sentence: str
    details: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()


# ---- verdicts of one case -----------------------------------------------------------------------------------


def decide(case: Case) -> Case:
    """The case with its verdict (and, for "not shown", what cannot be detected); p_holm defaults to p."""
    if case.verdict == INVALID:
        return case
    if case.diff is None:
        return replace(case, verdict=NOT_SHOWN)
    p_holm = case.p if case.p_holm is None else case.p_holm
    verdict = {GREATER: greater, GAIN_ACROSS: greater, NEAR_CHANCE: near_chance, AT_LEAST: at_least,
               NO_GAIN: no_gain}[case.claim](replace(case, p_holm=p_holm))
    note = _undetectable(case) if verdict == NOT_SHOWN else case.note if verdict == OPTION_BIAS else ""
    return replace(case, p_holm=p_holm, verdict=verdict, note=note)


def greater(case: Case) -> str:
    """A > B: significant (Holm p < ALPHA) with the 95% interval on one side of 0."""
    if case.p_holm < ALPHA and case.diff > 0 and case.ci_low > 0:
        return REPRODUCES
    if case.p_holm < ALPHA and case.diff < 0 and case.ci_high < 0:
        return DOES_NOT_REPRODUCE
    return NOT_SHOWN


def near_chance(case: Case) -> str:
    """TOST: the 90% interval of accuracy - chance inside ±margin (and p < ALPHA)."""
    if case.p < ALPHA and -case.margin < case.ci_low and case.ci_high < case.margin:
        return REPRODUCES
    low95, high95 = case.estimates[0].low - case.chance, case.estimates[0].high - case.chance
    if low95 > 0:
        return DOES_NOT_REPRODUCE
    if high95 < 0:
        return OPTION_BIAS
    return NOT_SHOWN


def at_least(case: Case) -> str:
    """A ≥ B within the margin: the paired 95% lower bound above -margin."""
    if case.ci_low > -case.margin:
        return REPRODUCES
    if case.ci_high < 0:
        return DOES_NOT_REPRODUCE
    return NOT_SHOWN


def no_gain(case: Case) -> str:
    """No gain of A over B: the paired 95% upper bound below +margin; a significant gain is the opposite."""
    if greater(case) == REPRODUCES:
        return DOES_NOT_REPRODUCE
    return REPRODUCES if case.ci_high < case.margin else NOT_SHOWN


def with_holm(cases: list[Case]) -> list[Case]:
    """Holm-adjust the p-values of the tested cases of one "some case" family, then decide each."""
    tested = [n for n, c in enumerate(cases) if c.verdict != INVALID and c.p is not None]
    adjusted = dict(zip(tested, holm([cases[n].p for n in tested])))
    return [decide(replace(c, p_holm=adjusted[n]) if n in adjusted else c) for n, c in enumerate(cases)]


# ---- combining cases ----------------------------------------------------------------------------------------


def all_cases(verdicts: Iterable[str]) -> str:
    """Every tested case reproduces; any opposite case makes it "does not reproduce"."""
    tested = [REPRODUCES if v == OPTION_BIAS else v for v in verdicts if v != NOT_TESTED]
    if not tested:
        return NOT_TESTED
    if DOES_NOT_REPRODUCE in tested:
        return DOES_NOT_REPRODUCE
    if INVALID in tested:
        return INVALID
    return REPRODUCES if all(v == REPRODUCES for v in tested) else NOT_SHOWN


def any_case(verdicts: Iterable[str]) -> str:
    """Some case reproduces and none is opposite (mixed or all-undecided cases are "not shown")."""
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


def all_findings(scores: Scores) -> list[Finding]:
    """Findings 1-8 in the order of the paper's claims, then 9-11 where the study has a world 2-8 do not name."""
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
    return found + [f for n in (ICL_VS_FT, AUGMENTED_VS_FT, AUGMENTED_VS_ICL) if (f := any_world_finding(scores, n))]


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


def case_line(case: Case, label: Callable[[str], str] = mode_label) -> str:
    """One line per case: its numbers, then its verdict (and why, when invalid or not shown)."""
    if case.verdict == INVALID:
        return f"{label(case.a)} vs {label(case.b or 'chance')} on {case.where}: {case.note}."
    text = f"{describe(case, label)}: {case.verdict}"
    return f"{text} ({case.note})." if case.note else f"{text}."


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


def _undetectable(case: Case) -> str:
    if case.claim == NEAR_CHANCE:
        return f"the 90% interval reaches beyond chance ± {case.margin:.2f}: more items are needed to call it near chance"
    return f"effects below {case.mde:.2f} cannot be detected here"


def _not_tested(number: int, claim: str, reason: str) -> Finding:
    return Finding(number, claim, NOT_TESTED, f"Not tested: {reason}.")


def _missing(scores: Scores, world: str, split: str, *modes: str) -> str:
    return " or ".join(mode_label(m) for m in modes if scores.get(world, m, split) is None)


def _per_world(per_world: list[tuple[str, str]]) -> str:
    return "; ".join(f"{world}: {verdict}" for world, verdict in per_world)

