"""A study folder is a shared resource: two processes on one folder, and a disk that fills up, end in one line."""

import contextlib
import errno
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from icft.errors import IcftError
from icft.store.lock import disk_full_error, hold_lock, lock_file

REDUCED = Path(__file__).parents[2] / "benchmarks" / "gpu_check_reduced.toml"
HOLD = """
import sys, time
from pathlib import Path
from types import SimpleNamespace
from icft.store.lock import hold_lock
with hold_lock(Path(sys.argv[1]), "held"):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def icft(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "icft.cli", *args], capture_output=True, text=True, cwd=cwd)


def study_toml(tmp_path, model, extra=""):
    toml = tmp_path / "study.toml"  # the GPU check's reduced study (pretrained, icl, ft) on the tiny model
    toml.write_text(f'models = ["{model}"]\n{extra}' + REDUCED.read_text())
    return toml


def query(db: Path, sql: str):
    with contextlib.closing(sqlite3.connect(db)) as connection:  # closed: the small disk unmounts after the test
        return connection.execute(sql).fetchone()[0]


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_second_holder_is_told_who_holds_the_lock(tmp_path):
    path = tmp_path / "results.db.lock"
    with hold_lock(path, "runs/x"):
        with pytest.raises(IcftError, match=rf"^runs/x is in use by process {os.getpid()} \(since \d{{4}}-"):
            with hold_lock(path, "runs/x"):
                pass
    with hold_lock(path, "runs/x"):  # released when the first block ended
        pass


def test_a_study_and_an_eval_refuse_a_folder_another_process_holds(tiny_folder, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_file(out / "results.db"))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        since = r"\(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)"
        line = one_line_error(icft("study", str(study_toml(tmp_path, tiny_folder)), "--out", str(out), "--no-report"))
        assert re.fullmatch(rf"error: {re.escape(str(out))} is in use by process {holder.pid} {since}: .*", line)
        world = tmp_path / "rev"
        icft("worlds", "build", "reversals", "--out", str(world))
        line = one_line_error(icft("eval", "--world", str(world), "--mode", "pretrained", "--model", tiny_folder,
                                   "--db", str(out / "results.db")))
        assert f"{out / 'results.db'} is in use by process {holder.pid} (since " in line
    finally:
        holder.communicate("")  # closes its stdin: it releases the lock and ends
    assert not (out / "study.json").exists()  # the refused study recorded nothing


def test_two_studies_started_together_on_one_folder(tiny_folder, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "icft.cli", "study", str(study_toml(tmp_path, tiny_folder)), "--out", str(out),
               "--no-report"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    results = [(p.wait(), p.stderr.read()) for p in (first, second)]
    # both finish (the second started after the first was done), or one says in one line which process holds it
    refused = [err for rc, err in results if rc != 0]
    assert [rc for rc, _ in results].count(0) >= 1 and len(refused) <= 1, results
    for err in refused:
        assert re.search(rf"^error: {re.escape(str(out))} is in use by process \d+ \(since .*\)", err, re.M), err
        assert "Traceback" not in err and len([x for x in err.splitlines() if x.startswith("error:")]) == 1
    assert query(out / "results.db", "select count(*) from runs where status = 'finished'") == 3


@pytest.fixture
def small_disk(tmp_path):
    """A 120 KB tmpfs mounted for the test (needs root, as CI has); `resize(kb)` grows it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=120k", "tmpfs", str(mount)], capture_output=True,
                           text=True)
    if tried.returncode != 0:
        pytest.skip(f"mounting a small tmpfs is not permitted here ({tried.stderr.strip()}): needs root")

    def resize(kb: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={kb}k", str(mount)], check=True)

    yield SimpleNamespace(path=mount, resize=resize)
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("size_kb, keep_weights, writing", [
    (120, False, "results.db"),  # SQLite: "database or disk is full"
    (400, True, "..."),          # the fine-tuned weights: safetensors' "No space left on device"
])
def test_a_full_disk_ends_a_study_in_one_line_and_the_rerun_resumes(tiny_folder, tmp_path, small_disk, size_kb,
                                                                    keep_weights, writing):
    small_disk.resize(size_kb)
    out = small_disk.path / "run"
    toml = study_toml(tmp_path, tiny_folder, "keep_weights = true\n" if keep_weights else "")
    line = one_line_error(icft("study", str(toml), "--out", str(out), "--no-report"))
    assert line.startswith(f"error: the disk is full: the filesystem at {small_disk.path} ({size_kb} KB) has no room to "
                           f"write {out}/{writing}; the finished cells are kept in {out / 'results.db'}: "), line
    assert query(out / "results.db", "pragma integrity_check") == "ok"
    small_disk.resize(4096)
    resumed = icft("study", str(toml), "--out", str(out), "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    assert query(out / "results.db", "select count(*) from runs where status = 'finished'") == 3


def test_a_write_that_names_its_file_is_named(tmp_path):
    error = disk_full_error(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "w.json")),
                            tmp_path / "results.db", "kept")
    assert f"has no room to write {tmp_path / 'w.json'}; kept: free some space" in str(error)
    assert disk_full_error(OSError(errno.EACCES, "Permission denied"), tmp_path / "results.db") is None
    wrapped = IcftError("not usable")
    wrapped.__context__ = sqlite3.OperationalError("database or disk is full")
    assert f"to write {tmp_path / 'results.db'}:" in str(disk_full_error(wrapped, tmp_path / "results.db"))
