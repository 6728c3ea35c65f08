from types import SimpleNamespace

import pytest

from icft.evaluate.metrics import chance_level, is_correct, summarize_splits
from icft.evaluate.stats import wilson
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


def test_split_summaries_keep_first_appearance_order():
    rows = [
        SimpleNamespace(split="reversal", correct_sum=True, correct_mean=False, chance=0.5),
        SimpleNamespace(split="rephrase", correct_sum=True, correct_mean=True, chance=0.25),
        SimpleNamespace(split="reversal", correct_sum=False, correct_mean=False, chance=0.5),
        SimpleNamespace(split="reversal", correct_sum=True, correct_mean=True, chance=0.5),
    ]
    reversal, rephrase = summarize_splits(rows)
    assert (reversal.split, reversal.n, rephrase.split, rephrase.n) == ("reversal", 3, "rephrase", 1)
    assert reversal.accuracy_sum.mean == pytest.approx(2 / 3)
    assert reversal.accuracy_mean.mean == pytest.approx(1 / 3)
    assert (reversal.chance, rephrase.chance) == (0.5, 0.25)
    assert rephrase.accuracy_sum == rephrase.accuracy_mean  # one item, both right
    assert (reversal.accuracy_sum.low, reversal.accuracy_sum.high) == pytest.approx(wilson(2, 3))  # one run: Wilson
    assert rephrase.accuracy_sum.low < 0.5  # one right item is no proof: never a zero-width [1, 1]
