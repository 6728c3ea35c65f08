from pathlib import Path

import pytest

from icft.errors import IcftError
from icft.study.config import load_study_config, parse_study_config
from icft.study.cells import expand_grid

MINIMAL = {"worlds": [{"name": "reversals"}]}


def test_defaults_and_grid_expansion():
    config = parse_study_config({"worlds": [{"name": "reversals"}, {"name": "semantic"}], "seeds": [0, 1],
                                 "modes": ["pretrained", "icl"]})
    cells = expand_grid(config)
    assert len(cells) == 2 * 2 * 1 * 2
    assert [c.mode for c in cells[:2]] == ["pretrained", "icl"] and cells[0].key.world_ref == "reversals-s0"
    assert config.models == ["smollm2-135m"] and config.icl.subsample == 1.0


@pytest.mark.parametrize("raw, message", [
    ({**MINIMAL, "mdoes": ["icl"]}, "unknown key 'mdoes': allowed keys are name, kind, worlds"),
    ({"worlds": [{"name": "reversals", "sise": {}}]}, "unknown key 'worlds.0.sise': allowed keys are name, preset"),
    ({**MINIMAL, "modes": ["icl", "ft-everything"]}, "key 'modes.1': Input should be 'pretrained', 'icl'"),
    ({**MINIMAL, "seeds": "0"}, "key 'seeds': Input should be a valid list"),
    ({**MINIMAL, "icl": {"subsample": 0}}, "key 'icl.subsample': Input should be greater than 0"),
    ({**MINIMAL, "finetune": {"lerning_rate": 1e-4}}, "unknown key 'lerning_rate'; allowed: batch_examples, batch_tokens"),
    ({**MINIMAL, "finetune": {"epochs": -1}}, "key 'finetune'"),
    ({"worlds": []}, "an icl_vs_ft study needs at least one [[worlds]] entry"),
    ({**MINIMAL, "augment": {"base_url": "http://localhost:8000/v1"}},
     "key 'augment': base_url and endpoint_model go together"),
    ({"kind": "transfer", "transfer": {"train_sizes": [0]}}, "key 'transfer.train_sizes': every train size"),
    ({"kind": "transfer", "transfer": {"tasks": [{"name": "a", "domain": "b", "kind": "generation",
                                                  "instruction": "x"}]}},
     "key 'transfer.tasks.0': task a/b needs either `dataset` or both `train` and `test`"),
])
def test_config_errors_name_the_key(raw, message):
    with pytest.raises(IcftError) as error:
        parse_study_config(raw, source="s.toml")
    text = str(error.value)
    assert text.startswith("s.toml: ") and message in text and "\n" not in text


def test_presets_in_configs_folder_are_valid():
    for name in ("default", "paper", "learning", "transfer", "yang2024", "gemma", "distill"):
        assert load_study_config(Path(__file__).parents[2] / "configs" / f"{name}.toml").name == name


def test_malformed_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(IcftError, match="malformed TOML"):
        load_study_config(bad)
    with pytest.raises(IcftError, match="does not exist"):
        load_study_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("world, message", [
    ({"name": "reversals", "sizes": {"factz": 12}}, "key 'worlds.0': world 'reversals' has no size 'factz'"),
    ({"name": "reversals", "preset": "huge"}, "key 'worlds.0': world 'reversals' has no preset 'huge'"),
    ({"name": "reversals", "sizes": {"facts": 0}}, "size 'facts' of world 'reversals' must be a positive integer"),
    ({"preset": "paper"}, "needs either `name` (a generator) or `path` (a world folder)"),
])
def test_world_sizes_and_presets_are_checked_with_the_config(world, message):
    with pytest.raises(IcftError) as error:
        parse_study_config({"worlds": [world]}, source="s.toml")
    assert message in str(error.value)


def test_two_worlds_with_one_label_are_refused_and_a_label_tells_them_apart():
    twice = [{"name": "reversals"}, {"name": "reversals", "sizes": {"facts": 6}}]
    with pytest.raises(IcftError, match="worlds 0 and 1 are both named 'reversals': give one of them a `label`"):
        parse_study_config({"worlds": twice})
    config = parse_study_config({"worlds": [twice[0], {**twice[1], "label": "reversals-small"}]})
    assert [c.key.world_ref for c in expand_grid(config)][:: len(config.modes)] == ["reversals-s0", "reversals-small-s0"]
    assert parse_study_config(config.model_dump(mode="json")) == config  # study.json reads back the same


def test_fine_tuning_settings_layer_defaults_model_study_world(monkeypatch):
    """FinetuneConfig's defaults < the model's registry defaults < the keys [finetune] sets < a world's."""
    import icft.study.config as study_config

    registry = {"a": {"learning_rate": 5e-3, "lora": True, "lora_rank": 4, "epochs": 7}, "b": {"learning_rate": 1e-3}}
    monkeypatch.setattr(study_config, "finetune_defaults", lambda name: dict(registry.get(name, {})))
    config = parse_study_config({**MINIMAL, "finetune": {"lora_rank": 8, "epochs": 3}})
    a, b, unknown = (config.finetune_for(m, {"epochs": 2}, seed=5) for m in ("a", "b", "folder/x"))
    assert (a.learning_rate, a.lora, a.lora_rank, a.epochs, a.seed) == (5e-3, True, 8, 2, 5)
    assert (b.learning_rate, b.lora, b.lora_rank, b.epochs) == (1e-3, False, 8, 2)
    assert (unknown.learning_rate, unknown.lora_rank) == (1e-4, 8)  # no registry entry: FinetuneConfig's defaults
    # a key the config does not set is the model's, even where the config's typed section holds the default
    assert config.finetune.learning_rate == 1e-4 and config.finetune_for("a").learning_rate == 5e-3
    # a key set to the default value is still set: it overrides the model's
    assert parse_study_config({**MINIMAL, "finetune": {"learning_rate": 1e-4}}).finetune_for("a").learning_rate == 1e-4


def test_a_saved_config_keeps_its_fine_tuning_settings():
    """A study folder's config.json records the [finetune] keys the config sets, so it reads back the same: the
    keys it leaves to the model stay the model's."""
    config = parse_study_config({**MINIMAL, "models": ["gemma3-270m"], "finetune": {"epochs": 4}})
    saved = config.model_dump(mode="json")
    assert saved["finetune"] == {"epochs": 4}
    again = parse_study_config(saved)
    assert again == config and again.finetune_for("gemma3-270m") == config.finetune_for("gemma3-270m")


def test_the_registry_defaults_are_valid_fine_tuning_settings():
    from icft.models.registry import EMBEDDED
    from icft.study.config import finetune_config

    for name, model in EMBEDDED.items():
        assert model.finetune, f"{name} has no fine-tuning defaults"
        finetune_config(model.finetune)  # raises on an unknown key or a bad value


def test_the_gemma_study_plans_icl_against_ft_with_the_power_to_decide(tmp_path):
    """configs/gemma.toml: ICL vs FT on reverse_a and on syllogism, each with a planned MDE of at most 0.20 (0.14
    from its 48 facts; its one fit per cell adds the assumed spread between fits), and Gemma trained by its
    registry recipe (the config sets no learning rate or LoRA key)."""
    from icft.models.registry import EMBEDDED
    from icft.study.grid import Study
    from icft.study.preview import planned_table

    config = load_study_config(Path(__file__).parents[2] / "configs" / "gemma.toml")
    table = planned_table(Study(config, tmp_path / "dry"))
    rows = list(zip(*[column._cells for column in table.columns]))
    icl_vs_ft = {row[2]: float(row[6]) for row in rows if (row[1], row[3], row[4]) == ("A > B", "ICL", "FT")}
    assert set(icl_vs_ft) == {"reversal_curse/reverse_a", "syllogisms/syllogism"}
    assert max(icl_vs_ft.values()) <= 0.20
    trained = config.finetune_for("gemma3-270m", config.worlds[0].finetune)
    recipe = EMBEDDED["gemma3-270m"].finetune
    assert (trained.learning_rate, trained.lora, trained.lora_rank) == (recipe["learning_rate"], True,
                                                                        recipe["lora_rank"])


def test_the_distill_preset_plans_distilled_ft_against_ft_and_icl_on_both_splits(tmp_path):
    """configs/distill.toml (the issue's bar, as `--dry-run` prints it): FT-distill-local against FT (finding 12)
    and against ICL (finding 13) on reversal_curse/reverse_a and syllogisms/syllogism, over several fits."""
    from icft.study.grid import Study
    from icft.study.preview import planned_table

    config = load_study_config(Path(__file__).parents[2] / "configs" / "distill.toml")
    assert len(config.seeds) >= 4 and config.models == ["gemma3-270m"]
    rows = list(zip(*[column._cells for column in planned_table(Study(config, tmp_path / "dry")).columns]))
    planned = {(row[0], row[2], row[3], row[4]) for row in rows}
    for where in ("reversal_curse/reverse_a", "syllogisms/syllogism"):
        assert ("12", where, "FT-distill-local", "FT") in planned
        assert ("13", where, "FT-distill-local", "ICL") in planned
