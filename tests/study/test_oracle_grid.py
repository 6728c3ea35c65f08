"""The oracle's modes in a study: their files and counts, the scaling curve's cells, data-matched training, and
the refusal for worlds without facts."""

import json
from pathlib import Path

import pytest

from icft.errors import IcftError
from icft.learn.augment import load_augmented
from icft.store import ResultsStore
from icft.study import parse_study_config
from icft.study.cells import expand_grid
from icft.study.grid import Study, run_study

EXAMPLE = Path(__file__).parents[2] / "examples" / "byod"
FINETUNE = {"epochs": 1, "max_steps": 2, "row_tokens": 128, "batch_tokens": 256, "micro_batch_tokens": 256}


def config(model, **extra):
    raw = {"name": "oracle", "models": [model], "modes": ["ft", "ft-oracle-local", "ft-oracle-global"], "seeds": [0],
           "worlds": [{"name": "reversals", "sizes": {"facts": 4, "articles_per_fact": 1}}],
           "augment": {"per_fact": [0, 1, 3]}, "finetune": FINETUNE}
    return parse_study_config({**raw, **extra})


def test_the_curve_adds_budget_cells_to_worlds_with_oracle_local(tiny_folder):
    modes = [cell.mode for cell in expand_grid(config(tiny_folder))]
    assert modes == ["ft", "ft-oracle-local", "ft-oracle-global", "ft-oracle-local@1", "ft-oracle-local@3"]
    plain = config(tiny_folder, modes=["ft", "ft-oracle-global"])
    assert [cell.mode for cell in expand_grid(plain)] == ["ft", "ft-oracle-global"]


def test_oracle_cells_train_on_documents_plus_the_oracle_files(tiny_folder, tmp_path):
    study = Study(config(tiny_folder), tmp_path)
    run_study(config(tiny_folder), tmp_path, progress=False)
    augment = tmp_path / "augment"
    files = sorted(p.name for p in augment.glob("*.jsonl"))
    assert files == ["reversals-s0-oracle-global.jsonl", "reversals-s0-oracle-local-x1.jsonl",
                     "reversals-s0-oracle-local-x3.jsonl", "reversals-s0-oracle-local.jsonl"]
    sizes = {name: len(load_augmented(augment / name)) for name in files}
    assert sizes == {"reversals-s0-oracle-global.jsonl": 4, "reversals-s0-oracle-local-x1.jsonl": 4,
                     "reversals-s0-oracle-local-x3.jsonl": 12, "reversals-s0-oracle-local.jsonl": 8}
    summary = json.loads((augment / "reversals-s0-oracle-local-x3.summary.json").read_text())
    assert summary["counts"]["kept"] == 12 and summary["facts"] == 4
    with ResultsStore(tmp_path / "results.db") as store:
        runs = {run.mode: run for run in store.runs(status="finished")}
        assert set(runs) == {"ft", "ft-oracle-local", "ft-oracle-global", "ft-oracle-local@1", "ft-oracle-local@3"}
        examples = {mode: store.fit_stats(run.run_id)["examples"] for mode, run in runs.items()}
        training = {mode: run.config["training"] for mode, run in runs.items()}
    documents = len(study.world(study.config.worlds[0], 0).documents)
    assert examples == {"ft": documents, "ft-oracle-local": documents + 8, "ft-oracle-global": documents + 4,
                        "ft-oracle-local@1": documents + 4, "ft-oracle-local@3": documents + 12}
    assert training["ft-oracle-local@3"]["oracle"]["per_fact"] == 3
    assert training["ft"]["finetune"] == training["ft-oracle-local"]["finetune"]  # the same stopping rule


def test_oracle_modes_on_an_imported_world_are_refused_before_anything_runs(tiny_folder, tmp_path):
    from icft.worlds import save_world
    from icft.worlds.imported import import_world

    folder = save_world(import_world(EXAMPLE / "documents.jsonl", EXAMPLE / "questions.jsonl"), tmp_path / "byod")
    bad = config(tiny_folder, worlds=[{"path": str(folder)}], augment={})
    with pytest.raises(IcftError, match="has no facts .an imported world.") as error:
        run_study(bad, tmp_path / "run", progress=False)
    assert "\n" not in str(error.value) and not (tmp_path / "run").exists()
    with pytest.raises(IcftError, match="has no facts"):
        run_study(bad, tmp_path / "dry", dry_run=True)


def test_the_augmentation_preset_draws_the_curve_within_the_budget(tmp_path):
    from icft.study.config import load_study_config

    configs = Path(__file__).parents[2] / "configs"
    preset = load_study_config(configs / "augmentation.toml")
    cells = expand_grid(preset)
    # ft-oracle-local writes each fact's reversal and rephrasing once: the curve's point at 2 per fact
    assert {c.mode for c in cells if c.world.label == "reversals"} == {
        "icl", "ft", "ft-oracle-local", "ft-oracle-global", "ft-oracle-local@1", "ft-oracle-local@4"}
    study = Study(preset, tmp_path)
    assert sum(study.estimate(study.plan(cell)) for cell in cells) < 15 * 60  # the estimate runs high (it is an upper bound)
    paper = load_study_config(configs / "paper.toml")
    assert "ft-oracle-local@4" in {c.mode for c in expand_grid(paper)}
    assert not any(c.mode.startswith("ft-oracle") for c in expand_grid(paper) if c.world.label == "process")


@pytest.mark.parametrize("per_fact", [[-1], [1, 1]])
def test_budgets_are_distinct_counts(per_fact):
    with pytest.raises(IcftError, match="key 'augment.per_fact': per_fact lists distinct counts of 0 or more"):
        parse_study_config({"worlds": [{"name": "reversals"}], "augment": {"per_fact": per_fact}})
