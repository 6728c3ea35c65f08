"""Controlled worlds: knowledge made of nonsense words, with test splits that each need one kind of
generalization.

Layout: one module per world family (reversals, syllogisms, reversal_curse; imported for the user's own
files), or a package where a family has parts (semantic/, process/), beside the machinery they share (schema,
io, logic, vocabulary, sampling, checker, baselines + audit + herding, sentences, summary). A few shared modules
borrow a family's part (the checker the process world's `rewrite`, the baselines the syllogisms' quantifiers, the
sentence readers each family's wordings); tests/worlds/test_layout.py keeps every import free of circles.

Each world (reversals, syllogisms, semantic, reversal_curse, process) exposes the same four names:
  GENERATOR_VERSION  bumped whenever the output for a seed changes
  Sizes              a frozen dataclass of sizes; its defaults are the small `default` preset
  PRESETS            {"default": Sizes(), "paper": Sizes(...)}: the paper's sizes
  build(seed, sizes) -> World, deterministic in `seed`
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

from icft.errors import IcftError
from icft.worlds import process, reversal_curse, reversals, semantic, syllogisms
from icft.worlds.checker import check_world
from icft.worlds.io import load_world, save_world
from icft.worlds.schema import Document, Fact, Item, World

WORLDS: dict[str, ModuleType] = {
    "reversals": reversals,
    "syllogisms": syllogisms,
    "semantic": semantic,
    "reversal_curse": reversal_curse,
    "process": process,
}


def world_module(name: str) -> ModuleType:
    if name not in WORLDS:
        raise IcftError(f"unknown world {name!r}: choose one of {', '.join(WORLDS)}")
    return WORLDS[name]


def resolve_sizes(name: str, preset: str = "default", overrides: dict[str, int] | None = None):
    """The preset's sizes with `overrides` applied; unknown presets, keys and bad values name the fix."""
    module = world_module(name)
    if preset not in module.PRESETS:
        raise IcftError(f"world {name!r} has no preset {preset!r}: choose one of {', '.join(module.PRESETS)}")
    sizes = module.PRESETS[preset]
    fields = {f.name for f in dataclasses.fields(sizes)}
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise IcftError(f"world {name!r} has no size {key!r}: choose from {', '.join(sorted(fields))}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise IcftError(f"size {key!r} of world {name!r} must be a positive integer, got {value!r}")
    try:
        return dataclasses.replace(sizes, **(overrides or {}))
    except ValueError as e:  # a Sizes.__post_init__ range check
        raise IcftError(f"world {name!r}: {e}") from None


def build_world(name: str, seed: int = 0, preset: str = "default", **overrides: int) -> World:
    """Generate a world; the same (name, seed, sizes) gives the same world."""
    sizes = resolve_sizes(name, preset, overrides)
    return world_module(name).build(seed, sizes)


__all__ = [
    "WORLDS", "Document", "Fact", "Item", "World", "build_world", "check_world", "load_world",
    "resolve_sizes", "save_world", "world_module",
]
