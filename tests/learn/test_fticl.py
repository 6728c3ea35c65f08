"""FTICL data: demonstrations come from the training subset only, never the example itself or a test example."""

import random

import pytest

from icft.errors import IcftError
from icft.evaluate.tasks import task_prompts
from icft.learn.fticl import task_training_examples, training_subset
from icft.tasks.prompts import format_prompt, pick_demonstrations
from icft.tasks.schema import Task, TaskExample


def make_task(kind="classification", n_train=12, n_test=6):
    labels = ("yes", "no", "maybe") if kind == "classification" else ()

    def output(n):
        return labels[n % 3] if labels else f"answer {n}"

    return Task(name="t", domain="d", kind=kind, instruction="Answer.", labels=labels,
                train=tuple(TaskExample(f"tr{n}", f"train input {n}", output(n)) for n in range(n_train)),
                test=tuple(TaskExample(f"te{n}", f"test input {n}", output(n)) for n in range(n_test)))


def shown_inputs(prompt: str) -> list[str]:
    """The inputs of a prompt's demonstrations (every "Input:" but the last, which is the example's own)."""
    return [line.removeprefix("Input: ") for line in prompt.split("\n") if line.startswith("Input: ")][:-1]


@pytest.mark.parametrize("kind", ["classification", "generation"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_fticl_demonstrations_never_show_the_example_or_a_test_example(kind, k):
    task = make_task(kind)
    subset_inputs = {e.input for e in training_subset(task, 8, seed=1)}
    test_inputs = {e.input for e in task.test}
    examples = task_training_examples(task, "fticl", size=8, seed=1, demonstrations=k)
    assert len(examples) == 8
    for example in examples:
        own = example.prompt.split("Input: ")[-1].split("\n")[0]
        shown = shown_inputs(example.prompt)
        assert len(shown) == k  # training prompts hold exactly k (FC1 / FC2), labels covered or not
        assert own not in shown
        assert set(shown) <= subset_inputs and not set(shown) & test_inputs


def test_ft_and_fticl_train_on_the_same_examples_and_answers():
    task = make_task()
    ft = task_training_examples(task, "ft", size=8, seed=0)
    fticl = task_training_examples(task, "fticl", size=8, seed=0, demonstrations=2)
    assert [e.completion for e in ft] == [e.completion for e in fticl]
    assert [e.prompt for e in ft] == [format_prompt(task, e.input) for e in training_subset(task, 8, seed=0)]
    assert all(f.prompt.endswith(p.prompt.removeprefix("Answer.\n\n")) for f, p in zip(fticl, ft))
    assert all(e.completion.startswith(" ") for e in ft)


def test_training_subset_is_seeded_and_capped_by_the_task():
    task = make_task(n_train=12)
    assert training_subset(task, 5, seed=3) == training_subset(task, 5, seed=3)
    assert training_subset(task, 5, seed=3) != training_subset(task, 5, seed=4)
    assert len(training_subset(task, 100, seed=0)) == 12


def test_k_shot_test_prompts_show_every_label_and_no_test_example():
    task = make_task()
    prompts = task_prompts(task, task.test, shots=1, seed=0)
    for prompt, example in zip(prompts, task.test):
        shown = shown_inputs(prompt)
        outputs = [line.removeprefix("Output: ") for line in prompt.split("\n") if line.startswith("Output: ")]
        assert set(outputs) == set(task.labels)  # k=1 raised to one per label
        assert not set(shown) & {e.input for e in task.test}
        assert prompt.endswith(f"Input: {example.input}\nOutput:")
    assert task_prompts(task, task.test, shots=0, seed=0)[0] == "Answer.\n\nInput: test input 0\nOutput:"


def test_demonstrations_skip_a_duplicate_of_the_example():
    task = make_task(kind="generation")
    twin = TaskExample("other-id", task.train[0].input, "x")
    chosen = pick_demonstrations(task, twin, 11, random.Random(0))
    assert task.train[0] not in chosen and len(chosen) == 11


def test_bad_variant_and_size():
    task = make_task()
    with pytest.raises(IcftError, match="unknown variant 'ftx'"):
        task_training_examples(task, "ftx", size=4, seed=0)
    with pytest.raises(IcftError, match="at least 1"):
        task_training_examples(task, "ft", size=0, seed=0)
    with pytest.raises(IcftError, match="at least 2 training examples"):
        task_training_examples(task, "fticl", size=1, seed=0)
