"""The best shortcut baseline of each generalization split, as the report draws it beside chance."""

from icft.report.grid.results import best_baselines
from icft.worlds import build_world
from icft.worlds.audit import audit_world


def test_best_baseline_per_generalization_split_is_the_audits_maximum_over_seeds():
    worlds = [build_world("syllogisms", seed=s) for s in (0, 1)]
    best = best_baselines({"syllogisms": worlds})
    assert set(best) == {("syllogisms", s) for s in worlds[0].generalization_splits}  # controls are not drawn
    results = [r for w in worlds for r in audit_world(w)]
    for (_, split), (name, accuracy) in best.items():
        per_baseline = {}
        for r in results:
            if r.split == split:
                per_baseline.setdefault(r.baseline, []).append(r.accuracy)
        means = {b: sum(v) / len(v) for b, v in per_baseline.items()}
        assert accuracy == max(means.values())
        assert means[name.removesuffix(", declared inherent")] == accuracy
    # atmosphere is declared inherent to the main syllogism split, and the page says so
    assert best[("syllogisms", "syllogism")][0].endswith(", declared inherent")
