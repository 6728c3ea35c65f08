"""Proves a world is well built: every correct option follows from the train facts, no distractor does.

The proof is the closure of the facts stated in the train documents under the world's rules
(`icft.worlds.logic`). Structure is checked too: ids, references, option counts. A world imported from
a user's own data has no claims; only its structure is checked.
"""

from __future__ import annotations

from collections import Counter

from icft.worlds.logic import closure
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

    known = closure({facts[fid].claim for fid in sorted(stated) if fid in facts}, world.rules)
    for item in world.items:
        problems.extend(_check_item(item, facts, stated, known))
        if len(problems) >= max_problems:
            break
    return problems[:max_problems]


def _check_item(item, facts, stated, known) -> list[str]:
    out = []
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
        follows = tuple(claim) in known
        if index in item.correct and not follows:
            out.append(f"item {item.id}: correct option {index} ({item.options[index]!r}) does not follow from the train facts")
        if index not in item.correct and follows:
            out.append(f"item {item.id}: distractor {index} ({item.options[index]!r}) follows from the train facts")
    return out
