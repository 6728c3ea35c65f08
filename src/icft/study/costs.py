"""What a study cell costs, for `--dry-run` and the grid's ETA: the tokens each step works through, times the
seconds per token that step took before (`icft.study.history`), or the constants below when there is no history.

The constants were measured with smollm2-135m (fp32) on a 2-core CPU; another model's constants are scaled by its
measured `relative_cost` in the registry (1 for a model the registry does not hold), and other machines scale with
speed. Tokens are estimated from characters (nonsense words run ~3 characters a token)
so an estimate needs no tokenizer; a speed from history is per estimated token too (training's per trained token,
which the fit counts), so it corrects the estimate of characters per token as well.
"""

from __future__ import annotations

from collections.abc import Callable

from icft.learn.finetune.config import FinetuneConfig
from icft.models.registry import relative_cost
from icft.learn.modes import mode_spec
from icft.worlds.schema import World

CHARS_PER_TOKEN = 3.0
SCORED_TOKENS_PER_S = 400.0  # continuation tokens scored against a cached context
PREFILL_TOKENS_PER_S = 800.0  # the shared ICL context, computed once
TRAINED_TOKENS_PER_S = 250.0  # forward + backward + AdamW step, full fine-tuning
GENERATED_TOKENS_PER_S = 40.0  # batched greedy generation
AUGMENT_TOKENS_PER_REQUEST = {"local": 60, "global": 150}  # what generation typically uses before a stop
EPOCHS_TO_TARGET = 10  # epochs the default study's fits take to reach their target loss (measured)
ICL_ATTENTION = 0.5  # each option token also attends over the long context: half again its cost

# the steps of a cell: scoring without a context (pretrained, fine-tuned), scoring with the ICL context (its
# prefill included), fine-tuning, the augmentations' generation, and a distilled mode's teacher (a whole
# vocabulary's top-k at each transfer token: about a scored token's cost)
SCORE, ICL, TRAIN, GENERATE, TEACHER = "score", "icl", "train", "generate", "teacher"


def cell_tokens(world: World, mode: str, config, finetune: FinetuneConfig | None = None,
                model: str | None = None) -> dict[str, float]:
    """The tokens each step of a cell of `mode` on `world` works through, by step. `finetune` is the cell's
    resolved fine-tuning settings (default: the study's for `model`, `StudyConfig.finetune_for`)."""
    option_tokens, doc_tokens = _option_tokens(world), _doc_tokens(world)
    spec = mode_spec(mode)
    tokens = {ICL: option_tokens + doc_tokens * config.icl.subsample} if spec.context else {SCORE: option_tokens}
    if spec.finetunes:
        finetune = finetune or config.finetune_for(model or config.models[0])
        epochs = finetune.epochs
        if finetune.target_loss is not None:  # the cap is an upper bound: runs usually stop well before it
            epochs = min(epochs, EPOCHS_TO_TARGET)
        # each augmentation source about as big as the documents; the DiSC suffixes as long as they are
        trained = sum(_source_tokens(world, source) for source in spec.train_on) * epochs
        if finetune.max_steps:
            per_step = (finetune.batch_examples * doc_tokens / max(len(world.documents), 1)
                        if finetune.batch_examples else finetune.batch_tokens)
            trained = min(trained, finetune.max_steps * per_step)
        tokens[TRAIN] = trained
    if spec.distills:  # the teacher reads its context once, then scores every transfer token
        tokens[TEACHER] = doc_tokens + sum(_source_tokens(world, source) for source in spec.train_on)
    generated = sum((world_sentences(world) if strategy == "local" else len(world.documents))
                    * AUGMENT_TOKENS_PER_REQUEST[strategy] for strategy in spec.augmentations)
    if generated:
        tokens[GENERATE] = generated
    return tokens


def constant_rate(step: str, world: World, config) -> float:
    """Seconds per token of `step` from the constants (ICL's depends on the share of context in its tokens)."""
    if step == ICL:
        option_tokens, context = _option_tokens(world), _doc_tokens(world) * config.icl.subsample
        seconds = context / PREFILL_TOKENS_PER_S + option_tokens * (1 + ICL_ATTENTION) / SCORED_TOKENS_PER_S
        return seconds / max(option_tokens + context, 1.0)
    return 1 / {SCORE: SCORED_TOKENS_PER_S, TRAIN: TRAINED_TOKENS_PER_S, GENERATE: GENERATED_TOKENS_PER_S,
                TEACHER: SCORED_TOKENS_PER_S}[step]


def estimate_seconds(world: World, mode: str, config, finetune: FinetuneConfig | None = None,
                     model: str | None = None, rate: Callable[[str], float | None] | None = None) -> float:
    """Seconds one cell of `mode` on `world` with `model` (default: the study's first) should take: scoring, plus
    training and augmentation if any.

    `rate(step)` is a measured speed of this model (seconds per token) or None; without one a step takes the
    constants', scaled by the model's `relative_cost`."""
    model = model or config.models[0]
    measured = (rate or (lambda step: None))
    return sum(tokens * (measured(step) or constant_rate(step, world, config) * relative_cost(model))
               for step, tokens in cell_tokens(world, mode, config, finetune, model).items())


def world_sentences(world: World) -> int:
    return sum(d.text.count(".") + d.text.count("?") for d in world.documents)


def _option_tokens(world: World) -> float:
    return sum(len(i.prompt + o) for i in world.items for o in i.continuations) / CHARS_PER_TOKEN


def _source_tokens(world: World, source: str) -> float:
    """Tokens of one training source: the documents' DiSC suffixes (`document_suffix_examples`), or about the
    documents' size (the documents, their sentences, an augmentation source)."""
    if source != "document-suffixes":
        return _doc_tokens(world)
    from icft.text import sentence_spans

    return sum(len(d.text) - start for d in world.documents for start, _ in sentence_spans(d.text)) / CHARS_PER_TOKEN


def _doc_tokens(world: World) -> float:
    return sum(len(d.text) for d in world.documents) / CHARS_PER_TOKEN
