"""The semantic world's generator: the taxonomy, its direct facts, then documents (`docs`) and items (`items`)."""

from __future__ import annotations

import random
from dataclasses import asdict

from icft.errors import IcftError
from icft.worlds.audit import ORDER_FREE_BASELINES, order_free_association
from icft.worlds.baselines import TrainIndex
from icft.worlds.logic import Claim, Rules, closure
from icft.worlds.schema import Fact, World
from icft.worlds.semantic.docs import plan_documents
from icft.worlds.semantic.items import build_items
from icft.worlds.semantic.structure import MAX_BRANCHING, Sizes, Taxonomy
from icft.worlds.semantic.text import CONVERSES, RELATIONS
from icft.worlds.vocabulary import NonceVocabulary

GENERATOR_VERSION = "3"
NAME = "semantic"
# trained facts in the very sentences that state them: the learned check (`rephrased`, in held-out wordings, is a
# paraphrase that a 135M model does not make from memorized documents: 0.58-0.71 at a training loss of 0.13-0.15)
CONTROL_SPLITS = ("stated",)
INHERENT_BASELINES = {
    **order_free_association("reversed"),
    # a rephrasing asks a trained fact in other words: its answer shares the trained sentence with the subject
    **{("rephrased", baseline): "a rephrasing asks a trained fact in new words: the answer was trained in the "
                                "same sentence as the subject, so co-occurrence is inherent to any paraphrase test"
       for baseline in ORDER_FREE_BASELINES},
}
RULES = Rules(
    converses={**CONVERSES, **{v: k for k, v in CONVERSES.items()}},
    compositions=(
        ("is_a", "is_a", "is_a"),
        ("is_a", "has_property", "has_property"),  # subtypes inherit properties
        ("is_a", "eats", "eats"),  # subtypes inherit what they eat
        ("eats", "includes", "eats"),  # eating a category means eating its subtypes
        ("is_a", "fears", "fears"),
        ("fears", "includes", "fears"),
    ),
)


def build(seed: int, sizes: Sizes) -> World:
    """Generate the world for `seed`: the same seed and sizes give the same world."""
    rng = random.Random(seed)
    taxonomy = _taxonomy(rng, sizes)
    facts = _facts(rng, taxonomy)
    documents = plan_documents(rng, taxonomy, facts, sizes)
    world = World(name=NAME, seed=seed, generator_version=GENERATOR_VERSION, sizes=asdict(sizes),
                  documents=documents, items=[], facts=facts, rules=RULES,
                  control_splits=CONTROL_SPLITS, inherent_baselines=INHERENT_BASELINES)
    known = closure({f.claim for f in facts}, RULES)
    world.items = build_items(rng, taxonomy, facts, known, sizes, TrainIndex(world), set(INHERENT_BASELINES))
    return world


def _taxonomy(rng: random.Random, sizes: Sizes) -> Taxonomy:
    vocabulary = NonceVocabulary(rng, NAME)
    names = vocabulary.draw(sizes.categories)
    parent = _grow_trees(rng, names, sizes.roots, sizes.levels)
    children = {c: [x for x in names if parent[x] == c] for c in names}
    taxonomy = Taxonomy(names, parent, children, {}, [], [])
    counts = {c: rng.randint(1, sizes.max_properties) for c in names}
    taxonomy.holdouts = _pick_holdouts(rng, taxonomy, sizes.holdouts, counts)
    counts.update({c: 0 for c in taxonomy.holdouts})  # a holdout is known only through its parent
    adjectives = iter(vocabulary.draw(sum(counts.values())))
    taxonomy.properties = {c: [next(adjectives) for _ in range(counts[c])] for c in names}
    taxonomy.relations = _relations(rng, taxonomy, sizes.relations)
    return taxonomy


def _grow_trees(rng: random.Random, names: list[str], roots: int, levels: int) -> dict[str, str | None]:
    """Parents for `names`: the first `roots` are roots; every parent gets 2-4 children, depth < levels.

    The trees are balanced: the roots share the categories evenly, and so, as far as they can, do the
    children of every parent, so that every ancestor has peers as general as itself (other categories of
    its depth with as many subtypes) to serve as distractors."""
    parent: dict[str, str | None] = {name: None for name in names[:roots]}
    remaining = list(reversed(names[roots:]))

    def grow(node: str, budget: int, below: int) -> None:
        """Give `node` `budget` descendants within `below` levels."""
        if budget == 0:
            return
        k, shares = _split(rng, budget, below)
        children = [remaining.pop() for _ in range(k)]
        for child in children:
            parent[child] = node
        for child, share in zip(children, shares):
            grow(child, share, below - 1)

    for root, budget in zip(names[:roots], _even_shares(rng, len(remaining), roots)):
        grow(root, budget, levels - 1)
    return parent


def _capacity(levels: int) -> int:
    """The most descendants a category can have within `levels` levels below it."""
    return sum(MAX_BRANCHING**level for level in range(1, levels + 1))


def _split(rng: random.Random, budget: int, below: int) -> tuple[int, list[int]]:
    """A number of children (2 to 4; fewer children are preferred, so trees reach their depth) and the
    descendants each gets: as even as possible, none with exactly one (a parent needs two children)."""
    preferred = [k for k in dict.fromkeys((rng.choice((2, 2, 3, 4)), 2, 3, 4, 1)) if k <= budget]
    for k in preferred:
        shares = _even_shares(rng, budget - k, k)
        if all(share != 1 and share <= _capacity(below - 1) for share in shares):
            return k, shares
    raise IcftError(f"semantic world: cannot place {budget} categories in {below} levels under one parent")


def _even_shares(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` split into `parts` shares, each 0 or at least 2, as even as possible, in random order."""
    filled = min(parts, total // 2) if total != 1 else 1
    shares = [total // filled + (i < total % filled) for i in range(filled)] if filled else []
    shares += [0] * (parts - len(shares))
    rng.shuffle(shares)
    return shares


def _pick_holdouts(rng: random.Random, taxonomy: Taxonomy, n: int, counts: dict[str, int]) -> list[str]:
    """Leaves that inherit the most (properties, memberships), with distinct parents where possible."""
    leaves = [c for c in taxonomy.categories if not taxonomy.children[c] and taxonomy.parent[c] is not None]
    rng.shuffle(leaves)
    inherited = {c: sum(counts[a] for a in taxonomy.ancestors(c)) + len(taxonomy.ancestors(c)) - 1 for c in leaves}
    leaves.sort(key=lambda c: -inherited[c])  # stable: random among equals
    picked: list[str] = []
    for distinct_parents in (True, False):
        for leaf in leaves:
            if len(picked) < n and leaf not in picked and (
                    not distinct_parents or all(taxonomy.parent[p] != taxonomy.parent[leaf] for p in picked)):
                picked.append(leaf)
    if len(picked) < n:
        raise IcftError(f"semantic world: holdouts={n} but the trees have only {len(picked)} leaves: lower holdouts")
    return sorted(picked, key=taxonomy.categories.index)


def _relations(rng: random.Random, taxonomy: Taxonomy, n: int) -> list[Claim]:
    """`n` eats/fears facts between unrelated categories, none implied by (or implying) another."""
    open_categories = [c for c in taxonomy.categories if c not in taxonomy.holdouts]
    up = {c: {c, *taxonomy.ancestors(c)} for c in taxonomy.categories}
    down = {c: {c, *taxonomy.descendants(c)} for c in taxonomy.categories}
    relations: list[Claim] = []
    for _ in range(200 * n):
        if len(relations) == n:
            return relations
        s, o = rng.sample(open_categories, 2)
        r = RELATIONS[len(relations) % len(RELATIONS)]  # alternate, so each relation is tested
        if o in up[s] or o in down[s]:
            continue  # a category neither eats its own kind nor its subtypes
        overlapping = any(
            r2 == r and ((s2 in up[s] and o2 in up[o]) or (s2 in down[s] and o2 in down[o]))
            or ({s2, o2} == {s, o})
            for s2, r2, o2 in relations
        )
        if not overlapping:  # so an inherited claim is never also stated
            relations.append((s, r, o))
    raise IcftError(f"semantic world: could not place relations={n} between {len(open_categories)} categories: "
                    "lower relations or raise categories")


def _facts(rng: random.Random, taxonomy: Taxonomy) -> list[Fact]:
    """The direct facts the documents state; half the is_a / eats / fears ones also backwards."""
    edges = [(c, "is_a", taxonomy.parent[c]) for c in taxonomy.categories if taxonomy.parent[c] is not None]
    both_ways: set[Claim] = set()
    for relation in ("is_a", *RELATIONS):
        # a holdout's parent is its only trained fact, so it is never stated backwards
        pool = [e for e in edges + taxonomy.relations if e[1] == relation and e[0] not in taxonomy.holdouts]
        rng.shuffle(pool)
        both_ways.update(pool[:len(pool) // 2])
    claims: list[Claim] = []
    for c in taxonomy.categories:
        p = taxonomy.parent[c]
        if p is not None:
            claims.append((c, "is_a", p))
            if (c, "is_a", p) in both_ways:
                claims.append((p, "includes", c))
        claims.extend((c, "has_property", adj) for adj in taxonomy.properties[c])
    for s, r, o in taxonomy.relations:
        claims.append((s, r, o))
        if (s, r, o) in both_ways:
            claims.append((o, CONVERSES[r], s))
    return [Fact(f"{s}-{r}-{o}", s, r, o) for s, r, o in claims]
