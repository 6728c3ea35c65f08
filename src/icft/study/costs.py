"""Rough cost of a study cell, for `--dry-run` and the grid's ETA.

Rates were measured with smollm2-135m (fp32) on a 2-core CPU; other models and machines scale roughly with
parameter count and speed. Tokens are estimated from characters (nonsense words run ~3 characters a token)
so an estimate needs no tokenizer.
"""

from __future__ import annotations

from icft.learn.modes import MODES
from icft.worlds.schema import World

CHARS_PER_TOKEN = 3.0
SCORED_TOKENS_PER_S = 400.0  # continuation tokens scored against a cached context
PREFILL_TOKENS_PER_S = 800.0  # the shared ICL context, computed once
TRAINED_TOKENS_PER_S = 250.0  # forward + backward + AdamW step, full fine-tuning
GENERATED_TOKENS_PER_S = 40.0  # batched greedy generation
AUGMENT_TOKENS_PER_REQUEST = {"local": 60, "global": 150}  # what generation typically uses before a stop
DEFAULT_EPOCHS = 3


def estimate_seconds(world: World, mode: str, config) -> float:
    """Seconds one cell of `mode` on `world` should take: scoring, plus training and augmentation if any."""
    option_tokens = sum(len(i.prompt + o) for i in world.items for o in i.options) / CHARS_PER_TOKEN
    doc_tokens = sum(len(d.text) for d in world.documents) / CHARS_PER_TOKEN
    seconds = option_tokens / SCORED_TOKENS_PER_S
    spec = MODES[mode]
    if spec.context:
        seconds += doc_tokens * config.icl.subsample / PREFILL_TOKENS_PER_S
        seconds += option_tokens * 0.5 / SCORED_TOKENS_PER_S  # attention over the long context
    if spec.finetunes:
        epochs = config.finetune.get("epochs", DEFAULT_EPOCHS)
        trained = doc_tokens * epochs * (1 + len(spec.augmentations))
        max_steps = config.finetune.get("max_steps")
        if max_steps:
            trained = min(trained, max_steps * config.finetune.get("batch_tokens", 4096))
        seconds += trained / TRAINED_TOKENS_PER_S
    for strategy in spec.augmentations:
        requests = world_sentences(world) if strategy == "local" else len(world.documents)
        seconds += requests * AUGMENT_TOKENS_PER_REQUEST[strategy] / GENERATED_TOKENS_PER_S
    return seconds


def world_sentences(world: World) -> int:
    return sum(d.text.count(".") + d.text.count("?") for d in world.documents)
