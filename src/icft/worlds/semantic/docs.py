"""The train documents of the semantic world: which facts each states, in which style.

Every category with facts of its own is a topic (its facts are those it is the subject of; a holdout's
only fact, its parent, belongs to the topic of a category in another tree, so the holdout does not share
its documents with what it inherits). First, enough documents to state every fact once
(coverage); then the rest of `sizes.documents` restate random topics, sibling comparisons included. A
document short of 4 sentences borrows facts from neighbouring topics (parent, children, siblings).
"""

from __future__ import annotations

import math
import random

from icft.errors import IcftError
from icft.worlds.schema import Document, Fact
from icft.worlds.semantic.structure import Sizes, Taxonomy
from icft.worlds.semantic.text import render

MIN_SENTENCES = 4
EXTRA_STYLES = ("article", "article", "list", "list", "qa", "qa", "comparison")  # drawn uniformly


def plan_documents(rng: random.Random, taxonomy: Taxonomy, facts: list[Fact], sizes: Sizes) -> list[Document]:
    """`sizes.documents` documents of 4 to `sizes.max_sentences` sentences that together state every fact."""
    topics = _topics(rng, taxonomy, facts)
    drafts = _coverage_drafts(rng, taxonomy, topics, sizes.max_sentences)
    if len(drafts) > sizes.documents:
        raise IcftError(
            f"semantic world: documents={sizes.documents} is too few: stating every fact once takes "
            f"{len(drafts)} documents; raise documents or max_sentences"
        )
    drafts += _extra_drafts(rng, taxonomy, topics, sizes.documents - len(drafts), sizes.max_sentences)
    rng.shuffle(drafts)  # so any prefix of the documents mixes topics and styles
    return [
        Document(id=f"doc-{n:04d}", text=text, fact_ids=tuple(f.id for f in stated), style=style)
        for n, (style, text, stated) in enumerate(drafts)
    ]


Draft = tuple[str, str, list[Fact]]  # (style, text, facts stated)


def _topics(rng: random.Random, taxonomy: Taxonomy, facts: list[Fact]) -> dict[str, list[Fact]]:
    topics: dict[str, list[Fact]] = {c: [] for c in taxonomy.categories}
    for fact in facts:
        about = fact.subject
        if about in taxonomy.holdouts:
            # "zorb are a type of grud" is told in the documents of a category of another tree: in grud's own
            # documents zorb would share them with everything it inherits, and co-occurrence would answer
            others = [c for c in taxonomy.categories if c not in taxonomy.holdouts]
            far = [c for c in others if taxonomy.root(c) != taxonomy.root(about)]
            about = rng.choice(far or [c for c in others if c not in taxonomy.ancestors(about)])
        topics[about].append(fact)
    return {c: facts for c, facts in topics.items() if facts}


def _neighbour_facts(rng: random.Random, taxonomy: Taxonomy, topics: dict[str, list[Fact]],
                     categories: tuple[str, ...]) -> list[Fact]:
    """Facts of the parents, children and siblings of `categories`, shuffled."""
    near: set[str] = set()
    for c in categories:
        p = taxonomy.parent[c]
        near.update(taxonomy.children[c])
        if p is not None:
            near.add(p)
            near.update(taxonomy.children[p])
    out = [f for n in sorted(near - set(categories)) for f in topics.get(n, [])]
    rng.shuffle(out)
    return out


def _compose(rng: random.Random, style: str, focus: tuple[str, ...], core: list[Fact], pool: list[Fact],
             target: int, max_sentences: int) -> Draft:
    """State `core`, then facts from `pool` until `target` sentences, then drop the last ones past the most."""
    stated = list(core)
    text, n = render(style, rng, stated, focus)
    spare = [f for f in dict.fromkeys(pool) if f not in stated]
    while n < target and spare:
        stated.append(spare.pop(0))
        text, n = render(style, rng, stated, focus)
    while n > max_sentences and len(stated) > 1:
        stated.pop()
        text, n = render(style, rng, stated, focus)
    return style, text, stated


def _coverage_drafts(rng: random.Random, taxonomy: Taxonomy, topics: dict[str, list[Fact]],
                     max_sentences: int) -> list[Draft]:
    """Documents that state every fact at least once: each topic cut into even chunks."""
    drafts = []
    order = sorted(topics, key=taxonomy.categories.index)
    everything = [f for c in order for f in topics[c]]  # the last resort for padding a tiny topic
    rng.shuffle(order)
    for c in order:
        style = rng.choice(("article", "list", "qa"))
        capacity = max_sentences // 2 if style == "qa" else max_sentences  # a QA pair is two sentences
        facts = _lead_with_membership(rng, topics[c], c)
        n_chunks = math.ceil(len(facts) / capacity)
        for k in range(n_chunks):
            chunk = facts[k * len(facts) // n_chunks:(k + 1) * len(facts) // n_chunks]
            pool = _neighbour_facts(rng, taxonomy, topics, (c,)) + everything
            drafts.append(_compose(rng, style, (c,), chunk, pool, MIN_SENTENCES, max_sentences))
    return drafts


def _extra_drafts(rng: random.Random, taxonomy: Taxonomy, topics: dict[str, list[Fact]], n: int,
                  max_sentences: int) -> list[Draft]:
    """`n` documents restating facts: topics and sibling pairs taken in turn, sizes drawn at random."""
    singles = sorted(topics, key=taxonomy.categories.index)
    everything = [f for c in singles for f in topics[c]]
    pairs = [(a, b) for p in taxonomy.categories for i, a in enumerate(taxonomy.children[p])
             for b in taxonomy.children[p][i + 1:] if a in topics and b in topics]
    rng.shuffle(singles)
    rng.shuffle(pairs)
    drafts = []
    for k in range(n):
        style = rng.choice(EXTRA_STYLES)
        if style == "comparison" and not pairs:
            style = "article"
        focus = pairs[k % len(pairs)] if style == "comparison" else (singles[k % len(singles)],)
        own = [f for c in focus for f in topics[c]]
        rng.shuffle(own)
        if style == "comparison":  # memberships and properties first: that is what gets compared
            own.sort(key=lambda f: {"is_a": 0, "has_property": 1}.get(f.relation, 2))
        else:
            own = _lead_with_membership(rng, own, focus[0])
        pool = own + _neighbour_facts(rng, taxonomy, topics, focus) + everything
        target = rng.randint(MIN_SENTENCES, max_sentences)
        drafts.append(_compose(rng, style, focus, [], pool, target, max_sentences))
    return drafts


def _lead_with_membership(rng: random.Random, facts: list[Fact], focus: str) -> list[Fact]:
    """Shuffled, with the focus's own "is a type of" first, as an encyclopedia entry opens."""
    facts = list(facts)
    rng.shuffle(facts)
    facts.sort(key=lambda f: not (f.subject == focus and f.relation == "is_a"))
    return facts
