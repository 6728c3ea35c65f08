"""findings.json beside index.html: every case's numbers equal a direct recomputation from results.db; and the
worlds a study saved give fact clusters, p(correct) and option wordings."""

import json
import sqlite3
from collections import defaultdict

import numpy as np
import pytest
from scipy.stats import binom

from icft.report import write_report
from icft.report.grid.results import load_study
from icft.study.config import parse_study_config
from icft.store import CellKey, ItemResult, ResultsStore, RunSpec, world_identity
from icft.worlds import build_world, save_world

CELLS = {("reversals", "pretrained", "reversed"): 0.5, ("reversals", "pretrained", "rephrased"): 0.5,
         ("reversals", "icl", "reversed"): 0.85, ("reversals", "icl", "rephrased"): 0.95,
         ("reversals", "ft", "reversed"): 0.55, ("reversals", "ft", "rephrased"): 0.95,
         ("reversals", "ft-split", "reversed"): 0.6, ("reversals", "ft-split", "rephrased"): 0.95,
         ("reversals", "ft-local", "reversed"): 0.75, ("reversals", "ft-local", "rephrased"): 0.95,
         ("reversals", "ft-global", "reversed"): 0.8, ("reversals", "ft-global", "rephrased"): 0.95}
KEYS = {"finding", "claim", "model", "world", "split", "mode_a", "mode_b", "world_b", "split_b", "train_size", "seeds",
        "n", "b", "c", "diff", "ci_low", "ci_high", "p", "p_holm", "mde", "margin", "verdict", "note",
        "p_correct_diff", "p_correct_ci_low", "p_correct_ci_high", "metric", "accuracy_diff", "accuracy_ci_low",
        "accuracy_ci_high", "accuracy_p", "accuracy_mde", "known_n", "known_diff", "known_ci_low", "known_ci_high",
        "known_p", "fits", "per_fit_diff", "between_fit_var", "between_fit_var_assumed"}


def stored_items(db):
    """(world, mode, split) -> seed -> {item id: correct}, from finished runs, by SQL."""
    query = ("SELECT r.world_label, r.seed, r.mode, i.split, i.item_id, i.correct_sum FROM item_results i "
             "JOIN runs r ON r.run_id = i.run_id WHERE r.status = 'finished'")
    out = defaultdict(lambda: defaultdict(dict))
    for world, seed, mode, split, item, correct in sqlite3.connect(db).execute(query):
        out[(world, mode, split)][seed][item] = correct
    return out


@pytest.mark.parametrize("seeds", [(0,), (0, 1)])
def test_findings_json_equals_a_recomputation_from_the_store(tmp_path, seeds):
    from hand_made_studies import write_study

    folder = write_study(tmp_path / "s", CELLS, seeds=seeds, n_items=30)
    paths = write_report(folder)
    assert paths.findings == folder / "report" / "findings.json"
    record = json.loads(paths.findings.read_text())
    assert (record["alpha"], record["margin"]) == (0.05, 0.15)
    items = stored_items(folder / "results.db")
    cases = [c for f in record["findings"] for c in f["cases"]]
    assert {c["finding"] for c in cases} == {1, 2, 5, 6, 7} and all(set(c) == KEYS for c in cases)
    for case in cases:
        a = items[(case["world"], case["mode_a"], case["split"])]
        if case["mode_b"] is None:  # against chance: the accuracy minus the split's chance
            mean = np.mean([np.mean(list(a[s].values())) for s in a])
            assert case["diff"] == pytest.approx(mean - 0.5) and case["n"] == sum(len(a[s]) for s in a)
            continue
        b = items[(case["world"], case["mode_b"], case["split"])]
        shared = sorted(set(a) & set(b))
        pairs = {s: [(a[s][i], b[s][i]) for i in a[s] if i in b[s]] for s in shared}
        better = sum(x > y for s in shared for x, y in pairs[s])
        worse = sum(x < y for s in shared for x, y in pairs[s])
        n = sum(len(pairs[s]) for s in shared)
        diff = np.mean([np.mean([x - y for x, y in pairs[s]]) for s in shared])
        assert (case["seeds"], case["n"], case["b"], case["c"]) == (len(shared), n, better, worse)
        assert case["diff"] == pytest.approx(diff, abs=1e-12)
        assert case["ci_low"] <= case["diff"] <= case["ci_high"]
        assert case["p_holm"] >= case["p"]
        # every paired case here has a fine-tuned side: each seed is a fit, and the fits' spread counts
        assert case["fits"] == len(shared) and case["between_fit_var"] >= 0
        assert case["per_fit_diff"] == pytest.approx([np.mean([x - y for x, y in pairs[s]]) for s in shared])
        assert case["between_fit_var_assumed"] == (len(shared) == 1)
        if len(seeds) == 1:  # one seed: mid-p McNemar and the MDE of STATS.md, widened by the assumed fit spread
            k, m = min(better, worse), better + worse
            midp = 1.0 if m == 0 else min(1.0, 2 * binom.cdf(k - 1, m, 0.5) + binom.pmf(k, m, 0.5))
            assert case["p"] >= midp - 1e-12
            assert case["mde"] >= max(2.8016 * np.sqrt(m / n / n), 5 / n) - 1e-3
    verdicts = {f["number"]: f["verdict"] for f in record["findings"]}
    assert verdicts[2] == "reproduces"  # ICL 0.85 vs FT 0.55 on the same 30 items
    assert paths.findings.read_bytes() == write_report(folder).findings.read_bytes()  # the same bytes again


def test_saved_worlds_give_clusters_probabilities_and_wordings(tmp_path):
    """A semantic world saved in the study folder: items sharing a fact cluster, p(correct) is the softmax of
    the stored log-likelihoods over the correct options, and the wordings are the options' relations."""
    world = build_world("semantic", seed=0)
    folder = tmp_path / "study"
    save_world(world, folder / "worlds" / "semantic-s0")
    config = parse_study_config({"name": "w", "worlds": [{"name": "semantic"}], "modes": ["pretrained"], "seeds": [0]})
    (folder / "study.json").write_text(json.dumps(config.model_dump(mode="json")))
    rng = np.random.default_rng(0)
    logprobs = {item.id: tuple(rng.normal(-5, 2, len(item.options)).tolist()) for item in world.items}
    with ResultsStore(folder / "results.db") as store:
        run = store.start_run(RunSpec(key=CellKey("semantic", 0, "smollm2-135m", "pretrained"),
                                      world_id=world_identity(world), config={"mode": "pretrained"}))
        rows = []
        for item in world.items:
            chosen = int(np.argmax(logprobs[item.id]))
            rows.append(ItemResult(item.id, item.split, logprobs[item.id], (1,) * len(item.options), chosen, chosen,
                                   chosen in item.correct, chosen in item.correct, item.chance))
        store.add_item_results(run, rows)
        store.finish_run(run)
    scores = load_study(folder).scores["smollm2-135m"]
    syllogism = scores.cell("semantic", "pretrained", "syllogism")[0]
    assert syllogism.clusters is not None and len(set(syllogism.clusters)) < len(syllogism.ids)  # shared facts
    item = next(i for i in world.items if i.id == syllogism.ids[0])
    weights = np.exp(np.array(logprobs[item.id]) - max(logprobs[item.id]))
    assert syllogism.p_correct[0] == pytest.approx(weights[sorted(item.correct)].sum() / weights.sum())
    assert syllogism.wordings[0] == tuple(claim[1] for claim in item.claims)
    assert ("semantic", "pretrained", "syllogism") in scores.probability
    reversed_ = scores.cell("semantic", "pretrained", "reversed")[0]
    assert len(set(reversed_.clusters)) == len(reversed_.ids)  # one fact per item: every item alone


def test_a_world_whose_content_changed_is_not_used(tmp_path):
    from hand_made_studies import write_study

    folder = write_study(tmp_path / "s", {("reversals", "icl", "reversed"): 0.8}, seeds=(0,))
    save_world(build_world("reversals", seed=0), folder / "worlds" / "reversals-s0")  # not the runs' world id
    cell = load_study(folder).scores["tiny-model"].cell("reversals", "icl", "reversed")[0]
    assert cell.clusters is None and cell.p_correct is None and cell.chosen is not None
