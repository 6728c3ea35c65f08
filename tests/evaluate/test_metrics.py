from types import SimpleNamespace

import pytest

from icft.evaluate.metrics import chance_level, estimate, is_correct, pooled_estimate, summarize_splits
from icft.worlds.schema import Item


def _item(split="a", n_options=2, answer=0, also=()):
    options = tuple(f"o{i}" for i in range(n_options))
    return Item(id=f"{split}{n_options}{answer}", split=split, prompt="p", options=options, answer=answer,
                also_correct=also)


def test_is_correct_accepts_equally_correct_wordings():
    item = _item(n_options=4, answer=1, also=(3,))
    assert [is_correct(c, item) for c in range(4)] == [False, True, False, True]


def test_chance_is_the_mean_of_correct_over_options():
    items = [_item(n_options=2), _item(n_options=4), _item(n_options=4, also=(1,))]
    assert chance_level(items) == pytest.approx((0.5 + 0.25 + 0.5) / 3)


def test_interval_contains_the_mean_and_matches_the_normal_approximation():
    values = [1.0, 0.0] * 50  # mean 0.5, standard error 0.05
    e = estimate(values, seed=0)
    assert e.mean == 0.5 and e.n == 100
    assert e.low < 0.5 < e.high
    assert e.low == pytest.approx(0.5 - 1.96 * 0.05, abs=0.02)
    assert e.high == pytest.approx(0.5 + 1.96 * 0.05, abs=0.02)


def test_interval_narrows_with_more_items():
    small = estimate([1.0, 0.0, 0.0] * 10, seed=0)
    large = estimate([1.0, 0.0, 0.0] * 300, seed=0)
    assert small.mean == pytest.approx(large.mean)
    assert (large.high - large.low) < (small.high - small.low) / 2


def test_interval_is_deterministic_for_a_seed():
    values = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0] * 5
    assert estimate(values, seed=3) == estimate(values, seed=3)
    assert estimate(values, seed=3) != estimate(values, seed=4)


def test_one_item_and_all_correct_give_zero_width_intervals():
    one = estimate([1.0])
    assert (one.mean, one.low, one.high, one.n) == (1.0, 1.0, 1.0, 1)
    perfect = estimate([1.0] * 20)
    assert (perfect.low, perfect.high) == (1.0, 1.0)


def test_empty_values_are_refused():
    with pytest.raises(ValueError):
        estimate([])


def test_pooled_with_one_seed_is_the_item_bootstrap():
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert pooled_estimate([values], seed=5) == estimate(values, seed=5)


def test_pooled_mean_weighs_seeds_equally():
    e = pooled_estimate([[1.0, 1.0, 1.0, 1.0], [0.0]], seed=0)
    assert e.mean == 0.5 and e.n == 5


def test_pooled_interval_includes_the_variation_between_seeds():
    all_right, all_wrong = [1.0] * 50, [0.0] * 50
    items_only = estimate(all_right + all_wrong, seed=0)
    pooled = pooled_estimate([all_right, all_wrong], seed=0)
    # two seeds that disagree completely: a resample may draw the same seed twice (mean 0 or 1)
    assert (pooled.low, pooled.high) == (0.0, 1.0)
    assert items_only.high - items_only.low < 0.4
    assert pooled_estimate([all_right, all_wrong], seed=0) == pooled


def test_split_summaries_keep_first_appearance_order():
    rows = [
        SimpleNamespace(split="reversal", correct_sum=True, correct_mean=False, chance=0.5),
        SimpleNamespace(split="rephrase", correct_sum=True, correct_mean=True, chance=0.25),
        SimpleNamespace(split="reversal", correct_sum=False, correct_mean=False, chance=0.5),
        SimpleNamespace(split="reversal", correct_sum=True, correct_mean=True, chance=0.5),
    ]
    reversal, rephrase = summarize_splits(rows, seed=0, n_resamples=200)
    assert (reversal.split, reversal.n, rephrase.split, rephrase.n) == ("reversal", 3, "rephrase", 1)
    assert reversal.accuracy_sum.mean == pytest.approx(2 / 3)
    assert reversal.accuracy_mean.mean == pytest.approx(1 / 3)
    assert (reversal.chance, rephrase.chance) == (0.5, 0.25)
    assert rephrase.accuracy_sum == rephrase.accuracy_mean  # one item, both right: [1, 1]
