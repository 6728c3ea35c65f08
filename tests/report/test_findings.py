"""Findings verdicts on hand-made numbers: every finding in each of its verdicts."""

import pytest

from icft.evaluate.metrics import Estimate
from icft.report.findings import (
    DOES_NOT_REPRODUCE, NOT_SHOWN, NOT_TESTED, REPRODUCES, VERDICTS, all_cases, all_findings, any_case, at_least,
    augmentation_helps, global_augmentation_matches_icl, greater, icl_beats_ft, near_chance, pretrained_near_chance,
    reversal_curse, splitting_helps, structure_helps_ft_reversals,
)
from icft.report.results import Scores


def est(mean, half=0.05, n=100):
    """An estimate with a symmetric CI of half-width `half`."""
    return Estimate(mean=mean, low=mean - half, high=mean + half, n=n)


def scores(cells: dict, chance: dict | None = None) -> Scores:
    """`cells` maps (world, mode, split) to an Estimate; chance defaults to 0.5 for every (world, split)."""
    chance = dict(chance or {})
    for world, _, split in cells:
        chance.setdefault((world, split), 0.5)
    return Scores(accuracy=dict(cells), chance=chance)


# ---- the rules ----------------------------------------------------------------------------------------------


def test_greater_needs_non_overlapping_intervals():
    assert greater(est(0.8), est(0.6)) == REPRODUCES
    assert greater(est(0.6), est(0.8)) == DOES_NOT_REPRODUCE
    assert greater(est(0.7), est(0.62)) == NOT_SHOWN  # [0.65, 0.75] and [0.57, 0.67] overlap
    touching = Estimate(0.8, 0.7, 0.9, 50)
    assert greater(touching, Estimate(0.6, 0.5, 0.7, 50)) == NOT_SHOWN  # equal bounds are an overlap


def test_near_chance_needs_a_narrow_interval_around_chance():
    assert near_chance(est(0.52, 0.08), 0.5) == REPRODUCES
    assert near_chance(est(0.7, 0.1), 0.5) == DOES_NOT_REPRODUCE  # above chance: the world is not novel
    assert near_chance(est(0.3, 0.1), 0.5) == DOES_NOT_REPRODUCE  # below chance is not "near chance" either
    assert near_chance(est(0.5, 0.3), 0.5) == NOT_SHOWN  # contains chance but too few items to say more


def test_at_least_is_non_inferiority_with_a_margin():
    assert at_least(est(0.9), est(0.7)) == REPRODUCES  # significantly above
    assert at_least(est(0.72, 0.08), est(0.70, 0.08)) == REPRODUCES  # point estimate higher, CI within margin
    assert at_least(est(0.5), est(0.8)) == DOES_NOT_REPRODUCE
    assert at_least(est(0.68, 0.05), est(0.70, 0.05)) == NOT_SHOWN  # point estimate below
    assert at_least(est(0.72, 0.3), est(0.70, 0.05)) == NOT_SHOWN  # CI reaches far below: underpowered


def test_combining_cases():
    assert all_cases([REPRODUCES, REPRODUCES, NOT_TESTED]) == REPRODUCES
    assert all_cases([REPRODUCES, NOT_SHOWN]) == NOT_SHOWN
    assert all_cases([REPRODUCES, DOES_NOT_REPRODUCE]) == DOES_NOT_REPRODUCE
    assert all_cases([NOT_TESTED]) == all_cases([]) == NOT_TESTED
    assert any_case([REPRODUCES, NOT_SHOWN]) == REPRODUCES
    assert any_case([DOES_NOT_REPRODUCE, NOT_SHOWN]) == DOES_NOT_REPRODUCE
    assert any_case([REPRODUCES, DOES_NOT_REPRODUCE]) == NOT_SHOWN  # mixed: no claim either way
    assert any_case([NOT_SHOWN, NOT_SHOWN]) == NOT_SHOWN
    assert any_case([]) == NOT_TESTED


# ---- the findings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pretrained, verdict", [
    ({("reversals", "reversed"): est(0.51), ("syllogisms", "syllogism"): est(0.18)}, REPRODUCES),
    ({("reversals", "reversed"): est(0.51), ("syllogisms", "syllogism"): est(0.60)}, DOES_NOT_REPRODUCE),
    ({("reversals", "reversed"): est(0.51), ("syllogisms", "syllogism"): est(0.20, 0.2)}, NOT_SHOWN),
])
def test_pretrained_near_chance(pretrained, verdict):
    cells = {(w, "pretrained", s): e for (w, s), e in pretrained.items()}
    finding = pretrained_near_chance(scores(cells, {("syllogisms", "syllogism"): 1 / 6}))
    assert finding.verdict == verdict
    assert len(finding.details) == 2 and all(d.startswith("pretrained ") for d in finding.details)
    assert finding.sentence.endswith(f"overall: {verdict}.")


def test_pretrained_not_tested_without_pretrained_runs():
    finding = pretrained_near_chance(scores({("reversals", "icl", "reversed"): est(0.9)}))
    assert finding.verdict == NOT_TESTED and "no pretrained runs" in finding.sentence


@pytest.mark.parametrize("icl, ft, verdict", [
    (est(0.83, 0.1), est(0.52, 0.1), REPRODUCES),
    (est(0.52, 0.1), est(0.83, 0.1), DOES_NOT_REPRODUCE),
    (est(0.60, 0.1), est(0.52, 0.1), NOT_SHOWN),
    (None, est(0.52), NOT_TESTED),
])
def test_icl_beats_ft_on_reversals(icl, ft, verdict):
    cells = {("reversals", "ft", "reversed"): ft}
    if icl is not None:
        cells[("reversals", "icl", "reversed")] = icl
    finding = icl_beats_ft(scores(cells), 2, "reversals", "reversed")
    assert finding.verdict == verdict and finding.number == 2
    if icl is not None:
        assert finding.sentence == (f"ICL {icl.mean:.2f} [{icl.low:.2f}, {icl.high:.2f}] vs FT {ft.mean:.2f} "
                                    f"[{ft.low:.2f}, {ft.high:.2f}] on reversals/reversed: {verdict}.")
    else:
        assert "no ICL results on reversals/reversed" in finding.sentence


def test_icl_beats_ft_on_syllogisms_reads_the_syllogism_split():
    cells = {("syllogisms", "icl", "syllogism"): est(0.7), ("syllogisms", "ft", "syllogism"): est(0.3)}
    assert all_findings(scores(cells))[2].verdict == REPRODUCES
    assert all_findings(scores(cells))[1].verdict == NOT_TESTED  # no reversals world


@pytest.mark.parametrize("semantic, isolated, verdict", [
    (est(0.45), est(0.52), REPRODUCES),  # +0.20 above a 0.25 chance vs +0.02 above 0.5
    (est(0.27), est(0.70), DOES_NOT_REPRODUCE),
    (est(0.35, 0.1), est(0.58, 0.1), NOT_SHOWN),  # +0.10 vs +0.08: overlap
])
def test_structure_helps_ft_reversals_subtracts_chance(semantic, isolated, verdict):
    cells = {("semantic", "ft", "reversed"): semantic, ("reversals", "ft", "reversed"): isolated}
    finding = structure_helps_ft_reversals(scores(cells, {("semantic", "reversed"): 0.25}))
    assert finding.verdict == verdict
    assert "semantic/reversed" in finding.sentence and "reversals/reversed" in finding.sentence


def test_structure_helps_ft_reversals_not_tested_without_semantic():
    finding = structure_helps_ft_reversals(scores({("reversals", "ft", "reversed"): est(0.5)}))
    assert finding.verdict == NOT_TESTED and "semantic/reversed" in finding.sentence


@pytest.mark.parametrize("augmented, verdict", [
    ({"ft-local": est(0.8), "ft-global": est(0.6)}, REPRODUCES),  # one mode clearly above, none below
    ({"ft-local": est(0.3)}, DOES_NOT_REPRODUCE),
    ({"ft-local": est(0.8), "ft-global": est(0.3)}, NOT_SHOWN),  # mixed
    ({"ft-global": est(0.62)}, NOT_SHOWN),
    ({}, NOT_TESTED),
])
def test_augmentation_helps(augmented, verdict):
    cells = {("reversals", "ft", "reversed"): est(0.6), ("reversals", "ft", "rephrased"): est(0.2)}
    cells |= {("reversals", mode, "reversed"): e for mode, e in augmented.items()}
    cells[("reversals", "ft-local-global", "rephrased")] = est(0.99)  # not a generalization split: ignored
    finding = augmentation_helps(scores(cells))
    assert finding.verdict == verdict
    assert len(finding.details) == len(augmented)


def test_augmentation_helps_overall_needs_every_world():
    cells = {("reversals", "ft", "reversed"): est(0.5), ("reversals", "ft-local", "reversed"): est(0.8),
             ("syllogisms", "ft", "syllogism"): est(0.5), ("syllogisms", "ft-local", "syllogism"): est(0.52)}
    finding = augmentation_helps(scores(cells))
    assert finding.verdict == NOT_SHOWN
    assert "reversals: reproduces; syllogisms: not shown at this size" in finding.sentence


@pytest.mark.parametrize("global_, icl, verdict", [
    (est(0.85), est(0.84), REPRODUCES),
    (est(0.60), est(0.84), DOES_NOT_REPRODUCE),
    (est(0.82), est(0.84), NOT_SHOWN),
    (None, est(0.84), NOT_TESTED),
])
def test_global_augmentation_matches_icl(global_, icl, verdict):
    cells = {("reversal_curse", "icl", "reverse_a"): icl}
    if global_ is not None:
        cells[("reversal_curse", "ft-global", "reverse_a")] = global_
    assert global_augmentation_matches_icl(scores(cells)).verdict == verdict


@pytest.mark.parametrize("split_ft, verdict", [(est(0.8), REPRODUCES), (est(0.3), DOES_NOT_REPRODUCE),
                                               (est(0.55), NOT_SHOWN)])
def test_splitting_helps(split_ft, verdict):
    cells = {("reversals", "ft", "reversed"): est(0.5), ("reversals", "ft-split", "reversed"): split_ft}
    assert splitting_helps(scores(cells)).verdict == verdict


def test_splitting_is_not_tested_on_the_semantic_world():
    cells = {("semantic", "ft", "reversed"): est(0.3), ("semantic", "ft-split", "reversed"): est(0.9)}
    assert splitting_helps(scores(cells)).verdict == NOT_TESTED


@pytest.mark.parametrize("ft, icl, verdict", [
    (est(0.24), est(0.95), REPRODUCES),
    (est(0.70), est(0.95), DOES_NOT_REPRODUCE),  # FT well above chance: no curse
    (est(0.26), est(0.28), DOES_NOT_REPRODUCE),  # ICL near chance too
    (est(0.30, 0.12), est(0.55, 0.12), NOT_SHOWN),  # FT's CI reaches past chance + margin
    (None, est(0.95), NOT_TESTED),
])
def test_reversal_curse(ft, icl, verdict):
    cells = {("reversal_curse", "icl", "reverse_a"): icl}
    if ft is not None:
        cells[("reversal_curse", "ft", "reverse_a")] = ft
    finding = reversal_curse(scores(cells, {("reversal_curse", "reverse_a"): 0.25}))
    assert finding.verdict == verdict


def test_all_findings_on_an_empty_study_are_not_tested():
    findings = all_findings(scores({("imported", "icl", "x"): est(0.5)}))
    assert [f.number for f in findings] == list(range(1, 9))
    assert {f.verdict for f in findings} == {NOT_TESTED}
    assert all(f.verdict in VERDICTS and f.sentence.startswith("Not tested: ") for f in findings)
