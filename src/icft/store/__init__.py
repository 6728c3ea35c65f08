"""The bottom layer of stored results: the SQLite results store (`db`), the identities that key it
(`identity`), the records it holds (`records`) and the layout of a study folder (`layout`), whose `CellKey` names a cell's folders and its
columns in the store. It imports nothing from evaluate, learn or study, so every layer above (and the report,
which reads only what is stored) can use it."""

from icft.store.db import FINISHED, ResultsStore
from icft.store.records import FitRecord, ItemResult, RunRecord, RunSpec, TaskResult, TransferRun, transfer_key
from icft.store.identity import code_version, content_digest, world_identity
from icft.store.layout import BASE, CONFIG_FILE, RESULTS_DB, CellKey

__all__ = [
    "BASE", "CONFIG_FILE", "FINISHED", "RESULTS_DB", "CellKey", "FitRecord", "ItemResult", "ResultsStore", "RunRecord",
    "RunSpec", "TaskResult", "TransferRun", "code_version", "content_digest", "transfer_key", "world_identity",
]
