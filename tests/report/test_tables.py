"""Tables read back from a hand-made study equal direct SQL over its results.db; unfinished runs are left out."""

import sqlite3

import pytest

from icft.errors import IcftError
from icft.report.grid.results import load_study
from icft.report.grid.tables import compare_table, world_table
from icft.report.page import to_html, to_markdown

ACCURACY = {
    ("reversals", "pretrained", "reversed"): 0.5, ("reversals", "pretrained", "rephrased"): 0.45,
    ("reversals", "icl", "reversed"): 0.85, ("reversals", "icl", "rephrased"): 0.95,
    ("reversals", "ft", "reversed"): 0.55, ("reversals", "ft", "rephrased"): 0.9,
    ("syllogisms", "icl", "syllogism"): 0.6, ("syllogisms", "ft", "syllogism"): 0.3,
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from hand_made_studies import write_study

    folder = write_study(tmp_path_factory.mktemp("study"), ACCURACY, seeds=(0, 1, 2), n_items=23,
                         unfinished=[("reversals", "ft", 2)])
    return load_study(folder)


def sql_accuracy(db, finished_only=True):
    """(world, mode, split) -> mean over seeds of each seed's accuracy, straight from the database."""
    query = ("SELECT r.world_label, r.seed, r.mode, i.split, AVG(i.correct_sum) FROM item_results i "
             "JOIN runs r ON r.run_id = i.run_id " + ("WHERE r.status = 'finished' " if finished_only else "")
             + "GROUP BY r.run_id, i.split")
    per_seed = {}
    for world, seed, mode, split, accuracy in sqlite3.connect(db).execute(query):
        per_seed.setdefault((world, mode, split), []).append(accuracy)
    return {key: sum(v) / len(v) for key, v in per_seed.items()}


def test_accuracies_equal_sql_over_finished_runs(study):
    expected = sql_accuracy(study.folder / "results.db")
    scores = study.scores["tiny-model"]
    assert set(scores.accuracy) == set(expected) == set(ACCURACY)
    for key, estimate in scores.accuracy.items():
        assert estimate.mean == pytest.approx(expected[key], abs=1e-12)
        assert estimate.low <= estimate.mean <= estimate.high
    # the unfinished FT run (seed 2, half its items) would change FT's numbers: it is left out
    with_unfinished = sql_accuracy(study.folder / "results.db", finished_only=False)
    assert with_unfinished[("reversals", "ft", "reversed")] != pytest.approx(expected[("reversals", "ft", "reversed")])
    assert scores.seeds[("reversals", "ft")] == (0, 1) and scores.seeds[("reversals", "icl")] == (0, 1, 2)
    assert scores.get("reversals", "ft", "reversed").n == 2 * 23
    assert len(study.incomplete) == 1
    assert study.incomplete[0].startswith("reversals-s2 · tiny-model · ft: incomplete (23 items stored, started ")
    # the grid is worlds x modes x seeds: syllogisms was never run in the pretrained mode
    assert study.not_run == tuple(f"syllogisms-s{seed} · tiny-model · pretrained: not run" for seed in (0, 1, 2))


def test_world_table_rows_and_cells(study):
    scores = study.scores["tiny-model"]
    expected = sql_accuracy(study.folder / "results.db")
    table = world_table(scores, "reversals")
    assert table.header == ("mode", "reversed", "rephrased", "seeds")
    assert [row[0] for row in table.rows] == ["pretrained", "ICL", "FT", "chance", "n items"]
    by_mode = {row[0]: row for row in table.rows}
    for mode, label in (("pretrained", "pretrained"), ("icl", "ICL"), ("ft", "FT")):
        for column, split in ((1, "reversed"), (2, "rephrased")):
            estimate = scores.get("reversals", mode, split)
            assert by_mode[label][column] == f"{expected[('reversals', mode, split)]:.2f} [{estimate.low:.2f}, " \
                                             f"{estimate.high:.2f}]"
    assert by_mode["FT"][3] == "2" and by_mode["ICL"][3] == "3"
    assert by_mode["chance"][1:3] == ("0.50", "0.50")
    assert by_mode["n items"][1] == "46–69"  # FT has two finished seeds, the others three


def test_tables_render_to_markdown_and_html(study):
    table = world_table(study.scores["tiny-model"], "syllogisms")
    markdown = to_markdown(table)
    lines = markdown.splitlines()
    assert lines[0] == "| mode | syllogism | seeds |" and lines[1] == "|---|--:|--:|"
    assert len(lines) == 2 + len(table.rows)
    page = to_html(table)
    assert page.count("<tr>") == 1 + len(table.rows) and '<th scope="row" class="text">ICL</th>' in page
    assert "0.17" in page  # chance of a 6-way syllogism item


def test_compare_table_gives_both_and_the_difference(tmp_path, study):
    from hand_made_studies import write_study

    better = {key: min(1.0, value + 0.3) if key[1] == "ft" else value for key, value in ACCURACY.items()}
    other = load_study(write_study(tmp_path / "other", better, seeds=(0, 1, 2), n_items=23))
    a, b = study.scores["tiny-model"], other.scores["tiny-model"]
    table = compare_table(a, b, "reversals", "A", "B")
    assert table.header == ("mode", "split", "A", "B", "B − A [95% CI]", "verdict")
    rows = {(r[0], r[1]): r for r in table.rows}
    assert len(rows) == 6
    ft = rows[("FT", "reversed")]
    first, second = a.get("reversals", "ft", "reversed"), b.get("reversals", "ft", "reversed")
    assert ft[4].startswith(f"{second.mean - first.mean:+.2f} [")
    low = float(ft[4].split("[")[1].split(",")[0])
    # MOVER: the difference minus the root of the two half-widths that face each other
    assert low == pytest.approx(second.mean - first.mean - ((second.mean - second.low) ** 2
                                                            + (first.high - first.mean) ** 2) ** 0.5, abs=0.006)
    assert ft[5] == "B higher"
    assert rows[("ICL", "reversed")][4].startswith("+0.00 [") and rows[("ICL", "reversed")][5] == "no difference shown"


def test_grid_cells_without_runs_are_listed(tmp_path):
    from hand_made_studies import write_study

    folder = write_study(tmp_path / "s", {("reversals", "icl", "reversed"): 0.8, ("reversals", "ft", "x"): 0.5},
                         seeds=(0,))
    with sqlite3.connect(folder / "results.db") as db:  # forget the FT run, as if the grid stopped before it
        db.execute("DELETE FROM item_results WHERE run_id IN (SELECT run_id FROM runs WHERE mode = 'ft')")
        db.execute("DELETE FROM runs WHERE mode = 'ft'")
    study = load_study(folder)
    assert study.not_run == ("reversals-s0 · tiny-model · ft: not run",)
    assert study.scores["tiny-model"].modes("reversals") == ["icl"]


def test_missing_files_are_named(tmp_path):
    with pytest.raises(IcftError, match="holds no study.json"):
        load_study(tmp_path)
    from hand_made_studies import write_study

    folder = write_study(tmp_path / "s", {("reversals", "icl", "reversed"): 0.8}, seeds=(0,))
    (folder / "results.db").unlink()
    with pytest.raises(IcftError, match="holds no results.db"):
        load_study(folder)
    assert not (folder / "results.db").exists()  # reading never creates a database


def test_a_fit_stopped_by_recall_says_so_not_its_loss_target():
    from icft.learn.finetune.stopping import describe
    from icft.store import FitRecord

    def _criterion(stats: dict) -> str:
        return describe(FitRecord.from_stats(stats))

    fit = {"target_loss": 0.1, "recall_target": 0.9, "epoch_recalls": [0.5, 0.906], "stopped_by": "recall",
           "criterion_met": True}
    assert _criterion(fit) == "recall 0.91 ≥ 0.9"
    short = {**fit, "epoch_recalls": [0.5, 0.6], "stopped_by": "recall_plateau", "criterion_met": False}
    assert _criterion(short) == "recall plateau, recall 0.60 < 0.9"
    assert _criterion({"target_loss": 0.3, "criterion_met": True}) == "loss ≤ 0.3"
