"""The grid runner end to end on a tiny saved model: every cell once, resume after Ctrl-C and kill -9."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from icft.errors import IcftError
from icft.store import ResultsStore
from icft.study import load_study_config, parse_study_config
from icft.study.cells import expand_grid
from icft.study.grid import Study, run_study
from icft.study.preview import planned_table

MODES = ["pretrained", "icl", "ft", "ft-split"]
REDUCED = Path(__file__).parents[2] / "benchmarks" / "gpu_check_reduced.toml"


def config(model, **extra):
    raw = {"name": "t", "models": [model], "modes": MODES, "seeds": [0],
           "worlds": [{"name": "reversals", "sizes": {"facts": 4, "articles_per_fact": 1}},
                      {"name": "syllogisms", "sizes": {"examples": 3, "conflicts": 1}, "modes": ["pretrained", "ft"]}],
           "finetune": {"epochs": 1, "max_steps": 2, "row_tokens": 128, "batch_tokens": 256,
                        "micro_batch_tokens": 256}}
    return parse_study_config({**raw, **extra})


def finished_rows(db):
    with ResultsStore(db) as store:
        runs = sorted(store.runs(status="finished"), key=lambda r: r.run_id)
        return {r.run_id: [(x.item_id, x.logprobs) for x in store.item_rows(r.run_id)] for r in runs}


def test_every_cell_runs_once_and_a_rerun_computes_nothing(tiny_folder, tmp_path, monkeypatch):
    summaries = run_study(config(tiny_folder), tmp_path, progress=False)
    assert [s.mode for s in summaries] == MODES + ["pretrained", "ft"]
    assert (tmp_path / "worlds" / "reversals-s0" / "world.json").exists()
    assert not list((tmp_path / "finetune").glob("*/model"))  # keep_weights is off
    assert list((tmp_path / "finetune").glob("*/training_curve.json"))

    import icft.evaluate.runner as runner

    monkeypatch.setattr(runner, "score_choices", lambda *a, **k: pytest.fail("a finished cell was rescored"))
    again = run_study(config(tiny_folder), tmp_path, progress=False)
    assert [s.splits for s in again] == [s.splits for s in summaries]


def test_interrupted_study_resumes_with_the_missing_cells_only(tiny_folder, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    run_study(config(tiny_folder), reference, progress=False)

    interrupted = tmp_path / "interrupted"
    original = Study.run_cell
    calls = []

    def stop_at_third(self, cell, store, progress):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(cell.label)
        return original(self, cell, store, progress)

    monkeypatch.setattr(Study, "run_cell", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        run_study(config(tiny_folder), interrupted, progress=False)
    monkeypatch.setattr(Study, "run_cell", original)
    assert len(finished_rows(interrupted / "results.db")) == 2
    run_study(config(tiny_folder), interrupted, progress=False)
    assert finished_rows(interrupted / "results.db") == finished_rows(reference / "results.db")


def test_kill_9_loses_nothing(tiny_folder, tmp_path):
    toml = tmp_path / "study.toml"  # the GPU check's reduced study (pretrained, icl, ft) on the tiny model
    toml.write_text(f'models = ["{tiny_folder}"]\n' + REDUCED.read_text())
    cells = len(load_study_config(toml).modes)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "icft.cli", "study", str(toml), "--out", str(out), "--no-report"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until one cell is finished, then kill hard
        if (out / "results.db").exists():
            with sqlite3.connect(out / "results.db") as db:
                try:
                    if db.execute("select count(*) from runs where status='finished'").fetchone()[0] >= 1:
                        break
                except sqlite3.OperationalError:  # the file exists before its tables are committed
                    pass
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 1 <= len(finished_rows(out / "results.db")) < cells
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming:" in resumed.stdout
    assert len(finished_rows(out / "results.db")) == cells


def test_a_folder_with_another_study_is_refused(tiny_folder, tmp_path):
    run_study(config(tiny_folder, modes=["pretrained"]), tmp_path, progress=False)
    with pytest.raises(IcftError, match="holds a study with another config .differs in: modes"):
        run_study(config(tiny_folder, modes=["pretrained", "icl"]), tmp_path, progress=False)


def test_dry_run_lists_the_grid_and_writes_nothing(tiny_folder, tmp_path, capsys):
    run_study(config(tiny_folder), tmp_path / "dry", dry_run=True)
    printed = capsys.readouterr().out
    assert "6 cells" in printed and "ft-split" in printed
    assert "planned comparisons" in printed and "MDE" in printed
    assert not (tmp_path / "dry").exists()


def test_dry_run_plans_the_findings_comparisons_with_their_power(tiny_folder, tmp_path):
    table = planned_table(Study(config(tiny_folder), tmp_path / "dry"))
    rows = list(zip(*[column._cells for column in table.columns]))
    claims = {(row[0], row[1], row[2], row[3], row[4]) for row in rows}
    # reversals holds pretrained, ICL, FT and FT-split; syllogisms only pretrained and FT
    assert ("2", "A > B", "reversals/reversed", "ICL", "FT") in claims
    assert ("7", "A > B", "reversals/reversed", "FT-split", "FT") in claims
    assert ("1", "A ≈ chance", "syllogisms/syllogism", "pretrained", "chance") in claims
    assert not any(row[0] == "3" for row in rows)  # no ICL on syllogisms
    from icft.evaluate.stats import ASSUMED_FIT_SD, planned_prob_mde

    # p(correct), the primary metric, with a fact's items counted once: "items (facts) × seeds"; FT is one fit, so
    # the assumed spread between fits counts too
    facts = int(next(row for row in rows if row[0] == "2")[5].split("(")[1].split(")")[0])
    assert next(row for row in rows if row[0] == "2")[6] == f"{planned_prob_mde(facts, 1, fit_sd=ASSUMED_FIT_SD):.2f}"
    assert planned_prob_mde(facts, 1, fit_sd=ASSUMED_FIT_SD) > planned_prob_mde(facts, 1)


def test_the_cli_and_a_study_give_one_fine_tuning_one_run_id(tiny_folder, tmp_path):
    from icft.commands.finetune import run_finetune_command
    from icft.worlds import build_world, save_world

    world_dir = tmp_path / "rev"
    save_world(build_world("reversals", seed=0, facts=4, articles_per_fact=1), world_dir)
    study = Study(parse_study_config({"models": [tiny_folder], "modes": ["ft"], "seeds": [0],
                                      "worlds": [{"path": str(world_dir)}], "finetune": {"max_steps": 1}}),
                  tmp_path / "study")
    [cell] = expand_grid(study.config)
    summary = run_finetune_command(world_dir, tiny_folder, tmp_path / "ft", max_steps=1, seed=0, db=tmp_path / "r.db")
    assert summary.run_id == study.plan(cell).run_id


def test_a_two_model_study_trains_each_model_by_its_own_defaults(tiny_folder, tmp_path, monkeypatch):
    """Each model's registry defaults, under the keys the study sets, under its world's: per fit, as trained."""
    import json
    import shutil

    import icft.study.config as study_config

    other = str(tmp_path / "other-model")
    shutil.copytree(tiny_folder, other)
    registry = {tiny_folder: {"learning_rate": 3e-3, "lora": True, "lora_rank": 4, "lora_alpha": 8.0},
                other: {"learning_rate": 7e-4}}
    monkeypatch.setattr(study_config, "finetune_defaults", lambda name: dict(registry.get(name, {})))
    raw = {"name": "t", "models": [tiny_folder, other], "modes": ["ft"], "seeds": [0],
           "worlds": [{"name": "reversals", "sizes": {"facts": 4, "articles_per_fact": 1},
                       "finetune": {"max_steps": 1}}],
           "finetune": {"lora_rank": 2, "epochs": 1, "row_tokens": 128, "batch_tokens": 256,
                        "micro_batch_tokens": 256}}
    run_study(parse_study_config(raw), tmp_path / "study", progress=False)
    trained = {}
    for path in (tmp_path / "study" / "finetune").glob("*/cell.json"):
        cell = json.loads(path.read_text())
        trained[cell["cell"].split(" ")[1]] = cell["training"]["finetune"]  # "world-s0 MODEL ft"
    first, second = trained[tiny_folder], trained[other]
    assert (first["learning_rate"], first["lora"], first["lora_rank"], first["lora_alpha"]) == (3e-3, True, 2, 8.0)
    assert (second["learning_rate"], second["lora"], second["lora_rank"]) == (7e-4, False, 2)
    assert first["max_steps"] == second["max_steps"] == 1 and first["epochs"] == 1


def test_a_world_whose_split_a_shortcut_beats_is_named_before_it_runs(tiny_folder, tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from icft.worlds import audit

    console = Console(file=io.StringIO(), width=300)
    study = Study(config(tiny_folder), tmp_path / "s", console=console)
    real = audit.audit_world
    monkeypatch.setattr(audit, "audit_world", lambda world: [
        r.__class__(**{**r.__dict__, "above_chance": True, "accuracy": 0.9, "low": 0.8}) if not r.control else r
        for r in real(world)][:1])
    study.world(study.config.worlds[0], 0)
    assert "warning: world reversals (seed 0): the shortcut" in console.file.getvalue()


def test_an_imported_worlds_augmented_modes_train_until_recalled_by_default(tmp_path):
    import json

    from icft.learn.finetune.recall import IMPORTED_DEFAULTS
    from icft.worlds.imported import import_world

    docs, questions = tmp_path / "d.jsonl", tmp_path / "q.jsonl"
    docs.write_text(json.dumps({"text": "Dana Quist manages the Oslo office."}) + "\n")
    questions.write_text("".join(json.dumps({"prompt": "Who runs the Oslo office?", "options": ["Dana", "Femp"],
                                             "answer": 0, "split": s}) + "\n" for s in ("rephrased", "reversed")))
    save_world_dir = tmp_path / "kb"
    from icft.worlds import save_world

    save_world(import_world(docs, questions, control_splits=("rephrased",)), save_world_dir)
    modes = ["ft", "ft-local", "ft-local-global"]
    raw = {"name": "kb", "models": ["tiny"], "modes": modes, "seeds": [0],
           "worlds": [{"path": str(save_world_dir)}, {"name": "reversals", "sizes": {"facts": 4}}],
           "finetune": {"epochs": 30}}
    study = Study(parse_study_config(raw), tmp_path / "out")
    settings = {(c.world.label, c.mode): study.plan(c).finetune for c in expand_grid(study.config)}
    assert settings[("kb", "ft-local")].recall_target == IMPORTED_DEFAULTS["recall_target"]
    assert settings[("kb", "ft-local-global")].recall_target == IMPORTED_DEFAULTS["recall_target"]
    assert settings[("kb", "ft-local")].epochs == 30  # the study's own keys win over the default
    assert settings[("kb", "ft")].recall_target is None  # plain FT stays data-matched with ICL
    assert settings[("reversals", "ft-local")].recall_target is None  # built-in worlds are unchanged
    cell = next(c for c in expand_grid(study.config) if (c.world.label, c.mode) == ("kb", "ft-local"))
    assert study.plan(cell).training["recall_reads"]["probes"] == "held-out training sentences"
    chosen = parse_study_config({**raw, "finetune": {"recall_target": 0.5}})
    assert Study(chosen, tmp_path / "other").plan(cell).finetune.recall_target == 0.5


def test_dry_run_says_when_no_mode_can_pass_the_learned_check(tiny_folder, tmp_path, capsys):
    import json

    from icft.worlds.imported import import_world
    from icft.worlds import save_world

    questions = tmp_path / "q.jsonl"
    docs = Path(__file__).parents[2] / "examples" / "byod" / "documents.jsonl"

    def study(controls: int, seeds: list[int]):
        lines = [{"prompt": f"Recall {n} is", "options": ["a", "b"], "answer": 0, "split": "recall"}
                 for n in range(controls)] + [{"prompt": "Then", "options": ["a", "b"], "answer": 1, "split": "more"}]
        questions.write_text("".join(json.dumps(line) + "\n" for line in lines))
        save_world(import_world(docs, questions, control_splits=("recall",)), tmp_path / f"w{controls}")
        raw = {"name": "t", "models": [tiny_folder], "modes": ["pretrained", "icl"], "seeds": seeds,
               "worlds": [{"path": str(tmp_path / f"w{controls}")}]}
        run_study(parse_study_config(raw), tmp_path / "dry", dry_run=True)
        return " ".join(capsys.readouterr().out.split())  # the console wraps lines

    assert "warning: world w8's control split recall holds 8 items: even 8/8 correct" in study(8, [0])
    assert "warning" not in study(9, [0])
    assert "warning" not in study(8, [0, 1])  # two seeds: 16 control items pooled, as the report pools them


def test_a_fit_seed_is_a_real_setting_and_cells_that_would_share_a_run_are_refused(tiny_folder, tmp_path):
    """Two entries of one generated world told apart by a label alone would be one run: refused in one line naming
    both, before any work. With `finetune = { seed = 1 }` on one of them they are two fits with two run ids."""
    world = {"name": "reversals", "sizes": {"facts": 4, "articles_per_fact": 1}, "modes": ["ft"]}
    same = config(tiny_folder, worlds=[{**world, "label": "a"}, {**world, "label": "b"}])
    with pytest.raises(IcftError, match=r"^cells a-s0 .* ft and b-s0 .* ft would be the same run") as caught:
        run_study(same, tmp_path / "same", progress=False)
    assert "\n" not in str(caught.value) and not (tmp_path / "same" / "results.db").exists()
    fits = config(tiny_folder, worlds=[{**world, "label": "a", "finetune": {"seed": 0}},
                                       {**world, "label": "b", "finetune": {"seed": 1}}])
    study = Study(fits, tmp_path / "fits")
    first, second = expand_grid(fits)
    assert study.plan(first).finetune.seed == 0 and study.plan(second).finetune.seed == 1
    assert study.plan(first).run_id != study.plan(second).run_id
    plain = config(tiny_folder, seeds=[3])
    assert Study(plain, tmp_path / "p").plan(expand_grid(plain)[2]).finetune.seed == 3  # unset: the world seed
