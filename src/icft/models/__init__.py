"""Models: which name means which weights (registry), loading with a conversion cache, tokenizing text the
way scoring and generation need it (`tokens`), and generation with a shared context (`generation`)."""

from icft.models.loading import LoadedModel, cache_root, load, load_folder
from icft.models.registry import DEFAULT_MODEL, EMBEDDED, resolve

__all__ = ["DEFAULT_MODEL", "EMBEDDED", "LoadedModel", "cache_root", "load", "load_folder", "resolve"]
