"""What the two study runners share (`icft.study.grid`: ICL vs FT; `icft.study.transfer`: FT vs FTICL across
tasks): a study folder claimed for one config, its results store, the unmodified model loaded once, the fine-tuned
weights dropped once scored (unless `keep_weights`), and the run-or-dry-run wrapper behind `icft study`."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from icft.errors import IcftError
from icft.jsonl import write_text_atomic
from icft.store import CONFIG_FILE, RESULTS_DB
from icft.store.lock import exclusive_use
from icft.study.config import StudyConfig


class StudyRunner:
    """One study folder of `kind`: its config, console, results store and the study's unmodified model."""

    kind = ""  # the config kind a runner runs (icl_vs_ft, transfer)

    def __init__(self, config: StudyConfig, out: str | Path, console: Console | None = None):
        if config.kind != self.kind:
            raise IcftError(f"study {config.name!r} is a {config.kind} study, not {self.kind}: run it with "
                            "`icft study`, which picks the runner of its kind")
        self.config = config
        self.out = Path(out)
        self.console = console or Console()
        self._base = SharedModel(config.device)

    @property
    def db_path(self) -> Path:
        return self.out / RESULTS_DB

    @contextlib.contextmanager
    def claimed(self) -> Iterator[None]:
        """The whole run: the folder locked against a second process and claimed for this config; a full disk
        ends it in one line (every finished cell is already committed to the store)."""
        check_models(self.config)  # a typo fails before the folder exists
        with exclusive_use(self.db_path, str(self.out), f"the finished cells are kept in {self.db_path}"):
            claim_folder(self.out, self.config)
            yield

    @functools.cached_property
    def device_label(self) -> str:
        from icft.models.device import device_label

        return device_label(self.config.device)

    @functools.cached_property
    def history(self):
        """Earlier timings of this study and of the user's earlier ones (`icft.study.history`), read once."""
        from icft.study.history import History

        return History(self.db_path, self.device_label)

    def record_timing(self, store, model: str, step: str, tokens: float, seconds: float) -> None:
        from icft.study.history import Timing, record_timing

        record_timing(store, Timing(model, self.device_label, step, tokens, seconds))

    def release_weights(self, run_folder: Path) -> None:
        """Once a fine-tuned model is scored its weights go, unless the config keeps them."""
        from icft.models import drop_finetuned_weights

        if not self.config.keep_weights:
            drop_finetuned_weights(run_folder)

    # what each runner defines
    def run(self, progress: bool = True):
        raise NotImplementedError

    def dry_run_tables(self) -> list[Table | Text]:
        """What `--dry-run` prints, in order: tables, and lines (warnings)."""
        raise NotImplementedError

    def done_line(self, result, seconds: float) -> str:
        raise NotImplementedError


def run_or_plan(runner: StudyRunner, dry_run: bool, progress: bool):
    """`icft study`: print the plan (`dry_run`; None is returned), or run what is missing and say what it did."""
    check_models(runner.config)
    if dry_run:
        for table in runner.dry_run_tables():
            runner.console.print(table)
        return None
    start = time.perf_counter()
    result = runner.run(progress=progress)
    runner.console.print(runner.done_line(result, time.perf_counter() - start))
    return result


class SharedModel:
    """The study's unmodified model, loaded once and shared by its cells; one model in memory at a time."""

    def __init__(self, device: str = "auto"):
        self.device = device
        self._loaded = None
        self.loading_seconds = 0.0  # spent loading so far: a cell's timing leaves it out

    def get(self, name: str):
        from icft.models import load

        if self._loaded is None or self._loaded.name != name:
            self._loaded = None  # free the previous model before loading the next
            start = time.perf_counter()
            self._loaded = load(name, device=self.device)
            self.loading_seconds += time.perf_counter() - start
        return self._loaded


def check_models(config: StudyConfig) -> None:
    """Resolve every model name (no weights load): an unknown one fails a dry run as it fails the real run."""
    from icft.models.registry import resolve

    for model in config.models:
        resolve(model)


def claim_folder(out: Path, config: StudyConfig) -> None:
    """Record the config in `out`; a folder holding a different study is refused (its results would mix)."""
    out.mkdir(parents=True, exist_ok=True)
    resolved = config.model_dump(mode="json")
    path = out / CONFIG_FILE
    if path.exists():
        recorded = json.loads(path.read_text())
        if recorded != resolved:
            changed = sorted(k for k in resolved.keys() | recorded.keys() if resolved.get(k) != recorded.get(k))
            raise IcftError(f"{out} holds a study with another config (differs in: {', '.join(changed)}): "
                            "rerun with the same config to resume, or choose a new study folder")
    else:
        write_text_atomic(path, json.dumps(resolved, indent=1) + "\n")


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
