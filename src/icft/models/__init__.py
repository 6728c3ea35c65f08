"""Models: which name means which weights (registry), and loading with a conversion cache."""

from icft.models.loading import LoadedModel, cache_root, load, load_folder
from icft.models.registry import DEFAULT_MODEL, EMBEDDED, resolve

__all__ = ["DEFAULT_MODEL", "EMBEDDED", "LoadedModel", "cache_root", "load", "load_folder", "resolve"]
