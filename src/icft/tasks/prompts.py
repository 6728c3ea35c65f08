"""How a task example becomes a prompt, with or without demonstrations (the same layout in training and test).

    {instruction}

    Input: {demonstration input}
    Output: {demonstration output}

    Input: {input}
    Output:

The answer follows as " {output}" (a space, then the output): the loss of fine-tuning and the score of a
label are taken on exactly those tokens, and generation stops at the first line break.

Demonstrations come only from the task's `train` examples, never the example itself (by id or by identical
input) and never a test example. In k-shot test prompts of a classification task every label is shown at
least once (k is raised to the number of labels when smaller), as k-shot classification prompts usually are;
FTICL's training prompts hold exactly k (that study's FC1 / FC2).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from icft.tasks.schema import Task, TaskExample

STOP = "\n"  # a generated output ends at its first line break


def format_prompt(task: Task, example_input: str, demonstrations: Sequence[TaskExample] = ()) -> str:
    shots = "".join(f"Input: {d.input}\nOutput: {d.output}\n\n" for d in demonstrations)
    return f"{task.instruction}\n\n{shots}Input: {example_input}\nOutput:"


def answer_text(output: str) -> str:
    """The continuation that is learned or scored after a prompt."""
    return " " + output


def pick_demonstrations(task: Task, example: TaskExample, k: int, rng: random.Random,
                        pool: Sequence[TaskExample] | None = None, cover_labels: bool = False) -> list[TaskExample]:
    """k demonstrations for `example` from `pool` (default: the task's train examples), never `example` itself.

    cover_labels (classification): one demonstration of each label first, then the rest at random.
    """
    if k <= 0:
        return []
    candidates = [d for d in (task.train if pool is None else pool)
                  if d.id != example.id and d.input != example.input]
    chosen: list[TaskExample] = []
    if cover_labels and task.kind == "classification":
        for label in task.labels:
            of_label = [d for d in candidates if d.output == label]
            if of_label:
                chosen.append(rng.choice(of_label))
    rest = [d for d in candidates if d not in chosen]
    chosen += rng.sample(rest, min(max(k - len(chosen), 0), len(rest)))
    rng.shuffle(chosen)
    return chosen
