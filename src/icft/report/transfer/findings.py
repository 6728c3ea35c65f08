"""The findings of Yang et al. (NAACL 2024), "Unveiling the Generalization Power of Fine-Tuned LLMs", tested on
one model's transfer matrices (one `TransferScores` per train size).

Verdicts and rules are those of `icft.report.verdicts`: every comparison is paired, two variants (or a
variant and the unmodified model) on the same test examples joined on example id within each seed; "A > B"
needs a significant paired difference (Holm within a "some cell" family), "A keeps B" is non-inferiority
within the margin, and "no gain" (finding 5) an upper bound below the margin in every cell. Each finding is
first decided per train size (combining its cells as said in each function), then over sizes with
`all_cases`, so a size that shows the opposite makes it "does not reproduce" and a size that cannot tell makes
it "not shown at this size". Weight changes (finding 6) carry no CI: their stored numbers are compared directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from icft.report.cases import Case, compare
from icft.report.verdicts import (
    DOES_NOT_REPRODUCE, INVALID, MARGIN, NOT_TESTED, REPRODUCES, Finding, all_cases, any_case, case_line, decide,
    with_holm,
)
from icft.evaluate.plan import AT_LEAST, GREATER, NO_GAIN
from icft.report.transfer.results import Cell, TransferScores, variant_label
from icft.store import BASE

OUT_OF_DOMAIN = ("cross-domain", "cross-task")

PerSize = list[tuple[int, str]]  # (train size, verdict at that size)


def beats_unmodified_in_domain(sizes: list[TransferScores]) -> Finding:
    """(1) FT on task T > the unmodified model on T, for every training task (all_cases)."""
    claim = "A model fine-tuned on a task beats the unmodified model on that task (in-domain)."
    per_size, cases = [], []
    for s in sizes:
        found = [decide(_compare(1, GREATER, s, train, train, "ft", BASE)) for train in s.train_tasks
                 if s.get("ft", train, train) and s.base(train)]
        cases += found
        _add(per_size, s.size, all_cases(c.verdict for c in found))
    if not per_size:
        return _not_tested(1, claim, "no FT in-domain cell has an unmodified run on the same task")
    verdict = all_cases(v for _, v in per_size)
    ft_mean, base_mean = np.mean([[e.mean for e in c.estimates] for c in cases], axis=0)
    return _finding(1, claim, verdict,
                    f"FT in-domain {ft_mean:.2f} vs unmodified {base_mean:.2f} (mean over {len(cases)} training "
                    f"tasks and sizes); {_per_size(per_size)}; overall: {verdict}.", cases)


def classification_collapses_on_generation(sizes: list[TransferScores]) -> Finding:
    """(2) FT on a classification task < the unmodified model on generation tasks.

    Per training task `any_case` over the generation test tasks (Holm within them), then `all_cases` over
    training tasks. The sentence adds how often those models answer with one of their training labels
    (output-space specialization: the model keeps answering in the label space it was trained on).
    """
    claim = "Models fine-tuned on classification collapse on generation tasks (worse than the unmodified model)."
    per_size, cases, rates = [], [], []
    for s in sizes:
        per_train = []
        for train in s.train_tasks:
            tests = [test for test in s.tasks if s.kind(test) == "generation" and s.get("ft", train, test)
                     and s.base(test)]
            if s.kind(train) != "classification" or not tests:
                continue
            found = with_holm([_compare(2, GREATER, s, train, test, BASE, "ft") for test in tests])  # a collapse
            rates += [s.get("ft", train, t).label_rate for t in tests if s.get("ft", train, t).label_rate is not None]
            cases += found
            per_train.append(any_case(c.verdict for c in found))
        _add(per_size, s.size, all_cases(per_train))
    if not per_size:
        return _not_tested(2, claim, "no classification-trained FT row has a generation test task beside an "
                                     "unmodified run")
    verdict = all_cases(v for _, v in per_size)
    base_mean, ft_mean = np.mean([[e.mean for e in c.estimates] for c in cases], axis=0)
    labels = (f"; they answer with one of their training labels in {np.mean(rates):.0%} of generation prompts "
              "(output-space specialization)" if rates else "")
    return _finding(2, claim, verdict,
                    f"Classification-trained FT {ft_mean:.2f} vs unmodified {base_mean:.2f} on generation tasks "
                    f"(mean over {len(cases)} cells){labels}; {_per_size(per_size)}; overall: {verdict}.", cases)


def fticl_keeps_in_domain(sizes: list[TransferScores]) -> Finding:
    """(3) FTICL in-domain >= FT in-domain (non-inferiority within the margin), for every training task."""
    claim = "FTICL keeps the in-domain performance of FT."
    per_size, cases = _compare_cells(sizes, 3, AT_LEAST, lambda s, train, test: test == train, all_cases)
    if not per_size:
        return _not_tested(3, claim, "the study has no in-domain cell with both FT and FTICL")
    verdict = all_cases(v for _, v in per_size)
    return _finding(3, claim, verdict, f"FTICL ≥ FT in-domain (within {MARGIN:.2f}): {_per_size(per_size)}; "
                                       f"overall: {verdict}.", cases)


def fticl_helps_generation_out_of_domain(sizes: list[TransferScores]) -> Finding:
    """(4) FTICL > FT on the cross-domain cells of generation-trained rows (any_case, Holm per size)."""
    claim = "FTICL improves the cross-domain generalization of models trained on generation tasks."

    def wanted(s: TransferScores, train: str, test: str) -> bool:
        return s.kind(train) == "generation" and _relation(s, train, test) == "cross-domain"

    per_size, cases = _compare_cells(sizes, 4, GREATER, wanted, any_case)
    if not per_size:
        return _not_tested(4, claim, "the study has no cross-domain cell of a generation-trained row with both "
                                     "FT and FTICL")
    verdict = all_cases(v for _, v in per_size)
    return _finding(4, claim, verdict, f"FTICL > FT cross-domain (generation training): {_per_size(per_size)}; "
                                       f"overall: {verdict}.", cases)


def fticl_no_help_for_classification(sizes: list[TransferScores]) -> Finding:
    """(5) FTICL is not above FT on the cross-domain and cross-task cells of classification-trained rows.

    A claim of absence: it reproduces only when every tested cell bounds the gain (the paired 95% upper bound
    of FTICL - FT below +MARGIN); a cell with a significant gain (Holm over the size's cells) does not
    reproduce; "no cell showed a gain" is not evidence of absence, so anything else is "not shown".
    """
    claim = "FTICL does not improve the generalization of models trained on classification tasks."

    def wanted(s: TransferScores, train: str, test: str) -> bool:
        return s.kind(train) == "classification" and _relation(s, train, test) in OUT_OF_DOMAIN

    per_size, cases = _compare_cells(sizes, 5, NO_GAIN, wanted, all_cases)
    if not per_size:
        return _not_tested(5, claim, "the study has no cross-domain or cross-task cell of a classification-trained "
                                     "row with both FT and FTICL")
    verdict = all_cases(v for _, v in per_size)
    gains = sum(c.verdict == DOES_NOT_REPRODUCE for c in cases)
    bounded = sum(c.verdict == REPRODUCES for c in cases)
    return _finding(5, claim, verdict,
                    f"FTICL gains significantly over FT in {gains} of {len(cases)} cross-domain and cross-task "
                    f"cells; the gain is bounded below +{MARGIN:.2f} (95% upper bound) in {bounded}; "
                    f"{_per_size(per_size)}; overall: {verdict}.", cases)


def fticl_moves_weights_less(sizes: list[TransferScores]) -> Finding:
    """(6) FTICL's mean absolute weight change < FT's, for every training task and size (no CI)."""
    claim = "FTICL changes the weights less than FT."
    per_size, details, ratios, verdicts = [], [], [], []
    for s in sizes:
        cases = []
        for train in s.train_tasks:
            ft, fticl = s.weights.get(("ft", train)), s.weights.get(("fticl", train))
            if ft is None or fticl is None:
                continue
            verdict = REPRODUCES if fticl.mean_abs < ft.mean_abs else DOES_NOT_REPRODUCE
            cases.append(verdict)
            ratios.append(fticl.mean_abs / ft.mean_abs if ft.mean_abs else float("inf"))
            details.append(f"n={s.size} · {train}: mean |Δw| FTICL {fticl.mean_abs:.3g} vs FT {ft.mean_abs:.3g}: "
                           f"{verdict}.")
        verdicts += cases
        _add(per_size, s.size, all_cases(cases))
    if not per_size:
        return _not_tested(6, claim, "no training task has stored weight changes for both FT and FTICL")
    verdict = all_cases(v for _, v in per_size)
    return Finding(6, claim, verdict,
                   f"FTICL moved the weights less than FT in {verdicts.count(REPRODUCES)} of {len(verdicts)} "
                   f"(training task, size) cases; its mean |Δw| is {np.mean(ratios):.2f}× FT's on average (stored "
                   f"means over seeds compared directly, no CI); {_per_size(per_size)}; overall: {verdict}.",
                   details)


def transfer_findings(sizes: list[TransferScores]) -> list[Finding]:
    """Findings 1-6 for one model, its train sizes in the study's order."""
    return [
        beats_unmodified_in_domain(sizes),
        classification_collapses_on_generation(sizes),
        fticl_keeps_in_domain(sizes),
        fticl_helps_generation_out_of_domain(sizes),
        fticl_no_help_for_classification(sizes),
        fticl_moves_weights_less(sizes),
    ]


# ---- pieces -------------------------------------------------------------------------------------------------


def _compare_cells(sizes: list[TransferScores], number: int, claim: str,
                   wanted: Callable[[TransferScores, str, str], bool], combine: Callable) -> tuple[PerSize, list[Case]]:
    """FTICL against FT on every wanted (train, test) cell; Holm over a size's cells, then `combine` decides it."""
    per_size, cases = [], []
    for s in sizes:
        found = with_holm([_compare(number, claim, s, train, test, "fticl", "ft") for train in s.train_tasks
                           for test in s.tasks if s.get("ft", train, test) and s.get("fticl", train, test)
                           and wanted(s, train, test)])
        cases += found
        _add(per_size, s.size, combine(c.verdict for c in found))
    return per_size, cases


def _compare(number: int, claim: str, s: TransferScores, train: str, test: str, a: str, b: str) -> Case:
    """Variant `a` against `b` (BASE: the unmodified model) on the test task's examples, paired per seed.

    A fit that did not learn its own training task (its learned check) makes the case invalid, untested."""
    first, second = _cell(s, a, train, test), _cell(s, b, train, test)
    margin = MARGIN if claim in (AT_LEAST, NO_GAIN) else None
    for variant in (a, b):
        fit = s.weights.get((variant, train))
        if fit is not None and fit.learned is False:
            return Case(number, claim, train, test, a, b, margin=margin, size=s.size, verdict=INVALID,
                        note=fit.failure(), estimates=(first.estimate, second.estimate))
    return replace(compare(number, claim, train, test, a, b, first.examples, second.examples, margin), size=s.size)


def _cell(s: TransferScores, variant: str, train: str, test: str) -> Cell:
    return s.base(test) if variant == BASE else s.get(variant, train, test)


def _finding(number: int, claim: str, verdict: str, sentence: str, cases: list[Case]) -> Finding:
    return Finding(number, claim, verdict, sentence, tuple(case_line(c, variant_label) for c in cases), tuple(cases))


def _relation(s: TransferScores, train: str, test: str) -> str | None:
    """The stored relation of a fine-tuned cell (FT's, else FTICL's)."""
    cell = s.get("ft", train, test) or s.get("fticl", train, test)
    return cell.relation if cell else None


def _add(per_size: PerSize, size: int, verdict: str) -> None:
    if verdict != NOT_TESTED:
        per_size.append((size, verdict))


def _per_size(per_size: PerSize) -> str:
    return "; ".join(f"n={size}: {verdict}" for size, verdict in per_size)


def _not_tested(number: int, claim: str, reason: str) -> Finding:
    return Finding(number, claim, NOT_TESTED, f"Not tested: {reason}.")

