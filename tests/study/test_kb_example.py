"""The worked example end to end on a tiny random model: examples/kb imported from its folder of documents, a
study with pretrained, ICL, FT and FT-local, and free-form rows in the store, the tables and findings.json."""

import json
import sqlite3
from pathlib import Path

from icft.cli import app
from icft.learn.augment.generators import LocalGenerator
from icft.report import write_report
from icft.study import parse_study_config
from icft.study.grid import run_study
from typer.testing import CliRunner

KB = Path(__file__).parents[2] / "examples" / "kb"
MODES = ["pretrained", "icl", "ft", "ft-local"]


def test_kb_example_from_documents_to_findings(tiny_folder, tmp_path, monkeypatch):
    # a random model writes no usable rephrasing: FT-local trains on a fixed one (the filters still run)
    monkeypatch.setattr(LocalGenerator, "generate", lambda self, prompts, context, settings:
                        ["Imra Qell is the founder of Vostrel."] * len(prompts))
    world = tmp_path / "w" / "kb"
    imported = CliRunner().invoke(app, ["worlds", "import", "--documents", str(KB / "documents"), "--questions",
                                        str(KB / "questions.jsonl"), "--control-split", "recall", "--out", str(world)])
    assert imported.exit_code == 0, imported.output
    config = parse_study_config({
        "name": "kb", "models": [tiny_folder], "modes": MODES, "seeds": [0], "worlds": [{"path": str(world)}],
        "augment": {"generator": "self", "max_new_tokens": 8},
        "finetune": {"epochs": 1, "max_steps": 1, "row_tokens": 128, "batch_tokens": 256, "micro_batch_tokens": 256},
    })
    run_study(config, tmp_path / "study", progress=False)
    db = sqlite3.connect(tmp_path / "study" / "results.db")
    rows = db.execute("SELECT r.mode, i.split, i.prediction, i.f1, i.correct_sum FROM item_results i "
                      "JOIN runs r USING (run_id) WHERE r.status = 'finished'").fetchall()
    assert sorted({mode for mode, *_ in rows}) == sorted(MODES)
    free = [row for row in rows if row[2] is not None]
    assert len(free) == 35 * len(MODES) and all(0.0 <= f1 <= 1.0 for *_, f1, _ in free)
    assert len(rows) - len(free) == 34 * len(MODES)  # the multiple-choice rows keep prediction NULL

    paths = write_report(tmp_path / "study")
    findings = json.loads(paths.findings.read_text())
    cells = {(c["mode"], c["split"]): c for c in findings["cells"] if c["world"] == "kb"}
    assert set(cells) == {(m, s) for m in MODES for s in ("recall", "rephrased", "reversed", "two_hop")}
    for (mode, split), cell in cells.items():
        assert cell["kind"] == "free_form" and cell["n"] == {"recall": 30}.get(split, 13)
        assert cell["exact_match"] == cell["accuracy"] and 0.0 <= cell["f1"] <= 1.0
        assert 0.0 < cell["p_correct"] <= 1.0 and cell["control"] == (split == "recall")
        in_cell = [row for row in rows if row[0] == mode and row[1] == split]
        # a multiple-choice item's F1 is its accuracy, so the cell's F1 pools both kinds
        pooled = sum(r[3] if r[2] is not None else r[4] for r in in_cell) / len(in_cell)
        assert abs(cell["f1"] - pooled) < 1e-9
    summary = paths.markdown.read_text()
    assert "two_hop (exact match)" in summary and "two_hop (F1)" in summary
