"""The transfer report on hand-made transfer studies: cells, tags, label rates, findings, and the written page."""

import json
import sys

import numpy as np
import pytest

from icft.errors import IcftError
from icft.report import write_report
from icft.report.verdicts import DOES_NOT_REPRODUCE, NOT_SHOWN, NOT_TESTED, REPRODUCES
from icft.report.page import MISSING
from icft.report.transfer.results import UNMODIFIED, label_rate, load_transfer
from icft.report.transfer.findings import transfer_findings
from icft.report.transfer.page import delta_table, label_rate_table, matrix_table, weight_table
from icft.study.config import parse_study_config
from icft.store import ResultsStore, RunSpec, TaskResult, transfer_key

MODEL, SIZE, N = "tiny-model", 8, 40
LABELS = ["true", "false"]
TASKS = {"judge/reversals": "classification", "judge/semantic": "classification",
         "complete/reversals": "generation", "complete/semantic": "generation"}
JUDGE_ANSWERS = ("true", " False ", "false", "the answer is yes")  # 3 of 4 are labels after strip + lower
MISSING_CELL = ("ft", "judge/semantic", "complete/reversals")  # never run
UNFINISHED_CELL = ("fticl", "complete/reversals", "complete/semantic")  # seed 1 left running


def relation(train, test):
    if train.split("/")[0] == test.split("/")[0]:
        return "in-domain" if train == test else "cross-domain"
    return "cross-task"


def target(variant, train, test):
    """The mean score each cell is built around (see each finding's test for why)."""
    if variant == "base":
        return 0.5 if TASKS[test] == "classification" else 0.4
    rel = relation(train, test)
    if rel == "in-domain":
        return 0.95  # (1) FT beats unmodified; (3) FTICL keeps it
    if TASKS[train] == "classification" and TASKS[test] == "generation":
        return 0.05  # (2) collapse (FTICL alike, so (5) turns on one cell only)
    if (train, test) == ("judge/reversals", "judge/semantic"):
        return 0.3 if variant == "ft" else 0.9  # (5) FTICL above FT on a classification row: not reproduced
    if TASKS[train] == "generation" and rel == "cross-domain":
        return 0.3 if variant == "ft" else 0.7  # (4) FTICL helps generation out of domain
    return 0.5


def scores(kind, mean, seed):
    if kind == "classification":  # 0/1, round(mean * N) correct, spread through the order
        correct = round(mean * N)
        return [float((i * 7 + seed) % N < correct) for i in range(N)]
    return [float(np.clip(mean + (0.05 if (i + seed) % 2 else -0.05), 0, 1)) for i in range(N)]


def write_transfer_study(folder, variants=("ft", "fticl"), seeds=(0, 1), tasks=TASKS, target=target,
                         weight=lambda variant, seed: (2e-3 if variant == "ft" else 1e-3) + 1e-4 * seed,
                         missing=(MISSING_CELL,), unfinished=(UNFINISHED_CELL,),
                         train_score=lambda variant, train, seed: 1.0):
    config = parse_study_config({
        "name": "transfer-hand-made", "kind": "transfer", "models": [MODEL], "seeds": list(seeds),
        "transfer": {"builtin_tasks": ["judge", "complete"], "builtin_domains": ["reversals", "semantic"],
                     "variants": list(variants), "train_sizes": [SIZE]}})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.json").write_text(json.dumps(config.model_dump(mode="json"), indent=1))
    with ResultsStore(folder / "results.db") as store:
        for seed in seeds:
            for test in tasks:
                _run(store, "base", None, test, seed, tasks, target, finish=True)
            for variant in variants:
                for train in tasks:
                    fit_id = f"{variant}-{train}-{seed}"
                    store.add_fit(fit_id, {"model": MODEL, "variant": variant, "train_task": train,
                                           "train_size": SIZE, "seed": seed},
                                  {"steps": 4, "final_loss": 0.5, "seconds": 1.0, "examples": SIZE, "precision": "fp32",
                                   "mean_abs_weight_change": weight(variant, seed),
                                   "train_score": train_score(variant, train, seed)})
                    for test in tasks:
                        if (variant, train, test) not in missing:
                            _run(store, variant, train, test, seed, tasks, target, fit_id,
                                 finish=not (seed == 1 and (variant, train, test) in unfinished))
    return folder


def _run(store, variant, train, test, seed, tasks, target, fit_id=None, finish=True):
    base = variant == "base"
    config = {"kind": "transfer", "test_task": test, "test_kind": tasks[test],
              "labels": LABELS if tasks[test] == "classification" else [], "train_task": train,
              "train_kind": None if base else tasks[train], "relation": None if base else relation(train, test),
              "train_size": None if base else SIZE, "fit_id": fit_id, "eval_shots": 0, "test_examples": N,
              "max_new_tokens": 24}
    run_id = store.start_run(RunSpec(key=transfer_key(test, seed, MODEL, variant), world_id=f"{test}/abc123",
                                     config=config))
    values = scores(tasks[test], target(variant, train, test), seed) if finish else [0.0] * N
    judge_trained = not base and tasks[train] == "classification"
    rows = [TaskResult(example_id=f"{test}-{i:03d}",
                       prediction=(JUDGE_ANSWERS[i % 4] if judge_trained and tasks[test] == "generation"
                                   else LABELS[int(v < 0.5)] if tasks[test] == "classification" else "some text"),
                       score=v, exact=v == 1.0) for i, v in enumerate(values)]
    store.add_task_results(run_id, rows if finish else rows[: N // 2])
    if finish:
        store.finish_run(run_id)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_transfer_study(tmp_path_factory.mktemp("transfer") / "study")


@pytest.fixture(scope="module")
def results(study):
    return load_transfer(study)


@pytest.fixture(scope="module")
def numbers(results):
    return results.scores[(MODEL, SIZE)]


def direct_mean(folder, variant, train, test):
    """Mean over finished seeds of each seed's mean score, read straight from the store."""
    with ResultsStore(folder / "results.db") as store:
        per_seed = [np.mean([r.score for r in store.task_rows(run.run_id)])
                    for run in store.runs(model=MODEL, mode=variant, status="finished")
                    if (run.config["train_task"], run.config["test_task"]) == (train, test)]
    return float(np.mean(per_seed)), len(per_seed)


def test_cells_are_the_means_of_the_stored_rows(study, numbers):
    for test in TASKS:
        cell = numbers.base(test)
        assert (cell.estimate.mean, len(cell.seeds)) == pytest.approx(direct_mean(study, "base", None, test))
        assert cell.estimate.low <= cell.estimate.mean <= cell.estimate.high and cell.relation is None
        for variant in ("ft", "fticl"):
            for train in TASKS:
                if (variant, train, test) == MISSING_CELL:
                    continue
                cell = numbers.get(variant, train, test)
                assert cell.estimate.mean == pytest.approx(direct_mean(study, variant, train, test)[0])
                assert cell.estimate.n == N * len(cell.seeds)


def test_matrix_rows_columns_and_relation_tags(numbers):
    table = matrix_table(numbers, "ft")
    assert table.header == ("trained on", "judge/reversals (accuracy)", "judge/semantic (accuracy)",
                            "complete/reversals (ROUGE-L)", "complete/semantic (ROUGE-L)")
    assert [row[0] for row in table.rows] == [UNMODIFIED, *TASKS]
    assert not any(tag in cell for cell in table.rows[0][1:] for tag in (" ID", " CD", " CT"))
    tags = {"in-domain": "ID", "cross-domain": "CD", "cross-task": "CT"}
    for row in table.rows[1:]:
        for test, cell in zip(TASKS, row[1:]):
            if ("ft", row[0], test) == MISSING_CELL:
                continue
            assert cell.endswith(" " + tags[relation(row[0], test)]), (row[0], test, cell)
            mean = numbers.get("ft", row[0], test).estimate.mean
            assert cell.startswith(f"{mean:.2f} [")
    assert table.rows[1][1].startswith("0.95 [") and table.rows[1][1].endswith(" ID")
    assert table.rows[1][2].endswith(" CD") and table.rows[1][3].endswith(" CT")


def test_a_missing_cell_is_missing_not_zero(numbers):
    assert numbers.get(*MISSING_CELL) is None
    row = next(r for r in matrix_table(numbers, "ft").rows if r[0] == MISSING_CELL[1])
    assert row[3] == MISSING  # complete/reversals column
    delta = next(r for r in delta_table(numbers).rows if r[0] == MISSING_CELL[1])
    assert delta[3] == MISSING


def test_an_unfinished_run_is_not_counted(study, results, numbers):
    cell = numbers.get(*UNFINISHED_CELL)
    assert cell.seeds == (0,) and cell.estimate.n == N  # seed 1 is still running (its rows are all 0)
    assert cell.estimate.mean == pytest.approx(np.mean(scores("generation", 0.7, 0)))
    assert len(results.incomplete) == 1 and "incomplete (20 examples stored" in results.incomplete[0]
    assert any("FT n=8 trained on judge/semantic: not run on complete/reversals s0, complete/reversals s1" in line
               for line in results.not_run)


def test_label_answer_rate(numbers):
    assert label_rate([" True", "FALSE ", "maybe", "true."], ("true", "false")) == 0.5
    for test in ("complete/reversals", "complete/semantic"):
        assert numbers.get("ft", "judge/reversals", test).label_rate == 0.75
    assert numbers.get("ft", "complete/reversals", "complete/semantic").label_rate is None  # generation training
    assert numbers.get("ft", "judge/reversals", "judge/semantic").label_rate == 1.0
    assert numbers.base("complete/semantic").label_rate is None
    table = label_rate_table(numbers, "ft")
    assert table.header == ("trained on", "complete/reversals", "complete/semantic")
    assert table.rows == (("judge/reversals", "75%", "75%"), ("judge/semantic", MISSING, "75%"))


def test_delta_and_weight_tables(numbers):
    delta = {row[0]: row[1:] for row in delta_table(numbers).rows}
    assert delta["judge/reversals"][1] == "+0.60* CD"  # FTICL 0.90 vs FT 0.30, CIs apart
    assert delta["judge/reversals"][0] == "+0.00 ID"
    weights = weight_table(numbers)
    assert weights.header == ("trained on", "mean |Δw| FT", "mean |Δw| FTICL", "FTICL / FT", "final loss FT",
                              "final loss FTICL", "seeds")
    # means over seeds 0 and 1: FT (0.002 + 0.0021) / 2, FTICL (0.001 + 0.0011) / 2
    assert weights.rows[0] == ("judge/reversals", "0.00205", "0.00105", "0.51", "0.500", "0.500", "0, 1")


def verdicts(findings):
    return {f.number: f.verdict for f in findings}


def test_findings_on_the_constructed_numbers(numbers):
    findings = transfer_findings([numbers])
    assert verdicts(findings) == {1: REPRODUCES, 2: REPRODUCES, 3: REPRODUCES, 4: REPRODUCES,
                                  5: DOES_NOT_REPRODUCE, 6: REPRODUCES}
    collapse = findings[1].sentence
    assert "answer with one of their training labels in 75% of generation prompts" in collapse
    assert "output-space specialization" in collapse and "(mean over 3 cells)" in collapse
    assert "FTICL gains significantly over FT in 1 of 5 cross-domain and cross-task cells" in findings[4].sentence
    assert findings[4].details[0].startswith("FTICL 0.90 [")
    assert " vs FT 0.30 [" in findings[4].details[0]
    assert "on n=8 · judge/reversals → judge/semantic (40 items × 2 seeds, discordant " in findings[4].details[0]
    assert findings[4].details[0].endswith(": does not reproduce.")
    gain = findings[4].cases[0]
    assert (gain.a, gain.b, gain.size, gain.diff) == ("fticl", "ft", SIZE, pytest.approx(0.6))
    assert gain.discordant_b == 48 and gain.discordant_c == 0 and gain.p < 0.05
    assert "in 4 of 4 (training task, size) cases" in findings[5].sentence


def test_no_gain_for_classification_and_more_weight_change(tmp_path):
    """FTICL equal to FT on classification rows: (5) reproduces; FTICL moving more: (6) does not."""
    def flat(variant, train, test):
        return 0.5 if (train, test) == ("judge/reversals", "judge/semantic") else target(variant, train, test)

    folder = write_transfer_study(tmp_path / "s", target=flat, missing=(), unfinished=(),
                                  weight=lambda variant, seed: 1e-3 if variant == "ft" else 3e-3)
    findings = transfer_findings([load_transfer(folder).scores[(MODEL, SIZE)]])
    assert verdicts(findings)[5] == REPRODUCES and "bounded below +0.15 (95% upper bound) in 6" in findings[4].sentence
    assert verdicts(findings)[6] == DOES_NOT_REPRODUCE


def test_no_significant_gain_is_not_absence(tmp_path, monkeypatch):
    """FTICL +0.10 above FT in one classification cell, on items that only partly overlap: no cell shows a
    gain, but none can bound it either: (5) is not shown, not "reproduces"."""
    def small_gain(variant, train, test):
        if (train, test) == ("judge/reversals", "judge/semantic"):
            return 0.5 if variant == "ft" else 0.6
        return target(variant, train, test)

    original = scores

    def shifted(kind, mean, seed):  # each mean puts its right answers on other items: noisy pairs
        if kind != "classification":
            return original(kind, mean, seed)
        return [float((i * 7 + seed + round(mean * 100)) % N < round(mean * N)) for i in range(N)]

    monkeypatch.setattr(sys.modules[__name__], "scores", shifted)
    folder = write_transfer_study(tmp_path / "s", target=small_gain, missing=(), unfinished=())
    finding = transfer_findings([load_transfer(folder).scores[(MODEL, SIZE)]])[4]
    assert finding.verdict == NOT_SHOWN
    case = next(c for c in finding.cases if c.split == "judge/semantic" and c.world == "judge/reversals")
    assert case.ci_high >= 0.15 and case.ci_low <= 0 and "cannot be detected here" in case.note


def test_findings_without_fticl_are_not_tested(tmp_path):
    folder = write_transfer_study(tmp_path / "ft-only", variants=("ft",), seeds=(0,), missing=(), unfinished=())
    findings = transfer_findings([load_transfer(folder).scores[(MODEL, SIZE)]])
    assert verdicts(findings) == {1: REPRODUCES, 2: REPRODUCES, 3: NOT_TESTED, 4: NOT_TESTED, 5: NOT_TESTED,
                                  6: NOT_TESTED}
    assert findings[2].sentence.startswith("Not tested: ")


def test_write_report_writes_the_page_and_summary(study):
    paths = write_report(study)
    page, markdown = paths.html.read_text(), paths.markdown.read_text()
    assert paths.html == study / "report" / "index.html" and paths.markdown == study / "report" / "summary.md"
    assert [p.name for p in paths.figures] == ["transfer-n8-ft.png", "transfer-n8-fticl.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths.figures)
    assert page.startswith("<!DOCTYPE html>") and "<title>icft report: transfer-hand-made</title>" in page
    assert page.count('<img src="data:image/png;base64,') == 2
    assert "<h2>Results: 8 training examples (tiny-model)</h2>" in page and "<h3>FTICL − FT</h3>" in page
    assert "<th>judge/semantic (accuracy)</th>" in page and "<th>complete/semantic (ROUGE-L)</th>" in page
    assert "ID = in-domain" in page and "v-no" in page  # a "does not reproduce" badge
    assert "## Results: 8 training examples (tiny-model)" in markdown and "### Weight change" in markdown
    assert "- **precision of the fits' matrix products:** fp32\n" in markdown  # the fits' own, beside the runs'"
    assert "| trained on | judge/reversals (accuracy) | judge/semantic (accuracy) |" in markdown
    numbers = load_transfer(study).scores[(MODEL, SIZE)]
    for row in matrix_table(numbers, "fticl").rows:
        assert "| " + " | ".join(row) + " |" in markdown
    assert "5. **does not reproduce**: FTICL does not improve" in markdown
    assert "incomplete (20 examples stored" in markdown  # the unfinished run is listed in the notes
    before = [p.read_bytes() for p in (paths.html, paths.markdown, *paths.figures)]
    again = write_report(study)  # the same stored results give the same bytes
    assert [p.read_bytes() for p in (again.html, again.markdown, *again.figures)] == before


def test_compare_is_refused_for_transfer_studies(study, tmp_path):
    with pytest.raises(IcftError, match="a comparison reads icl_vs_ft studies only"):
        write_report(study, compare=study)


def test_a_fit_that_did_not_learn_its_training_task_is_marked_and_its_cases_are_invalid(tmp_path):
    """FT on judge/reversals answers its own training examples at chance (it learned the format, not the task)."""
    unlearned = write_transfer_study(tmp_path / "s", seeds=(0,), missing=(), unfinished=(),
                                     train_score=lambda v, train, seed: 0.5 if (v, train) == ("ft", "judge/reversals")
                                     else 1.0)
    (s,) = load_transfer(unlearned).scores.values()
    assert s.weights[("ft", "judge/reversals")].learned is False and s.weights[("fticl", "judge/reversals")].learned
    rows = {row[0] for row in matrix_table(s, "ft").rows}
    assert "judge/reversals (NOT learned: train score 0.50)" in rows and "judge/semantic" in rows
    findings = {f.number: f for f in transfer_findings([s])}
    cases = [c for f in findings.values() for c in f.cases if c.world == "judge/reversals" and "ft" in (c.a, c.b)]
    assert cases and all(c.verdict == "invalid" and "train score 0.50" in c.note for c in cases)
    other = [c for f in findings.values() for c in f.cases if c.world == "judge/semantic" and c.verdict]
    assert other and all(c.verdict != "invalid" for c in other)  # only the unlearned fit's cases
