"""Distilled modes in a study: planned against FT and ICL, trained from a cached teacher, learned-checked, and
tested in findings 12-13."""

import json
import re

from icft.report import write_report
from icft.store import ResultsStore
from icft.study import parse_study_config
from icft.study.grid import Study, run_study
from icft.study.preview import planned_table


def config(model, **extra):
    raw = {"name": "d", "models": [model], "modes": ["pretrained", "icl", "ft", "ft-distill", "ft-distill-local", "ft-distill-probes"],
           "seeds": [0, 1],
           "worlds": [{"name": "syllogisms", "sizes": {"examples": 3, "conflicts": 1}}],
           "augment": {"max_new_tokens": 8},
           "finetune": {"epochs": 1, "max_steps": 2, "row_tokens": 128, "batch_tokens": 256,
                        "micro_batch_tokens": 256}}
    return parse_study_config({**raw, **extra})


def test_the_dry_run_plans_distilled_ft_against_ft_and_icl(tiny_folder, tmp_path):
    table = planned_table(Study(config(tiny_folder), tmp_path / "dry"))
    rows = {(r[0], r[1], r[2], r[3], r[4]) for r in zip(*[column._cells for column in table.columns])}
    for mode in ("FT-distill", "FT-distill-local", "FT-distill-probes"):
        assert ("12", "A > B", "syllogisms/syllogism", mode, "FT") in rows
        assert ("13", "A ≥ B", "syllogisms/syllogism", mode, "ICL") in rows
    assert not any(r[0] in ("10", "11") for r in rows)  # distilled modes are not "augmented FT"


class ReversingGenerator:
    """Writes each premise of the prompt's last line backwards ("All a are b." -> "Some b are a."): the tiny model
    writes nothing the filters keep."""

    name = "reversing"

    def generate(self, prompts, context, settings):
        out = []
        for prompt in prompts:
            words = re.findall(r"(All|Some|No) (\w+) are (\w+)\.", prompt)
            out.append(" ".join(f"Some {b} are {a}." for _, a, b in words[-1:]))
        return out


def test_a_study_trains_distilled_cells_from_a_teacher_computed_once(tiny_folder, tmp_path, monkeypatch):
    import icft.learn.augment as augment

    monkeypatch.setattr(augment, "make_generator", lambda *a, **k: ReversingGenerator())
    run_study(config(tiny_folder), tmp_path, progress=False)
    teachers = sorted((tmp_path / "distill").glob("teacher-*.safetensors"))
    assert len(teachers) == 6  # two worlds (seeds) x three transfer sets
    probes = sorted((tmp_path / "augment").glob("*-probes-corpus.jsonl"))
    assert len(probes) == 2 and all(p.read_text() for p in probes)
    with ResultsStore(tmp_path / "results.db") as store:
        fits = {run.mode: store.fit_record(run.run_id) for run in store.runs(status="finished") if run.seed == 0}
        configs = {run.mode: store.fit_config(run.run_id) for run in store.runs(status="finished") if run.seed == 0}
    for mode in ("ft-distill", "ft-distill-local"):
        assert fits[mode].teacher_seconds > 0 and fits[mode].control_n > 0  # the learned check, as FT's
        assert configs[mode]["distill"]["context"] == "corpus" and configs[mode]["distill"]["icl"]["subsample"] == 1
    assert configs["ft-distill"]["data"] == ["document-suffixes"]
    assert "distill" not in configs["ft"]
    # another teacher context is another fit; the cached targets of the first are kept
    other = config(tiny_folder, distill={"context": "relevant"})
    assert Study(other, tmp_path / "b").plan(Study(other, tmp_path / "b").cells[3]).run_id != \
        Study(config(tiny_folder), tmp_path).plan(Study(config(tiny_folder), tmp_path).cells[3]).run_id
    found = json.loads(write_report(tmp_path).findings.read_text())
    numbers = {f["number"] for f in found["findings"]}
    assert {12, 13} <= numbers
    twelve = next(f for f in found["findings"] if f["number"] == 12)
    assert {c["mode_a"] for c in twelve["cases"]} == {"ft-distill", "ft-distill-local", "ft-distill-probes"}
    checks = {c["mode"]: c["learned_check"] for c in found["cells"] if c["split"] == "premises"}
    assert set(checks) >= {"icl", "ft", "ft-distill", "ft-distill-local"}
    # two steps of a random tiny model learn nothing: each case says so rather than compare
    assert checks["ft-distill"] != "passed"
    assert all(c["verdict"] == "invalid" for c in twelve["cases"])


def test_icft_finetune_distills_a_users_world_under_the_run_id_a_study_gives_it(tiny_folder, tmp_path):
    from icft.commands.finetune import run_finetune_command
    from icft.learn.distill import DistillSettings
    from icft.study.cells import expand_grid
    from icft.worlds import build_world, save_world

    world_dir = tmp_path / "syl"
    save_world(build_world("syllogisms", seed=0, examples=3, conflicts=1), world_dir)
    study = Study(parse_study_config({"models": [tiny_folder], "modes": ["ft-distill"], "seeds": [0],
                                      "worlds": [{"path": str(world_dir)}], "finetune": {"max_steps": 1}}),
                  tmp_path / "study")
    [cell] = expand_grid(study.config)
    summary = run_finetune_command(world_dir, tiny_folder, tmp_path / "ft", max_steps=1, seed=0, db=tmp_path / "r.db",
                                   distill=DistillSettings())
    assert summary.mode == "ft-distill" and summary.run_id == study.plan(cell).run_id
    assert len(list((tmp_path / "ft" / "teacher").glob("teacher-*.safetensors"))) == 1


def test_cli_distill_options_out_of_range_are_one_line_errors(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "icft.cli", "finetune", "--world", str(tmp_path), "--out",
                          str(tmp_path / "o"), "--distill", "--teacher-context", "all"], capture_output=True, text=True)
    assert run.returncode == 2 and "context must be one of corpus, relevant" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_distilled_mode_of_icft_finetune_is_named_by_its_transfer_set():
    import pytest

    from icft.commands.finetune import finetune_mode
    from icft.errors import IcftError

    assert finetune_mode(None, set(), distill=True) == "ft-distill"
    assert finetune_mode(None, {"local"}, distill=True) == "ft-distill-local"
    with pytest.raises(IcftError, match="local augmentations only"):
        finetune_mode(None, {"local", "global"}, distill=True)
    with pytest.raises(IcftError, match="drop --split-sentences"):
        finetune_mode("independent", set(), distill=True)


def test_a_worlds_own_distill_keys_override_the_studys_and_make_another_fit(tiny_folder, tmp_path):
    import pytest

    from icft.errors import IcftError

    plain, mixed = (Study(config(tiny_folder, worlds=[{"name": "syllogisms", "sizes": {"examples": 3, "conflicts": 1},
                                                       "distill": extra}]), tmp_path / str(n))
                    for n, extra in enumerate(({}, {"ce_weight": 1.0})))
    cell = next(c for c in plain.cells if c.mode == "ft-distill")
    assert plain.plan(cell).training["distill"]["ce_weight"] == 0.0
    other = next(c for c in mixed.cells if c.mode == "ft-distill")
    assert mixed.plan(other).training["distill"]["ce_weight"] == 1.0
    assert plain.plan(cell).run_id != mixed.plan(other).run_id
    with pytest.raises(IcftError, match="unknown key 'cew'"):
        config(tiny_folder, worlds=[{"name": "syllogisms", "distill": {"cew": 1}}])
