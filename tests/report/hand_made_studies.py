"""A study folder made by hand: study.json plus a results store filled with items of known correctness.

Its own module, not conftest: several test folders have a conftest, so `from conftest import` found whichever
was imported first."""

import json

from icft.study.config import parse_study_config
from icft.store import CellKey, ItemResult, ResultsStore, RunSpec

CHANCE = {"reversed": 0.5, "rephrased": 0.5, "syllogism": 1 / 6, "reverse_a": 0.25, "reverse_b": 0.25,
          "forward": 0.25}
CONTROLS = {"reversals": ("rephrased",), "semantic": ("stated",), "syllogisms": ("premises",),
            "reversal_curse": ("forward", "reverse_b")}
FIT = {"steps": 12, "epochs": 4, "tokens": 1500, "seconds": 3.0, "final_loss": 0.25, "epoch_losses": [2.0, 0.25],
       "target_loss": 0.3, "stopped_by": "target_loss", "criterion_met": True, "precision": "bf16"}


def write_study(folder, accuracy: dict, seeds=(0, 1), n_items=20, model="tiny-model", name="hand-made",
                unfinished=(), chance=CHANCE):
    """`accuracy` maps (world, mode, split) to a target accuracy; seed s gets round(acc * n) + s correct items.

    `unfinished` lists (world, mode, seed) runs to leave running (half their items stored). Returns the folder.
    """
    worlds = list(dict.fromkeys(w for w, _, _ in accuracy))
    modes = list(dict.fromkeys(m for _, m, _ in accuracy))
    config = parse_study_config({"name": name, "worlds": [{"name": w} for w in worlds], "models": [model],
                                 "modes": modes, "seeds": list(seeds)})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.json").write_text(json.dumps(config.model_dump(mode="json"), indent=1))
    with ResultsStore(folder / "results.db") as store:
        for world in worlds:
            for mode in modes:
                splits = [s for w, m, s in accuracy if (w, m) == (world, mode)]
                for seed in seeds:
                    if splits:
                        _store_run(store, world, mode, seed, model, splits, accuracy, n_items, chance,
                                   finish=(world, mode, seed) not in unfinished)
    return folder


def _store_run(store, world, mode, seed, model, splits, accuracy, n_items, chance, finish):
    spec = RunSpec(key=CellKey(world, seed, model, mode), world_id=f"{world}/seed{seed}/v1/abc",
                   config={"mode": mode, "control_splits": list(CONTROLS.get(world, ()))})
    run_id = store.start_run(spec)
    if mode.startswith("ft"):  # a fine-tuned cell records its fit under its run id, as a study does
        store.add_fit(run_id, {"mode": mode}, FIT)
    rows = []
    for split in splits:
        n_correct = min(n_items, max(0, round(accuracy[(world, mode, split)] * n_items) + seed))
        for i in range(n_items):
            correct = (i * 7 + seed) % n_items < n_correct  # spread the correct items through the order
            rows.append(ItemResult(item_id=f"{split}-{i:03d}", split=split, logprobs=(-1.0, -2.0), n_tokens=(2, 2),
                                   chosen_sum=0, chosen_mean=0, correct_sum=correct, correct_mean=not correct,
                                   chance=chance.get(split, 0.5)))
    if not finish:
        rows = rows[: len(rows) // 2]
    store.add_item_results(run_id, rows)
    if finish:
        store.finish_run(run_id)
