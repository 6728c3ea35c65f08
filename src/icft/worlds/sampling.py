"""Seeded draws that leave a heuristic nothing to exploit: even spreads and balanced flags."""

from __future__ import annotations

import random


def spread(rng: random.Random, pool: list, n: int) -> list:
    """`n` draws from `pool` that use every element about equally often, in random order."""
    out = []
    while len(out) < n:
        out.extend(rng.sample(pool, len(pool)))
    return out[:n]


def balanced_flags(rng: random.Random, n: int) -> list[bool]:
    """`n` booleans, half True (one more when odd, at random), shuffled."""
    flags = [i < n // 2 for i in range(n)]
    if n % 2:
        flags[-1] = rng.random() < 0.5
    rng.shuffle(flags)
    return flags
