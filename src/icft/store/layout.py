"""The layout of a study folder: what each file and folder is called, from the parts of a cell's key.

  study.json    the resolved config            results.db   the results store
  worlds/       one folder per (world, seed)   augment/     augmentations per (world, seed, generator, strategy)
  finetune/     one folder per fine-tuned run (named by its run id)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESULTS_DB = "results.db"
CONFIG_FILE = "study.json"
BASE = "base"  # transfer studies: the variant of the unmodified model's runs


@dataclass(frozen=True)
class CellKey:
    """What names a cell of an icl_vs_ft study: its world's label and seed, model and mode."""

    world: str  # the world's label in the config
    seed: int
    model: str
    mode: str

    @property
    def world_ref(self) -> str:
        """The world as one run names it (the store's `world` column, the folders under worlds/ and augment/)."""
        return world_ref(self.world, self.seed)

    @property
    def label(self) -> str:
        return f"{self.world_ref} {self.model} {self.mode}"


def world_ref(label: str, seed: int) -> str:
    return f"{label}-s{seed}"


def world_folder(out: Path, label: str, seed: int) -> Path:
    return out / "worlds" / world_ref(label, seed)


def augment_file(out: Path, label: str, seed: int, generator: str, strategy: str) -> Path:
    return out / "augment" / f"{world_ref(label, seed)}-{safe_name(generator)}-{strategy}.jsonl"


def generation_cache(out: Path) -> Path:
    return out / "augment" / "generation-cache.sqlite"


def finetune_folder(out: Path, run_id: str) -> Path:
    return out / "finetune" / run_id


def safe_name(name: str) -> str:
    """A model name or endpoint as one path component."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_")
