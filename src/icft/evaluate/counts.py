"""Tests and intervals on counts of paired 0/1 outcomes, written here because the libraries lack them: the mid-p
McNemar test (a test checks it against statsmodels' exact `mcnemar`) and the interval it inverts into, and
Newcombe's interval for a paired difference (MOVER with Wilson marginals). All are vectorized over arrays of
counts. `icft.evaluate.stats` compares two modes with them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import bdtr
from scipy.stats import binom
from statsmodels.stats.proportion import proportion_confint

from icft.evaluate.power import CONFIDENCE

_BISECTIONS = 50  # halvings of [0, 1]: far below any printed digit


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


def _cdf(k, m, p):
    """P(X <= k) for X ~ Binomial(m, p), 0 for k < 0 (where cephes' bdtr gives nan)."""
    return np.where(k < 0, 0.0, bdtr(np.maximum(k, 0), m, p))
