"""The augmentation panel on a tiny study: counts, truth, coverage against a direct count, the scaling curve, and
the oracle's modes kept out of the method's results."""

import json
import re

import pytest

from icft.report import write_report
from icft.report.augmentation.ledger import judge_file
from icft.report.grid.results import load_study
from icft.study import parse_study_config
from icft.store import CellKey
from icft.store.layout import augment_file, oracle_augment_file
from icft.study.augmentations import generator_name
from icft.study.grid import Study, run_study
from icft.worlds.reversals import CONVERSES, WORDS

MODES = ["icl", "ft", "ft-local", "ft-oracle-local", "ft-oracle-global"]
FINETUNE = {"epochs": 1, "max_steps": 2, "row_tokens": 128, "batch_tokens": 256, "micro_batch_tokens": 256}


def statement(s, relation, o):
    return f"{s} are {WORDS[relation]} than {o}"


@pytest.fixture(scope="module")
def study(tiny_folder, tmp_path_factory):
    """A tiny study whose own local augmentations are written by hand: two true (one new), one false, one
    unparsed, with the drop counts a generator's sidecar holds."""
    out = tmp_path_factory.mktemp("augmented")
    config = parse_study_config({
        "name": "augmented", "models": [tiny_folder], "modes": MODES, "seeds": [0],
        "worlds": [{"name": "reversals", "sizes": {"facts": 4, "articles_per_fact": 1}}],
        "augment": {"per_fact": [0, 1, 3]}, "finetune": FINETUNE})
    world = Study(config, out).world(config.worlds[0], 0)
    first, second = world.facts[:2]
    texts = [f"It is true that {statement(*first.claim)}.",  # a restatement
             f"So {statement(first.object, CONVERSES[first.relation], first.subject)}.",  # its converse: new
             f"{statement(second.object, second.relation, second.subject)}.",  # false: the reversal gone wrong
             "The weather in the valley is mild."]  # unparsed
    path = augment_file(out, CellKey("reversals", 0, tiny_folder, "ft-local"),
                        generator_name(config.augment, tiny_folder), "local")
    assert path.name.startswith("reversals-s0-")
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps({"text": t, "strategy": "local"}) + "\n" for t in texts))
    counts = {"requests": 4, "sentences": 9, "kept": 4, "no_world_term": 3, "copy_of_input": 2, "empty": 0}
    path.with_name(path.stem + ".summary.json").write_text(json.dumps({"counts": counts}))
    run_study(config, out, progress=False)
    return out, world, write_report(out)


def direct_coverage(path, world):
    """Per item: the sentences of the file whose text contains the item's correct statement, word for word."""
    texts = [" " + " ".join(re.findall(r"[a-z]+", json.loads(line)["text"].lower())) + " "
             for line in path.read_text().splitlines()]
    out = {}
    for item in world.items:
        right = f" {statement(*item.claims[item.answer])} "
        out[item.id] = sum(right in text for text in texts)
    return out


@pytest.mark.parametrize("strategy", ["oracle-local", "oracle-global"])
def test_coverage_matches_a_direct_count(study, strategy):
    out, world, _ = study
    path = oracle_augment_file(out, CellKey("reversals", 0, "m", "ft-" + strategy), strategy)
    ledger = judge_file(path, world, strategy, strategy, 0)
    assert ledger.coverage == direct_coverage(path, world)
    reversed_items = [i.id for i in world.items_in("reversed")]
    assert all(ledger.coverage[i] == 1 for i in reversed_items)  # each converse once, in either strategy
    rephrased = [ledger.coverage[i.id] for i in world.items_in("rephrased")]
    assert rephrased == ([1] * 4 if strategy == "oracle-local" else [0] * 4)  # global writes no restatement


def test_the_generators_file_is_judged_true_false_unparsed_and_new(study, tiny_folder):
    out, world, _ = study
    config = load_study(out).config
    path = augment_file(out, CellKey("reversals", 0, tiny_folder, "ft-local"),
                        generator_name(config.augment, tiny_folder), "local")
    ledger = judge_file(path, world, "local", "self-local", 0)
    assert ledger.verdicts == {"true": 2, "false": 1, "unparsed": 1} and ledger.new == 1
    assert ledger.drops == {"no_world_term": 3, "copy_of_input": 2}
    assert ledger.coverage == direct_coverage(path, world)


def test_the_report_shows_the_panel_the_curve_and_the_ledger(study):
    out, world, paths = study
    markdown = paths.markdown.read_text()
    panel = markdown.split("## Augmentation")[1].split("## Findings")[0]
    assert "never the method's result" in panel
    assert "| self-local | 9 | 4 | no_world_term 3, copy_of_input 2 | 0.50 (2) | 0.25 (1) | 0.25 (1) | 0.25 (1) |" \
        in panel
    assert "| oracle-local | 8 | 8 | none | 1.00 (8) | 0.00 (0) | 0.00 (0) | 0.50 (4) |" in panel
    assert "| oracle-global | reversed | 4/4 | 1.0 |" in panel
    curve = panel.split("sentences per fact |")[1]
    assert [line.split(" | ")[1:3] for line in curve.splitlines()[2:6]] == [
        ["0", "0.00"], ["1", "1.00"], ["each once", "2.00"], ["3", "3.00"]]  # by sentences per fact
    assert "| learned check |" in curve.splitlines()[0]  # a point whose fit did not learn says so
    assert all(line.split(" | ")[-1].rstrip(" |") == "passed" or "did not learn the facts" in line
               for line in curve.splitlines()[2:6])
    assert [p.name for p in paths.figures if "curve" in p.name] == ["augmentation-curve-reversals.png"]
    ledger = json.loads(paths.augmentation.read_text())
    records = next(iter(ledger.values()))["reversals"]
    assert [r["label"] for r in records] == ["self-local", "oracle-local", "oracle-global"]
    item = records[2]["items"][world.items_in("reversed")[0].id]
    assert item["covering_sentences"] == 1 and set(item) == {"split", "covering_sentences", "correct_ft-oracle-global",
                                                             "correct_ft"}


def test_the_scaling_curves_budgets_are_not_bars_of_the_accuracy_figure(study):
    from icft.report.grid.figures import bar_modes
    from icft.report.grid.results import load_study

    scores = next(iter(load_study(study[0]).scores.values()))
    assert {"ft-oracle-local@1", "ft-oracle-local@3"} <= set(scores.modes("reversals"))
    assert "ft-oracle-local" in bar_modes(scores, "reversals")
    assert not [mode for mode in bar_modes(scores, "reversals") if "@" in mode]


def test_the_oracle_is_a_control_not_the_methods_result(study):
    out, _, paths = study
    markdown = paths.markdown.read_text()
    answer = markdown.split("## The answer")[1].split("##")[0]
    assert "oracle" not in answer.split("Learned check")[0]  # never named the best mode
    findings = json.loads(paths.findings.read_text())
    assert "oracle" not in json.dumps(findings["findings"])  # no finding compares a control
    assert any(cell["mode"].startswith("ft-oracle") for cell in findings["cells"])  # its scores are listed
    assert "FT-oracle-local (control)" in markdown.split("### reversals")[1]  # the tables label it


def test_a_strategy_is_credited_to_the_mode_that_trains_on_it():
    from icft.report.augmentation.ledger import strategies_of, trained_mode

    config = parse_study_config({"worlds": [{"name": "semantic"}], "modes": ["ft", "ft-local-global", "ft-oracle-local"],
                                 "augment": {"per_fact": [1]}})
    spec = config.worlds[0]
    assert strategies_of(config, spec) == ["local", "global", "oracle-local"]  # the budget cells are the curve's
    assert trained_mode(config, spec, "local") == trained_mode(config, spec, "global") == "ft-local-global"
    assert trained_mode(config, spec, "oracle-local") == "ft-oracle-local"
