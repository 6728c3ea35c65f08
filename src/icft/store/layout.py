"""The layout of a study folder: what each file and folder is called, from the parts of a cell's key.

  study.json    the resolved config            results.db   the results store
  worlds/       one folder per (world, seed)   augment/     augmentations per (world, seed, generator, strategy)
  finetune/     one folder per fine-tuned run (named by its run id)
  distill/      the teachers' top-k targets of the distilled modes (`icft.learn.distill`), one file per
                (model, transfer sequences, contexts, settings)

`CellKey` is the one place a world's label and seed become a name ("reversals-s0"): the folders under worlds/
and augment/ take theirs from it, and the store keeps its parts as columns (`icft.store.db`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESULTS_DB = "results.db"
CONFIG_FILE = "study.json"
BASE = "base"  # transfer studies: the variant of the unmodified model's runs
WORLDS_DIR, AUGMENT_DIR, FINETUNE_DIR, DISTILL_DIR = "worlds", "augment", "finetune", "distill"


@dataclass(frozen=True)
class CellKey:
    """What names a cell: its world's label (shared by its seeds), the seed, the model and the mode.

    With the world's content id and the resolved config it is a run's identity (`icft.store.RunSpec`); the
    store holds each part in a column of its own (world_label, seed, model, mode).
    """

    world_label: str  # the world's label in the config (a folder for `icft eval`, a test task for transfer runs)
    seed: int
    model: str
    mode: str

    @property
    def world_ref(self) -> str:
        """The world at this seed as one name: its folder under worlds/ and the stem of its augmentation files."""
        return f"{self.world_label}-s{self.seed}"

    @property
    def label(self) -> str:
        return f"{self.world_ref} {self.model} {self.mode}"

    @staticmethod
    def label_of(world_ref: str, seed: int) -> str:
        """The label inside a world reference (`world_ref`'s inverse): results stores written before the label
        had a column of its own held only the reference."""
        return world_ref.removesuffix(f"-s{seed}")


def world_folder(out: str | Path, key: CellKey) -> Path:
    return Path(out) / WORLDS_DIR / key.world_ref


def augment_file(out: str | Path, key: CellKey, generator: str, strategy: str) -> Path:
    """A generator's own augmentations (local or global) of the key's world and seed."""
    return Path(out) / AUGMENT_DIR / f"{key.world_ref}-{safe_name(generator)}-{strategy}.jsonl"


def oracle_augment_file(out: str | Path, key: CellKey, source: str, per_fact: int | None = None) -> Path:
    """The oracle's augmentations (oracle-local or oracle-global; oracle-local at a budget apart)."""
    budget = "" if per_fact is None else f"-x{per_fact}"
    return Path(out) / AUGMENT_DIR / f"{key.world_ref}-{source}{budget}.jsonl"


def generation_cache(out: str | Path) -> Path:
    return Path(out) / AUGMENT_DIR / "generation-cache.sqlite"


def distill_folder(out: str | Path) -> Path:
    return Path(out) / DISTILL_DIR


def finetune_folder(out: str | Path, run_id: str) -> Path:
    return Path(out) / FINETUNE_DIR / run_id


def safe_name(name: str) -> str:
    """A model name or endpoint as one path component."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_")
