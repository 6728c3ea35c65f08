"""The statistics of icft's verdicts on known values: Wilson, McNemar (exact and mid-p), intervals, Holm, MDE."""

import numpy as np
import pytest
from scipy.stats import binom

from icft.evaluate.stats import (
    ALPHA, ASSUMED_FIT_SD, Estimate, cell_estimate, cluster_bootstrap, design_effect, equivalence, gain_difference, holm, mcnemar_midp, midp_interval, min_detectable_effect, mover, paired, paired_binary_interval, planned_mde, wilson,
)


def wilson_by_formula(k, n, z=1.959964):
    """STATS.md: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)


@pytest.mark.parametrize("k, n", [(0, 6), (6, 6), (3, 6), (17, 40)])
def test_wilson_matches_the_formula_and_is_never_zero_width(k, n):
    low, high = wilson(k, n)
    assert (low, high) == pytest.approx(wilson_by_formula(k, n), abs=1e-6)
    assert high - low > 0.1


def test_one_seed_cells_are_wilson_intervals_even_at_0_and_n():
    none, every = cell_estimate([[0.0] * 6]), cell_estimate([[1.0] * 6])
    assert (none.mean, none.low) == (0.0, 0.0) and none.high == pytest.approx(0.390, abs=1e-3)
    assert (every.high, every.low) == (1.0, pytest.approx(0.610, abs=1e-3))
    assert none.seeds == 1 and none.n == 6


def test_several_seeds_widen_with_the_variation_between_seeds():
    agree = cell_estimate([[1.0, 0.0] * 20, [1.0, 0.0] * 20])
    disagree = cell_estimate([[1.0] * 40, [0.0] * 40])
    assert agree.mean == disagree.mean == 0.5 and agree.seeds == 2
    assert (disagree.low, disagree.high) == (0.0, 1.0)  # a resample may draw the same seed twice
    assert agree.high - agree.low < 0.4
    perfect = cell_estimate([[1.0] * 10, [1.0] * 10])
    assert perfect.high - perfect.low > 0  # the Wilson hull keeps it open


def test_a_continuous_score_uses_the_cluster_bootstrap():
    e = cell_estimate([[0.2, 0.4, 0.6, 0.8] * 10])
    assert e.mean == pytest.approx(0.5) and e.low < 0.5 < e.high
    assert e.low == pytest.approx(0.5 - 1.96 * np.std([0.2, 0.4, 0.6, 0.8]) / np.sqrt(40), abs=0.03)


def test_design_effect_of_identical_clusters_is_their_size():
    values = np.repeat([1.0, 0.0, 1.0, 0.0, 1.0], 4)  # five clusters of four equal items
    assert design_effect(values, np.repeat(np.arange(5), 4)) == pytest.approx(4.0)
    assert design_effect(values, None) == design_effect(values, np.arange(20)) == 1.0
    clustered = cell_estimate([values], [np.repeat(np.arange(5), 4)])
    alone = cell_estimate([values])
    assert clustered.high - clustered.low > 1.5 * (alone.high - alone.low)  # n_eff = 5, not 20


def test_cluster_bootstrap_draws_whole_clusters():
    values, clusters = np.array([1.0, 1.0, 0.0, 0.0]), np.array([0, 0, 1, 1])
    means = cluster_bootstrap([values], [clusters], n_resamples=500, seed=1)
    assert set(np.round(means, 6)) <= {0.0, 0.5, 1.0}  # never 0.25 or 0.75: pairs travel together
    assert cluster_bootstrap([values], [clusters], seed=3).tolist() == cluster_bootstrap([values], [clusters],
                                                                                        seed=3).tolist()


def test_mcnemar_exact_and_mid_p():
    from statsmodels.stats.contingency_tables import mcnemar

    assert mcnemar([[0, 0], [3, 0]], exact=True).pvalue == pytest.approx(0.25)
    assert mcnemar_midp(0, 3) == pytest.approx(0.125)
    for b, c in ((0, 3), (2, 8), (9, 4), (1, 12)):  # the exact p less the point probability
        exact = mcnemar([[0, b], [c, 0]], exact=True).pvalue
        assert mcnemar_midp(b, c) == pytest.approx(exact - binom.pmf(min(b, c), b + c, 0.5))
    assert mcnemar_midp(2, 8) == pytest.approx(2 * binom.cdf(2, 10, 0.5) - binom.pmf(2, 10, 0.5))
    assert mcnemar_midp(0, 0) == 1.0 and mcnemar_midp(1, 1) == 1.0 and mcnemar_midp(4, 4) == 1.0
    assert mcnemar_midp(np.array([0, 2]), np.array([3, 8])).tolist() == pytest.approx([0.125, 0.0654296875])


def test_the_paired_interval_excludes_zero_exactly_when_mid_p_rejects():
    both, b, c, neither = np.meshgrid(np.arange(4), np.arange(13), np.arange(13), np.arange(1, 5), indexing="ij")
    low, high = paired_binary_interval(both, b, c, neither)
    assert np.all(high > low)  # never zero-width
    excludes = (low > 0) | (high < 0)
    assert np.array_equal(excludes, mcnemar_midp(b, c) < 0.05)


def test_midp_interval_bounds():
    low, high = midp_interval(0, 5)
    assert low == 0 and 0.3 < high < 0.5
    low, high = midp_interval(5, 5)
    assert high == 1 and 0.5 < low < 0.7
    assert midp_interval(0, 0) == (0.0, 1.0)


def test_0_of_6_against_3_of_6_is_not_significant():
    """The issue's case: FT 0/6 vs ICL 3/6 on the same six items."""
    icl, ft = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]), np.zeros(6)
    result = paired([icl], [ft])
    assert (result.b, result.c, result.n, result.seeds) == (3, 0, 6, 1)
    assert result.diff == 0.5 and result.p == pytest.approx(0.125)
    assert result.low < 0 < result.high
    assert result.method == "mid-p McNemar"


def test_paired_joins_seeds_and_adds_the_bootstrap():
    icl, ft = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]), np.zeros(6)
    result = paired([icl, icl], [ft, ft])
    assert (result.b, result.c, result.n, result.seeds) == (6, 0, 12, 2)
    assert result.p >= mcnemar_midp(6, 0) and "cluster bootstrap" in result.method
    with pytest.raises(ValueError, match="same items"):
        paired([icl], [ft[:5]])


def test_paired_scores_use_a_t_test():
    a = np.array([0.5, 0.6, 0.7, 0.8] * 10)
    result = paired([a], [a - 0.1])
    assert result.diff == pytest.approx(0.1) and result.p == 0.0  # every item 0.1 higher: certain
    assert paired([a], [a]).p == 1.0
    noisy = paired([a], [a[::-1]])
    assert noisy.diff == pytest.approx(0.0) and noisy.p > 0.5 and noisy.method == "paired t-test"


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.2]) == [0.2] and holm([]) == []
    rng = np.random.default_rng(0)
    for m in (2, 5, 13):  # few calls: statsmodels collects garbage on each
        p = rng.random(m) ** 3
        p[m // 2] = p[0]  # a tie
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())


def test_minimum_detectable_effect_follows_stats_md():
    assert min_detectable_effect(0.4, 24) == pytest.approx(0.36, abs=0.005)
    assert min_detectable_effect(0.4, 100) == pytest.approx(0.18, abs=0.005)
    assert min_detectable_effect(0.0, 40) == 5 / 40  # five discordant items are the fewest that can show
    assert planned_mde(12, 2) == min_detectable_effect(0.4, 24)
    result = paired([np.array([1.0, 0.0] * 20)], [np.array([0.0, 1.0] * 10 + [1.0, 0.0] * 10)])
    assert result.mde == pytest.approx(2.80 * np.sqrt((result.b + result.c) / 40 / 40), abs=0.01)


def test_equivalence_with_a_margin():
    near = equivalence([np.array([1.0, 0.0] * 30)], center=0.5, margin=0.15)
    assert near.p < 0.05 and -0.15 < near.low90 - 0.5 and near.high90 - 0.5 < 0.15
    few = equivalence([np.array([1.0, 0.0] * 5)], center=0.5, margin=0.15)
    assert few.p > 0.05  # ten items cannot show "near chance"
    far = equivalence([np.array([1.0] * 30 + [0.0] * 10)], center=0.5, margin=0.15)
    assert far.p > 0.5
    low_chance = equivalence([np.zeros(40)], center=0.1, margin=0.15)  # the margin reaches below 0
    assert low_chance.p < 0.05


def test_gain_difference_normalizes_chance():
    four_way = np.array([1.0] * 25 + [0.0] * 75)  # 0.25 at chance 0.25: gain 0
    two_way = np.array([1.0] * 50 + [0.0] * 50)  # 0.5 at chance 0.5: gain 0
    same = gain_difference([four_way], 0.25, [two_way], 0.5)
    assert same.diff == pytest.approx(0.0) and same.low < 0 < same.high and same.b is None
    better = gain_difference([np.array([1.0] * 70 + [0.0] * 30)], 0.25, [two_way], 0.5)
    assert better.diff == pytest.approx(0.6) and better.low > 0 and better.p < 0.05


def test_mover_of_independent_estimates():
    diff, low, high = mover((0.7, 0.6, 0.8), (0.5, 0.4, 0.6))
    assert (diff, low, high) == pytest.approx((0.2, 0.2 - np.hypot(0.1, 0.1), 0.2 + np.hypot(0.1, 0.1)))


def test_estimate_is_the_shared_type():
    assert Estimate(0.5, 0.4, 0.6, 10).seeds == 1


# ---- the primary metric p(correct): its false-positive rate, items sharing facts included ------------------------


def _equal_modes(rng, facts: int, per_fact: int, fact_spread: float):
    """p(correct) of two modes that are equally good: per fact a shared difficulty and a mode-by-fact effect (so
    the differences of one fact's items are correlated), per item noise."""
    from scipy.special import expit

    clusters = np.repeat(np.arange(facts), per_fact)
    difficulty = rng.normal(0, 1.5, facts)[clusters]
    a = expit(difficulty + rng.normal(0, fact_spread, facts)[clusters] + rng.normal(0, 0.5, len(clusters)))
    b = expit(difficulty + rng.normal(0, fact_spread, facts)[clusters] + rng.normal(0, 0.5, len(clusters)))
    return a, b, clusters


@pytest.mark.parametrize("per_fact", [1, 2, 3])
def test_p_correct_paired_test_keeps_its_false_positive_rate_with_shared_facts(per_fact):
    rng = np.random.default_rng(per_fact)
    rejections = clustered_naive = 0
    runs = 300
    for r in range(runs):
        a, b, clusters = _equal_modes(rng, 48, per_fact, fact_spread=1.0)
        rejections += paired([a], [b], [clusters], seed=r).p < ALPHA
        clustered_naive += paired([a], [b], None, seed=r).p < ALPHA  # the same test, blind to the facts
    # 300 runs: the rate's standard error is 0.013; the t-test on fact-cluster means measured 0.042-0.057 at 600
    # runs, where a cluster bootstrap alone measured 0.065-0.072
    assert rejections / runs <= 0.08
    if per_fact == 3:  # what the clusters are for: ignoring them rejects far too often
        assert clustered_naive / runs > 0.12


def test_p_correct_detects_a_real_difference_that_accuracy_misses_more_often():
    from scipy.special import expit

    rng = np.random.default_rng(7)
    found_prob = found_accuracy = 0
    for r in range(100):
        difficulty = rng.normal(0, 1.5, 48)
        a = expit(difficulty + 0.6 + rng.normal(0, 0.6, 48))
        b = expit(difficulty + rng.normal(0, 0.6, 48))
        found_prob += paired([a], [b], seed=r).p < ALPHA
        found_accuracy += paired([(a > 0.5).astype(float)], [(b > 0.5).astype(float)], seed=r).p < ALPHA
    assert found_prob > found_accuracy + 15


def _fits_with_spread(rng, fits: int, facts: int, between_fit_sd: float, effect: float = 0.0):
    """Paired p(correct)-like values of `fits` fits (each its own world: its own facts), 3 items per fact: a fit
    effect (between-fit sd), a fact effect shared by its items, and item noise."""
    a, b, clusters = [], [], []
    for _ in range(fits):
        shift = rng.normal(0, between_fit_sd)
        diff = effect + shift + np.repeat(rng.normal(0, 0.2, facts), 3) + rng.normal(0, 0.25, facts * 3)
        base = rng.uniform(0.3, 0.7, facts * 3)
        a.append(base + diff / 2)
        b.append(base - diff / 2)
        clusters.append(np.repeat(np.arange(facts), 3))
    return a, b, clusters


@pytest.mark.parametrize("fits, facts, between_fit_sd", [(5, 10, 0.05), (5, 10, 0.15), (3, 11, 0.05), (1, 32, 0.05)])
def test_counting_the_fit_keeps_the_false_positive_rate_at_alpha_when_fits_vary(fits, facts, between_fit_sd):
    """Equal modes, fits that vary as measured here (sd 0.05 of a paired p(correct) difference between fits of one
    world) and more: the fit-aware test rejects at most about ALPHA of the time (300 draws: 0.08 is 2.3 standard
    errors above 0.05)."""
    rng = np.random.default_rng(fits * 100 + facts)
    rejected = [paired(*_fits_with_spread(rng, fits, facts, between_fit_sd), fits=True).p < ALPHA for _ in range(300)]
    assert np.mean(rejected) <= 0.08


def test_one_fit_read_on_its_items_alone_is_wrong_far_more_often_than_alpha():
    """Why the fit counts: one fit scored on 32 facts, its items taken as the only randomness, calls equal modes
    different about one time in five when fits vary by 0.05; the fit-aware test does not."""
    rng = np.random.default_rng(7)
    draws = [_fits_with_spread(rng, 1, 32, 0.05) for _ in range(300)]
    items_only = np.mean([paired(a, b, g).p < ALPHA for a, b, g in draws])
    counted = np.mean([paired(a, b, g, fits=True).p < ALPHA for a, b, g in draws])
    assert items_only > 0.12 and counted <= 0.08


def test_a_paired_difference_over_fits_names_each_fit_and_the_between_fit_variance():
    rng = np.random.default_rng(3)
    a, b, clusters = _fits_with_spread(rng, 5, 10, 0.3, effect=0.4)
    result = paired(a, b, clusters, fits=True)
    per_fit = [float(np.mean(x - y)) for x, y in zip(a, b)]
    assert result.per_fit == pytest.approx(per_fit) and result.diff == pytest.approx(np.mean(per_fit))
    assert result.between_fit_var > 0.02 and not result.fit_var_assumed  # sd 0.3 between fits: it shows
    assert "t over 5 fits (4 df)" in result.method
    t_half = 2.776 * np.std(per_fit, ddof=1) / np.sqrt(5)
    assert result.low <= np.mean(per_fit) - t_half + 1e-9 and result.high >= np.mean(per_fit) + t_half - 1e-9
    one = paired(a[:1], b[:1], clusters[:1], fits=True)
    assert one.fit_var_assumed and one.between_fit_var == pytest.approx(ASSUMED_FIT_SD**2)
    assert (one.high - one.low) > (paired(a[:1], b[:1], clusters[:1]).high - paired(a[:1], b[:1], clusters[:1]).low)
    assert paired(a, b, clusters).between_fit_var is None  # no fine-tuned side: no fit to count


def test_the_planned_mde_counts_the_fits_with_t_quantiles():
    from icft.evaluate.stats import planned_prob_mde

    assert planned_prob_mde(10, 5) == pytest.approx(2.80 * 0.35 / np.sqrt(50), rel=1e-3)
    counted = planned_prob_mde(10, 5, fit_sd=0.05)
    se = np.sqrt((0.35**2 / 10 + 0.05**2) / 5)
    assert counted == pytest.approx((2.776 + 0.941) * se, rel=1e-2) and counted > planned_prob_mde(10, 5)
    assert planned_prob_mde(30, 1, fit_sd=0.05) == pytest.approx(2.80 * np.sqrt(0.35**2 / 30 + 0.05**2), rel=1e-3)
