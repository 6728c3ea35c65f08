"""Comparisons for any world: findings 9-11 planned on an imported world's generalization splits, and the answer
per split (where the knowledge should go) decided from their paired tests."""

import json

import numpy as np

from icft.report.verdicts import INVALID
from icft.store import FitRecord
from icft.evaluate.learned import LearnedCheck, SeedCheck
from icft.evaluate.plan import AT_LEAST, AUGMENTED_VS_FT, AUGMENTED_VS_ICL, GREATER, ICL_VS_FT, NEAR_CHANCE, plan
from icft.report.grid.answer import answer_lines
from icft.report.cases import SeedItems
from icft.report.grid.findings import all_findings
from icft.report.grid.results import scores_from_items
from icft.report.grid.where import CONTEXT, NO_VALID, UNDETECTABLE, WEIGHTS, WEIGHTS_WITH, split_answers

WORLD = "kb"
CONTROL = ("rephrased",)


def right(n_right, n=24):
    return [float(i < n_right) for i in range(n)]


def kb_scores(correct: dict[tuple[str, str], list[float]], control: dict[str, tuple[int, int]] | None = None):
    """An imported world's scores: `correct` maps (mode, split) to 0/1 items; `control` (mode -> correct, n) its
    learned checks on the control split (24/24 by default for every mode given the facts)."""
    items = {(WORLD, mode, split): {0: SeedItems(ids=tuple(f"{split}-{i}" for i in range(len(v))),
                                                 scores=np.array(v))} for (mode, split), v in correct.items()}
    modes = dict.fromkeys(mode for mode, _ in correct)
    fit = FitRecord.from_stats({"stopped_by": "target_loss", "final_loss": 0.29})
    checks = {(WORLD, m): LearnedCheck(WORLD, m, CONTROL, (SeedCheck(0, *(control or {}).get(m, (24, 24)),
                                                                     fit if m.startswith("ft") else None),))
              for m in modes}
    for mode in modes:  # the control split's own items (every mode answers them)
        items[(WORLD, mode, "rephrased")] = {0: SeedItems(ids=tuple(f"r-{i}" for i in range(24)),
                                                          scores=np.array(right(20)))}
    return scores_from_items(items, {(WORLD, s): 0.25 for _, _, s in items}, learned=checks)


def test_plan_covers_every_generalization_split_of_a_world_the_numbered_findings_do_not_name():
    cells = [(WORLD, m, s) for m in ("pretrained", "icl", "ft", "ft-local", "ft-split")
             for s in ("rephrased", "reversed", "two_hop")]
    planned = plan(cells, {WORLD: CONTROL})
    where = {(p.finding, p.claim, p.split, p.a, p.b) for p in planned}
    for split in ("reversed", "two_hop"):
        assert (1, NEAR_CHANCE, split, "pretrained", None) in where
        assert (ICL_VS_FT, GREATER, split, "icl", "ft") in where
        for mode in ("ft-local", "ft-split"):
            assert (AUGMENTED_VS_FT, GREATER, split, mode, "ft") in where
            assert (AUGMENTED_VS_ICL, AT_LEAST, split, mode, "icl") in where
    assert not any(p.split == "rephrased" for p in planned)  # the control split is no generalization split
    assert {p.finding for p in planned} == {1, ICL_VS_FT, AUGMENTED_VS_FT, AUGMENTED_VS_ICL}
    # a built-in world keeps its numbered findings only
    builtin = plan([("reversals", m, "reversed") for m in ("icl", "ft", "ft-local")], {"reversals": ("rephrased",)})
    assert {p.finding for p in builtin} == {2, 5}


def test_icl_that_beats_every_fine_tuned_mode_puts_the_knowledge_in_the_context():
    scores = kb_scores({("icl", "reversed"): right(22), ("ft", "reversed"): right(4),
                        ("ft-local", "reversed"): right(5)})
    findings = all_findings(scores)
    assert [f.number for f in findings][-3:] == [ICL_VS_FT, AUGMENTED_VS_FT, AUGMENTED_VS_ICL]
    [answer] = split_answers(scores, findings)
    assert answer.kind == CONTEXT and answer.mode == "icl" and "ICL beats FT, FT-local" in answer.text
    assert answer_lines(scores, findings)[0].startswith("Where the knowledge should go")


def test_augmented_ft_that_beats_icl_puts_it_in_the_weights_with_that_augmentation():
    scores = kb_scores({("icl", "reversed"): right(6), ("ft", "reversed"): right(5),
                        ("ft-local", "reversed"): right(23), ("ft-split", "reversed"): right(8)})
    [answer] = split_answers(scores, all_findings(scores))
    assert answer.kind == WEIGHTS_WITH and answer.mode == "ft-local" and "FT-local beats ICL by +0.71" in answer.text


def test_plain_ft_that_beats_icl_puts_it_in_the_weights():
    scores = kb_scores({("icl", "reversed"): right(4), ("ft", "reversed"): right(22)})
    [answer] = split_answers(scores, all_findings(scores))
    assert answer.kind == WEIGHTS and answer.mode == "ft"


def test_equal_modes_say_no_difference_is_detectable_with_the_mde():
    scores = kb_scores({("icl", "reversed"): right(12), ("ft", "reversed"): right(12),
                        ("ft-local", "reversed"): right(12)})
    [answer] = split_answers(scores, all_findings(scores))
    assert answer.kind == UNDETECTABLE and answer.mde is not None and f"(MDE {answer.mde[0]:.2f}" in answer.text


def test_a_split_whose_comparisons_are_all_invalid_says_which_side_failed_and_what_to_try():
    scores = kb_scores({("icl", "reversed"): right(12), ("ft", "reversed"): right(6)},
                       control={"ft": (3, 8), "icl": (4, 8)})
    findings = all_findings(scores)
    assert all(c.verdict == INVALID for f in findings if f.number == ICL_VS_FT for c in f.cases)
    [answer] = split_answers(scores, findings)
    assert answer.kind == NO_VALID
    assert "FT did not learn the facts (control 3/8, stopped by target_loss at loss 0.29)" in answer.text
    assert "ICL did not read the facts (control 4/8)" in answer.text
    assert "on augmented data: ft-local" in answer.text and "reads its context" in answer.text


def test_a_failed_fine_tuning_is_left_out_and_said(tmp_path):
    scores = kb_scores({("icl", "reversed"): right(22), ("ft", "reversed"): right(6),
                        ("ft-local", "reversed"): right(4)}, control={"ft": (3, 8)})
    [answer] = split_answers(scores, all_findings(scores))
    assert answer.kind == CONTEXT and "not compared: FT did not learn the facts (control 3/8" in answer.text


def _kb_folder(tmp_path):
    """An imported world (from a small JSONL) saved where a study reads it."""
    from icft.worlds.imported import import_world
    from icft.worlds.io import save_world

    docs, questions = tmp_path / "documents.jsonl", tmp_path / "questions.jsonl"
    docs.write_text("".join(json.dumps({"text": f"Zorp {n} works in room {n + 10}."}) + "\n" for n in range(6)))
    rows = [{"prompt": f"{kind} {n}:", "options": [f"room {n + 10}", f"room {n + 40}"], "answer": 0, "split": kind}
            for kind in ("rephrased", "reversed", "two_hop") for n in range(6)]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    world = import_world(docs, questions, name="kb", control_splits=CONTROL)
    save_world(world, tmp_path / "kb")
    return world, tmp_path / "kb"


def test_a_study_of_an_imported_world_reports_its_paired_cases_and_answers(tmp_path):
    from icft.report import write_report
    from icft.store import CellKey, ItemResult, ResultsStore, RunSpec, world_identity
    from icft.study.config import parse_study_config

    world, path = _kb_folder(tmp_path)
    modes = ["pretrained", "icl", "ft", "ft-local"]
    config = parse_study_config({"name": "kb", "worlds": [{"path": str(path)}], "models": ["tiny"], "modes": modes,
                                 "seeds": [0]})
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text(json.dumps(config.model_dump(mode="json")))
    wrong = {"pretrained": 3, "icl": 0, "ft": 4, "ft-local": 1}  # items answered wrong on each generalization split
    with ResultsStore(study / "results.db") as store:
        for mode in modes:
            run_id = store.start_run(RunSpec(key=CellKey("kb", 0, "tiny", mode), world_id=world_identity(world),
                                             config={"mode": mode, "control_splits": list(CONTROL)}))
            store.add_item_results(run_id, [
                ItemResult(item_id=item.id, split=item.split, logprobs=(-1.0, -2.0), n_tokens=(1, 1), chosen_sum=0,
                           chosen_mean=0, chance=0.5, correct_mean=True,
                           correct_sum=item.split == "rephrased" or int(item.id[-1]) >= wrong[mode])
                for item in world.items])
            store.finish_run(run_id)
    paths = write_report(study)
    record = json.loads(paths.findings.read_text())
    icl_ft = [c for f in record["findings"] if f["number"] == ICL_VS_FT for c in f["cases"]]
    assert {(c["world"], c["split"], c["mode_a"], c["mode_b"]) for c in icl_ft} == {
        ("kb", "reversed", "icl", "ft"), ("kb", "two_hop", "icl", "ft")}
    assert [(a["world"], a["split"]) for a in record["answers"]] == [("kb", "reversed"), ("kb", "two_hop")]
    assert all(a["answer"] in (CONTEXT, WEIGHTS, WEIGHTS_WITH, UNDETECTABLE, NO_VALID) for a in record["answers"])
    summary = paths.markdown.read_text()
    assert "Where the knowledge should go" in summary and "kb/two_hop: " in summary
    assert "Highest accuracy per generalization split" not in summary  # no untested ranking for this world


def test_the_dry_run_plans_and_sizes_an_imported_worlds_comparisons(tmp_path):
    from icft.study.config import parse_study_config
    from icft.study.grid import Study
    from icft.study.preview import planned_table

    _, path = _kb_folder(tmp_path)
    config = parse_study_config({"name": "kb", "worlds": [{"path": str(path)}], "models": ["tiny"],
                                 "modes": ["pretrained", "icl", "ft", "ft-local"], "seeds": [0]})
    table = planned_table(Study(config, tmp_path / "dry"))
    rows = list(zip(*[column._cells for column in table.columns]))
    claims = {row[:5] for row in rows}
    assert (str(ICL_VS_FT), GREATER, "kb/reversed", "ICL", "FT") in claims
    assert (str(AUGMENTED_VS_ICL), AT_LEAST, "kb/two_hop", "FT-local", "ICL") in claims
    assert not any(row[2] == "kb/rephrased" for row in rows)
    assert all(float(row[6]) > 0 for row in rows)
