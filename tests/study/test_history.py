"""Time estimates from history: the study's own timings, then earlier studies', then the constants."""

import json
import time

import pytest
from rich.progress import Progress

from icft.store import ResultsStore
from icft.study.costs import ICL, SCORE, TRAIN, cell_tokens, constant_rate, estimate_seconds
from icft.study.cells import expand_grid
from icft.study.grid import Study, _EstimatedLeft, run_study
from icft.study.preview import dry_run
from icft.study.history import History, timings_file
from icft.study.transfer import run_transfer_study

from study.test_grid import config
from study.test_transfer import config as transfer_config

DEVICE = "cpu (2 cores)"


def test_each_step_takes_the_nearest_history_then_the_constants(tmp_path, monkeypatch):
    monkeypatch.setenv("ICFT_TIMINGS", str(tmp_path / "timings.jsonl"))
    with ResultsStore(tmp_path / "results.db") as store:
        store.add_timing("m", DEVICE, SCORE, 1000, 2.0)
        store.add_timing("m", "NVIDIA H200 (bfloat16)", TRAIN, 1000, 0.01)  # another device: not this one's
    earlier = [{"model": "m", "device": DEVICE, "step": step, "amount": 100, "seconds": seconds}
               for step, seconds in ((SCORE, 9.0), (ICL, 1.0), (ICL, 3.0))]
    timings_file().write_text("\n".join(json.dumps(t) for t in earlier) + "\nnot json\n")
    history = History(tmp_path / "results.db", DEVICE)
    assert history.rate("m", SCORE) == 0.002  # the study's own timing wins over the earlier studies'
    assert history.rate("m", ICL) == pytest.approx(4.0 / 200)  # the mean speed over the timings
    assert history.rate("m", TRAIN) is None and history.rate("other", SCORE) is None
    assert history.describe() == (
        f"estimated on {DEVICE} from this study's timings (m: score), earlier studies' timings (m: icl), icft's "
        "constants (measured on a 2-core CPU with a 135M model) (m: train; other: score)")


def test_a_study_records_its_timings_and_a_later_dry_run_estimates_from_them(tiny_folder, tmp_path, monkeypatch,
                                                                              capsys):
    monkeypatch.setenv("ICFT_TIMINGS", str(tmp_path / "timings.jsonl"))
    study = Study(config(tiny_folder), tmp_path / "first")
    assert "icft's constants" in (dry_run(study).caption) and "this study" not in dry_run(study).caption
    run_study(config(tiny_folder), tmp_path / "first", progress=False)
    with ResultsStore(tmp_path / "first" / "results.db") as store:
        steps = {step for _, _, step, _, _ in store.timings()}
    assert steps == {SCORE, ICL, TRAIN}
    assert len(timings_file().read_text().splitlines()) == len(store_timings(tmp_path / "first"))

    later = Study(config(tiny_folder), tmp_path / "second")  # a new folder: only the earlier study's timings
    caption = dry_run(later).caption
    assert f"from earlier studies' timings ({tiny_folder}: icl, score, train)" in caption
    assert "constants" not in caption
    cell = next(c for c in expand_grid(later.config) if c.mode == "ft")
    world = later.world(cell.world, cell.seed)
    tokens = cell_tokens(world, "ft", later.config)
    measured = sum(tokens[step] * later.history.rate(cell.model, step) for step in (SCORE, TRAIN))
    assert later.estimate(later.plan(cell)) == pytest.approx(measured)
    assert measured != pytest.approx(estimate_seconds(world, "ft", later.config))  # not the constants


def store_timings(folder):
    with ResultsStore(folder / "results.db") as store:
        return store.timings()


def test_the_eta_counts_down_through_the_running_cell():
    with Progress(_EstimatedLeft(), disable=True) as bar:
        task = bar.add_task("study", total=100.0, completed=40.0, cell_started=time.monotonic() - 10, cell_cost=30.0)
        assert str(_EstimatedLeft().render(bar.tasks[task])) == "ETA ~50 s"
        bar.update(task, cell_started=time.monotonic() - 99)  # a cell past its estimate counts as done, no less
        assert str(_EstimatedLeft().render(bar.tasks[task])) == "ETA ~30 s"


def test_constant_rates_give_the_old_estimate():
    from icft.study.config import parse_study_config
    from icft.worlds import build_world

    world = build_world("reversals", facts=4, articles_per_fact=1)
    study = parse_study_config({"worlds": [{"name": "reversals"}]})
    tokens = cell_tokens(world, "icl", study)
    assert estimate_seconds(world, "icl", study) == pytest.approx(tokens[ICL] * constant_rate(ICL, world, study))


def test_a_transfer_fit_shows_its_steps_and_records_its_speed(tiny_folder, tmp_path, monkeypatch):
    import icft.learn.finetune.loop as finetune_module

    monkeypatch.setenv("ICFT_TIMINGS", str(tmp_path / "timings.jsonl"))
    original, shown = finetune_module.finetune, []

    def spy(*args, progress=True, **kwargs):
        shown.append(progress)
        return original(*args, progress=progress, **kwargs)

    monkeypatch.setattr(finetune_module, "finetune", spy)
    run_transfer_study(transfer_config(tiny_folder), tmp_path / "t", progress=True)
    assert shown and all(shown)  # every fit's progress bar (steps, ETA) is on
    assert {step for _, _, step, _, _ in store_timings(tmp_path / "t")} == {TRAIN}
