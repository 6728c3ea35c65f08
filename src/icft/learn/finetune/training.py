"""What a fine-tuning mode trains on: its examples, and the identity of the model it makes.

Studies and `icft finetune` both build their data and their run's identity here, so the same fine-tuning gets
the same run id whichever started it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from icft.learn.augment.augment import load_augmented
from icft.learn.examples import TrainingExample, document_examples, document_suffix_examples, sentence_examples
from icft.learn.finetune.config import FinetuneConfig
from icft.learn.modes import mode_spec
from icft.worlds.schema import World


def mode_examples(mode: str, world: World, split: str = "independent",
                  augmented: Sequence[str | Path] = ()) -> list[TrainingExample]:
    """The training examples of `mode`: documents or split sentences, then each augmentation file's texts (the
    model's own or the oracle's)."""
    sources = mode_spec(mode).train_on
    if "sentences" in sources:
        examples = sentence_examples(world, split)
    elif "document-suffixes" in sources:
        examples = document_suffix_examples(world)
    else:
        examples = document_examples(world)
    for path in augmented:
        examples += [TrainingExample(prompt="", completion=text, augmentation=True) for text in load_augmented(path)]
    return examples


def resolved_finetune(finetune: FinetuneConfig, device: str = "auto") -> FinetuneConfig:
    """`finetune` with its precision resolved on `device`: fp32 or bf16, never auto (what the fit runs in and its
    identity hashes; the loop then has nothing left to resolve)."""
    from icft.models.device import resolve_device, resolve_precision

    return dataclasses.replace(finetune, precision=resolve_precision(finetune.precision, resolve_device(device)))


def finetune_identity(finetune: FinetuneConfig, device: str = "auto") -> dict:
    """The fine-tuning settings as a fit's identity hashes them, with the precision `finetune` resolves on `device`
    (fp32 or bf16, never auto: a fit of each is another fit; a precision already resolved is kept). A world
    study's and a transfer study's fits both hash this."""
    if finetune.precision == "auto":
        finetune = resolved_finetune(finetune, device)
    return {**finetune.identity(), "precision": finetune.precision}


def training_identity(mode: str, finetune: FinetuneConfig, split: str = "independent",
                      augment: dict | None = None, device: str = "auto", distill: dict | None = None) -> dict:
    """Everything that determines the model `mode` fine-tunes (hashed into its run id).

    `augment` says where an augmented mode's texts come from (a study's generator settings, or the digests of
    the files `icft finetune` was given); the sentence split counts only for modes that train on sentences.
    The precision is the one `finetune` resolves on `device` (fp32 or bf16, never auto), as its records say.
    A distilled mode's `distill` says what its teacher read and how it is learned (`DistillSettings.identity`,
    with the ICL settings of a corpus context).
    """
    spec = mode_spec(mode)
    out = {"data": list(spec.train_on), "finetune": finetune_identity(finetune, device)}
    if "sentences" in spec.train_on:
        out["split"] = split
    if (spec.augmentations or spec.oracle) and finetune.target_loss is not None:
        out["target_reads"] = "own_text"  # the stopping rule's loss leaves augmentations out
    if finetune.recall_target is not None:
        from icft.learn.finetune.recall import RECALL_VERSION

        out["recall_reads"] = {"probes": "held-out training sentences", "version": RECALL_VERSION}
    if spec.augmentations:  # the scaling curve's budgets are not the generator's settings
        out["augment"] = {k: v for k, v in (augment or {}).items() if k != "per_fact"}
    if spec.oracle:
        from icft.learn.augment.oracle import ORACLE_VERSION

        out["oracle"] = {"per_fact": spec.per_fact, "version": ORACLE_VERSION}
    if spec.distills:
        if distill is None:
            raise ValueError(f"mode {mode} distills: its identity needs the distillation settings")
        out["distill"] = distill
    if "probes" in spec.train_on:
        from icft.learn.distill.probes import MAX_NEW_TOKENS, PROBE_VERSION

        out["probes"] = {"version": PROBE_VERSION, "max_new_tokens": MAX_NEW_TOKENS}
    return out
