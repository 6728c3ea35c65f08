"""A distilled mode's teacher at work (`icft.learn.distill`): the unmodified model reads each transfer sequence after
its context, and its top-k distribution at every token the student learns is kept, computed once with the context's
cache reused as the ICL scorer does (`icft.evaluate.scoring.top_k_distributions`), and cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from icft.learn.distill.settings import DISTILL_VERSION, DistillSettings
from icft.learn.distill.teacher import TeacherTargets
from icft.learn.examples import TrainingExample
from icft.learn.icl import IclContext


def teacher_targets(loaded, examples: Sequence[TrainingExample], contexts: Sequence[IclContext],
                    settings: DistillSettings, progress: bool = True) -> TeacherTargets:
    """The teacher (`loaded`, unchanged) reads each example's context, its `teacher_prefix`, then the example;
    its distribution is kept at the tokens the student learns. Examples that share a context share its cache."""
    from tqdm.auto import tqdm

    from icft.evaluate.scoring import top_k_distributions
    from icft.learn.finetune.packing import IGNORE, bos_prefix, tokenize_examples
    from icft.models.tokens import Continuation, text_ids

    tokenizer = loaded.tokenizer
    start = time.perf_counter()
    student = tokenize_examples(examples, tokenizer)
    bos = len(bos_prefix(tokenizer))  # the teacher's BOS starts its context, not the example
    groups: dict[str, list[int]] = {}
    for i, context in enumerate(contexts):
        groups.setdefault(context.context, []).append(i)
    found: dict[int, object] = {}
    bar = tqdm(total=len(examples), desc="teacher", unit="sequence", disable=not progress, leave=False)
    for context, members in groups.items():
        continuations = []
        for i in members:
            extra = text_ids(tokenizer, contexts[i].prompt_prefix + examples[i].teacher_prefix)
            ids = student[i].input_ids[bos:]
            first = next(j for j, label in enumerate(student[i].labels) if label != IGNORE) - bos
            continuations.append(Continuation(ids=tuple(extra) + tuple(ids), start=len(extra) + first))
        for i, top in zip(members, top_k_distributions(loaded, continuations, context, settings.top_k,
                                                       settings.temperature)):
            found[i] = top
        bar.update(len(members))
    bar.close()
    tops = [found[i] for i in range(len(examples))]
    targets = TeacherTargets([t.ids for t in tops], [t.logprobs for t in tops], [t.rest for t in tops],
                             settings.temperature, settings.ce_weight, time.perf_counter() - start)
    targets.check([e.loss_tokens for e in student])
    return targets


def cached_teacher_targets(folder: str | Path, loaded, examples: Sequence[TrainingExample],
                           contexts: Sequence[IclContext], settings: DistillSettings,
                           progress: bool = True) -> TeacherTargets:
    """`teacher_targets`, read from `folder` when the same model, examples, contexts and settings made them
    before (a rerun, another fit seed of the same world); else computed and written there atomically."""
    from safetensors.torch import load_file, save_file

    key = json.dumps({"model": loaded.name, "settings": settings.identity(), "version": DISTILL_VERSION,
                      "sequences": [[c.context, c.prompt_prefix, e.teacher_prefix, e.prompt, e.completion]
                                    for e, c in zip(examples, contexts)]}, sort_keys=True)
    path = Path(folder) / f"teacher-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"
    if path.exists():
        stored = load_file(str(path))
        bounds = stored["lengths"].cumsum(0).tolist()
        cut = lambda t: list(torch.tensor_split(t, bounds[:-1]))  # noqa: E731
        return TeacherTargets(cut(stored["ids"].long()), cut(stored["logprobs"]), cut(stored["rest"]),
                              settings.temperature, settings.ce_weight)
    targets = teacher_targets(loaded, examples, contexts, settings, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    save_file({"ids": torch.cat(targets.ids).int(), "logprobs": torch.cat(targets.logprobs).float(),
               "rest": torch.cat(targets.rest).float(),
               "lengths": torch.tensor([len(r) for r in targets.rest], dtype=torch.long)}, str(partial),
              metadata={"seconds": f"{targets.seconds:.3f}"})
    os.replace(partial, path)
    return targets
