"""JSON Lines reading with errors that name the line, and atomic text writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from icft.errors import IcftError


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a malformed line is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise IcftError(f"{path} is missing: check the path")
    rows = []
    with path.open(encoding="utf-8") as f:
        try:
            lines = list(f)
        except UnicodeDecodeError:  # a binary file (a database, an archive) given where JSON lines belong
            raise IcftError(f"{path} is not UTF-8 text: give a JSON-lines file, one object a line") from None
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise IcftError(f"{path}:{n}: malformed JSON ({e.msg} at column {e.colno}); fix that line") from None
        if not isinstance(obj, dict):
            raise IcftError(f"{path}:{n}: each line must be a JSON object")
        rows.append((n, obj))
    return rows


def json_line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
