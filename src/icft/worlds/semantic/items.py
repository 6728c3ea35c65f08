"""The test splits of the semantic world, with hard distractors.

  stated            a stated fact in a wording a train document states it in, verbatim ("Grud are a kind of"
                    abme): the control split (the learned check) asks exactly what the documents say
  rephrased         a stated fact in a wording kept out of training ("Grud can be classified as" abme): a
                    paraphrase, which a small model does not get for free from memorizing the documents
  reversed          the converse of a fact stated one way only ("Abme include" grud, "Things that are
                    blick include" grud, "Tover are eaten by" grud)
  syllogism         a membership two or more levels up, or a property or relation inherited from an ancestor
  category_holdout  the same inferences for a holdout category, whose only trained fact is its parent

A distractor is stated in training to hold the item's relation for another subject (a property of another
category, a child of another category, ...) and provably does not hold it for this one; see
`distractors` for how they are chosen so that no shortcut baseline picks the answer. Items take
their candidates round-robin over relations so every kind of fact is tested.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from icft.worlds.baselines import TrainIndex
from icft.worlds.logic import Claim
from icft.worlds.schema import Fact, Item
from icft.worlds.semantic.distractors import Distractors
from icft.worlds.semantic.structure import Sizes, Taxonomy
from icft.worlds.semantic.text import CONVERSES, HELD_OUT_WORDINGS, TRAIN_WORDINGS, option_text, prompt_text

# `stated` is built last so the other splits keep the items they had before it existed
SPLITS = ("rephrased", "reversed", "syllogism", "category_holdout", "stated")
INHERITED = ("syllogism", "category_holdout")  # splits whose answers a subject inherits from an ancestor


@dataclass(frozen=True)
class Candidate:
    group: str  # the claim's relation, for balancing
    claim: Claim
    wordings: tuple[str, ...]
    fact_ids: tuple[str, ...]


def build_items(rng: random.Random, taxonomy: Taxonomy, facts: list[Fact], known: set[Claim], sizes: Sizes,
                index: TrainIndex, inherent: set[tuple[str, str]]) -> list[Item]:
    """Up to `sizes.items_per_split` items in each split; `known` is the closure of the stated facts, `index`
    what the audit reads from the train documents, `inherent` the (split, baseline) shortcuts declared
    unavoidable (not balanced)."""
    stated = {f.claim: f for f in facts}
    open_categories = [c for c in taxonomy.categories if c not in taxonomy.holdouts]
    candidates = {
        "rephrased": _rephrased(taxonomy, facts),
        "reversed": _reversed(taxonomy, facts, stated),
        "syllogism": _inherited(taxonomy, stated, open_categories),
        "category_holdout": _inherited(taxonomy, stated, taxonomy.holdouts),
        "stated": _stated(taxonomy, facts, [d.text for d in index.world.documents]),
    }
    distractors = Distractors(index, known, inherent, INHERITED)
    items: list[Item] = []
    for split in SPLITS:
        made = 0
        for candidate in _balanced(rng, candidates[split]):
            if made == sizes.items_per_split:
                break
            prompt = prompt_text(rng.choice(candidate.wordings), candidate.claim[0])
            item = distractors.item(rng, f"{split}-{made:04d}", split, prompt, candidate.claim, candidate.fact_ids)
            if item is not None:
                items.append(item)
                made += 1
    return items


def _rephrased(taxonomy: Taxonomy, facts: list[Fact]) -> list[Candidate]:
    return [Candidate(f.relation, f.claim, HELD_OUT_WORDINGS[f.relation], (f.id,))
            for f in facts if f.subject not in taxonomy.holdouts]


def _stated(taxonomy: Taxonomy, facts: list[Fact], texts: list[str]) -> list[Candidate]:
    """Each stated fact (of a category not held out) with the training wordings that state it verbatim."""
    out = []
    for f in facts:
        if f.subject in taxonomy.holdouts:
            continue
        used = tuple(w for w in TRAIN_WORDINGS[f.relation]
                     if any(prompt_text(w, f.subject) + option_text(f.object) in text for text in texts))
        if used:  # a fact said only inside a paired or comparison sentence has no verbatim sentence to ask
            out.append(Candidate(f.relation, f.claim, used, (f.id,)))
    return out


def _reversed(taxonomy: Taxonomy, facts: list[Fact], stated: dict[Claim, Fact]) -> list[Candidate]:
    """Converses of forward facts whose converse no document states."""
    out = []
    for f in facts:
        if f.relation not in CONVERSES or f.subject in taxonomy.holdouts:
            continue
        converse = (f.object, CONVERSES[f.relation], f.subject)
        if converse not in stated:
            out.append(Candidate(converse[1], converse, TRAIN_WORDINGS[converse[1]], (f.id,)))
    return out


def _inherited(taxonomy: Taxonomy, stated: dict[Claim, Fact], categories: list[str]) -> list[Candidate]:
    """What `categories` get from their ancestors: memberships 2+ levels up, properties, relations."""
    relations_of: dict[str, list[Claim]] = {}
    for relation in taxonomy.relations:
        relations_of.setdefault(relation[0], []).append(relation)
    out = []
    for c in categories:
        ancestors = taxonomy.ancestors(c)
        for depth, a in enumerate(ancestors, start=1):
            path = [c, *ancestors[:depth]]
            chain = tuple(stated[(x, "is_a", up)].id for x, up in zip(path, path[1:]))
            if depth >= 2:
                out.append(Candidate("is_a", (c, "is_a", a), TRAIN_WORDINGS["is_a"], chain))
            for adj in taxonomy.properties[a]:
                fact = stated[(a, "has_property", adj)]
                out.append(Candidate("has_property", (c, "has_property", adj), TRAIN_WORDINGS["has_property"],
                                     chain + (fact.id,)))
            for _, r, o in relations_of.get(a, []):
                fact = stated[(a, r, o)]
                out.append(Candidate(r, (c, r, o), TRAIN_WORDINGS[r], chain + (fact.id,)))
    return [x for x in out if x.claim not in stated]  # never stated: they must be inferred


def _balanced(rng: random.Random, candidates: list[Candidate]) -> list[Candidate]:
    """All candidates, shuffled within each group, taken one group after another in turn."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.group, []).append(candidate)
    queues = []
    for group in sorted(groups):
        queue = groups[group]
        rng.shuffle(queue)
        queues.append(queue)
    out = []
    while any(queues):
        out.extend(queue.pop() for queue in queues if queue)
    return out
