"""Augmentation: a generator (`generators`) rewrites a world's documents with a prompt template (`templates`,
`prompts/`) into new texts, filtered (`filters`) and stored per strategy (`augment`, with its `settings`); the
oracle (`oracle`) writes the texts a perfect augmenter would.

The names below load on first use (the report reads `summary_path`).
"""

from icft._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "augment_world": "augment", "load_augmented": "augment", "summary_path": "augment",
    "AugmentSettings": "settings", "make_generator": "generators",
})
