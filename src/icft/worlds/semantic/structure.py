"""What a semantic world is made of: its sizes (and presets) and the hidden taxonomy it is generated from.

Its own module so that the world's generator (`world`), its documents (`docs`) and its test items (`items`)
all import these types from below instead of from one another."""

from __future__ import annotations

from dataclasses import dataclass

from icft.worlds.logic import Claim

MAX_BRANCHING = 4


@dataclass(frozen=True)
class Sizes:
    """How big a semantic world is; the defaults are the small `default` preset (fits an 8k context)."""

    categories: int = 22
    roots: int = 2
    levels: int = 4  # of the category trees, the roots included
    max_properties: int = 3  # own properties per category: 1 to this
    relations: int = 8  # eats / fears facts between categories
    holdouts: int = 5  # leaf categories trained on their parent only
    documents: int = 50
    max_sentences: int = 7  # per document; the least is always 4
    items_per_split: int = 40

    def __post_init__(self) -> None:
        capacity = self.roots * sum(MAX_BRANCHING**level for level in range(self.levels))
        checks = (
            (self.roots >= 1, f"roots must be at least 1, got {self.roots}"),
            (2 <= self.levels <= 6, f"levels must be from 2 to 6, got {self.levels}"),
            (self.categories >= 3 * self.roots,
             f"categories must be at least 3 x roots ({3 * self.roots}) so every root has subtypes, "
             f"got {self.categories}"),
            (self.categories <= capacity,
             f"categories={self.categories} do not fit {self.roots} roots x {self.levels} levels (at most {capacity})"),
            (1 <= self.max_properties <= 10, f"max_properties must be from 1 to 10, got {self.max_properties}"),
            (self.relations >= 1, f"relations must be at least 1, got {self.relations}"),
            (1 <= self.holdouts <= self.categories // 4,
             f"holdouts must be from 1 to categories // 4 ({self.categories // 4}), got {self.holdouts}"),
            (self.documents >= 1, f"documents must be at least 1, got {self.documents}"),
            (4 <= self.max_sentences <= 20, f"max_sentences must be from 4 to 20, got {self.max_sentences}"),
            (self.items_per_split >= 1, f"items_per_split must be at least 1, got {self.items_per_split}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


PRESETS = {
    "default": Sizes(),
    "paper": Sizes(categories=110, roots=4, levels=4, max_properties=6, relations=60, holdouts=10,
                   documents=2200, max_sentences=20, items_per_split=200),
}


@dataclass
class Taxonomy:
    """The hidden structure a world is generated from."""

    categories: list[str]  # creation order, roots first
    parent: dict[str, str | None]
    children: dict[str, list[str]]
    properties: dict[str, list[str]]  # own properties only
    relations: list[Claim]  # (subject, eats|fears, object)
    holdouts: list[str]

    def ancestors(self, category: str) -> list[str]:
        """Parent first, root last."""
        out = []
        while (category := self.parent[category]) is not None:
            out.append(category)
        return out

    def descendants(self, category: str) -> list[str]:
        out, stack = [], list(reversed(self.children[category]))
        while stack:
            child = stack.pop()
            out.append(child)
            stack.extend(reversed(self.children[child]))
        return out

    def root(self, category: str) -> str:
        ancestors = self.ancestors(category)
        return ancestors[-1] if ancestors else category
