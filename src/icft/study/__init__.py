"""Studies: a validated config, the grid runner, and the SQLite results store."""

from icft.study.config import StudyConfig, load_study_config, parse_study_config
from icft.study.grid import Study, expand_grid, run_study
from icft.study.store import ItemResult, ResultsStore, RunSpec

__all__ = [
    "ItemResult", "ResultsStore", "RunSpec", "Study", "StudyConfig", "expand_grid", "load_study_config",
    "parse_study_config", "run_study",
]
