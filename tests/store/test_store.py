import json
import sqlite3
import threading

import pytest

from icft.errors import IcftError
from icft.store import CellKey, FitRecord, ItemResult, ResultsStore, RunSpec, TransferRun, code_version, world_identity
from icft.store.db import SCHEMA_VERSION
from icft.worlds.schema import Document, Item, World


def _spec(world_id: str = "tiny/seed0/v1/abc", config: dict | None = None, **key) -> RunSpec:
    """A run of the tiny world; `key` changes parts of its cell key (world_label, seed, model, mode)."""
    key = CellKey(**{"world_label": "worlds/tiny", "seed": 0, "model": "tiny-llama", "mode": "icl", **key})
    return RunSpec(key, world_id, {"subsample": 0.5, "template": "plain"} if config is None else config)


def _result(n: int, split: str = "reversal") -> ItemResult:
    return ItemResult(item_id=f"i{n}", split=split, logprobs=(-1.5 - n, -2.25), n_tokens=(2, 3), chosen_sum=0,
                      chosen_mean=1, correct_sum=True, correct_mean=False, chance=0.5)


def test_round_trip(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        run_id = store.start_run(_spec())
        rows = [_result(n) for n in range(5)]
        store.add_item_results(run_id, rows[:3])
        store.add_item_results(run_id, rows[3:])
        assert store.item_rows(run_id) == rows
        assert store.done_item_ids(run_id) == {f"i{n}" for n in range(5)}
        record = store.run(run_id)
    assert record.config == {"subsample": 0.5, "template": "plain"}
    assert record.key == CellKey("worlds/tiny", 0, "tiny-llama", "icl")
    assert (record.world_label, record.model, record.mode, record.seed) == ("worlds/tiny", "tiny-llama", "icl", 0)
    assert record.status == "running" and record.finished_at is None
    assert record.code_version == code_version() and record.code_version.startswith("0")
    # a second store on the same file sees the same rows
    with ResultsStore(tmp_path / "r.db") as again:
        assert again.item_rows(run_id) == rows
    assert sqlite3.connect(tmp_path / "r.db").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_run_id_is_stable_and_hashes_what_changes_results(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        run_id = store.start_run(_spec())
        assert store.start_run(_spec()) == run_id  # idempotent
        assert store.start_run(_spec(world_label="/elsewhere/tiny")) == run_id  # the folder is not the identity
        assert len(store.runs()) == 1
        others = {store.start_run(_spec(seed=1)), store.start_run(_spec(mode="pretrained", config={})),
                  store.start_run(_spec(config={"subsample": 1.0, "template": "plain"}))}
        assert run_id not in others and len(others) == 3
        assert [r.seed for r in store.runs(mode="icl", status="running")] == [0, 1, 0]
        assert store.runs(model="other") == []


def test_finished_run_cannot_change(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        run_id = store.start_run(_spec())
        store.add_item_results(run_id, [_result(0)])
        store.finish_run(run_id)
        assert store.run_status(run_id) == "finished"
        assert store.run(run_id).finished_at is not None
        assert store.start_run(_spec()) == run_id and store.run_status(run_id) == "finished"
        with pytest.raises(IcftError, match="finished"):
            store.add_item_results(run_id, [_result(1)])
        assert store.run_status("nope") is None
        with pytest.raises(IcftError, match="no run"):
            store.add_item_results("nope", [_result(1)])


def test_an_interrupted_batch_is_lost_whole(tmp_path):
    def rows_then_interrupt():
        yield _result(2)
        yield _result(3)
        raise KeyboardInterrupt

    with ResultsStore(tmp_path / "r.db") as store:
        run_id = store.start_run(_spec())
        store.add_item_results(run_id, [_result(0), _result(1)])
        with pytest.raises(KeyboardInterrupt):
            store.add_item_results(run_id, rows_then_interrupt())
        assert store.done_item_ids(run_id) == {"i0", "i1"}
        store.add_item_results(run_id, [_result(2)])  # the store is still usable
        assert store.done_item_ids(run_id) == {"i0", "i1", "i2"}


def test_two_writers_share_a_file(tmp_path):
    path = tmp_path / "r.db"
    ResultsStore(path).close()
    errors = []

    def write(seed: int):
        try:
            with ResultsStore(path) as store:
                run_id = store.start_run(_spec(seed=seed))
                for n in range(0, 40, 4):
                    store.add_item_results(run_id, [_result(k) for k in range(n, n + 4)])
                store.finish_run(run_id)
        except Exception as e:  # reported below: pytest does not see thread exceptions
            errors.append(e)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with ResultsStore(path) as store:
        runs = store.runs(status="finished")
        assert len(runs) == 2 and all(len(store.item_rows(r.run_id)) == 40 for r in runs)


def test_bad_files_are_named(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database, just text " * 100)
    with pytest.raises(IcftError, match="junk.db"):
        ResultsStore(junk)
    newer = tmp_path / "newer.db"
    ResultsStore(newer).close()
    sqlite3.connect(newer).execute("PRAGMA user_version = 99")
    with pytest.raises(IcftError, match="schema 99"):
        ResultsStore(newer)


def test_world_identity_follows_content():
    def world(answer: int) -> World:
        item = Item(id="q", split="s", prompt="femp are", options=(" glon", " yomp"), answer=answer)
        return World(name="tiny", seed=3, generator_version="1", sizes={"facts": 1},
                     documents=[Document(id="d", text="femp are glon.")], items=[item])

    assert world_identity(world(0)) == world_identity(world(0))
    assert world_identity(world(0)) != world_identity(world(1))
    assert world_identity(world(0)).startswith("tiny/seed3/v1/")


def test_a_version_1_store_keeps_its_runs_and_gains_the_task_tables(tmp_path):
    from icft.store import TaskResult
    from icft.store.db import _SCHEMA

    old = tmp_path / "v1.db"
    db = sqlite3.connect(old)
    db.executescript(_SCHEMA + "PRAGMA user_version = 1;")
    db.execute("INSERT INTO runs VALUES ('r1', 'w', 'w/id', 'm', 'icl', 0, '{}', 'v', 't0', 't1', 'finished')")
    db.commit()
    db.close()
    with ResultsStore(old) as store:
        assert store.run_status("r1") == "finished"
        spec = RunSpec(CellKey("t/d", 0, "m", "base"), world_id="t/d/x", config={})
        store.start_run(spec)
        store.add_task_results(spec.run_id, [TaskResult("e1", "true", 1.0, True)])
        assert store.task_rows(spec.run_id) == [TaskResult("e1", "true", 1.0, True)]
        assert store.done_item_ids(spec.run_id) == {"e1"}
        store.add_fit("f1", {"variant": "ft"}, {"mean_abs_weight_change": 0.5})
        assert store.fit_stats("f1") == {"mean_abs_weight_change": 0.5} and store.fit_stats("f2") is None
    assert sqlite3.connect(old).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5


def test_the_cell_key_is_stored_in_columns(tmp_path):
    """world label, seed, model and mode each have a column; the label carries no seed suffix."""
    with ResultsStore(tmp_path / "r.db") as store:
        run_id = store.start_run(_spec(world_label="reversals", seed=2))
        assert store.run(run_id).key.world_ref == "reversals-s2"
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("SELECT world_label, seed, model, mode FROM runs").fetchall() == [
        ("reversals", 2, "tiny-llama", "icl")]


def _version_2_file(path, runs):
    """A results file as icft wrote it at schema 2: the runs' world held "<label>-s<seed>" in studies."""
    from icft.store.db import _SCHEMA, _SCHEMA_V2

    db = sqlite3.connect(path)
    db.executescript(_SCHEMA + _SCHEMA_V2 + "PRAGMA user_version = 2;")
    db.executemany("INSERT INTO runs VALUES (?, ?, 'w/id', 'm', ?, ?, ?, 'v', 't0', 't1', 'finished')", runs)
    db.commit()
    db.close()


def test_a_version_2_store_gets_world_labels_without_the_seed(tmp_path):
    transfer = {"kind": "transfer", "test_task": "sentiment/movies", "train_task": "sentiment/books",
                "train_size": 64}
    _version_2_file(tmp_path / "v2.db", [
        ("study", "reversals-s1", "icl", 1, "{}"),  # a study's cell
        ("cli", "worlds/rev", "icl", 0, "{}"),  # `icft eval` on a folder: no suffix to take away
        ("task", "sentiment/movies", "fticl", 3, json.dumps(transfer)),  # a transfer run names a task
    ])
    with ResultsStore(tmp_path / "v2.db") as store:
        assert {r.run_id: r.world_label for r in store.runs()} == {
            "study": "reversals", "cli": "worlds/rev", "task": "sentiment/movies"}
        assert store.run("study").key == CellKey("reversals", 1, "m", "icl")
        assert [(r.run_id, r.test_task, r.variant, r.train_task, r.train_size, r.seed)
                for r in store.transfer_runs()] == [("task", "sentiment/movies", "fticl", "sentiment/books", 64, 3)]
    assert sqlite3.connect(tmp_path / "v2.db").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_transfer_runs_are_read_with_named_columns(tmp_path):
    from icft.store import transfer_key

    config = {"kind": "transfer", "test_task": "nli/news", "train_task": None, "train_size": None}
    with ResultsStore(tmp_path / "r.db") as store:
        store.start_run(_spec())  # a world run is no transfer run
        run_id = store.start_run(RunSpec(transfer_key("nli/news", 0, "m", "base"), "nli/news/x", config))
        runs = store.transfer_runs()
    assert runs == [TransferRun(run_id=run_id, test_task="nli/news", task_id="nli/news/x", model="m", variant="base",
                                seed=0, train_task=None, train_size=None, config=config,
                                code_version=runs[0].code_version, started_at=runs[0].started_at, finished_at=None,
                                status="running")]


def test_a_fit_record_reads_older_stats_with_the_defaults_of_the_keys_they_lack(tmp_path):
    """A fit stored before the divergence rule has no restores, kept_loss or diverged: it kept its last epoch's
    weights and never diverged. Keys a newer store adds are left out, not an error."""
    old = {"steps": 12, "epochs": 4, "final_loss": 0.25, "epoch_losses": [2.0, 0.25], "target_loss": 0.3,
           "stopped_by": "target_loss", "criterion_met": True, "a_newer_key": 1}
    with ResultsStore(tmp_path / "r.db") as store:
        store.add_fit("f1", {"mode": "ft"}, old)
        record = store.fit_record("f1")
        assert store.fit_record("f2") is None and store.fit_stats("f1") == old  # the table keeps its JSON
    assert record == FitRecord(steps=12, epochs=4, final_loss=0.25, epoch_losses=(2.0, 0.25), target_loss=0.3,
                               stopped_by="target_loss", criterion_met=True, kept_loss=0.25)
    assert record.restores == () and record.diverged is False and record.precision is None
    diverged = FitRecord.from_stats({**old, "restores": [3], "kept_loss": 0.2})
    assert diverged.diverged and diverged.restores == (3,) and diverged.kept_loss == 0.2
