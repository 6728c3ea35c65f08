"""Findings verdicts on hand-made per-item results: the rules, pairing on item ids, Holm, and every finding."""

import numpy as np
import pytest

from icft.report.cases import Case, SeedItems, compare
from icft.report.grid.findings import (
    all_findings, augmentation_helps, global_augmentation_matches_icl, icl_beats_ft, pretrained_near_chance,
    reversal_curse, splitting_helps, structure_helps_ft_reversals,
)
from icft.report.verdicts import (
    DOES_NOT_REPRODUCE, INVALID, MARGIN, NOT_SHOWN, NOT_TESTED, OPTION_BIAS, REPRODUCES, VERDICTS, all_cases, any_case,
    at_least, decide, greater, near_chance, no_gain,
)
from icft.evaluate.learned import LearnedCheck, SeedCheck
from icft.evaluate.plan import AT_LEAST, GREATER, NEAR_CHANCE, NO_GAIN
from icft.report.grid.results import scores_from_items


def items(correct, seed=0, ids=None, chosen=None):
    """One seed's items: `correct` a 0/1 list (item i is "i<n>"), optionally in another id order."""
    ids = ids or [f"i{n:03d}" for n in range(len(correct))]
    return SeedItems(ids=tuple(ids), scores=np.array(correct, dtype=float),
                     chosen=None if chosen is None else np.array(chosen))


def right(n_right, n, offset=0):
    """n items, `n_right` of them right, starting at item `offset` (wrapping)."""
    return [float((i - offset) % n < n_right) for i in range(n)]


def scores(cells, chance=None, learned=None):
    """`cells` maps (world, mode, split) to a 0/1 list (one seed) or to {seed: SeedItems}."""
    built = {key: value if isinstance(value, dict) else {0: items(value)} for key, value in cells.items()}
    chance = dict(chance or {})
    for world, _, split in built:
        chance.setdefault((world, split), 0.5)
    return scores_from_items(built, chance, learned=learned)


def case(claim=GREATER, diff=0.2, low=0.05, high=0.35, p=0.01, **extra):
    return Case(1, claim, "w", "s", "a", "b", diff=diff, ci_low=low, ci_high=high, p=p, p_holm=p, mde=0.3,
                margin=MARGIN, **extra)


# ---- the rules ----------------------------------------------------------------------------------------------


def test_greater_needs_significance_and_the_interval_on_one_side():
    assert greater(case()) == REPRODUCES
    assert greater(case(diff=-0.2, low=-0.35, high=-0.05)) == DOES_NOT_REPRODUCE
    assert greater(case(low=-0.01, p=0.06)) == NOT_SHOWN
    assert greater(case(p=0.01, low=-0.01)) == NOT_SHOWN  # both must agree
    assert greater(case(p=0.2, low=0.01)) == NOT_SHOWN


def test_near_chance_is_an_equivalence_test_and_below_chance_is_option_bias():
    from icft.evaluate.stats import Estimate

    def versus(mean, low90, high90, p, low95, high95):
        return case(NEAR_CHANCE, diff=mean - 0.5, low=low90 - 0.5, high=high90 - 0.5, p=p,
                    estimates=(Estimate(mean, low95, high95, 60),), chance=0.5)

    assert near_chance(versus(0.52, 0.42, 0.62, 0.01, 0.40, 0.64)) == REPRODUCES
    assert near_chance(versus(0.80, 0.72, 0.88, 1.0, 0.70, 0.89)) == DOES_NOT_REPRODUCE
    assert near_chance(versus(0.10, 0.05, 0.18, 1.0, 0.04, 0.20)) == OPTION_BIAS
    assert near_chance(versus(0.50, 0.30, 0.70, 0.3, 0.27, 0.73)) == NOT_SHOWN  # too few items to say


def test_non_inferiority_and_absence_use_the_margin():
    assert at_least(case(AT_LEAST, diff=-0.05, low=-0.12, high=0.02)) == REPRODUCES
    assert at_least(case(AT_LEAST, diff=-0.3, low=-0.45, high=-0.15)) == DOES_NOT_REPRODUCE
    assert at_least(case(AT_LEAST, diff=0.0, low=-0.3, high=0.3, p=1.0)) == NOT_SHOWN
    assert no_gain(case(NO_GAIN, diff=0.0, low=-0.1, high=0.1, p=1.0)) == REPRODUCES
    assert no_gain(case(NO_GAIN, diff=0.05, low=-0.1, high=0.2, p=0.5)) == NOT_SHOWN  # a gain up to 0.2 fits
    assert no_gain(case(NO_GAIN)) == DOES_NOT_REPRODUCE  # a significant gain


def test_decide_says_what_cannot_be_detected():
    decided = decide(case(low=-0.1, p=0.2))
    assert decided.verdict == NOT_SHOWN and decided.note == "effects below 0.30 cannot be detected here"
    assert decide(case()).note == ""


def test_combining_cases():
    assert all_cases([REPRODUCES, REPRODUCES, NOT_TESTED]) == REPRODUCES
    assert all_cases([REPRODUCES, OPTION_BIAS]) == REPRODUCES  # no knowledge is not a failure
    assert all_cases([REPRODUCES, NOT_SHOWN]) == NOT_SHOWN
    assert all_cases([REPRODUCES, DOES_NOT_REPRODUCE]) == DOES_NOT_REPRODUCE
    assert all_cases([REPRODUCES, INVALID]) == INVALID
    assert all_cases([NOT_TESTED]) == all_cases([]) == NOT_TESTED
    assert any_case([REPRODUCES, NOT_SHOWN]) == REPRODUCES
    assert any_case([REPRODUCES, INVALID]) == REPRODUCES  # invalid cases are ignored
    assert any_case([INVALID, INVALID]) == INVALID
    assert any_case([DOES_NOT_REPRODUCE, NOT_SHOWN]) == DOES_NOT_REPRODUCE
    assert any_case([REPRODUCES, DOES_NOT_REPRODUCE]) == NOT_SHOWN
    assert any_case([]) == NOT_TESTED


# ---- pairing ------------------------------------------------------------------------------------------------


def test_modes_are_joined_on_item_ids_not_row_order():
    icl = right(18, 24)
    ft = right(6, 24)
    ordered = compare(2, GREATER, "reversals", "reversed", "icl", "ft", {0: items(icl)}, {0: items(ft)})
    ids = [f"i{n:03d}" for n in range(24)]
    shuffled = np.random.default_rng(0).permutation(24)
    reordered = compare(2, GREATER, "reversals", "reversed", "icl", "ft", {0: items(icl)},
                        {0: items([ft[n] for n in shuffled], ids=[ids[n] for n in shuffled])})
    assert (reordered.discordant_b, reordered.discordant_c, reordered.diff, reordered.p) == (
        ordered.discordant_b, ordered.discordant_c, ordered.diff, ordered.p) == (12, 0, 0.5, pytest.approx(0.5**12))
    by_rows = compare(2, GREATER, "reversals", "reversed", "icl", "ft", {0: items(icl)},
                      {0: items([ft[n] for n in shuffled])})  # the same ids on other rows: other pairs
    assert by_rows.discordant_b != 12


def test_only_items_and_seeds_both_modes_hold_are_compared():
    first = {0: items(right(10, 20)), 1: items(right(10, 20), seed=1)}
    second = {0: items(right(5, 10), ids=[f"i{n:03d}" for n in range(10)])}  # seed 0, half the items
    result = compare(2, GREATER, "w", "s", "icl", "ft", first, second)
    assert (result.seeds, result.n) == (1, 10)


def test_clustered_items_widen_the_paired_interval():
    icl, ft = right(14, 24), right(8, 24)
    alone = compare(2, GREATER, "w", "s", "a", "b", {0: items(icl)}, {0: items(ft)})
    clusters = np.repeat(np.arange(4), 6)  # four facts, six items each
    together = compare(2, GREATER, "w", "s", "a", "b",
                       {0: SeedItems(ids=items(icl).ids, scores=np.array(icl), clusters=clusters)}, {0: items(ft)})
    assert together.diff == alone.diff and together.p >= alone.p
    assert together.ci_high - together.ci_low >= alone.ci_high - alone.ci_low


# ---- the findings -------------------------------------------------------------------------------------------


def test_pretrained_near_chance():
    near = {("reversals", "pretrained", "reversed"): right(30, 60), ("syllogisms", "pretrained", "syllogism"): right(10, 60)}
    chance = {("syllogisms", "syllogism"): 1 / 6}
    assert pretrained_near_chance(scores(near, chance)).verdict == REPRODUCES
    above = {**near, ("syllogisms", "pretrained", "syllogism"): right(40, 60)}
    assert pretrained_near_chance(scores(above, chance)).verdict == DOES_NOT_REPRODUCE
    few = {("reversals", "pretrained", "reversed"): right(5, 10)}
    finding = pretrained_near_chance(scores(few))
    assert finding.verdict == NOT_SHOWN and "more items are needed" in finding.details[0]
    assert finding.sentence.endswith("overall: not shown at this size.")


def test_below_chance_is_option_bias_not_a_failure():
    cells = {("reversals", "pretrained", "reversed"): {0: items(right(4, 40), chosen=[1] * 40)}}
    finding = pretrained_near_chance(scores(cells))
    assert finding.verdict == REPRODUCES and finding.cases[0].verdict == OPTION_BIAS
    assert "picks option 2 in 100% of items" in finding.details[0]
    assert "the picks lean to one option" in finding.sentence


def test_pretrained_not_tested_without_pretrained_runs():
    finding = pretrained_near_chance(scores({("reversals", "icl", "reversed"): right(20, 24)}))
    assert finding.verdict == NOT_TESTED and "no pretrained runs" in finding.sentence


@pytest.mark.parametrize("icl, ft, verdict", [
    (right(20, 24), right(8, 24), REPRODUCES),
    (right(8, 24), right(20, 24), DOES_NOT_REPRODUCE),
    (right(14, 24), right(11, 24), NOT_SHOWN),
    (None, right(8, 24), NOT_TESTED),
])
def test_icl_beats_ft_on_reversals(icl, ft, verdict):
    cells = {("reversals", "ft", "reversed"): ft}
    if icl is not None:
        cells[("reversals", "icl", "reversed")] = icl
    finding = icl_beats_ft(scores(cells), 2, "reversals", "reversed")
    assert finding.verdict == verdict and finding.number == 2
    if icl is None:
        assert "no ICL results on reversals/reversed" in finding.sentence
        return
    only = finding.cases[0]
    assert finding.sentence.startswith(f"ICL {np.mean(icl):.2f} [") and f"on reversals/reversed (24 items × 1 seed: " \
                                                                        f"items only, discordant {only.discordant_b}/" \
                                                                        f"{only.discordant_c})" in finding.sentence
    assert finding.sentence.endswith(f": {verdict}." if verdict != NOT_SHOWN else "cannot be detected here).")


def test_0_of_6_against_3_of_6_does_not_reproduce():
    """The issue's case: percentile intervals were zero-width at 0/6 and called this 'reproduces'."""
    finding = icl_beats_ft(scores({("reversals", "icl", "reversed"): right(3, 6),
                                   ("reversals", "ft", "reversed"): right(0, 6)}), 2, "reversals", "reversed")
    assert finding.verdict == NOT_SHOWN and finding.cases[0].p == pytest.approx(0.125)


def test_icl_beats_ft_on_syllogisms_reads_the_syllogism_split():
    cells = {("syllogisms", "icl", "syllogism"): right(20, 24), ("syllogisms", "ft", "syllogism"): right(5, 24)}
    assert all_findings(scores(cells))[2].verdict == REPRODUCES
    assert all_findings(scores(cells))[1].verdict == NOT_TESTED  # no reversals world


@pytest.mark.parametrize("semantic, isolated, verdict", [
    (right(110, 200), right(100, 200), REPRODUCES),  # gain (0.55 - 0.25) / 0.75 = 0.4 vs 0 at chance 0.5
    (right(50, 200), right(180, 200), DOES_NOT_REPRODUCE),
    (right(62, 200), right(110, 200), NOT_SHOWN),  # gains 0.08 and 0.10
])
def test_structure_helps_ft_reversals_compares_normalized_gains(semantic, isolated, verdict):
    cells = {("semantic", "ft", "reversed"): semantic, ("reversals", "ft", "reversed"): isolated}
    finding = structure_helps_ft_reversals(scores(cells, {("semantic", "reversed"): 0.25}))
    assert finding.verdict == verdict
    assert "semantic/reversed vs reversals/reversed" in finding.sentence and "normalized-gain" in finding.sentence


def test_structure_helps_ft_reversals_not_tested_without_semantic():
    finding = structure_helps_ft_reversals(scores({("reversals", "ft", "reversed"): right(12, 24)}))
    assert finding.verdict == NOT_TESTED and "semantic/reversed" in finding.sentence


def test_augmentation_family_is_holm_adjusted():
    ft = right(20, 80)
    # eleven more right, none fewer: p 0.030 alone (mid-p 0.0005; one fit, so the assumed spread between fits
    # counts), 3 x 0.030 with two more modes
    lucky = right(31, 80)
    alone = augmentation_helps(scores({("reversals", "ft", "reversed"): ft, ("reversals", "ft-local", "reversed"): lucky}))
    assert alone.verdict == REPRODUCES and alone.cases[0].p_holm == alone.cases[0].p
    family = augmentation_helps(scores({("reversals", "ft", "reversed"): ft, ("reversals", "ft-local", "reversed"): lucky,
                                        ("reversals", "ft-global", "reversed"): ft,
                                        ("reversals", "ft-local-global", "reversed"): ft}))
    local = family.cases[0]
    assert local.p_holm == pytest.approx(3 * local.p) and local.verdict == NOT_SHOWN
    assert family.verdict == NOT_SHOWN and "Holm p" in family.details[0]


@pytest.mark.parametrize("augmented, verdict", [
    ({"ft-local": right(30, 40), "ft-global": right(15, 40)}, REPRODUCES),
    ({"ft-local": right(2, 40)}, DOES_NOT_REPRODUCE),
    ({"ft-local": right(30, 40), "ft-global": right(2, 40)}, NOT_SHOWN),  # mixed
    ({}, NOT_TESTED),
])
def test_augmentation_helps(augmented, verdict):
    cells = {("reversals", "ft", "reversed"): right(15, 40), ("reversals", "ft", "rephrased"): right(5, 40)}
    cells |= {("reversals", mode, "reversed"): e for mode, e in augmented.items()}
    cells[("reversals", "ft-local-global", "rephrased")] = right(40, 40)  # not a generalization split: ignored
    finding = augmentation_helps(scores(cells))
    assert finding.verdict == verdict and len(finding.details) == len(augmented)


@pytest.mark.parametrize("global_, verdict", [
    (right(78, 80), REPRODUCES),  # two items fewer: the lower bound stays above -0.15
    (right(40, 80), DOES_NOT_REPRODUCE),
    (right(5, 6), NOT_SHOWN),  # one item fewer, but six items cannot bound the difference
])
def test_global_augmentation_matches_icl(global_, verdict):
    icl = right(len(global_), len(global_))
    cells = {("reversal_curse", "icl", "reverse_a"): icl, ("reversal_curse", "ft-global", "reverse_a"): global_}
    finding = global_augmentation_matches_icl(scores(cells))
    assert finding.verdict == verdict and f"margin {MARGIN:.2f}" in finding.details[0]


def test_splitting_is_not_tested_on_the_semantic_world():
    cells = {("semantic", "ft", "reversed"): right(5, 24), ("semantic", "ft-split", "reversed"): right(20, 24)}
    assert splitting_helps(scores(cells)).verdict == NOT_TESTED
    simple = {("reversals", "ft", "reversed"): right(5, 24), ("reversals", "ft-split", "reversed"): right(20, 24)}
    assert splitting_helps(scores(simple)).verdict == REPRODUCES


@pytest.mark.parametrize("ft, icl, verdict", [
    (right(15, 60), right(57, 60), REPRODUCES),
    (right(45, 60), right(57, 60), DOES_NOT_REPRODUCE),  # FT well above chance: no curse
    (right(16, 60), right(17, 60), NOT_SHOWN),  # ICL near chance too: ICL > FT is not shown
])
def test_reversal_curse(ft, icl, verdict):
    cells = {("reversal_curse", "icl", "reverse_a"): icl, ("reversal_curse", "ft", "reverse_a"): ft}
    finding = reversal_curse(scores(cells, {("reversal_curse", "reverse_a"): 0.25}))
    assert finding.verdict == verdict and len(finding.cases) == 2


def test_reversal_curse_needs_both_modes():
    finding = reversal_curse(scores({("reversal_curse", "icl", "reverse_a"): right(10, 12)}))
    assert finding.verdict == NOT_TESTED and "no FT results" in finding.sentence


def test_an_unlearned_fine_tuned_cell_is_invalid_and_never_tested():
    cells = {("reversals", "icl", "reversed"): right(20, 24), ("reversals", "ft", "reversed"): right(4, 24),
             ("reversals", "ft-local", "reversed"): right(22, 24)}
    learned = {("reversals", "ft"): LearnedCheck("reversals", "ft", ("rephrased",), (SeedCheck(0, 10, 24),)),
               ("reversals", "ft-local"): LearnedCheck("reversals", "ft-local", ("rephrased",), (SeedCheck(0, 23, 24),))}
    findings = all_findings(scores(cells, learned=learned))
    assert findings[1].verdict == INVALID and findings[1].cases[0].p is None
    assert "FT did not learn the facts (control 0.42 = 10/24)" in findings[1].sentence
    assert findings[4].verdict == INVALID  # every case of the family compares with FT


def test_all_findings_on_an_empty_study_are_not_tested():
    findings = all_findings(scores({("imported", "icl", "x"): right(3, 6)}))
    assert [f.number for f in findings] == list(range(1, 9))
    assert {f.verdict for f in findings} == {NOT_TESTED}
    assert all(f.verdict in VERDICTS and f.sentence.startswith("Not tested: ") for f in findings)


def test_the_augmentation_panel_compares_each_augmented_mode_with_ft_paired_and_never_an_unlearned_one():
    from icft.report.augmentation.panel import versus_ft_table

    cells = {("reversals", "ft", "reversed"): right(7, 24), ("reversals", "ft", "rephrased"): right(22, 24),
             ("reversals", "icl", "reversed"): right(11, 24),
             ("reversals", "ft-oracle-local", "reversed"): right(17, 24),  # items 0-16 right: 10 more than FT's
             ("reversals", "ft-oracle-global", "reversed"): right(8, 24),
             ("reversals", "ft-local", "reversed"): right(20, 24)}
    learned = {(w, m): LearnedCheck(w, m, ("rephrased",), (SeedCheck(0, right, 24),))
               for (w, m), right in {("reversals", "ft"): 22, ("reversals", "ft-oracle-local"): 23,
                                     ("reversals", "ft-oracle-global"): 23, ("reversals", "ft-local"): 14}.items()}
    table = versus_ft_table(scores(cells, learned=learned), "reversals")
    rows = {row[0]: row for row in table.rows}
    assert set(rows) == {"FT-oracle-local (control)", "FT-oracle-global (control)", "FT-local"}  # not ICL
    assert all(row[1] == "reversed" for row in table.rows)  # generalization splits only, never the control
    oracle = rows["FT-oracle-local (control)"]
    assert oracle[2:6] == ("0.71", "0.29", oracle[4], "10/0") and oracle[4].startswith("+0.42 [")
    assert float(oracle[6]) < 0.01 and oracle[7] == "higher"
    assert rows["FT-oracle-global (control)"][7].startswith("no difference shown (MDE ")
    assert rows["FT-local"][7] == "invalid: FT-local did not learn the facts (control 0.58 = 14/24)"
    assert rows["FT-local"][2:7] == ("0.83", "0.29", "—", "—", "—")  # its accuracy, never a test


# ---- knowing before generalizing ----------------------------------------------------------------------------


def fact_items(correct, facts, prefix="i", p_correct=None):
    """One seed's items with the facts they rest on (and p(correct), default: 0.8 where right, 0.3 where not)."""
    scores_ = np.array(correct, dtype=float)
    probability = np.array(p_correct) if p_correct is not None else np.where(scores_ == 1, 0.8, 0.3)
    return SeedItems(ids=tuple(f"{prefix}{n:03d}" for n in range(len(correct))), scores=scores_,
                     p_correct=probability, fact_ids=tuple((f,) for f in facts))


def test_known_facts_need_every_control_item_that_asks_them():
    from icft.report.cases import known_facts, on_known_facts

    controls = fact_items([1, 1, 1, 0, 1, 1], ["f0", "f0", "f1", "f1", "f2", "f2"], "c")
    assert known_facts([controls]) == {"f0", "f2"}  # f1 missed one of its two control items
    general = fact_items([1, 0, 1, 1], ["f0", "f1", "f2", "f3"])  # f3 is asked by no control item: not known
    kept = on_known_facts({0: general}, {0: known_facts([controls])})
    assert kept[0].ids == ("i000", "i002") and kept[0].fact_ids == (("f0",), ("f2",))


def test_a_paired_case_also_compares_on_the_items_whose_facts_both_modes_know():
    facts = [f"f{n}" for n in range(40)]
    # FT knows the first 30 facts, ICL all 40; on reversed, each is right on the first 30 items, ICL on all
    cells = {("reversals", "icl", "rephrased"): {0: fact_items([1] * 40, facts, "c")},
             ("reversals", "ft", "rephrased"): {0: fact_items([1] * 30 + [0] * 10, facts, "c")},
             ("reversals", "icl", "reversed"): {0: fact_items([1] * 40, facts)},
             ("reversals", "ft", "reversed"): {0: fact_items([0] * 20 + [1] * 10 + [0] * 10, facts)}}
    learned = {(w, m): LearnedCheck(w, m, ("rephrased",), (SeedCheck(0, 40 if m == "icl" else 39, 40),))
               for w, m, _ in cells}
    found = icl_beats_ft(scores(cells, learned=learned), 2, "reversals", "reversed").cases[0]
    assert found.metric == "p(correct)" and found.n == 40
    assert found.diff == pytest.approx(0.5 * 30 / 40)  # p(correct) 0.8 - 0.3 on the 30 items FT misses
    assert found.known.n == 30  # the items of the facts FT knows (ICL knows them all)
    assert found.known.diff == pytest.approx(0.5 * 20 / 30)  # on known facts FT is right on 10 of 30
    assert found.accuracy.diff == pytest.approx(30 / 40)


def test_the_opening_line_never_names_the_pretrained_reference_as_the_best_mode():
    """The pretrained model was given no facts: however it scores, the answer to "context or weights?" names the
    best mode among those given them."""
    from icft.report.grid.answer import best_modes

    line = best_modes(scores({("reversals", "pretrained", "reversed"): right(30, 40),
                              ("reversals", "icl", "reversed"): right(20, 40),
                              ("reversals", "ft", "reversed"): right(25, 40)}))
    assert "reversals/reversed: FT 0.62 (next ICL 0.50)" in line and "pretrained" not in line
