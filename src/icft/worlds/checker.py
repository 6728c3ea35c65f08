"""Proves a world is well built: every correct option follows from the train facts, no distractor does.

The proof is the closure of the facts stated in the train documents under the world's rules
(`icft.worlds.logic`); a relation defined by rewrite rules (the process world) is proved by computing it
(`icft.worlds.process.rewrite`), and every stated instance of it must agree with the rules. Structure is checked
too: ids, references, option counts. A world imported from a user's own data has no claims; only its
structure is checked.
"""

from __future__ import annotations

from collections import Counter

from icft.worlds.logic import closure
from icft.worlds.process.rewrite import prover
from icft.worlds.schema import World


def check_world(world: World, max_problems: int = 50) -> list[str]:
    """Problems found, one sentence each; an empty list means the world passed."""
    problems: list[str] = []
    facts = {f.id: f for f in world.facts}
    for kind, ids in (("document", [d.id for d in world.documents]), ("item", [i.id for i in world.items]),
                      ("fact", [f.id for f in world.facts])):
        for dup, count in Counter(ids).items():
            if count > 1:
                problems.append(f"{kind} id {dup!r} is used {count} times")

    stated: set[str] = set()
    for doc in world.documents:
        for fid in doc.fact_ids:
            if fid not in facts:
                problems.append(f"document {doc.id} names unknown fact {fid!r}")
            stated.add(fid)

    claims = {facts[fid].claim for fid in sorted(stated) if fid in facts}
    known = closure(claims, world.rules)
    computed = prover(world.rules.rewrites, claims)

    def follows(claim) -> bool:
        by_rules = computed(tuple(claim))
        return tuple(claim) in known if by_rules is None else by_rules

    for claim in sorted(claims):
        if computed(claim) is False:
            problems.append(f"stated fact {claim} disagrees with the world's rewrite rules")
    for item in world.items:
        problems.extend(_check_item(item, facts, stated, follows))
        if len(problems) >= max_problems:
            break
    return problems[:max_problems]


def _check_item(item, facts, stated, follows) -> list[str]:
    out = []
    if item.free_form:
        return [f"item {item.id}: a free-form item has no answer"] if not item.answers else []
    if not 0 <= item.answer < len(item.options):
        return [f"item {item.id}: answer {item.answer} is not an option index"]
    if len(set(item.options)) != len(item.options):
        out.append(f"item {item.id}: duplicate options")
    for fid in item.fact_ids:
        if fid not in facts:
            out.append(f"item {item.id} names unknown fact {fid!r}")
        elif fid not in stated:
            out.append(f"item {item.id} needs fact {fid!r}, which no train document states")
    if item.claims is None:
        return out
    for index, claim in enumerate(item.claims):
        if claim is None:
            out.append(f"item {item.id}: option {index} has no claim")
            continue
        holds = follows(claim)
        if index in item.correct and not holds:
            out.append(f"item {item.id}: correct option {index} ({item.options[index]!r}) does not follow from the train facts")
        if index not in item.correct and holds:
            out.append(f"item {item.id}: distractor {index} ({item.options[index]!r}) follows from the train facts")
    return out
