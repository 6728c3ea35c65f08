"""The statistics behind icft's verdicts: one cell's interval, two modes compared on the same items, power.

Taken from the libraries: Wilson intervals (statsmodels `proportion_confint`), the exact binomial TOST
(statsmodels `binom_tost`), the paired t-test and the binomial and normal distributions (scipy). Written here
because they lack them: a bootstrap over seeds and fact clusters, the t-test over fits (`fit_spread`), and Holm's
correction, checked against statsmodels' (see `holm`); the tests on paired counts (mid-p McNemar, Newcombe) are
`icft.evaluate.counts`, the error rates, assumed spreads and minimum detectable effects `icft.evaluate.power`
(STATS.md). Every name of both is also this module's.

Values are per item, grouped by seed (each seed is a new world, so new items); `clusters` give each item's
cluster inside its seed (items that share a fact), or None when every item stands alone. Several seeds, or
items in clusters, add a cluster bootstrap to the analytic interval and test: the interval shown is the
hull of both and p the larger of both, because the bootstrap carries the variation between seeds and
clusters while the analytic one keeps its size where discordant items are few and a bootstrap is too narrow.
No interval of a 0/1 cell is ever zero-width.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, norm, t as student_t, ttest_1samp
from statsmodels.stats.proportion import binom_tost, proportion_confint

from icft.evaluate.counts import mcnemar_midp, midp_interval, newcombe_paired, paired_binary_interval
from icft.evaluate.power import (ALPHA, ASSUMED_DISCORDANCE, ASSUMED_FIT_SD, ASSUMED_PROB_SD, CONFIDENCE,
                                 MIN_DISCORDANT, POWER, POWER_Z, PRIMARY_METRIC, detectable_effect,
                                 min_detectable_effect, planned_mde, planned_prob_mde)

# the names above are this module's too: callers read every statistic from here
__all__ = [
    "ALPHA", "ASSUMED_DISCORDANCE", "ASSUMED_FIT_SD", "ASSUMED_PROB_SD", "CONFIDENCE", "MIN_DISCORDANT",
    "N_RESAMPLES", "POWER", "POWER_Z", "PRIMARY_METRIC", "Difference", "Equivalence", "Estimate", "FitSpread",
    "cell_estimate", "cluster_bootstrap", "clusters_by_fact", "design_effect", "equivalence", "fit_spread",
    "gain_difference", "holm", "mcnemar_midp", "midp_interval", "min_detectable_effect", "mover",
    "newcombe_paired", "paired", "paired_binary_interval", "percentile_interval", "planned_mde",
    "planned_prob_mde", "wilson",
]

N_RESAMPLES = 2000

Groups = Sequence[np.ndarray]  # one array of per-item values per seed


@dataclass(frozen=True)
class Estimate:
    """A mean with its confidence interval; n counts the values (items, over all seeds when pooled)."""

    mean: float
    low: float
    high: float
    n: int
    seeds: int = 1  # one seed: the interval covers the items only, not the variation between worlds


@dataclass(frozen=True)
class Difference:
    """A - B: counts, the difference of the means, its interval, p and the minimum detectable effect."""

    n: int  # items over all seeds (paired: the pairs; across worlds: both cells' items)
    seeds: int
    b: int | None  # paired: items where A is right (or scores higher) and B is not; None across worlds
    c: int | None  # paired: items where B is right (or scores higher) and A is not
    diff: float  # paired: mean over seeds of the mean paired difference A - B
    low: float
    high: float
    p: float  # two-sided
    mde: float  # the difference this comparison detects with 80% power at ALPHA
    method: str
    # with a fine-tuned side: each seed's (fit's) mean paired difference, and the between-fit variance of that
    # difference beyond what its items explain (a method-of-moments estimate, at least 0); with one fit, the
    # assumed variance (ASSUMED_FIT_SD squared) that widened the interval
    per_fit: tuple[float, ...] = ()
    between_fit_var: float | None = None
    fit_var_assumed: bool = False


@dataclass(frozen=True)
class Equivalence:
    """A cell against a fixed value (chance) with a margin: TOST p and the 90% interval it rests on."""

    mean: float
    low90: float
    high90: float
    p: float  # TOST: both one-sided tests at ALPHA
    mde: float


# ---- one cell -----------------------------------------------------------------------------------------------


def wilson(count: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of count/n (counts may be fractional: an effective sample)."""
    low, high = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def design_effect(values: np.ndarray, clusters: np.ndarray | None) -> float:
    """Variance of the mean with clustered items over its variance with independent items (at least 1)."""
    if clusters is None:
        return 1.0
    residual = values - values.mean()
    iid = float(np.sum(residual**2))
    if iid == 0:
        return 1.0  # all values equal: the Wilson interval needs no widening to stay honest
    _, inverse = np.unique(clusters, return_inverse=True)
    clustered = float(np.sum(np.bincount(inverse, weights=residual) ** 2))
    return max(1.0, clustered / iid)


def cell_estimate(values: Groups, clusters: Sequence[np.ndarray | None] | None = None,
                  confidence: float = CONFIDENCE, seed: int = 0) -> Estimate:
    """Mean over seeds of each seed's mean, with its interval.

    0/1 values: Wilson at the effective sample size (items over the design effect of their clusters); with
    several seeds its hull with the cluster bootstrap. Other values (ROUGE-L): the cluster bootstrap.
    """
    values, clusters = _groups(values, clusters)
    mean = float(np.mean([v.mean() for v in values]))
    n = sum(len(v) for v in values)
    if _binary(values):
        n_eff = sum(len(v) / design_effect(v, g) for v, g in zip(values, clusters))
        low, high = wilson(mean * n_eff, n_eff, confidence)
        if len(values) > 1:
            low, high = _hull((low, high), percentile_interval(cluster_bootstrap(values, clusters, seed=seed),
                                                               confidence))
    else:
        low, high = percentile_interval(cluster_bootstrap(values, clusters, seed=seed), confidence)
    return Estimate(mean=mean, low=min(low, mean), high=max(high, mean), n=n, seeds=len(values))


def cluster_bootstrap(values: Groups, clusters: Sequence[np.ndarray | None], n_resamples: int = N_RESAMPLES,
                      seed: int = 0) -> np.ndarray:
    """Resampled means over seeds: each resample draws seeds, then whole clusters inside every drawn seed.

    A seed drawn twice gets two independent cluster draws; a seed's mean is its drawn items' mean.
    """
    rng = np.random.default_rng(seed)
    k = len(values)
    draws = n_resamples * k if k > 1 else n_resamples
    seed_means = np.empty((k, draws))
    for s, (v, g) in enumerate(zip(values, clusters)):
        _, inverse = np.unique(np.arange(len(v)) if g is None else g, return_inverse=True)
        sums, counts = np.bincount(inverse, weights=v), np.bincount(inverse)
        picks = rng.integers(0, len(sums), size=(draws, len(sums)))  # (draws, clusters)
        seed_means[s] = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    if k == 1:
        return seed_means[0]
    drawn = rng.integers(0, k, size=(n_resamples, k))  # (n_resamples, k) seed indices
    slots = np.arange(n_resamples)[:, None] * k + np.arange(k)[None, :]  # each slot its own cluster draw
    return seed_means[drawn, slots].mean(axis=1)


# ---- comparisons -------------------------------------------------------------------------------------------


def paired(a: Groups, b: Groups, clusters: Sequence[np.ndarray | None] | None = None,
           confidence: float = CONFIDENCE, seed: int = 0, fits: bool = False) -> Difference:
    """A - B on the same items (arrays aligned item by item within each seed).

    0/1 values: mid-p McNemar and the hull of Newcombe's and the mid-p interval, on all items pooled. Other
    values: a paired t-test. Several seeds or clustered items add the paired cluster bootstrap (hull, max p).
    `fits`: a side is fine-tuned, so each seed is also a fit, the unit of replication of a claim about a mode
    (`fit_spread`): with several seeds a t-test on the per-seed differences joins the hull (max p), with one
    the item-level interval is widened by the assumed between-fit spread.
    """
    a, clusters = _groups(a, clusters)
    b, _ = _groups(b, None)
    if [len(x) for x in a] != [len(y) for y in b]:
        raise ValueError("paired values need the same items in A and B for every seed")
    diffs = [x - y for x, y in zip(a, b)]
    pooled_a, pooled_b = np.concatenate(a), np.concatenate(b)
    n = len(pooled_a)
    better, worse = int(np.sum(pooled_a > pooled_b)), int(np.sum(pooled_a < pooled_b))
    diff = float(np.mean([d.mean() for d in diffs]))
    binary = _binary(a) and _binary(b)
    if binary:
        both = int(np.sum((pooled_a == 1) & (pooled_b == 1)))
        low, high = (float(x) for x in paired_binary_interval(both, better, worse, n - both - better - worse,
                                                              confidence))
        p, se, method = float(mcnemar_midp(better, worse)), np.sqrt((better + worse) / n / n), "mid-p McNemar"
    elif _clustered(clusters):  # a fact's items are one unit: the t-test runs on cluster means
        low, high, p, se = _paired_t(np.concatenate([_cluster_means(d, g) for d, g in zip(diffs, clusters)]),
                                     confidence)
        method = "paired t-test on fact-cluster means"
    else:
        low, high, p, se = _paired_t(np.concatenate(diffs), confidence)
        method = "paired t-test"
    if len(a) > 1 or _clustered(clusters):
        resampled = cluster_bootstrap(diffs, clusters, seed=seed)
        low, high = _hull((low, high), percentile_interval(resampled, confidence))
        p, se = max(p, _bootstrap_p(resampled)), max(se, float(resampled.std()))
        method += " + paired cluster bootstrap"
    mde = detectable_effect(se, n, binary)
    spread = fit_spread(diffs, clusters, confidence) if fits else None
    if spread is not None and spread.assumed:  # one fit: the assumed spread widens the items' interval itself
        widen = norm.ppf(1 - (1 - confidence) / 2) * float(np.sqrt(spread.variance))
        low, high = diff - float(np.hypot(diff - low, widen)), diff + float(np.hypot(high - diff, widen))
    if spread is not None:
        low, high = _hull((low, high), (spread.low, spread.high))
        p, mde = max(p, spread.p), max(mde, spread.mde)
        method += f" + {spread.method}"
    return Difference(n=n, seeds=len(a), b=better, c=worse, diff=diff, low=min(low, diff), high=max(high, diff),
                      p=p, mde=mde, method=method, per_fit=spread.per_fit if spread else (),
                      between_fit_var=spread.variance if spread else None,
                      fit_var_assumed=bool(spread and spread.assumed))


@dataclass(frozen=True)
class FitSpread:
    """A mean difference over fits, tested with the fit as the random unit (see `fit_spread`)."""

    per_fit: tuple[float, ...]
    variance: float  # between-fit variance beyond the items' (estimated; or assumed with one fit)
    se: float  # of the mean
    df: int | None  # of its t quantiles; None: normal (one fit)
    low: float
    high: float
    p: float
    mde: float
    method: str
    assumed: bool


def fit_spread(diffs: Groups, clusters: Sequence[np.ndarray | None], confidence: float = CONFIDENCE,
               assumed_sd: float = ASSUMED_FIT_SD) -> FitSpread:
    """The mean of per-fit mean differences with the fit as the random unit.

    Several fits (each seed one fit, and its own items): a t-test on the per-fit means with k - 1 degrees of
    freedom. It is exact for normal per-fit means whatever the split of their variance between fits and items,
    so its false-positive rate stays at ALPHA when fits vary (tests/evaluate/test_stats.py simulates it); the
    price is its t quantile (4.30 at 3 fits, 2.78 at 5). The between-fit variance is the per-fit means' variance
    less the mean of their within-fit variances (items, by fact cluster), at least 0. One fit: the items' standard
    error and `assumed_sd` added in quadrature, normal quantiles.
    """
    means = np.array([float(np.mean(d)) for d in diffs])
    within = np.array([_within_variance(np.asarray(d, dtype=np.float64), g) for d, g in zip(diffs, clusters)])
    k, tail = len(means), (1 - confidence) / 2
    if k == 1:
        se = float(np.sqrt(within[0] + assumed_sd**2))
        z = norm.ppf(1 - tail)
        p = float(2 * norm.sf(abs(means[0]) / se)) if se > 0 else float(means[0] == 0)
        return FitSpread((float(means[0]),), assumed_sd**2, se, None, float(means[0] - z * se), float(means[0] + z * se), p,
                         float(POWER_Z * se), f"one fit: between-fit sd {assumed_sd:.2f} assumed", True)
    mean, se = float(means.mean()), float(means.std(ddof=1) / np.sqrt(k))
    variance = max(0.0, float(means.var(ddof=1) - within.mean()))
    quantile = student_t.ppf(1 - tail, k - 1)
    if se > 0:
        p = float(2 * student_t.sf(abs(mean) / se, k - 1))
    else:  # fits that agree exactly: their spread shows nothing beyond the items'
        p = float(mean == 0)
    mde = float((quantile + student_t.ppf(POWER, k - 1)) * max(se, float(np.sqrt(within.mean() / k))))
    return FitSpread(tuple(float(m) for m in means), variance, se, k - 1, mean - quantile * se, mean + quantile * se, p, mde,
                     f"t over {k} fits ({k - 1} df)", False)


def _within_variance(values: np.ndarray, clusters: np.ndarray | None) -> float:
    """The variance of one fit's mean over its items, from its fact-cluster means (items alone: each item)."""
    units = _cluster_means(values, clusters)
    return float(units.var(ddof=1) / len(units)) if len(units) > 1 else 0.0


def gain_difference(first: Groups, first_chance: float, second: Groups, second_chance: float,
                    first_clusters=None, second_clusters=None, confidence: float = CONFIDENCE,
                    seed: int = 0) -> Difference:
    """Normalized gain (acc - chance) / (1 - chance) of `first` minus that of `second` (different items).

    The interval is MOVER on both cells' intervals (its hull with a bootstrap of both cells); p the larger
    of the normal test on that interval's width and the bootstrap's.
    """
    one = cell_estimate(first, first_clusters, confidence, seed)
    two = cell_estimate(second, second_clusters, confidence, seed + 1)

    def gain(x, chance):
        return (x - chance) / (1 - chance)

    diff, low, high = mover(tuple(gain(x, first_chance) for x in (one.mean, one.low, one.high)),
                            tuple(gain(x, second_chance) for x in (two.mean, two.low, two.high)))
    se = (high - low) / (2 * norm.ppf(1 - (1 - confidence) / 2))
    p = float(2 * norm.sf(abs(diff) / se)) if se > 0 else float(diff == 0)
    one_boot = cluster_bootstrap(*_groups(first, first_clusters), seed=seed)
    two_boot = cluster_bootstrap(*_groups(second, second_clusters), seed=seed + 1)
    resampled = gain(one_boot, first_chance) - gain(two_boot, second_chance)
    low, high = _hull((float(low), float(high)), percentile_interval(resampled, confidence))
    return Difference(n=one.n + two.n, seeds=max(one.seeds, two.seeds), b=None, c=None, diff=diff, low=low,
                      high=high, p=max(p, _bootstrap_p(resampled)), mde=float(POWER_Z * max(se, float(resampled.std()))),
                      method="MOVER on normalized gains + cluster bootstrap")


def mover(first: tuple[float, float, float], second: tuple[float, float, float]) -> tuple[float, float, float]:
    """Difference of two independent estimates, each (mean, low, high), with Newcombe's MOVER interval."""
    (m1, l1, u1), (m2, l2, u2) = first, second
    diff = m1 - m2
    return float(diff), float(diff - np.hypot(m1 - l1, u2 - m2)), float(diff + np.hypot(u1 - m1, m2 - l2))


def equivalence(values: Groups, center: float, margin: float, clusters: Sequence[np.ndarray | None] | None = None,
                seed: int = 0, fits: bool = False) -> Equivalence:
    """TOST of |mean - center| < margin: exact binomial TOST at the effective sample size, and with several
    seeds or clusters also the bootstrap's; the 90% interval is the cell's (Wilson, hull with bootstrap).
    `fits`: the cell is fine-tuned, so each seed is a fit: the TOST on the fits' means (`fit_spread` at 90%) joins
    (hull, max p)."""
    values, clusters = _groups(values, clusters)
    interval = cell_estimate(values, clusters, confidence=1 - 2 * ALPHA, seed=seed)
    low, high = center - margin, center + margin
    n_eff = sum(len(v) / design_effect(v, g) for v, g in zip(values, clusters))
    p = 1.0
    if _binary(values):
        p = _binomial_tost(round(interval.mean * n_eff), max(1, round(n_eff)), low, high)
    if len(values) > 1 or _clustered(clusters) or not _binary(values):
        resampled = cluster_bootstrap(values, clusters, seed=seed)
        boot_p = float(max(np.mean(resampled <= low), np.mean(resampled >= high)))
        p = boot_p if not _binary(values) else max(p, boot_p)
    mde = float(POWER_Z * np.sqrt(center * (1 - center) / n_eff))
    low90, high90 = interval.low, interval.high
    if fits:
        spread = fit_spread([v - center for v in values], clusters, confidence=1 - 2 * ALPHA)
        low90, high90 = min(low90, spread.low + center), max(high90, spread.high + center)
        tost = max(_one_sided(spread, -margin, above=True), _one_sided(spread, margin, above=False))
        p, mde = max(p, tost), max(mde, spread.mde)
    return Equivalence(mean=interval.mean, low90=low90, high90=high90, p=p, mde=mde)


def _one_sided(spread: FitSpread, bound: float, above: bool) -> float:
    """One-sided p of "the fits' mean lies above (or below) `bound`"."""
    mean = float(np.mean(spread.per_fit))
    if spread.se == 0:
        return float(not (mean > bound if above else mean < bound))
    stat = (mean - bound) / spread.se if above else (bound - mean) / spread.se
    return float(norm.sf(stat) if spread.df is None else student_t.sf(stat, spread.df))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: p_holm(i) = max over j <= i of min(1, (m - j + 1) p(j)).

    The same numbers as statsmodels' `multipletests(method="holm")` (a test checks it), written out because
    that function runs a full garbage collection on every call (about 0.1 s each in a report's process).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1)))
    out = np.empty_like(p)
    out[order] = adjusted
    return out.tolist()


def clusters_by_fact(fact_ids: Sequence[tuple[str, ...]]) -> np.ndarray:
    """Each item's cluster: the fact it shares with the most items of the list (an item with none: alone)."""
    counts = Counter(f for facts in fact_ids for f in facts)
    keys = [max(facts, key=lambda f: counts[f]) if facts else f"\0item-{n}" for n, facts in enumerate(fact_ids)]
    return np.unique(keys, return_inverse=True)[1]


def percentile_interval(stats: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _paired_t(diffs: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """Paired t interval and p of per-item differences; with no spread the difference is certain (a
    zero-width interval, p 0) unless it is 0 or rests on one item (p 1)."""
    mean, n = float(diffs.mean()), len(diffs)
    if n < 2 or np.ptp(diffs) < 1e-12:  # float noise of equal differences is no spread
        return mean, mean, float(abs(mean) < 1e-12 or n < 2), 0.0
    se = float(diffs.std(ddof=1) / np.sqrt(n))
    result = ttest_1samp(diffs, 0.0)
    interval = result.confidence_interval(confidence)
    return float(interval.low), float(interval.high), float(result.pvalue), se


def _binomial_tost(count: int, n: int, low: float, high: float) -> float:
    """Exact TOST p of low < p < high; a bound outside (0, 1) needs no test on its side."""
    if low <= 0 and high >= 1:
        return 0.0
    if low <= 0:
        return float(binom.cdf(count, n, high))
    if high >= 1:
        return float(binom.sf(count - 1, n, low))
    return float(binom_tost(count, n, low, high)[0])


def _groups(values: Groups, clusters) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    values = [np.asarray(v, dtype=np.float64) for v in values]
    if not values or any(len(v) == 0 for v in values):
        raise ValueError("need at least one seed, each with at least one value")
    clusters = [None] * len(values) if clusters is None else [None if g is None else np.asarray(g) for g in clusters]
    return values, clusters


def _binary(values: list[np.ndarray]) -> bool:
    return all(np.isin(v, (0.0, 1.0)).all() for v in values)


def _clustered(clusters: list[np.ndarray | None]) -> bool:
    return any(g is not None and len(np.unique(g)) < len(g) for g in clusters)


def _cluster_means(values: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """The mean of each cluster's values (each value alone when there are no clusters)."""
    if clusters is None:
        return values
    _, inverse = np.unique(clusters, return_inverse=True)
    return np.bincount(inverse, weights=values) / np.bincount(inverse)


def _hull(first: tuple[float, float], second: tuple[float, float]) -> tuple[float, float]:
    return min(first[0], second[0]), max(first[1], second[1])


def _bootstrap_p(resampled: np.ndarray, null: float = 0.0) -> float:
    """Two-sided percentile-bootstrap p of `null` (resamples equal to it count on both sides)."""
    return float(min(1.0, 2 * min(np.mean(resampled <= null), np.mean(resampled >= null))))
