"""Where a study keeps its augmentations, and who writes them.

`<study>/augment/` holds one JSON-lines file per (world, seed, generator, strategy), each with its counts in a
`<stem>.summary.json` sidecar (generated, kept, every drop reason): a model's own augmentations
(`icft.learn.augment`) as `<world>-s<seed>-<generator>-<local|global>.jsonl`, the oracle's (`icft.learn.augment.oracle`)
as `<world>-s<seed>-oracle-<local|global>.jsonl`, or `-oracle-local-x<K>.jsonl` at K sentences per fact (the
names come from `icft.store.layout`). The grid writes them once; the report reads them (and the saved worlds) for
its augmentation panel.
"""

from __future__ import annotations

from pathlib import Path

from icft.learn.augment.generators import GeneratorSource
from icft.learn.modes import mode_spec
from icft.store.layout import CellKey, oracle_augment_file
from icft.study.config import AugmentSpec
from icft.worlds.schema import World


def generator_source(spec: AugmentSpec, model: str) -> GeneratorSource:
    """Who writes a study's own augmentations for `model`'s cells: the model under study ("self"), a named
    model, or an endpoint."""
    if spec.base_url:
        return GeneratorSource(base_url=spec.base_url, endpoint_model=spec.endpoint_model)
    return GeneratorSource(model=model if spec.generator == "self" else spec.generator)


def generator_name(spec: AugmentSpec, model: str) -> str:
    """The recorded name of that generator: its augmentation files are named by it."""
    return generator_source(spec, model).name


def oracle_file(out: str | Path, key: CellKey, world: World, source: str) -> Path:
    """The oracle's augmentations for the cell `key` (its mode sets the budget), written once (they are cheap
    and deterministic)."""
    from icft.learn.augment.oracle import write_oracle

    per_fact = mode_spec(key.mode).per_fact
    path = oracle_augment_file(out, key, source, per_fact)
    if not path.exists():
        write_oracle(world, source, path, per_fact=per_fact, seed=key.seed)
    return path
