"""Helpers shared by the world tests."""

import functools
import re

from icft.worlds.io import TEST_FILE, TRAIN_FILE, WORLD_FILE, save_world


def world_bytes(world, folder):
    """The bytes of a saved world's three files (determinism is judged on these)."""
    save_world(world, folder)
    return [(folder / name).read_bytes() for name in (WORLD_FILE, TRAIN_FILE, TEST_FILE)]


def template_words(*texts: str) -> set[str]:
    """The lower-case words of template strings, placeholders ({name}) left out."""
    return {w.lower() for text in texts for w in re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", text))}


@functools.cache
def built(name: str, seed: int, preset: str):
    """A generated world, built once per test session (read it, never change it)."""
    from icft.worlds import build_world

    return build_world(name, seed, preset)
