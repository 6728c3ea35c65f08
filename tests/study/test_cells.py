"""A cell is planned once: its merged fine-tuning settings, their resolved precision and its run identity are each
worked out once per cell of a study run (`icft.study.cells.CellPlan`)."""

import sys
from collections import Counter

from test_grid import config

import icft.evaluate.runner
import icft.models.device
from icft.study.cells import expand_grid
from icft.study.config import StudyConfig
from icft.study.grid import run_study


def count_calls(monkeypatch, counts: Counter, name: str, original) -> None:
    """Count every call of `original`, whichever icft module's name for it the caller goes through."""

    def counted(*args, **kwargs):
        counts[name] += 1
        return original(*args, **kwargs)

    for module in [m for m in list(sys.modules.values()) if m is not None and m.__name__.startswith("icft")]:
        if getattr(module, original.__name__, None) is original:
            monkeypatch.setattr(module, original.__name__, counted)


def test_a_study_run_plans_each_cell_once(tiny_folder, tmp_path, monkeypatch):
    import icft.learn.finetune.loop  # noqa: F401 (loaded first, so its name for resolve_precision is counted too)
    import icft.learn.finetune.training  # noqa: F401
    import icft.study.cells  # noqa: F401

    study = config(tiny_folder)
    counts = Counter()
    count_calls(monkeypatch, counts, "run_spec", icft.evaluate.runner.run_spec)
    count_calls(monkeypatch, counts, "resolve_precision", icft.models.device.resolve_precision)
    merged = StudyConfig.finetune_for

    def finetune_for(self, *args, **kwargs):
        counts["finetune_for"] += 1
        return merged(self, *args, **kwargs)

    monkeypatch.setattr(StudyConfig, "finetune_for", finetune_for)
    summaries = run_study(study, tmp_path / "s", progress=False)
    cells = expand_grid(study)
    fine_tuned = sum(1 for cell in cells if cell.mode.startswith("ft"))
    assert len(summaries) == len(cells) == 6 and fine_tuned == 3
    assert counts == {"run_spec": len(cells), "finetune_for": fine_tuned, "resolve_precision": fine_tuned}

