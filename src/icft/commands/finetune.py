"""`icft finetune`: one fine-tuning run on a world (documents, split sentences, augmentations), then scoring.

The mode it stores is named by its data, as in a study: ft, ft-split, ft-local, ft-global, ft-local-global; with
`--distill`, ft-distill (the documents' DiSC suffixes) or ft-distill-local (with `--augmented` local files): the model
itself, reading the documents in its context, is the teacher (`icft.learn.distill`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rich.console import Console

from icft.errors import IcftError
from icft.evaluate.runner import evaluate_world, summary_table
from icft.jsonl import read_jsonl
from icft.learn.distill.settings import DistillSettings
from icft.learn.examples import SPLIT_MODES
from icft.learn.finetune import finetune
from icft.learn.finetune.training import mode_examples, training_identity
from icft.models import DEFAULT_MODEL, load
from icft.store import ResultsStore
from icft.study.config import finetune_config
from icft.worlds.io import load_world


def finetune_mode(split: str | None, strategies: set[str], distill: bool = False) -> str:
    if split and strategies:
        raise IcftError("--split-sentences and --augmented do not combine in one mode: pick one")
    if distill:
        if split:
            raise IcftError("--distill reads the documents' own suffixes: drop --split-sentences")
        if strategies - {"local"}:
            raise IcftError("--distill takes local augmentations only (ft-distill-local): drop the global files")
        return "ft-distill-local" if strategies else "ft-distill"
    if split:
        return "ft-split"
    if strategies:
        return "ft-" + "-".join(s for s in ("local", "global") if s in strategies)
    return "ft"


def run_finetune_command(world_dir, model_name: str, out, lora: bool = False, split: str | None = None,
                         augmented=(), epochs=None, learning_rate=None, max_steps=None, seed: int = 0, db=None,
                         device: str | None = None, console: Console | None = None,
                         distill: DistillSettings | None = None):
    """Fine-tune, then (with `db`) score into the store under the run id a study gives the same fine-tuning.
    With `distill`, the fit learns the distribution of the model reading the world's documents in its context (the
    ICL mode's plain context, ordered by `seed`)."""
    console = console or Console()
    if split is not None and split not in SPLIT_MODES:
        raise IcftError(f"--split-sentences must be one of {', '.join(SPLIT_MODES)}, got {split!r}")
    overrides = {k: v for k, v in (("epochs", epochs), ("learning_rate", learning_rate), ("max_steps", max_steps),
                                   ("lora", lora)) if v is not None}
    try:
        config = finetune_config(overrides, seed=seed)
    except ValueError as e:
        raise IcftError(f"fine-tuning option: {e}") from None
    world = load_world(world_dir)
    strategies = set()
    for path in augmented:
        strategies |= {obj.get("strategy") for _, obj in read_jsonl(path)} - {None}
    mode = finetune_mode(split, strategies or ({"local"} if augmented else set()), distill is not None)
    examples = mode_examples(mode, world, split or "independent", augmented)
    model_name = model_name or DEFAULT_MODEL
    loaded = load(model_name, device=device or "auto")
    teacher = None
    if distill is not None:  # the model before it trains, with the documents in its context
        from icft.evaluate.teacher import cached_teacher_targets
        from icft.learn.distill import teacher_contexts

        contexts = teacher_contexts(world, examples, distill.context, loaded.tokenizer, seed)
        teacher = cached_teacher_targets(Path(out) / "teacher", loaded, examples, contexts, distill)
        console.print(f"teacher targets ({distill.context} context) in {teacher.seconds:.0f} s", highlight=False)
    console.print(f"fine-tuning {model_name} on {len(examples)} examples ({mode})")
    result = finetune(loaded, examples, config, out_dir=out, teacher=teacher)
    # the kept weights' epoch loss, not the last step's: a fit whose last epoch diverged ends on its best weights
    console.print(f"{result.steps} steps, final loss {result.final_loss:.3f} ({result.stopping_line()}), "
                  f"{result.seconds:.0f} s; wrote {out}", highlight=False)
    if db is None:
        return None
    files = {"files": [hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] for path in augmented]}
    training = training_identity(mode, config, split or "independent", files if augmented else None,
                                 device or "auto", distill.identity() if distill is not None else None)
    with ResultsStore(db) as store:
        summary = evaluate_world(loaded, world, str(world_dir), mode, store, seed=seed, training=training)
    console.print(summary_table(summary))
    return summary
