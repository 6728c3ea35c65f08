"""The built-in task suite: deterministic, disjoint train/test, answers that follow from each example's facts."""

import pytest

from icft.errors import IcftError
from icft.tasks.builtin import DOMAINS, TASK_NAMES, builtin_tasks, domain_tasks, fact_sentences
from icft.worlds import build_world


@pytest.fixture(scope="module")
def suite():
    return {task.key: task for task in builtin_tasks(seed=0)}


def test_every_task_in_every_domain_with_two_kinds_each(suite):
    assert set(suite) == {f"{name}/{domain}" for name in TASK_NAMES for domain in DOMAINS}
    kinds = {name: {suite[f"{name}/{d}"].kind for d in DOMAINS} for name in TASK_NAMES}
    assert kinds == {"judge": {"classification"}, "choose": {"classification"}, "complete": {"generation"},
                     "reverse": {"generation"}}


def test_same_seed_same_tasks_and_another_seed_differs():
    first = builtin_tasks(["reversals"], seed=3)
    assert first == builtin_tasks(["reversals"], seed=3)
    assert first != builtin_tasks(["reversals"], seed=4)


def test_train_and_test_share_no_example_and_no_item(suite):
    for task in suite.values():
        train_items = {e.id.rsplit("-", 1)[0] for e in task.train}
        test_items = {e.id.rsplit("-", 1)[0] for e in task.test}
        assert not train_items & test_items, task.key
        assert not {e.input for e in task.train} & {e.input for e in task.test}, task.key


def test_judge_is_balanced_and_true_statements_are_the_correct_options():
    world = build_world("reversals", seed=0)
    judge = domain_tasks(world, ["judge"], seed=0)[0]
    examples = judge.train + judge.test
    assert sum(e.output == "true" for e in examples) == sum(e.output == "false" for e in examples)
    by_item = {item.id: item for item in world.items}
    for example in examples:
        item = by_item[example.id.rsplit("-", 1)[0]]
        statement = example.input.split("\nStatement: ")[1]
        correct = {f"{item.prompt} {item.options[i].strip()}".rstrip(".") + "." for i in item.correct}  # sentences
        assert (statement in correct) == (example.output == "true")


def test_choose_lists_the_answer_once_under_its_label(suite):
    for domain in DOMAINS:
        for example in suite[f"choose/{domain}"].test:
            lines = example.input.split("\n")[1:]
            assert 2 <= len(lines) <= 4 and lines[ord(example.output) - ord("A")].startswith(f"{example.output}) ")


def test_reverse_outputs_are_converses_of_their_input_fact():
    world = build_world("reversals", seed=0)
    reverse = domain_tasks(world, ["reverse"], seed=0)[0]
    for example in reverse.train + reverse.test:
        subject, _, rest = example.input.partition(" are ")
        obj = rest.split(" than ")[1].rstrip(".")
        assert example.output.startswith(f"{obj} are ") and example.output.endswith(f" than {subject}.")


def test_fact_sentences_drop_the_lead_in():
    world = build_world("reversals", seed=0)
    sentences = fact_sentences(world)
    assert set(sentences) == {fact.id for fact in world.facts}
    for fact in world.facts:
        assert sentences[fact.id].startswith(fact.subject) and fact.object in sentences[fact.id]


def test_unknown_names_are_clear_errors():
    with pytest.raises(IcftError, match="unknown built-in domain 'syllogismz'"):
        builtin_tasks(["syllogismz"])
    with pytest.raises(IcftError, match="unknown built-in task 'summarize'"):
        builtin_tasks(["reversals"], ["summarize"])
