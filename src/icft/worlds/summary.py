"""What a world holds, in numbers: for `icft worlds show` and the issue notes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from icft.worlds.schema import World

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


@dataclass(frozen=True)
class SplitSummary:
    split: str
    items: int
    mean_options: float
    chance: float


@dataclass(frozen=True)
class WorldSummary:
    name: str
    seed: int
    documents: int
    sentences: int
    words: int
    facts: int
    splits: tuple[SplitSummary, ...]
    tokens: int | None  # under the given tokenizer, all train documents joined


def summarize(world: World, tokenizer=None) -> WorldSummary:
    texts = [d.text for d in world.documents]
    splits = []
    for split in world.splits:
        items = world.items_in(split)
        splits.append(SplitSummary(
            split=split,
            items=len(items),
            mean_options=sum(len(i.options) for i in items) / len(items),  # 0 for a free-form split
            chance=sum(i.chance for i in items) / len(items),
        ))
    tokens = None
    if tokenizer is not None:
        tokens = len(tokenizer("\n\n".join(texts), add_special_tokens=False)["input_ids"])
    return WorldSummary(
        name=world.name,
        seed=world.seed,
        documents=len(texts),
        sentences=sum(len([s for s in _SENTENCE_END.split(t) if s.strip()]) for t in texts),
        words=sum(len(t.split()) for t in texts),
        facts=len(world.facts),
        splits=tuple(splits),
        tokens=tokens,
    )
