"""One process at a time on a results store, and a full disk said in one line.

`hold_lock` takes an exclusive lock on `<results file>.lock` for a whole run: a study holds its folder's
`results.db.lock`, `icft eval --db FILE` holds `FILE.lock`, so two studies on one folder, or a study and an
`icft eval` on its results file, never interleave. The lock is the kernel's (`fcntl.flock`): it goes when its
process ends, however it ends, so a killed run leaves no stale lock. The file records the holder's pid and start
time for the message the next process prints.

`disk_full_error` turns the ways a full disk surfaces (SQLite's "database or disk is full", ENOSPC from a file
write, a library's "No space left on device") into one line naming the filesystem and the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from icft.errors import IcftError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; runs proceed unlocked as before
    fcntl = None

HOLDER_WAIT_S = 2.0  # how long to wait for a holder that has the lock but has not yet written its pid


@contextlib.contextmanager
def exclusive_use(db: Path, label: str, kept: str) -> Iterator[None]:
    """What a command writing the results store `db` for a whole run holds: the store's lock (a second process is
    refused with "LABEL is in use by ..."), and a full disk ended in one line that says `kept`."""
    with full_disk_as_error(db, kept), hold_lock(lock_file(db), label):
        yield


def lock_file(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


@contextlib.contextmanager
def hold_lock(path: Path, label: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) until the block ends; `label` names what it guards.

    A second process gets an IcftError: "LABEL is in use by process N (since T): ..."."""
    if fcntl is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+")
    except OSError as e:
        raise IcftError(f"{label} cannot be locked ({e}): choose a folder you can write to") from None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IcftError(f"{label} is in use by {_holder(f)}: wait for it to finish, or use another "
                            "folder") from None
        f.truncate(0)
        f.write(json.dumps({"pid": os.getpid(), "since": datetime.now().isoformat(sep=" ", timespec="seconds")}))
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)  # released: a reader finds no holder (the kernel drops the lock with the file)


def _holder(f) -> str:
    """"process N (since T)" from the lock file, waiting briefly for a holder that is still writing it."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        f.seek(0)
        with contextlib.suppress(ValueError):
            holder = json.loads(f.read())
            return f"process {holder['pid']} (since {holder['since']})"
        if time.monotonic() > deadline:
            return "another process"
        time.sleep(0.05)


def disk_full_error(exc: BaseException, db: Path | None, kept: str = "") -> IcftError | None:
    """The one-line error for `exc` if a full disk caused it (else None): what filled up, what it was writing (the
    results store `db` for SQLite, the file an OSError names, else the files beside `db`), and `kept`: what the
    run keeps. With no `db` and no file named, the working directory's disk."""
    for e in _chain(exc):
        full = isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)
        if full and e.filename:
            written = Path(e.filename)
        elif isinstance(e, sqlite3.Error) and "disk is full" in str(e):
            written = db
        elif full or "No space left on device" in str(e):  # a library's write (safetensors) names no file
            written = db.parent if db else None
        else:
            continue
        mount = _mount_point(written or Path.cwd())
        what = "" if written is None else f" to write {written}" + ("/..." if db and written == db.parent else "")
        return IcftError(f"the disk is full: the filesystem at {mount} ({_size(shutil.disk_usage(mount).total)}) "
                         f"has no room{what}" + (f"; {kept}" if kept else "") + ": free some space, then rerun the "
                         "same command")
    return None


@contextlib.contextmanager
def full_disk_as_error(path: Path, kept: str) -> Iterator[None]:
    """Run the block; a full disk inside it ends as `disk_full_error`'s one line."""
    try:
        yield
    except Exception as e:
        error = disk_full_error(e, path, kept)
        if error is None:
            raise
        raise error from None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it (a disk error is often re-raised as another type)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _mount_point(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:  # a file that could not be created
        path = path.parent
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} TB"
