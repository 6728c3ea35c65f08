"""Studies: a validated config (`config`), the grid runner (`grid`), and the SQLite results store (`store`)."""

from icft.study.config import StudyConfig, load_study_config, parse_study_config
from icft.study.store import ItemResult, ResultsStore, RunSpec

__all__ = ["ItemResult", "ResultsStore", "RunSpec", "StudyConfig", "load_study_config", "parse_study_config"]
