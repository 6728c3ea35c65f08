"""Where a world's knowledge should go, per generalization split, decided from the paired tests of findings 9-11.

For each generalization split of a world that findings 2-8 do not name (an imported one), in this order:
  in the context        ICL beats FT and every augmented FT that learned its facts: each paired difference is
                        significant (p < ALPHA, its 95% interval below 0 for the fine-tuned side). It is an
                        intersection-union test, so no adjustment: every comparison must be won.
  in the weights, with augmentation X
                        X beats ICL (Holm p < ALPHA over the split's augmented modes, 95% interval above 0), or
                        X is not worse than ICL (95% lower bound above -MARGIN) and X beats plain FT (Holm p over
                        the same modes); or ICL failed its learned check and X beats FT. Of several, the one with
                        the largest difference over ICL (over FT when ICL failed).
  in the weights        plain FT beats ICL (p < ALPHA, interval above 0) and no augmented FT is named above.
  no valid comparison   every comparison involves a side that failed its learned check: which side, its control
                        score, and what to try.
  no difference detectable here (MDE m)
                        anything else: m is the effect the split's undecided comparisons could have detected with
                        80% power (their smallest and largest MDE).
A cell given the facts that failed its learned check is never compared (findings' INVALID); the oracle's modes
are controls and never named as the answer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from icft.evaluate.plan import AUGMENTED_VS_FT, AUGMENTED_VS_ICL, ICL_VS_FT, NEAR_CHANCE
from icft.evaluate.stats import ALPHA
from icft.learn.modes import is_mode, mode_label, mode_spec
from icft.report.cases import Case
from icft.report.grid.results import Scores
from icft.report.verdicts import INVALID, MARGIN, Finding

CONTEXT = "in the context"
WEIGHTS = "in the weights"
WEIGHTS_WITH = "in the weights, with augmentation"
UNDETECTABLE = "no difference detectable here"
NO_VALID = "no valid comparison"


@dataclass(frozen=True)
class SplitAnswer:
    """The answer for one (world, split): its kind, the mode it names (X, or None), and the sentence."""

    world: str
    split: str
    kind: str
    mode: str | None
    text: str
    mde: tuple[float, float] | None = None  # the undecided comparisons' smallest and largest MDE

    def record(self, model: str) -> dict:
        """As findings.json holds it."""
        return {"model": model, "world": self.world, "split": self.split, "answer": self.kind, "mode": self.mode,
                "mde_low": self.mde[0] if self.mde else None, "mde_high": self.mde[1] if self.mde else None,
                "text": self.text}


def split_answers(scores: Scores, findings: list[Finding]) -> list[SplitAnswer]:
    """An answer per split that findings 9-11 compare (in their order)."""
    cases = [c for f in findings if f.number in (1, ICL_VS_FT, AUGMENTED_VS_FT, AUGMENTED_VS_ICL) for c in f.cases]
    splits = dict.fromkeys((c.world, c.split) for c in cases if c.finding != 1)
    return [answer_for(scores, world, split, [c for c in cases if (c.world, c.split) == (world, split)])
            for world, split in splits]


def answer_for(scores: Scores, world: str, split: str, cases: list[Case]) -> SplitAnswer:
    """The answer for one split from its cases (findings 1 and 9-11), by the rules of this module."""
    icl_ft = next((c for c in cases if c.finding == ICL_VS_FT), None)
    over_ft = {c.a: c for c in cases if c.finding == AUGMENTED_VS_FT}
    over_icl = {c.a: c for c in cases if c.finding == AUGMENTED_VS_ICL}
    pretrained = next((c for c in cases if c.finding == 1 and c.claim == NEAR_CHANCE), None)
    answer = _decide(scores, world, split, icl_ft, over_ft, over_icl)
    if pretrained is not None and pretrained.verdict != INVALID and pretrained.estimates \
            and pretrained.estimates[0].low > pretrained.chance:
        above = (f" (the pretrained model is already above chance here, {pretrained.estimates[0].mean:.2f} vs "
                 f"{pretrained.chance:.2f}: some answers need no documents)")
        answer = dataclasses.replace(answer, text=answer.text + above)
    return answer


def answer_line(answers: list[SplitAnswer]) -> str:
    """The opening line: where the knowledge should go, per split."""
    return ("Where the knowledge should go, per generalization split (paired tests, findings 9-11): "
            + "; ".join(f"{a.world}/{a.split}: {a.text}" for a in answers) + ".")


def _decide(scores: Scores, world: str, split: str, icl_ft: Case | None, over_ft: dict[str, Case],
            over_icl: dict[str, Case]) -> SplitAnswer:
    valid = [c for c in (icl_ft, *over_ft.values(), *over_icl.values()) if c is not None and c.verdict != INVALID]
    if not valid:
        return SplitAnswer(world, split, NO_VALID, None, _why_invalid(scores, world))
    methods = [m for m in dict.fromkeys([*over_ft, *over_icl]) if not _control(m)]
    # in the context: ICL wins every valid comparison with a fine-tuned mode, and there is at least one
    against_icl = [c for c in [icl_ft] if c is not None and c.verdict != INVALID]
    against_icl += [c for m, c in over_icl.items() if c.verdict != INVALID and not _control(m)]
    if not scores.invalid(world, "icl") and against_icl and all(_beats(c, c.a == "icl", adjusted=False) for c in against_icl):
        beaten = ", ".join(mode_label(c.b if c.a == "icl" else c.a) for c in against_icl)
        return SplitAnswer(world, split, CONTEXT, "icl", f"{CONTEXT} (ICL beats {beaten}{_skipped(scores, world)})")
    # in the weights, with augmentation X
    named = []
    for mode in methods:
        icl_case, ft_case = over_icl.get(mode), over_ft.get(mode)
        icl_ok = icl_case is not None and icl_case.verdict != INVALID
        ft_ok = ft_case is not None and ft_case.verdict != INVALID
        beats_ft = ft_ok and _beats(ft_case, True, adjusted=True)
        if icl_ok and _beats(icl_case, True, adjusted=True):
            named.append((icl_case.diff, mode, f"{mode_label(mode)} beats ICL by {_effect(icl_case)}"))
        elif icl_ok and icl_case.ci_low > -MARGIN and beats_ft:
            named.append((icl_case.diff, mode, f"{mode_label(mode)} is not worse than ICL (lower bound "
                                               f"{icl_case.ci_low:+.2f} > -{MARGIN:.2f}) and beats FT by "
                                               f"{_effect(ft_case)}"))
        elif not icl_ok and scores.invalid(world, "icl") and beats_ft:
            named.append((ft_case.diff, mode, f"{mode_label(mode)} beats FT by {_effect(ft_case)}; ICL "
                                              f"{_failed(scores, world, 'icl')}"))
    if named:
        _, mode, why = max(named, key=lambda n: n[0])
        return SplitAnswer(world, split, WEIGHTS_WITH, mode, f"{WEIGHTS_WITH} {mode_label(mode)} ({why})")
    if icl_ft is not None and icl_ft.verdict != INVALID and _beats(icl_ft, False, adjusted=False):
        return SplitAnswer(world, split, WEIGHTS, "ft", f"{WEIGHTS} (FT beats ICL by {_effect(icl_ft, -1)})")
    mdes = [c.mde for c in valid if c.mde is not None]
    low, high = (min(mdes), max(mdes)) if mdes else (None, None)
    shown = "" if low is None else f" (MDE {low:.2f})" if round(low, 2) == round(high, 2) else \
        f" (MDE {low:.2f}–{high:.2f})"
    return SplitAnswer(world, split, UNDETECTABLE, None, f"{UNDETECTABLE}{shown}{_skipped(scores, world)}",
                       None if low is None else (low, high))


def _beats(case: Case, a_wins: bool, adjusted: bool) -> bool:
    """A significant paired difference for A (`a_wins`) or for B: p (Holm's, when `adjusted`) below ALPHA and the
    95% interval on that side of 0."""
    if case.diff is None:
        return False
    p = case.p_holm if adjusted and case.p_holm is not None else case.p
    if p is None or p >= ALPHA:
        return False
    return case.ci_low > 0 if a_wins else case.ci_high < 0


def _effect(case: Case, sign: int = 1) -> str:
    low, high = sorted((sign * case.ci_low, sign * case.ci_high))
    return f"{sign * case.diff:+.2f} [{low:+.2f}, {high:+.2f}] in {case.metric}"


def _control(mode: str) -> bool:
    return is_mode(mode) and mode_spec(mode).control


def _failed(scores: Scores, world: str, mode: str) -> str:
    check = scores.learned[(world, mode)]
    took = "learn" if check.finetuned else "read"
    fits = [s.fit for s in check.seeds if s.fit and s.fit.stopped_by]
    how = ""
    if fits:  # how the fit stopped says what to change: a loss target met early, or the epochs cap
        fit = fits[0]
        loss = fit.final_loss
        how = f", stopped by {fit.stopped_by}" + (f" at loss {loss:.2f}" if isinstance(loss, float) else "")
    return f"did not {took} the facts (control {check.correct}/{check.n}{how})"


def _failures(scores: Scores, world: str) -> list[str]:
    return [m for m in scores.modes(world) if scores.invalid(world, m)]


def _skipped(scores: Scores, world: str) -> str:
    failed = _failures(scores, world)
    return "; not compared: " + ", ".join(f"{mode_label(m)} {_failed(scores, world, m)}" for m in failed) if failed \
        else ""


def _why_invalid(scores: Scores, world: str) -> str:
    """Which sides failed their learned check, their control scores, and what to try."""
    failed = _failures(scores, world)
    sides = "; ".join(f"{mode_label(m)} {_failed(scores, world, m)}" for m in failed)
    tries = []
    tuned = [m for m in failed if mode_spec(m).finetunes]
    if tuned:
        augmented = [m for m in ("ft-local", "ft-local-global", "ft-global") if m not in failed]
        more = f"or on augmented data: {augmented[0]}" if augmented else "until its facts are recalled (recall_target)"
        tries.append(f"fine-tune longer (raise `epochs`) {more}")
    if "icl" in failed:
        tries.append("for ICL, a model that reads its context (a larger or instruction-tuned one)")
    return f"{NO_VALID}: {sides}; try: {'; '.join(tries) or 'a world with a control split'}"
