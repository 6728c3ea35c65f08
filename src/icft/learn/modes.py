"""The learning modes of the study, and what each one learns from.

Every fine-tuning mode runs the same loop (`icft.learn.finetune`); the modes differ only in their data:
  pretrained       no exposure: the test prompt alone (proves the world is novel: ~chance)
  icl              all train documents in the context, no weight change
  ft               fine-tune on the train documents (data-matched with icl)
  ft-split         fine-tune on the documents cut into sentences ("independent" or "cumulative")
  ft-local         documents + local augmentations (rephrasings / direct inferences of each sentence)
  ft-global        documents + global augmentations (inferences linking each document to the rest)
  ft-local-global  documents + both
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    name: str
    label: str  # how reports name it
    context: bool = False  # the train documents go in the context at test time
    train_on: tuple[str, ...] = ()  # data sources of fine-tuning: documents, sentences, local, global

    @property
    def finetunes(self) -> bool:
        return bool(self.train_on)

    @property
    def augmentations(self) -> tuple[str, ...]:
        return tuple(s for s in self.train_on if s in ("local", "global"))


MODES: dict[str, Mode] = {m.name: m for m in (
    Mode("pretrained", "pretrained"),
    Mode("icl", "ICL", context=True),
    Mode("ft", "FT", train_on=("documents",)),
    Mode("ft-split", "FT-split", train_on=("sentences",)),
    Mode("ft-local", "FT-local", train_on=("documents", "local")),
    Mode("ft-global", "FT-global", train_on=("documents", "global")),
    Mode("ft-local-global", "FT-local+global", train_on=("documents", "local", "global")),
)}


def mode_label(mode: str) -> str:
    """The report name of a mode ("FT-local"); an unknown mode keeps its own name."""
    return MODES[mode].label if mode in MODES else mode
