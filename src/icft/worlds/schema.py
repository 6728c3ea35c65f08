"""The data model of a world: facts, train documents and test items.

A world is a folder with three files (see `icft.worlds.io`):
  world.json   name, seed, generator version, sizes, rules and the structured facts
  train.jsonl  one `Document` a line: the text a model learns from
  test.jsonl   one `Item` a line: a multiple-choice question in one split

An item is scored by the log-likelihood of each option as a continuation of the prompt (the options are
never shown in the prompt). A free-form item has no options: `answers` holds its gold answer and the other
accepted wordings (aliases), the model's greedy answer is scored by SQuAD exact match and token F1 against
them, and the answers' log-likelihoods give its continuous score (`icft.evaluate.free_form`).
`answer` is the index of the correct option; `also_correct` lists options that
are equally correct wordings (for example "no glon are yomp" and "no yomp are glon"), so the item still has
one best answer up to wording. `claims` gives each option's logical form so the checker can prove the
correct options follow from the train facts and the distractors do not; worlds imported from a user's own
data have no claims and are checked for structure only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from icft.worlds.logic import Claim, Rules


@dataclass(frozen=True)
class Fact:
    id: str
    subject: str
    relation: str
    object: str

    @property
    def claim(self) -> Claim:
        return (self.subject, self.relation, self.object)


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    fact_ids: tuple[str, ...] = ()  # the facts this document states
    style: str = "plain"  # how it is written: article, list, qa, premises, ...


@dataclass(frozen=True)
class Item:
    id: str
    split: str
    prompt: str
    options: tuple[str, ...]
    answer: int
    also_correct: tuple[int, ...] = ()
    fact_ids: tuple[str, ...] = ()  # the train facts the answer is derived from
    claims: tuple[Claim | None, ...] | None = None  # one per option, or None for imported worlds
    # a free-form item (no options): the gold answer, then its aliases; answer is 0
    answers: tuple[str, ...] = ()

    @property
    def free_form(self) -> bool:
        return not self.options

    @property
    def correct(self) -> frozenset[int]:
        return frozenset((self.answer, *self.also_correct))

    @property
    def chance(self) -> float:
        """Guessing's expected accuracy: 0 for a free-form answer (no options to guess among)."""
        return 0.0 if self.free_form else len(self.correct) / len(self.options)

    @property
    def continuations(self) -> tuple[str, ...]:
        """What is scored as a continuation of the prompt: the options, or a free-form item's answers."""
        return self.answers if self.free_form else self.options


@dataclass
class World:
    name: str
    seed: int
    generator_version: str
    sizes: dict
    documents: list[Document]
    items: list[Item]
    facts: list[Fact] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)
    # the splits that test the trained statements themselves (not a generalization): a fine-tuned model must
    # pass them (the learned check) before it is compared with anything; empty = the world has no such check
    control_splits: tuple[str, ...] = ()
    # (split, baseline) -> why that shortcut cannot be removed from the split (see `icft.worlds.audit`)
    inherent_baselines: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        """Split names in first-appearance order."""
        return list(dict.fromkeys(item.split for item in self.items))

    @property
    def generalization_splits(self) -> list[str]:
        """The splits that are not controls: each needs an inference beyond the trained statements."""
        return [split for split in self.splits if split not in self.control_splits]

    def items_in(self, split: str) -> list[Item]:
        return [item for item in self.items if item.split == split]

    def fact(self, fact_id: str) -> Fact:
        return self._facts_by_id()[fact_id]

    def _facts_by_id(self) -> dict[str, Fact]:
        return {f.id: f for f in self.facts}
