"""The bottom layer of stored results: the SQLite results store (`db`), the identities that key it
(`identity`) and the layout of a study folder (`layout`). It imports nothing from evaluate, learn or study, so
every layer above (and the report, which reads only what is stored) can use it."""

from icft.store.db import FINISHED, ItemResult, ResultsStore, RunRecord, RunSpec, TaskResult
from icft.store.identity import code_version, content_digest, world_identity
from icft.store.layout import BASE, CONFIG_FILE, RESULTS_DB, CellKey, world_ref

__all__ = [
    "BASE", "CONFIG_FILE", "FINISHED", "RESULTS_DB", "CellKey", "ItemResult", "ResultsStore", "RunRecord",
    "RunSpec", "TaskResult", "code_version", "content_digest", "world_identity", "world_ref",
]
