"""Studies: a validated config (`config`) and the grid runners (`grid`: ICL vs FT; `transfer`: FT vs FTICL
across tasks). Their results go to the store (`icft.store`)."""

from icft.study.config import StudyConfig, load_study_config, parse_study_config

__all__ = ["StudyConfig", "load_study_config", "parse_study_config"]
