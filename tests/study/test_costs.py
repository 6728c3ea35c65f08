"""The time estimate reads a cell's resolved fine-tuning settings (the study's, over its model's defaults)."""

import dataclasses

import pytest

from icft.learn.finetune.config import FinetuneConfig
from icft.study.config import parse_study_config
from icft.study.costs import estimate_seconds
from icft.worlds import build_world

WORLD = {"name": "reversals", "sizes": {"facts": 4, "articles_per_fact": 1}}


def test_the_estimate_follows_the_fine_tuning_settings_and_the_worlds_overrides():
    world = build_world("reversals", facts=4, articles_per_fact=1)
    defaults = parse_study_config({"worlds": [WORLD]})
    explicit = parse_study_config({"worlds": [WORLD], "finetune": dataclasses.asdict(FinetuneConfig())})
    assert estimate_seconds(world, "ft", defaults) == estimate_seconds(world, "ft", explicit)
    one, two = (parse_study_config({"worlds": [WORLD], "finetune": {"epochs": n}}) for n in (1, 2))
    scoring = estimate_seconds(world, "pretrained", one)
    trained = estimate_seconds(world, "ft", two) - scoring
    assert trained == pytest.approx(2 * (estimate_seconds(world, "ft", one) - scoring)) and trained > 0
    world_one = two.finetune_for("smollm2-135m", {"epochs": 1})  # a world's override
    assert estimate_seconds(world, "ft", two, world_one) == pytest.approx(estimate_seconds(world, "ft", one))


def test_a_model_costs_its_measured_rate():
    """The registry's relative cost scales a model's estimate; a model it does not hold counts as SmolLM2."""
    from icft.models.registry import EMBEDDED

    world = build_world("reversals", facts=4, articles_per_fact=1)
    config = parse_study_config({"worlds": [WORLD], "models": ["smollm2-135m", "gemma3-270m", "folder/model"]})
    for mode in ("pretrained", "icl", "ft"):
        small, gemma, other = (estimate_seconds(world, mode, config, model=m) for m in config.models)
        assert gemma == pytest.approx(EMBEDDED["gemma3-270m"].relative_cost * small) and other == small
