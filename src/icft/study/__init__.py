"""Studies: a validated config (`config`), the grid runners (`grid`: ICL vs FT; `transfer`: FT vs FTICL across
tasks), and the SQLite results store (`store`)."""

from icft.study.config import StudyConfig, load_study_config, parse_study_config
from icft.study.store import ItemResult, ResultsStore, RunSpec, TaskResult

__all__ = ["ItemResult", "ResultsStore", "RunSpec", "StudyConfig", "TaskResult", "load_study_config",
           "parse_study_config"]
