"""How fast each step ran before: the speeds a study's time estimates take before the constants (`study.costs`).

Each cell a study runs records how long its steps took: seconds for so many tokens of fine-tuning (`train`), of
scoring without a context (`score`) and with the ICL context (`icl`), on its model and device. A timing goes to
two places: the study's results store (table `timings`) and the user's cache of earlier studies
(`$ICFT_CACHE/timings.jsonl`, or the file `$ICFT_TIMINGS` names). An estimate for (model, device, step) takes the
mean speed of the study's own latest timings when it has any, else the cache's, else the constants; `describe`
says which it used.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from icft.store import ResultsStore

RECENT = 20  # timings averaged per (model, device, step): the latest, so a faster machine or icft soon shows
THIS_STUDY, EARLIER, CONSTANTS = "this study", "earlier studies", "constants"
_NAMES = {THIS_STUDY: "this study's timings", EARLIER: "earlier studies' timings",
          CONSTANTS: "icft's constants (measured on a 2-core CPU with a 135M model)"}


@dataclass(frozen=True)
class Timing:
    model: str
    device: str  # `icft.models.device.device_label`: "cpu (2 cores)", "NVIDIA H200 (bfloat16)"
    step: str  # train, score, icl (`icft.study.costs`)
    amount: float  # tokens
    seconds: float


def timings_file() -> Path:
    from icft.models.loading import cache_root

    return Path(os.environ.get("ICFT_TIMINGS") or cache_root() / "timings.jsonl")


def record_timing(store: ResultsStore, timing: Timing) -> None:
    """Keep a timing in the study's store and in the user's cache of earlier studies."""
    if timing.amount <= 0 or timing.seconds <= 0:
        return
    store.add_timing(timing.model, timing.device, timing.step, timing.amount, timing.seconds)
    path = timings_file()
    with contextlib.suppress(OSError):  # the cache only speeds up later estimates: an unwritable one costs nothing
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:  # one short line per append: concurrent studies do not interleave
            f.write(json.dumps(asdict(timing)) + "\n")


class History:
    """The timings of one study (its results store, when it has one) and of earlier studies, on one device."""

    def __init__(self, db: Path, device: str):
        self.device = device
        self._sources = {THIS_STUDY: _rates(_store_timings(db), device),
                         EARLIER: _rates(_cache_timings(timings_file()), device)}
        self._used: dict[str, set[tuple[str, str]]] = defaultdict(set)  # source -> {(model, step)} consulted

    def rate(self, model: str, step: str) -> float | None:
        """Seconds per token of `step` for `model` from history, or None (the constants then)."""
        for source, rates in self._sources.items():
            if (model, step) in rates:
                self._used[source].add((model, step))
                return rates[(model, step)]
        self._used[CONSTANTS].add((model, step))
        return None

    def describe(self) -> str:
        """Which source each estimate so far took: "from this study's timings (m: score, train), ..."."""
        parts = []
        for source in (THIS_STUDY, EARLIER, CONSTANTS):
            by_model = defaultdict(list)
            for model, step in sorted(self._used.get(source, ())):
                by_model[model].append(step)
            if by_model:
                what = "; ".join(f"{model}: {', '.join(steps)}" for model, steps in by_model.items())
                parts.append(f"{_NAMES[source]} ({what})")
        return f"estimated on {self.device} from " + ", ".join(parts) if parts else ""


def _rates(timings: list[Timing], device: str) -> dict[tuple[str, str], float]:
    """(model, step) -> seconds per token over the latest RECENT timings on `device`."""
    latest = defaultdict(list)
    for t in timings:
        if t.device == device and t.amount > 0:
            latest[(t.model, t.step)].append(t)
    return {key: sum(t.seconds for t in ts[-RECENT:]) / sum(t.amount for t in ts[-RECENT:])
            for key, ts in latest.items()}


def _store_timings(db: Path) -> list[Timing]:
    if not db.exists():  # a dry run creates nothing
        return []
    with ResultsStore(db) as store:
        return [Timing(*row) for row in store.timings()]


def _cache_timings(path: Path) -> list[Timing]:
    timings = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError, TypeError):
                timings.append(Timing(**json.loads(line)))
    return timings
