"""Fine-tuning data of a task (Yang et al. 2024): `ft` and `fticl` differ only in the prompts they train on.

  ft      each training example as prompt -> " output", loss on the output only
  fticl   the same examples, each prompt also holding k demonstrations drawn from the same training subset
          (never the example itself; the test examples are never in the pool), as "FC1"/"FC2" did

Both draw the same `size` examples (a seeded shuffle of the task's train examples), so the two variants are
data-matched: FTICL adds context, not facts. Both feed the one training loop (`icft.learn.finetune`).
"""

from __future__ import annotations

import random

from icft.errors import IcftError
from icft.learn.examples import TrainingExample
from icft.tasks.prompts import answer_text, format_prompt, pick_demonstrations
from icft.tasks.schema import Task, TaskExample

VARIANTS = ("ft", "fticl")


def training_subset(task: Task, size: int, seed: int) -> list[TaskExample]:
    """`size` train examples (all of them when the task has fewer), in a seeded order."""
    if size < 1:
        raise IcftError(f"a training size must be at least 1, got {size}")
    examples = list(task.train)
    random.Random(f"{seed}:subset:{task.key}").shuffle(examples)
    return examples[:size]


def task_training_examples(task: Task, variant: str, size: int, seed: int, demonstrations: int = 1
                           ) -> list[TrainingExample]:
    """The fine-tuning examples of one (task, variant, size, seed)."""
    if variant not in VARIANTS:
        raise IcftError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    subset = training_subset(task, size, seed)
    if variant == "fticl" and len(subset) < 2:
        raise IcftError(f"fticl needs at least 2 training examples of {task.key} (one to learn, one to show)")
    rng = random.Random(f"{seed}:fticl:{task.key}")
    out = []
    for example in subset:
        shown = pick_demonstrations(task, example, demonstrations, rng, pool=subset) if variant == "fticl" else []
        out.append(TrainingExample(prompt=format_prompt(task, example.input, shown),
                                   completion=answer_text(example.output)))
    return out
