"""`icft eval`: score a world folder in one mode into a results file, and print the table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from icft.evaluate.runner import EvalSummary, eval_config, evaluate_world, summary_table
from icft.models import DEFAULT_MODEL, load
from icft.store import ResultsStore
from icft.store.lock import exclusive_use
from icft.worlds.io import load_world


def run_eval_command(world_dir: str | Path, model_name: str, mode: str, db: str | Path, seed: int = 0,
                     subsample: float = 1.0, template: str = "plain", device: str | None = None,
                     console: Console | None = None) -> EvalSummary:
    """`icft eval`: load the world and model, evaluate (resuming), print the table."""
    eval_config(mode, subsample, template)  # bad options fail before the model loads
    world = load_world(world_dir)
    kept = f"the items scored so far are kept in {db}"
    # a bad path fails before the model loads
    with ResultsStore(db) as store, exclusive_use(Path(db), str(db), kept):
        loaded = load(model_name or DEFAULT_MODEL, device=device or "auto")
        summary = evaluate_world(loaded, world, str(Path(world_dir)), mode, store, seed=seed, subsample=subsample,
                                 template=template)
    console = console or Console()
    console.print(summary_table(summary))
    if summary.n_scored == 0:
        console.print(f"run {summary.run_id} was already in {db}: nothing recomputed")
    return summary
