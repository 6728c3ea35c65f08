"""The learned check's rule: a test of recall above the floor, with its error rates, for ICL and FT alike."""

import pytest
from scipy.stats import binom

from icft.evaluate.learned import (RECALL_FLOOR, LearnedCheck, SeedCheck, false_fail, false_pass, fewest_to_pass,
                                   passes, recall_lower_bound)


def check(mode: str, correct: int, n: int, seeds: int = 1) -> LearnedCheck:
    return LearnedCheck("reversals", mode, ("rephrased",), tuple(SeedCheck(s, correct, n) for s in range(seeds)))


@pytest.mark.parametrize("n", [24, 30, 36, 72, 144])
def test_the_cut_is_the_first_count_whose_lower_bound_clears_the_floor(n):
    cut = fewest_to_pass(n)
    assert recall_lower_bound(cut, n) > RECALL_FLOOR >= recall_lower_bound(cut - 1, n)
    assert passes(cut, n) and not passes(cut - 1, n)


@pytest.mark.parametrize("n", [24, 30, 36, 48, 72, 144])
def test_error_rates_are_the_binomial_tails_at_the_cut(n):
    cut = fewest_to_pass(n)
    assert false_pass(n) == pytest.approx(binom.sf(cut - 1, n, RECALL_FLOOR))
    assert false_fail(n) == pytest.approx(binom.cdf(cut - 1, n, 0.95))
    assert false_pass(n) < 0.07  # about the one-sided 5% of the bound (Wilson is approximate)


def test_more_control_items_separate_learned_from_not():
    # the default reversals design asks each of 48 facts 3 times: a cell that knows its facts almost never fails
    assert false_fail(144) < 0.001 < false_fail(24)
    assert false_fail(24) > 0.1  # why the worlds ask each fact several times


def test_icl_that_did_not_read_its_facts_invalidates_as_an_unlearned_fit_does():
    icl = check("icl", 80, 144)  # SmolLM2's ICL on reversals: 0.56
    assert icl.passed is False and icl.invalidates and "ICL did not read the facts (control 0.56 = 80/144)" in icl.failure()
    assert check("ft", 80, 144).invalidates and "did not learn" in check("ft", 80, 144).failure()
    assert not check("pretrained", 10, 144).invalidates  # given nothing, never checked
    assert check("pretrained", 10, 144).status() == "not given the facts (reference)"


def test_an_icl_cell_at_or_below_075_on_its_controls_never_passes():
    for n in (24, 30, 36, 72, 144):
        assert not passes(int(0.75 * n), n)


def test_margin_counts_the_items_that_would_have_to_flip():
    cut = fewest_to_pass(144)
    assert check("ft", cut, 144).margin == 1  # one item down and it fails
    assert check("ft", cut + 10, 144).margin == 11
    assert check("ft", cut - 3, 144).margin == 3 and check("ft", cut - 3, 144).passed is False


def test_seeds_pool_their_control_items():
    two = check("ft", 20, 24, seeds=2)
    assert two.n == 48 and two.correct == 40 and two.passed == passes(40, 48)


def test_too_few_control_items_to_pass_is_said_before_anything_runs():
    from icft.evaluate.learned import control_splits_named, fewest_control_items, too_few_controls

    least = fewest_control_items()
    assert passes(least, least) and not passes(least - 1, least - 1)  # all correct passes from here, not below
    where = control_splits_named("kb", ("recall",))
    line = too_few_controls(8, where)
    assert line.startswith("warning: world kb's control split recall holds 8 items: even 8/8 correct")
    assert f"at least {least} control questions" in line and "\n" not in line
    assert too_few_controls(least, where) is None and too_few_controls(30, where) is None
    assert too_few_controls(0, where) is None  # no control split: the report says the check is missing instead
    assert "control splits a, b" in control_splits_named("w", ("a", "b"))
