"""The built-in task suite: tasks made from the controlled worlds, so a transfer study runs offline.

Each world is a domain (reversals, semantic, reversal_curse), and every domain gets the same four tasks, so
a study has in-domain, cross-domain and cross-task cells. Every example carries the facts it needs in its
input ("Facts: ..."), so a task is learnable from its examples alone, whatever was fine-tuned before:
  judge     classification (true / false): does the statement follow from the facts?
  choose    classification (A-D): which of the listed statements holds? (which relation holds)
  complete  generation: complete the statement from the facts
  reverse   generation: rewrite a fact in reverse (subject and object swapped, the converse relation)

The examples come from the world's test items, whose correct options and distractors the world's checker
proves: a statement is the item's prompt plus an option, and its facts are the sentences of the train
documents that state the item's facts. Items are split into train and test halves by a seeded shuffle of
the sentences stating their facts (examples about the same sentences stay on one side), so the same seed
gives the same tasks.
"""

from __future__ import annotations

import random
import re

from icft.errors import IcftError
from icft.tasks.schema import Task, TaskExample
from icft.text import split_sentences
from icft.worlds import build_world
from icft.worlds.schema import Item, World

TASK_NAMES = ("judge", "choose", "complete", "reverse")
DOMAINS = ("reversals", "semantic", "reversal_curse")
REVERSAL_SPLITS = {"reversals": ("reversed",), "semantic": ("reversed",), "reversal_curse": ("reverse_a", "reverse_b")}
CHOICE_LABELS = ("A", "B", "C", "D")
INSTRUCTIONS = {
    "judge": "Decide whether the statement follows from the facts. Answer true or false.",
    "choose": "Which statement follows from the facts? Answer with its letter.",
    "complete": "Complete the statement so that it follows from the facts.",
    "reverse": "Rewrite the statement in reverse: swap its subject and object and keep its meaning.",
}


def builtin_tasks(domains=DOMAINS, names=TASK_NAMES, seed: int = 0,
                  sizes: dict[str, dict[str, int]] | None = None) -> list[Task]:
    """Every (task, domain) of the suite, domain by domain; `sizes` overrides a domain world's sizes."""
    tasks = []
    for domain in domains:
        if domain not in DOMAINS:
            raise IcftError(f"unknown built-in domain {domain!r}: choose from {', '.join(DOMAINS)}")
        world = build_world(domain, seed=seed, **(sizes or {}).get(domain, {}))
        tasks += domain_tasks(world, names, seed)
    return tasks


def domain_tasks(world: World, names=TASK_NAMES, seed: int = 0) -> list[Task]:
    """The suite's tasks on one world."""
    unknown = [name for name in names if name not in TASK_NAMES]
    if unknown:
        raise IcftError(f"unknown built-in task {unknown[0]!r}: choose from {', '.join(TASK_NAMES)}")
    sentences = fact_sentences(world)
    items = [item for item in world.items if item.fact_ids and all(f in sentences for f in item.fact_ids)]
    # halves by the sentences stating the facts: items about the same facts (a reversal asked two ways, two
    # facts in one sentence) stay on one side
    def premise(item: Item) -> tuple[str, ...]:
        return tuple(sentences[f] for f in item.fact_ids)

    premises = list(dict.fromkeys(premise(item) for item in items))
    random.Random(f"{seed}:{world.name}").shuffle(premises)
    train_premises = set(premises[: len(premises) // 2])
    train_ids = {item.id for item in items if premise(item) in train_premises}
    tasks = []
    for name in names:
        train, test = [], []
        for item in items:
            task_rng = random.Random(f"{seed}:{name}:{item.id}")  # each example's choices, whatever else is built
            facts = " ".join(sentences[f] for f in item.fact_ids)
            (train if item.id in train_ids else test).extend(_EXAMPLES[name](item, facts, task_rng, world.name))
        labels = ("true", "false") if name == "judge" else CHOICE_LABELS if name == "choose" else ()
        kind = "classification" if labels else "generation"
        tasks.append(Task(name=name, domain=world.name, kind=kind, instruction=INSTRUCTIONS[name],
                          train=tuple(train), test=tuple(test), labels=labels))
    return tasks


def fact_sentences(world: World) -> dict[str, str]:
    """fact id -> the first train sentence that names the fact's subject and object, from the first of them.

    Cutting at the first entity drops a lead-in ("Did you know that ..."), so the sentence is the fact alone.
    """
    out: dict[str, str] = {}
    facts = {fact.id: fact for fact in world.facts}
    for document in world.documents:
        for fact_id in document.fact_ids:
            if fact_id in out or fact_id not in facts:
                continue
            subject, obj = facts[fact_id].subject.lower(), facts[fact_id].object.lower()
            # a heading stays joined to its sentence ("Fruli\nFruli are ..."): look at each line of it
            for sentence in (line for s in split_sentences(document.text) for line in s.split("\n")):
                lower = sentence.lower()
                if _mentions(lower, subject) and _mentions(lower, obj):
                    start = min(lower.index(subject), lower.index(obj))
                    out[fact_id] = sentence[start:].rstrip("?!.") + "."
                    break
    return out


def _mentions(text: str, term: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(term)}(?![a-z])", text) is not None


def _statement(item: Item, option: int) -> str:
    return f"{item.prompt.strip()} {_completion(item, option)}"


def _completion(item: Item, option: int) -> str:
    """The option as the end of a sentence: reversals' options stop where the answer stops (no full stop, which
    would be scored against the comparative), but a task's statement is a whole sentence."""
    text = item.options[option].strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _distractors(item: Item) -> list[int]:
    return [i for i in range(len(item.options)) if i not in item.correct]


def _judge(item: Item, facts: str, rng: random.Random, domain: str) -> list[TaskExample]:
    wrong = rng.choice(_distractors(item))
    return [TaskExample(f"{item.id}-{label}", f"Facts: {facts}\nStatement: {_statement(item, option)}", label)
            for option, label in ((item.answer, "true"), (wrong, "false"))]


def _choose(item: Item, facts: str, rng: random.Random, domain: str) -> list[TaskExample]:
    wrong = _distractors(item)
    options = [item.answer, *rng.sample(wrong, min(len(wrong), len(CHOICE_LABELS) - 1))]
    rng.shuffle(options)
    listed = "\n".join(f"{CHOICE_LABELS[n]}) {_statement(item, o)}" for n, o in enumerate(options))
    return [TaskExample(f"{item.id}-choose", f"Facts: {facts}\n{listed}", CHOICE_LABELS[options.index(item.answer)])]


def _complete(item: Item, facts: str, rng: random.Random, domain: str) -> list[TaskExample]:
    return [TaskExample(f"{item.id}-complete", f"Facts: {facts}\nStatement: {item.prompt.strip()}",
                        _completion(item, item.answer))]


def _reverse(item: Item, facts: str, rng: random.Random, domain: str) -> list[TaskExample]:
    if item.split not in REVERSAL_SPLITS.get(domain, ()):
        return []
    fact = facts.split(". ")[0].rstrip(".") + "."  # the item's first fact: the statement reversed
    return [TaskExample(f"{item.id}-reverse", fact, _statement(item, item.answer))]


_EXAMPLES = {"judge": _judge, "choose": _choose, "complete": _complete, "reverse": _reverse}
