"""What every study folder holds, as a report reads it: its config (`study.json`) and, of the runs in its
results store, the finished run of each cell (either kind of study)."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icft.errors import IcftError
from icft.store import CONFIG_FILE, FINISHED
from icft.study.config import StudyConfig, parse_study_config


@dataclass(frozen=True, kw_only=True)
class FolderResults:
    """What a report reads of any study folder beside its numbers: the config, what is missing, and what ran it."""

    folder: Path
    config: StudyConfig
    incomplete: tuple[str, ...]  # runs started but not finished, one line each
    not_run: tuple[str, ...]  # grid cells with no run stored
    ignored: tuple[str, ...]  # stored runs outside the grid, or superseded by a later finished run
    code_versions: tuple[str, ...]
    precisions: tuple[str, ...] = ()  # the runs' precision: float32, or bfloat16 (the default on a GPU)
    # the fits' matrix products (`FinetuneConfig.precision` as resolved: fp32 or bf16), apart from the weights'
    finetune_precisions: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.config.name


def read_config(folder: Path) -> StudyConfig:
    """The config the study in `folder` ran with (its study.json), validated as a config file is."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise IcftError(f"{folder} holds no {CONFIG_FILE}: pass a folder made by `icft study CONFIG --out DIR`")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IcftError(f"{path}: malformed JSON ({e.msg}); rerun `icft study` to rewrite it") from None
    return parse_study_config(raw, source=str(path))


def latest_finished(runs: list, in_grid: Callable[[Any], bool], cell: Callable[[Any], Hashable],
                    describe: Callable[[Any], str]) -> tuple[list, list[str]]:
    """The finished run of each `cell` (the latest if several), and a line per finished run left out.

    `runs` are the store's records of either kind (`RunRecord`, `TransferRun`): each has a status, finished_at
    and run_id."""
    latest: dict = {}
    ignored = []
    for run in runs:
        if run.status != FINISHED:
            continue
        if not in_grid(run):
            ignored.append(f"{describe(run)}: outside the study's grid")
            continue
        key = cell(run)
        if key in latest:
            older, newer = sorted((latest[key], run), key=lambda r: (r.finished_at or "", r.run_id))
            ignored.append(f"{describe(older)}: superseded by the later run {newer.run_id}")
            latest[key] = newer
        else:
            latest[key] = run
    return list(latest.values()), ignored
