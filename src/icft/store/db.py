"""The results store: one SQLite file holding every run and every scored item.

Tables (schema version in `PRAGMA user_version`):
  runs          run_id, world_label, world_id, model, mode, seed, config (JSON), code_version, started_at,
                finished_at (NULL until done), status ('running' | 'finished'): a run's cell key
                (`icft.store.layout.CellKey`: world label, seed, model, mode) in columns, its world's content id
                beside them
  item_results  run_id, item_id, split, logprobs (JSON list), n_tokens (JSON list), chosen_sum, chosen_mean,
                correct_sum, correct_mean, chance, prediction and f1 (free-form items only, else NULL);
                primary key (run_id, item_id)
  task_results  run_id, example_id, prediction, score, exact: one scored example of a task (transfer studies;
                score is accuracy 0/1 for classification, ROUGE-L F1 for generation); key (run_id, example_id)
  fits          fit_id, config (JSON), stats (JSON): one fine-tuning, with what it did to the model (steps,
                tokens, seconds, losses, the stopping rule and whether it was met; in transfer studies also the
                mean absolute weight change). A transfer run names its fit in its config; a fine-tuned cell of
                an icl_vs_ft study has its run id as fit id
  timings       model, device, step, amount, seconds, recorded_at: how long a step (train, score, icl) took
                for how many tokens, for the time estimates of later runs (`icft.study.history`)
  transfer_runs a view of the transfer studies' runs, with columns named for what they hold: test_task,
                task_id, variant, train_task, train_size (in `runs` the test task is the world label and the
                variant the mode: `transfer_key`)

A run's id is a hash of what determines its results (the world's content, model, mode, seed and resolved
config), so starting the same run again finds the stored one: unfinished runs resume from the items they
hold, finished runs are never recomputed. Each batch of items is written in one transaction, so an
interruption loses at most the batch in flight. WAL mode and a busy timeout let two processes share a file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from icft.errors import IcftError
from icft.store.identity import canonical_json, code_version
from icft.store.layout import CellKey
from icft.store.lock import disk_full_error
from icft.store.records import FitRecord, ItemResult, RunRecord, RunSpec, TaskResult, TransferRun

SCHEMA_VERSION = 5
BUSY_TIMEOUT_S = 60.0
RUNNING, FINISHED = "running", "finished"

# Each version's statements, applied in turn to a file of an older version (a new file runs them all).
_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    world TEXT NOT NULL,
    world_id TEXT NOT NULL,
    model TEXT NOT NULL,
    mode TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    code_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished'))
);
CREATE TABLE item_results (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    item_id TEXT NOT NULL,
    split TEXT NOT NULL,
    logprobs TEXT NOT NULL,
    n_tokens TEXT NOT NULL,
    chosen_sum INTEGER NOT NULL,
    chosen_mean INTEGER NOT NULL,
    correct_sum INTEGER NOT NULL,
    correct_mean INTEGER NOT NULL,
    chance REAL NOT NULL,
    PRIMARY KEY (run_id, item_id)
);
CREATE INDEX runs_by_world_model ON runs (world_id, model, mode);
"""
_SCHEMA_V2 = """
CREATE TABLE task_results (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    example_id TEXT NOT NULL,
    prediction TEXT NOT NULL,
    score REAL NOT NULL,
    exact INTEGER NOT NULL,
    PRIMARY KEY (run_id, example_id)
);
CREATE TABLE fits (
    fit_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    stats TEXT NOT NULL
);
"""
# version 3: the world's label without its seed suffix (`_split_world_labels` fills it from version 2's
# `world`, which held "<label>-s<seed>" in studies), and the transfer runs' view
_SCHEMA_V3 = """
ALTER TABLE runs RENAME COLUMN world TO world_label;
CREATE VIEW transfer_runs AS SELECT
    run_id, world_label AS test_task, world_id AS task_id, model, mode AS variant, seed,
    json_extract(config, '$.train_task') AS train_task, json_extract(config, '$.train_size') AS train_size,
    config, code_version, started_at, finished_at, status
FROM runs WHERE json_extract(config, '$.kind') = 'transfer';
"""
# version 4: how long each step took, for the time estimates (`icft.study.history`)
_SCHEMA_V4 = """
CREATE TABLE timings (
    model TEXT NOT NULL,
    device TEXT NOT NULL,
    step TEXT NOT NULL,
    amount REAL NOT NULL,
    seconds REAL NOT NULL,
    recorded_at TEXT NOT NULL
);
"""
# version 5: a free-form item's generated answer and its token F1 (NULL for multiple-choice items)
_SCHEMA_V5 = """
ALTER TABLE item_results ADD COLUMN prediction TEXT;
ALTER TABLE item_results ADD COLUMN f1 REAL;
"""
_MIGRATIONS = {1: _SCHEMA, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4, 5: _SCHEMA_V5}  # version -> what turns the one before into it


class ResultsStore:
    """A SQLite results file; open one per process (connections are not shared between threads)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE takes the write lock up front,
            # so two writers wait for each other instead of failing on a lock upgrade)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._create_schema()
        except (sqlite3.DatabaseError, OSError) as e:
            unusable = IcftError(f"{self.path} is not a usable results database ({e}): choose another results file")
            raise disk_full_error(e, self.path) or unusable from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create_schema(self) -> None:
        """Create a new file's tables, or bring an older file up to `SCHEMA_VERSION` (its runs are kept)."""
        with self._write():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise IcftError(
                    f"{self.path} has results schema {version}, this icft reads {SCHEMA_VERSION}: "
                    "use the icft version that wrote it, or a new results file"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                if target == 3:
                    self._split_world_labels()
            if version != SCHEMA_VERSION:
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _split_world_labels(self) -> None:
        """Version 2 kept a study run's world as "<label>-s<seed>": keep the label (transfer runs held a task)."""
        rows = self._db.execute("SELECT run_id, world_label, seed FROM runs WHERE "
                                "json_extract(config, '$.kind') IS NOT 'transfer'").fetchall()
        self._db.executemany("UPDATE runs SET world_label = ? WHERE run_id = ?",
                             [(CellKey.label_of(ref, seed), run_id) for run_id, ref, seed in rows
                              if CellKey.label_of(ref, seed) != ref])

    def _write(self) -> _Transaction:
        return _Transaction(self._db)

    # ---- runs

    def start_run(self, spec: RunSpec) -> str:
        """The run id for `spec`, recording the run if it is new (an existing run is left as it is)."""
        run_id = spec.run_id
        if self.run_status(run_id) is not None:
            return run_id
        with self._write():  # OR IGNORE: another process may have recorded it since
            self._db.execute(
                "INSERT OR IGNORE INTO runs (run_id, world_label, world_id, model, mode, seed, config, code_version, "
                "started_at, finished_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (run_id, spec.world_label, spec.world_id, spec.model, spec.mode, spec.seed,
                 canonical_json(spec.config), code_version(), _now(), RUNNING),
            )
        return run_id

    def finish_run(self, run_id: str) -> None:
        with self._write():
            self._require_run(run_id)
            self._db.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ? AND status = ?",
                (FINISHED, _now(), run_id, RUNNING),
            )

    def run_status(self, run_id: str) -> str | None:
        """'running', 'finished', or None for a run this store does not hold."""
        row = self._db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run_record(row) if row else None

    def runs(self, world_id: str | None = None, model: str | None = None, mode: str | None = None,
             status: str | None = None) -> list[RunRecord]:
        """Runs matching every filter given, oldest first (runs started within one second in the order they were
        started: `started_at` has whole seconds)."""
        filters = {"world_id": world_id, "model": model, "mode": mode, "status": status}
        used = [(column, value) for column, value in filters.items() if value is not None]
        where = " AND ".join(f"{column} = ?" for column, _ in used)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY started_at, rowid"
        return [_run_record(row) for row in self._db.execute(sql, [value for _, value in used])]

    def transfer_runs(self) -> list[TransferRun]:
        """The transfer studies' runs, oldest first, with their test task, variant and training named."""
        sql = f"SELECT {_TRANSFER_COLUMNS} FROM transfer_runs ORDER BY started_at, rowid"
        return [_transfer_run(row) for row in self._db.execute(sql)]

    # ---- items

    def done_item_ids(self, run_id: str) -> set[str]:
        """Ids of the items (world runs) or examples (task runs) the run has stored."""
        sql = "SELECT item_id FROM item_results WHERE run_id = ? UNION SELECT example_id FROM task_results WHERE run_id = ?"
        return {row[0] for row in self._db.execute(sql, (run_id, run_id))}

    def add_item_results(self, run_id: str, rows: Iterable[ItemResult]) -> None:
        """Store a batch in one transaction; items already stored for the run keep their first result."""
        with self._write():
            self._require_unfinished(run_id)
            self._db.executemany(
                "INSERT OR IGNORE INTO item_results (run_id, item_id, split, logprobs, n_tokens, chosen_sum, "
                "chosen_mean, correct_sum, correct_mean, chance, prediction, f1) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, r.item_id, r.split, json.dumps(list(r.logprobs)), json.dumps(list(r.n_tokens)),
                  r.chosen_sum, r.chosen_mean, int(r.correct_sum), int(r.correct_mean), r.chance, r.prediction,
                  r.f1) for r in rows],
            )

    def item_rows(self, run_id: str) -> list[ItemResult]:
        """The run's stored items in the order they were written."""
        cursor = self._db.execute(
            "SELECT item_id, split, logprobs, n_tokens, chosen_sum, chosen_mean, correct_sum, correct_mean, chance, "
            "prediction, f1 FROM item_results WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        )
        return [
            ItemResult(item_id=r[0], split=r[1], logprobs=tuple(json.loads(r[2])), n_tokens=tuple(json.loads(r[3])),
                       chosen_sum=r[4], chosen_mean=r[5], correct_sum=bool(r[6]), correct_mean=bool(r[7]),
                       chance=r[8], prediction=r[9], f1=r[10])
            for r in cursor
        ]

    # ---- task examples and fits (transfer studies)

    def add_task_results(self, run_id: str, rows: Iterable[TaskResult]) -> None:
        """Store a batch of scored examples in one transaction (first result kept, as for items)."""
        with self._write():
            self._require_unfinished(run_id)
            self._db.executemany(
                "INSERT OR IGNORE INTO task_results (run_id, example_id, prediction, score, exact) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, r.example_id, r.prediction, float(r.score), int(r.exact)) for r in rows],
            )

    def task_rows(self, run_id: str) -> list[TaskResult]:
        """The run's stored examples in the order they were written."""
        cursor = self._db.execute(
            "SELECT example_id, prediction, score, exact FROM task_results WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [TaskResult(example_id=r[0], prediction=r[1], score=r[2], exact=bool(r[3])) for r in cursor]

    def add_fit(self, fit_id: str, config: dict, stats: dict) -> None:
        """Record a finished fine-tuning (a rerun of the same fit replaces its stats)."""
        with self._write():
            self._db.execute("INSERT OR REPLACE INTO fits (fit_id, config, stats) VALUES (?, ?, ?)",
                             (fit_id, canonical_json(config), canonical_json(stats)))

    def fit_config(self, fit_id: str) -> dict | None:
        row = self._db.execute("SELECT config FROM fits WHERE fit_id = ?", (fit_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def fit_stats(self, fit_id: str) -> dict | None:
        row = self._db.execute("SELECT stats FROM fits WHERE fit_id = ?", (fit_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def fit_record(self, fit_id: str) -> FitRecord | None:
        """The fit's stats as a typed record (older records read the defaults of keys they lack)."""
        stats = self.fit_stats(fit_id)
        return FitRecord.from_stats(stats) if stats is not None else None

    def add_timing(self, model: str, device: str, step: str, amount: float, seconds: float) -> None:
        """Record that `step` (train, score, icl) of `model` on `device` took `seconds` for `amount` tokens."""
        with self._write():
            self._db.execute("INSERT INTO timings (model, device, step, amount, seconds, recorded_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (model, device, step, amount, seconds, _now()))

    def timings(self) -> list[tuple[str, str, str, float, float]]:
        """Every recorded timing as (model, device, step, amount, seconds), oldest first."""
        return self._db.execute("SELECT model, device, step, amount, seconds FROM timings ORDER BY rowid").fetchall()

    def _require_unfinished(self, run_id: str) -> None:
        if self._require_run(run_id) == FINISHED:
            raise IcftError(f"run {run_id} is finished; its results cannot change (start a new run)")

    def _require_run(self, run_id: str) -> str:
        status = self.run_status(run_id)
        if status is None:
            raise IcftError(f"{self.path} holds no run {run_id}: start it with start_run first")
        return status


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (KeyboardInterrupt included)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


_RUN_COLUMNS = ("run_id, world_label, world_id, model, mode, seed, config, code_version, started_at, finished_at, "
                "status")
_TRANSFER_COLUMNS = ("run_id, test_task, task_id, model, variant, seed, train_task, train_size, config, code_version, "
                     "started_at, finished_at, status")


def _run_record(row: Sequence) -> RunRecord:
    key = CellKey(world_label=row[1], seed=row[5], model=row[3], mode=row[4])
    return RunRecord(run_id=row[0], key=key, world_id=row[2], config=json.loads(row[6]), code_version=row[7],
                     started_at=row[8], finished_at=row[9], status=row[10])


def _transfer_run(row: Sequence) -> TransferRun:
    return TransferRun(*row[:8], config=json.loads(row[8]), code_version=row[9], started_at=row[10],
                       finished_at=row[11], status=row[12])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
