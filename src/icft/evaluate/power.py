"""What a verdict's power rests on: the error rates, the spreads assumed before a run, and the minimum
detectable effect (MDE) of a comparison, planned before a run or read from its standard error (STATS.md).
`icft.evaluate.stats` tests with these rates; the dry run (`icft.evaluate.plan`) plans with them.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, t as student_t

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


def min_detectable_effect(discordance: float, n: int) -> float:
    """MDE of a paired 0/1 comparison: 2.80 sqrt(q / n), and never below MIN_DISCORDANT / n."""
    return detectable_effect(float(np.sqrt(discordance / n)), n, binary=True)


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


def detectable_effect(se: float, n: int, binary: bool) -> float:
    """2.80 standard errors; for 0/1 values never below what MIN_DISCORDANT items can show."""
    return float(max(POWER_Z * se, MIN_DISCORDANT / n) if binary else POWER_Z * se)
