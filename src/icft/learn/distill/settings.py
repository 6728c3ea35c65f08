"""The settings of context distillation: the one home of their defaults (no torch, so configs can hold them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

TEACHER_CONTEXTS = ("corpus", "relevant")
DISTILL_VERSION = 1  # bump when what the teacher computes changes: cached targets and fits are then new


@dataclass(frozen=True)
class DistillSettings:
    """How a distilled mode's teacher is asked and how its answer is learned."""

    # the teacher's context: "corpus" = every train document, as the ICL mode puts them (subsample, template
    # and document order included); "relevant" = only the documents that share a term with the sequence
    context: str = "corpus"
    # the KL is taken between the distributions at this temperature and scaled by its square (Hinton et al.),
    # so its gradients keep their size as T changes. 1: the top-k then holds nearly all of the teacher's mass
    temperature: float = 1.0
    top_k: int = 20  # log-probabilities kept per position (Cartridges keep 20), plus the mass of the rest
    # weight of the plain next-token loss on the world's own text (the documents' tokens, not an augmentation's or
    # a probe's), added to the KL: the student of a teacher unsure of a premise is as unsure (measured: README)
    ce_weight: float = 0.0

    def __post_init__(self):
        if self.context not in TEACHER_CONTEXTS:
            raise ValueError(f"context must be one of {', '.join(TEACHER_CONTEXTS)}, got {self.context!r}")
        if not (isinstance(self.temperature, (int, float)) and 0 < self.temperature <= 10):
            raise ValueError(f"temperature must be in (0, 10], got {self.temperature!r}")
        if not (isinstance(self.top_k, int) and 1 <= self.top_k <= 1000):
            raise ValueError(f"top_k must be an integer in [1, 1000], got {self.top_k!r}")
        if not (isinstance(self.ce_weight, (int, float)) and 0 <= self.ce_weight <= 10):
            raise ValueError(f"ce_weight must be in [0, 10], got {self.ce_weight!r}")

    def identity(self, icl: dict | None = None) -> dict:
        """What a distilled fit's identity hashes of these settings; with a corpus context, also the ICL settings
        `icl` (subsample, template) that build it."""
        out = {**asdict(self), "temperature": float(self.temperature), "ce_weight": float(self.ce_weight),
               "version": DISTILL_VERSION}
        if self.context == "corpus":
            out["icl"] = {"subsample": float((icl or {}).get("subsample", 1.0)),
                          "template": (icl or {}).get("template", "plain")}
        return out
