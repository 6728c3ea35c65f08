"""The test splits of the semantic world, with hard distractors.

  rephrased         a stated fact in a wording kept out of training ("Grud can be classified as" abme)
  reversed          the converse of a fact stated one way only ("Abme include" grud, "Things that are
                    blick include" grud, "Tover are eaten by" grud)
  syllogism         a membership two or more levels up, or a property or relation inherited from an ancestor
  category_holdout  the same inferences for a holdout category, whose only trained fact is its parent

A distractor holds the item's relation for some other entity of the world (a property of another
category, a child of another category, ...) but provably not for this subject; distractors from the same
tree as the answer are preferred. Items take their candidates round-robin over relations so every kind
of fact is tested.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from icft.worlds.logic import Claim
from icft.worlds.schema import Fact, Item
from icft.worlds.semantic_text import CONVERSES, HELD_OUT_WORDINGS, TRAIN_WORDINGS, option_text, prompt_text

if TYPE_CHECKING:
    from icft.worlds.semantic import Sizes, Taxonomy

SPLITS = ("rephrased", "reversed", "syllogism", "category_holdout")
MAX_DISTRACTORS = 3


@dataclass(frozen=True)
class Candidate:
    group: str  # the claim's relation, for balancing
    claim: Claim
    wordings: tuple[str, ...]
    fact_ids: tuple[str, ...]


def build_items(rng: random.Random, taxonomy: Taxonomy, facts: list[Fact], known: set[Claim],
                sizes: Sizes) -> list[Item]:
    """Up to `sizes.items_per_split` items in each split; `known` is the closure of the stated facts."""
    stated = {f.claim: f for f in facts}
    open_categories = [c for c in taxonomy.categories if c not in taxonomy.holdouts]
    candidates = {
        "rephrased": _rephrased(taxonomy, facts),
        "reversed": _reversed(taxonomy, facts, stated),
        "syllogism": _inherited(taxonomy, stated, open_categories),
        "category_holdout": _inherited(taxonomy, stated, taxonomy.holdouts),
    }
    distractors = _Distractors(taxonomy, known)
    items: list[Item] = []
    for split in SPLITS:
        made = 0
        for candidate in _balanced(rng, candidates[split]):
            if made == sizes.items_per_split:
                break
            item = distractors.item(rng, f"{split}-{made:04d}", split, candidate)
            if item is not None:
                items.append(item)
                made += 1
    return items


def _rephrased(taxonomy: Taxonomy, facts: list[Fact]) -> list[Candidate]:
    return [Candidate(f.relation, f.claim, HELD_OUT_WORDINGS[f.relation], (f.id,))
            for f in facts if f.subject not in taxonomy.holdouts]


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


class _Distractors:
    """Chooses hard distractors: other objects of the same relation that provably do not hold."""

    def __init__(self, taxonomy: Taxonomy, known: set[Claim]):
        self.known = known
        objects: dict[str, set[str]] = {}
        for _, r, o in known:
            objects.setdefault(r, set()).add(o)
        self.objects = {r: sorted(objs) for r, objs in objects.items()}
        owners = taxonomy.owners()
        # the tree an entity belongs to: its root, or for a property its owner's root
        self.tree = {c: taxonomy.root(c) for c in taxonomy.categories}
        self.tree.update({adj: self.tree[owner] for adj, owner in owners.items()})

    def item(self, rng: random.Random, item_id: str, split: str, candidate: Candidate) -> Item | None:
        """The item for `candidate`, or None when no distractor exists."""
        s, r, answer = candidate.claim
        wrong = [d for d in self.objects[r] if d not in (answer, s) and (s, r, d) not in self.known]
        near = [d for d in wrong if self.tree[d] == self.tree[answer]]
        far = [d for d in wrong if self.tree[d] != self.tree[answer]]
        picked = rng.sample(near, min(MAX_DISTRACTORS, len(near)))
        picked += rng.sample(far, min(MAX_DISTRACTORS - len(picked), len(far)))
        if not picked:
            return None
        entities = [answer, *picked]
        rng.shuffle(entities)
        return Item(
            id=item_id,
            split=split,
            prompt=prompt_text(rng.choice(candidate.wordings), s),
            options=tuple(option_text(e) for e in entities),
            answer=entities.index(answer),
            fact_ids=candidate.fact_ids,
            claims=tuple((s, r, e) for e in entities),
        )
