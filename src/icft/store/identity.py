"""Identities: the hashes that name worlds, runs and fits, and the code version recorded with each run.

A hash covers what determines a result (content, not how the user named it), so the same work finds the same
stored record wherever it was started from.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path

from icft.worlds.schema import World


def world_identity(world: World) -> str:
    """Name, seed and generator version, plus a digest of the content (so sizes and edits count)."""
    content = {
        "sizes": world.sizes,
        "documents": [[d.id, d.text] for d in world.documents],
        # a free-form item adds its answers (multiple-choice items keep the identity they had)
        "items": [[i.id, i.split, i.prompt, list(i.options), sorted(i.correct),
                   *([list(i.answers)] if i.free_form else [])] for i in world.items],
        "control_splits": list(world.control_splits),
    }
    digest = content_digest(content, 12)
    return f"{world.name}/seed{world.seed}/v{world.generator_version}/{digest}"


def code_version() -> str:
    """The installed icft version plus `git describe --always --dirty` of its checkout, or '+unknown'.

    Git is asked only for a source checkout (src/icft beside a pyproject.toml), so an installed copy
    inside some other repository is not described by that repository's commit.
    """
    try:
        version = metadata.version("icft")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    package = Path(__file__).resolve().parents[1]  # .../src/icft
    described = ""
    if package.parent.name == "src" and (package.parent.parent / "pyproject.toml").is_file():
        try:
            described = subprocess.run(
                ["git", "describe", "--always", "--dirty"], cwd=package, capture_output=True, text=True,
                timeout=10, check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass  # no git, or no commit yet
    return f"{version}+{described or 'unknown'}"


def content_digest(obj, length: int) -> str:
    """A hex digest of a JSON-serializable value that ignores key order (ids of runs, worlds, fits)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
