"""How often fits spike and diverge, under the stopping rules before and after the divergence rule, over many fits.

    python benchmarks/fit_stability.py                       # 4 world seeds x (FT, FT-oracle-local) x 3 recipes
    python benchmarks/fit_stability.py --seeds 8 --facts 10 --threads 1

Each fit trains the embedded model (`smollm2-135m`) on a reversals world of `--facts` facts (one article each,
as the default study's worlds), by the default study's recipe (LoRA r16, lr 2e-3 after 2 warmup steps, 8
documents a step, loss target 0.2, 25 epochs at most), on its documents (FT) or its documents plus the oracle's
local augmentations (FT-oracle-local: more and longer fits, as FT-local's, with no generation step). Recipes:
  before      constant rate, no divergence rule (the code before it: a spike is read by the plateau rule)
  restore     constant rate, the divergence rule (`icft.learn.finetune.stopping`: restore the best epoch, half the rate)
  cosine      cosine decay over the 25-epoch cap, the divergence rule
A spike is an epoch whose loss is above the best epoch loss before it by more than DIVERGENCE_FACTOR. For each
recipe the table gives the fits with a spike, the fits that ended on weights whose epoch loss is that far above
their best (scored as if learned before the rule), the fits that met their loss target, and the mean seconds.
The last line printed is:
  fit_stability: before_spiked=<k/n> before_scored_spiked=<k/n> restore_spiked=<k/n> restore_scored_spiked=<k/n>
  cosine_spiked=<k/n> cosine_scored_spiked=<k/n> ...
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

RECIPES = ("before", "restore", "cosine")
MODES = ("ft", "ft-oracle-local")


def spikes(losses: list[float], factor: float) -> list[int]:
    """The epochs (1-based) whose loss is above the best before them by more than `factor`."""
    out, best = [], math.inf
    for n, loss in enumerate(losses, start=1):
        if math.isnan(loss) or (math.isfinite(best) and loss > best * factor):
            out.append(n)
        best = min(best, loss)
    return out


def one_fit(recipe: str, mode: str, seed: int, facts: int) -> dict:
    from icft.learn.finetune import loop
    from icft.learn.augment.oracle import oracle_sentences
    from icft.learn.examples import TrainingExample
    from icft.learn.finetune.stopping import DIVERGENCE_FACTOR
    from icft.learn.finetune.training import mode_examples
    from icft.models import load
    from icft.study.config import load_study_config
    from icft.worlds import build_world

    world = build_world("reversals", seed=seed, facts=facts, articles_per_fact=1, reversed_per_fact=3,
                        rephrasings_per_fact=3)
    examples = mode_examples("ft", world)
    if mode == "ft-oracle-local":
        examples += [TrainingExample("", s.text, augmentation=True) for s in oracle_sentences(world, "oracle-local", seed=seed)[0]]
    config = load_study_config("configs/default.toml")
    settings = config.finetune_for("smollm2-135m", {"target_loss": 0.2,
                                                    "lr_schedule": "cosine" if recipe == "cosine" else "constant"},
                                   seed=seed, save_weights=False)
    if recipe == "before":
        loop.diverged = lambda loss, best: False  # the loop as it was: no epoch is ever called diverged
    result = loop.finetune(load("smollm2-135m"), examples, settings, progress=False)
    found = spikes(result.epoch_losses, DIVERGENCE_FACTOR)
    scored = result.epoch_losses[result.kept_epoch - 1] if result.kept_epoch else math.nan
    best = min(result.epoch_losses)
    return {"recipe": recipe, "mode": mode, "seed": seed, "epochs": result.epochs, "steps": result.steps,
            "seconds": round(result.seconds, 1), "losses": [round(x, 3) for x in result.epoch_losses],
            "spikes": found, "restores": result.restores, "stopped_by": result.stopped_by,
            "met": bool(result.criterion_met), "scored_spiked": scored > best * DIVERGENCE_FACTOR}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--facts", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="a JSONL file for every fit's record")
    parser.add_argument("--one", nargs=3, metavar=("RECIPE", "MODE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.one:  # a worker: one fit in a fresh process (the "before" recipe patches the loop)
        print(json.dumps(one_fit(args.one[0], args.one[1], int(args.one[2]), args.facts)))
        return
    import subprocess

    records = []
    for seed in range(args.seeds):
        for mode in MODES:
            for recipe in RECIPES:
                started = time.perf_counter()
                done = subprocess.run([sys.executable, __file__, "--one", recipe, mode, str(seed), "--facts",
                                       str(args.facts), "--threads", str(args.threads)],
                                      capture_output=True, text=True, check=True)
                record = json.loads(done.stdout.strip().splitlines()[-1])
                records.append(record)
                print(f"{recipe:8} {mode:16} seed {seed}: {record['epochs']:2} epochs, spikes {record['spikes']}, "
                      f"restores {record['restores']}, {record['stopped_by']}, met {record['met']}, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
                if args.out:
                    with open(args.out, "a", encoding="utf-8") as f:
                        f.write(json.dumps(record) + "\n")
    parts = []
    print(f"\n{'recipe':8} {'fits':>4} {'spiked':>6} {'scored spiked':>13} {'met target':>10} {'mean s':>7}")
    for recipe in RECIPES:
        mine = [r for r in records if r["recipe"] == recipe]
        spiked = sum(bool(r["spikes"]) for r in mine)
        scored = sum(r["scored_spiked"] for r in mine)
        met = sum(r["met"] for r in mine)
        print(f"{recipe:8} {len(mine):>4} {spiked:>6} {scored:>13} {met:>10} "
              f"{statistics.mean(r['seconds'] for r in mine):>7.1f}")
        parts += [f"{recipe}_spiked={spiked}/{len(mine)}", f"{recipe}_scored_spiked={scored}/{len(mine)}",
                  f"{recipe}_met={met}/{len(mine)}"]
    print("fit_stability: " + " ".join(parts))


if __name__ == "__main__":
    main()
