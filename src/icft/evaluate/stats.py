"""The statistics behind icft's verdicts: one cell's interval, two modes compared on the same items, power.

Taken from the libraries: Wilson intervals (statsmodels `proportion_confint`), the exact binomial TOST
(statsmodels `binom_tost`), the paired t-test and the binomial and normal distributions (scipy). Written here
because they lack them: the mid-p McNemar test (a test checks it against statsmodels' exact `mcnemar`) and
the interval it inverts into, Newcombe's interval for a paired difference (MOVER with Wilson marginals), a
bootstrap over seeds and fact clusters, and the minimum detectable effect (STATS.md); Holm's correction too,
checked against statsmodels' (see `holm`).

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
from scipy.special import bdtr
from scipy.stats import binom, norm, t as student_t, ttest_1samp
from statsmodels.stats.proportion import binom_tost, proportion_confint

N_RESAMPLES = 2000
CONFIDENCE = 0.95
ALPHA = 0.05  # two-sided; a directional claim also needs its 95% interval on the claimed side of 0
POWER = 0.80
POWER_Z = norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER)  # 1.96 + 0.84 = 2.80
ASSUMED_DISCORDANCE = 0.4  # before a run: two modes near 0.5 with moderate correlation (STATS.md)
# The primary metric of a paired verdict, declared before any run: the probability of the correct option (softmax
# over the options' summed log-likelihoods), with accuracy reported beside it. It keeps what accuracy throws away
# (how far an item is from flipping), so its paired intervals are ~0.6x as wide (STATS.md), and an item whose float
# sums differ between two machines moves it by a hair instead of by 1/n. Its false-positive rate under equal modes,
# items sharing facts included, is checked by simulation (tests/evaluate/test_stats.py).
PRIMARY_METRIC = "p_correct"
# before a run: the standard deviation of per-item paired differences of p(correct), in units of independent
# items (a fact's items count once). The default study of 2026-12 measured 0.27-0.34 on reversals/reversed.
ASSUMED_PROB_SD = 0.35
# The fit is a sampled unit too (STATS.md): a fine-tuned cell is one draw of data order, adapter initialization and
# float rounding. Before a run, and for a comparison resting on one fit, the spread between fits of a paired
# p(correct) difference is taken as this standard deviation: five fits of the default study's FT-local - FT on
# reversals/reversed (one world, differing only in precision and stopping) read -0.04, +0.03, -0.04, -0.08, +0.04.
ASSUMED_FIT_SD = 0.05
MIN_DISCORDANT = 5  # the fewest discordant items, all one way, whose mid-p is below ALPHA (0.5 ** 5 = 0.031)
_BISECTIONS = 50  # halvings of [0, 1]: far below any printed digit

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
    mde = _mde(se, n, binary)
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


# ---- tests on counts ----------------------------------------------------------------------------------------


def mcnemar_midp(b, c):
    """Mid-p McNemar: min(1, 2 (P(X < k) + P(X = k) / 2)), X ~ Binomial(b + c, 1/2), k = min(b, c); 1 when
    nothing is discordant. Where the exact p (statsmodels' `mcnemar`) is below 1 this is that p - P(X = k);
    capping it first would give b = c a p below 1. Vectorized over arrays of counts."""
    b, c = np.asarray(b), np.asarray(c)
    m, k = b + c, np.minimum(b, c)
    p = np.minimum(1.0, 2 * binom.cdf(k - 1, m, 0.5) + binom.pmf(k, m, 0.5))
    return np.where(m == 0, 1.0, p)


def midp_interval(x, m, confidence: float = CONFIDENCE):
    """Mid-p interval of a binomial proportion x/m: the values the two-sided mid-p test does not reject.

    Vectorized bisection on the two mid-p tails, each monotone in the proportion (cephes' `bdtr` is a ufunc,
    so thousands of intervals cost about as much as one).
    """
    x, m = np.asarray(x, dtype=np.int64), np.asarray(m, dtype=np.int64)
    tail = (1 - confidence) / 2
    shape = np.broadcast(x, m).shape
    bounds = []
    for upper in (False, True):
        lo, hi = np.zeros(shape), np.ones(shape)
        for _ in range(_BISECTIONS):
            mid = (lo + hi) / 2
            below, at_most = _cdf(x - 1, m, mid), bdtr(x, m, mid)
            if upper:  # P(X < x) + P(X = x)/2 falls as the proportion grows
                too_far = (below + at_most) / 2 < tail
            else:  # P(X > x) + P(X = x)/2 grows with the proportion
                too_far = 1 - (below + at_most) / 2 > tail
            hi, lo = np.where(too_far, mid, hi), np.where(too_far, lo, mid)
        bounds.append((lo + hi) / 2)
    return np.where(x == 0, 0.0, bounds[0]), np.where(x == m, 1.0, bounds[1])


def newcombe_paired(both, b, c, neither, confidence: float = CONFIDENCE):
    """Newcombe's interval (his method 10) for a paired difference of proportions p_A - p_B.

    MOVER with a Wilson interval for each mode's accuracy and their correlation phi; never zero-width
    unless both modes are at 0 or 1 on every item. Vectorized over arrays of counts.
    """
    both, b, c, neither = (np.asarray(x, dtype=float) for x in (both, b, c, neither))
    n = both + b + c + neither
    pa, pb = (both + b) / n, (both + c) / n
    la, ua = proportion_confint(both + b, n, alpha=1 - confidence, method="wilson")
    lb, ub = proportion_confint(both + c, n, alpha=1 - confidence, method="wilson")
    margins = (both + b) * (c + neither) * (both + c) * (b + neither)
    phi = np.where(margins > 0, (both * neither - b * c) / np.sqrt(np.where(margins > 0, margins, 1)), 0.0)
    diff = pa - pb
    below = np.sqrt(np.maximum(0, (pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2))
    above = np.sqrt(np.maximum(0, (ua - pa) ** 2 - 2 * phi * (ua - pa) * (pb - lb) + (pb - lb) ** 2))
    return diff - below, diff + above


def paired_binary_interval(both, b, c, neither, confidence: float = CONFIDENCE):
    """The hull of Newcombe's interval and the mid-p one, for a paired difference of 0/1 outcomes.

    The mid-p one is the difference (2 pi - 1) q over the mid-p interval of pi = b / (b + c), the share of
    discordant items A wins, and the Wilson interval of q = (b + c) / n, the discordant share: it excludes 0
    exactly when the mid-p McNemar test rejects at 1 - confidence, and is never zero-width. Vectorized.
    """
    b, c = np.asarray(b, dtype=float), np.asarray(c, dtype=float)
    n = np.asarray(both, dtype=float) + b + c + np.asarray(neither, dtype=float)
    low, high = newcombe_paired(both, b, c, neither, confidence)
    share_low, share_high = midp_interval(b, b + c, confidence)
    q_low, q_high = proportion_confint(b + c, n, alpha=1 - confidence, method="wilson")
    lowest, highest = 2 * share_low - 1, 2 * share_high - 1  # the split of the discordant items, as a difference
    lowest = lowest * np.where(lowest > 0, q_low, q_high)
    highest = highest * np.where(highest > 0, q_high, q_low)
    return np.minimum(low, lowest), np.maximum(high, highest)


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


# ---- power --------------------------------------------------------------------------------------------------


def min_detectable_effect(discordance: float, n: int) -> float:
    """MDE of a paired 0/1 comparison: 2.80 sqrt(q / n), and never below MIN_DISCORDANT / n."""
    return _mde(float(np.sqrt(discordance / n)), n, binary=True)


def planned_mde(items: int, seeds: int, discordance: float = ASSUMED_DISCORDANCE) -> float:
    """MDE before a run: `items` per seed, an assumed discordance."""
    return min_detectable_effect(discordance, items * seeds)


def planned_prob_mde(units: int, seeds: int, sd: float = ASSUMED_PROB_SD, fit_sd: float | None = None) -> float:
    """MDE of a paired p(correct) comparison before a run: 2.80 sd / sqrt(units x seeds), where `units` counts the
    split's independent items per seed (its fact clusters: items of one fact are taken as one, which is
    conservative). With `fit_sd` (a fine-tuned side: each seed is a fit) the between-fit spread adds its variance
    to each seed's mean, and with several seeds the quantiles are t's with seeds - 1 degrees of freedom, as the
    test (`fit_spread`) will use."""
    if fit_sd is None:
        return float(POWER_Z * sd / np.sqrt(units * seeds))
    se = float(np.sqrt((sd**2 / units + fit_sd**2) / seeds))
    if seeds == 1:
        return float(POWER_Z * se)
    return float((student_t.ppf(1 - ALPHA / 2, seeds - 1) + student_t.ppf(POWER, seeds - 1)) * se)


def clusters_by_fact(fact_ids: Sequence[tuple[str, ...]]) -> np.ndarray:
    """Each item's cluster: the fact it shares with the most items of the list (an item with none: alone)."""
    counts = Counter(f for facts in fact_ids for f in facts)
    keys = [max(facts, key=lambda f: counts[f]) if facts else f"\0item-{n}" for n, facts in enumerate(fact_ids)]
    return np.unique(keys, return_inverse=True)[1]


def percentile_interval(stats: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _mde(se: float, n: int, binary: bool) -> float:
    """2.80 standard errors; for 0/1 values never below what MIN_DISCORDANT items can show."""
    return float(max(POWER_Z * se, MIN_DISCORDANT / n) if binary else POWER_Z * se)


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


def _cdf(k, m, p):
    """P(X <= k) for X ~ Binomial(m, p), 0 for k < 0 (where cephes' bdtr gives nan)."""
    return np.where(k < 0, 0.0, bdtr(np.maximum(k, 0), m, p))


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
