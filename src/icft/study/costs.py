"""Rough cost of a study cell, for `--dry-run` and the grid's ETA.

Rates were measured with smollm2-135m (fp32) on a 2-core CPU; another model's time is scaled by its measured
`relative_cost` in the registry (1 for a model the registry does not hold), and other machines scale with speed. Tokens are estimated from characters (nonsense words run ~3 characters a token)
so an estimate needs no tokenizer.
"""

from __future__ import annotations

from icft.learn.finetune_config import FinetuneConfig
from icft.learn.modes import mode_spec
from icft.models.registry import relative_cost
from icft.worlds.schema import World

CHARS_PER_TOKEN = 3.0
SCORED_TOKENS_PER_S = 400.0  # continuation tokens scored against a cached context
PREFILL_TOKENS_PER_S = 800.0  # the shared ICL context, computed once
TRAINED_TOKENS_PER_S = 250.0  # forward + backward + AdamW step, full fine-tuning
GENERATED_TOKENS_PER_S = 40.0  # batched greedy generation
AUGMENT_TOKENS_PER_REQUEST = {"local": 60, "global": 150}  # what generation typically uses before a stop
EPOCHS_TO_TARGET = 10  # epochs the default study's fits take to reach their target loss (measured)


def estimate_seconds(world: World, mode: str, config, finetune: FinetuneConfig | None = None,
                     model: str | None = None) -> float:
    """Seconds one cell of `mode` on `world` with `model` (default: the study's first) should take: scoring, plus
    training and augmentation if any. `finetune` is the cell's resolved fine-tuning settings (default: the
    study's for the model, `StudyConfig.finetune_for`)."""
    model = model or config.models[0]
    option_tokens = sum(len(i.prompt + o) for i in world.items for o in i.options) / CHARS_PER_TOKEN
    doc_tokens = sum(len(d.text) for d in world.documents) / CHARS_PER_TOKEN
    seconds = option_tokens / SCORED_TOKENS_PER_S
    spec = mode_spec(mode)
    if spec.context:
        seconds += doc_tokens * config.icl.subsample / PREFILL_TOKENS_PER_S
        seconds += option_tokens * 0.5 / SCORED_TOKENS_PER_S  # attention over the long context
    if spec.finetunes:
        finetune = finetune or config.finetune_for(model)
        epochs = finetune.epochs
        if finetune.target_loss is not None:  # the cap is an upper bound: runs usually stop well before it
            epochs = min(epochs, EPOCHS_TO_TARGET)
        trained = doc_tokens * epochs * len(spec.train_on)  # each augmentation source about as big as the documents
        if finetune.max_steps:
            per_step = (finetune.batch_examples * doc_tokens / max(len(world.documents), 1)
                        if finetune.batch_examples else finetune.batch_tokens)
            trained = min(trained, finetune.max_steps * per_step)
        seconds += trained / TRAINED_TOKENS_PER_S
    for strategy in spec.augmentations:
        requests = world_sentences(world) if strategy == "local" else len(world.documents)
        seconds += requests * AUGMENT_TOKENS_PER_REQUEST[strategy] / GENERATED_TOKENS_PER_S
    return seconds * relative_cost(model)


def world_sentences(world: World) -> int:
    return sum(d.text.count(".") + d.text.count("?") for d in world.documents)
