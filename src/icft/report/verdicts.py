"""How a finding's cases are decided and combined into its verdict: the one vocabulary of both kinds of report
(the ICL-vs-FT findings, `icft.report.grid.findings`; the transfer ones, `icft.report.transfer.findings`).

A finding tests its cases and returns one of five verdicts:
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
from icft.evaluate.plan import AT_LEAST, GAIN_ACROSS, GREATER, NEAR_CHANCE, NO_GAIN
from icft.report.cases import Case, claim_text, describe

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


def case_line(case: Case, label: Callable[[str], str] = mode_label) -> str:
    """One line per case: its numbers, then its verdict (and why, when invalid or not shown)."""
    if case.verdict == INVALID:
        return f"{label(case.a)} vs {label(case.b or 'chance')} on {case.where}: {case.note}."
    text = f"{describe(case, label)}: {case.verdict}"
    return f"{text} ({case.note})." if case.note else f"{text}."


def _undetectable(case: Case) -> str:
    if case.claim == NEAR_CHANCE:
        return f"the 90% interval reaches beyond chance ± {case.margin:.2f}: more items are needed to call it near chance"
    return f"effects below {case.mde:.2f} cannot be detected here"


# ---- saying them ---------------------------------------------------------------------------------------------


def findings_summary(findings: list[Finding], label: Callable[[str], str] = mode_label) -> list[str]:
    """Three lines: what reproduces (with its effect), what does not, and what cannot be told (not shown, not
    tested, invalid);
    `label` names the modes (or variants)."""
    def listed(verdict: str) -> list[Finding]:
        return [f for f in findings if f.verdict == verdict]

    yes = "; ".join(f"{f.number} ({finding_effect(f, label)})" for f in listed(REPRODUCES)) or "none"
    no = [f"{f.number} ({finding_effect(f, label)})" for f in listed(DOES_NOT_REPRODUCE)]
    invalid = listed(INVALID)
    unclear = listed(NOT_SHOWN)
    mdes = [c.mde for f in unclear for c in f.cases if c.verdict == NOT_SHOWN and c.mde is not None]
    told = (f"Not shown at this size: {', '.join(str(f.number) for f in unclear)}"
            + (f" (effects below {min(mdes):.2f}–{max(mdes):.2f} cannot be detected here)" if mdes else "")
            if unclear else "Not shown at this size: none")
    missing = listed(NOT_TESTED)
    if missing:
        told += f"; not tested: {', '.join(str(f.number) for f in missing)}"
    if invalid:  # a fine-tuned model they compare did not learn its facts: neither a yes nor a no
        told += f"; invalid ({_invalid_sides(invalid, label)}): {', '.join(str(f.number) for f in invalid)}"
    return [f"Findings that reproduce: {yes}.", f"Do not reproduce: {'; '.join(no) or 'none'}.", told + "."]


def finding_effect(finding: Finding, label: Callable[[str], str]) -> str:
    """The effect of a decided finding: its first case with that verdict (and how many more cases)."""
    same = [c for c in finding.cases
            if c.verdict == finding.verdict or (finding.verdict == REPRODUCES and c.verdict == OPTION_BIAS)]
    if finding.verdict == INVALID or not same or same[0].diff is None:
        return finding.verdict
    case = same[0]
    more = f", +{len(same) - 1} more" if len(same) > 1 else ""
    return f"{claim_text(case, label)} on {case.where}: {case.diff:+.2f} [{case.ci_low:+.2f}, {case.ci_high:+.2f}]{more}"


def _invalid_sides(findings: list[Finding], label: Callable[[str], str]) -> str:
    """Which side failed its learned check in the invalid findings: "ICL did not read the facts", ..."""
    sides = dict.fromkeys(c.note.removeprefix("invalid: ").split(" (")[0] for f in findings for c in f.cases
                          if c.verdict == INVALID and c.note)
    return "; ".join(sides) or "a side did not take in its facts"
