"""The findings of Yang et al. (NAACL 2024), "Unveiling the Generalization Power of Fine-Tuned LLMs", tested on
one model's transfer matrices (one `TransferScores` per train size).

Verdicts and rules are those of `icft.report.findings`: "A > B" needs non-overlapping 95% CIs, "A keeps B"
is its non-inferiority rule `at_least`. Each finding is first decided per train size (combining its cells as
said in each function), then over sizes with `all_cases`, so a size that shows the opposite makes it "does not
reproduce" and a size that cannot tell makes it "not shown at this size". Weight changes (finding 6) carry
no CI: their stored numbers are compared directly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from icft.report.findings import (
    DOES_NOT_REPRODUCE, NOT_SHOWN, NOT_TESTED, REPRODUCES, Finding, all_cases, any_case, at_least, greater,
)
from icft.report.results import format_estimate
from icft.report.transfer import TransferScores

OUT_OF_DOMAIN = ("cross-domain", "cross-task")

PerSize = list[tuple[int, str]]  # (train size, verdict at that size)


def beats_unmodified_in_domain(sizes: list[TransferScores]) -> Finding:
    """(1) FT on task T > the unmodified model on T, for every training task (all_cases)."""
    claim = "A model fine-tuned on a task beats the unmodified model on that task (in-domain)."
    per_size, details, pairs = [], [], []
    for s in sizes:
        cases = []
        for train in s.train_tasks:
            ft, base = s.get("ft", train, train), s.base(train)
            if ft is None or base is None:
                continue
            verdict = greater(ft.estimate, base.estimate)
            cases.append(verdict)
            pairs.append((ft.estimate.mean, base.estimate.mean))
            details.append(f"n={s.size} · {train}: FT {format_estimate(ft.estimate)} vs unmodified "
                           f"{format_estimate(base.estimate)}: {verdict}.")
        _add(per_size, s.size, all_cases(cases))
    if not per_size:
        return _not_tested(1, claim, "no FT in-domain cell has an unmodified run on the same task")
    verdict = all_cases(v for _, v in per_size)
    ft_mean, base_mean = np.mean(pairs, axis=0)
    return Finding(1, claim, verdict,
                   f"FT in-domain {ft_mean:.2f} vs unmodified {base_mean:.2f} (mean over {len(pairs)} training "
                   f"tasks and sizes); {_per_size(per_size)}; overall: {verdict}.", tuple(details))


def classification_collapses_on_generation(sizes: list[TransferScores]) -> Finding:
    """(2) FT on a classification task < the unmodified model on generation tasks.

    Per training task `any_case` over the generation test tasks, then `all_cases` over training tasks. The
    sentence adds how often those models answer with one of their training labels (output-space
    specialization: the model keeps answering in the label space it was trained on).
    """
    claim = "Models fine-tuned on classification collapse on generation tasks (worse than the unmodified model)."
    per_size, details, pairs, rates = [], [], [], []
    for s in sizes:
        per_train = []
        for train in s.train_tasks:
            if s.kind(train) != "classification":
                continue
            cases = []
            for test in s.tasks:
                ft, base = s.get("ft", train, test), s.base(test)
                if s.kind(test) != "generation" or ft is None or base is None:
                    continue
                verdict = greater(base.estimate, ft.estimate)  # the unmodified model above FT: a collapse
                cases.append(verdict)
                pairs.append((ft.estimate.mean, base.estimate.mean))
                rate = "" if ft.label_rate is None else f", {ft.label_rate:.0%} of answers are training labels"
                if ft.label_rate is not None:
                    rates.append(ft.label_rate)
                details.append(f"n={s.size} · {train} → {test}: FT {format_estimate(ft.estimate)} vs unmodified "
                               f"{format_estimate(base.estimate)}{rate}: {verdict}.")
            if cases:
                per_train.append(any_case(cases))
        _add(per_size, s.size, all_cases(per_train))
    if not per_size:
        return _not_tested(2, claim, "no classification-trained FT row has a generation test task beside an "
                                     "unmodified run")
    verdict = all_cases(v for _, v in per_size)
    ft_mean, base_mean = np.mean(pairs, axis=0)
    labels = (f"; they answer with one of their training labels in {np.mean(rates):.0%} of generation prompts "
              "(output-space specialization)" if rates else "")
    return Finding(2, claim, verdict,
                   f"Classification-trained FT {ft_mean:.2f} vs unmodified {base_mean:.2f} on generation tasks "
                   f"(mean over {len(pairs)} cells){labels}; {_per_size(per_size)}; overall: {verdict}.",
                   tuple(details))


def fticl_keeps_in_domain(sizes: list[TransferScores]) -> Finding:
    """(3) FTICL in-domain >= FT in-domain (non-inferiority), for every training task."""
    claim = "FTICL keeps the in-domain performance of FT."
    per_size, details, _ = _compare_cells(sizes, at_least, all_cases, lambda s, train, test: test == train)
    if not per_size:
        return _not_tested(3, claim, "the study has no in-domain cell with both FT and FTICL")
    verdict = all_cases(v for _, v in per_size)
    return Finding(3, claim, verdict, f"FTICL ≥ FT in-domain: {_per_size(per_size)}; overall: {verdict}.", details)


def fticl_helps_generation_out_of_domain(sizes: list[TransferScores]) -> Finding:
    """(4) FTICL > FT on the cross-domain cells of generation-trained rows (any_case)."""
    claim = "FTICL improves the cross-domain generalization of models trained on generation tasks."

    def wanted(s: TransferScores, train: str, test: str) -> bool:
        return s.kind(train) == "generation" and _relation(s, train, test) == "cross-domain"

    per_size, details, _ = _compare_cells(sizes, greater, any_case, wanted)
    if not per_size:
        return _not_tested(4, claim, "the study has no cross-domain cell of a generation-trained row with both "
                                     "FT and FTICL")
    verdict = all_cases(v for _, v in per_size)
    return Finding(4, claim, verdict, f"FTICL > FT cross-domain (generation training): {_per_size(per_size)}; "
                                      f"overall: {verdict}.", details)


def fticl_no_help_for_classification(sizes: list[TransferScores]) -> Finding:
    """(5) FTICL is not above FT on the cross-domain and cross-task cells of classification-trained rows.

    A claim of no difference: it reproduces when no tested cell shows FTICL > FT, and does not reproduce
    when some cell does. Overlapping CIs cannot rule out a small gain; the sentence says so.
    """
    claim = "FTICL does not improve the generalization of models trained on classification tasks."

    def wanted(s: TransferScores, train: str, test: str) -> bool:
        return s.kind(train) == "classification" and _relation(s, train, test) in OUT_OF_DOMAIN

    def no_gain(cases: list[str]) -> str:
        return NOT_TESTED if not cases else DOES_NOT_REPRODUCE if REPRODUCES in cases else REPRODUCES

    said = {REPRODUCES: "FTICL above FT, against the claim", DOES_NOT_REPRODUCE: "FT above FTICL",
            NOT_SHOWN: "the CIs overlap"}
    per_size, details, verdicts = _compare_cells(sizes, greater, no_gain, wanted, said)
    if not per_size:
        return _not_tested(5, claim, "the study has no cross-domain or cross-task cell of a classification-trained "
                                     "row with both FT and FTICL")
    verdict = all_cases(v for _, v in per_size)
    up, down = verdicts.count(REPRODUCES), verdicts.count(DOES_NOT_REPRODUCE)
    return Finding(5, claim, verdict,
                   f"FTICL is above FT in {up} of {len(verdicts)} cross-domain and cross-task cells, below it in "
                   f"{down}, and the CIs overlap in {len(verdicts) - up - down} (overlap does not rule out a small "
                   f"gain); "
                   f"{_per_size(per_size)}; overall: {verdict}.", details)


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


def _compare_cells(sizes: list[TransferScores], rule: Callable, combine: Callable,
                   wanted: Callable[[TransferScores, str, str], bool], said: dict[str, str] | None = None,
                   ) -> tuple[PerSize, tuple[str, ...], list[str]]:
    """FTICL vs FT by `rule` on every wanted (train, test) cell; `combine` decides each size.

    Returns the verdict per size, a sentence per cell (ending in its verdict, or in `said[verdict]`), and
    every cell's verdict.
    """
    per_size, details, verdicts = [], [], []
    for s in sizes:
        cases = []
        for train in s.train_tasks:
            for test in s.tasks:
                ft, fticl = s.get("ft", train, test), s.get("fticl", train, test)
                if ft is None or fticl is None or not wanted(s, train, test):
                    continue
                verdict = rule(fticl.estimate, ft.estimate)
                cases.append(verdict)
                details.append(f"n={s.size} · {train} → {test}: FTICL {format_estimate(fticl.estimate)} vs FT "
                               f"{format_estimate(ft.estimate)}: {(said or {}).get(verdict, verdict)}.")
        verdicts += cases
        _add(per_size, s.size, combine(cases))
    return per_size, tuple(details), verdicts


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

