"""Models: which name means which weights (registry), loading with a conversion cache (and reloading the weights
a fine-tuning run kept: `load_finetuned`), the device and precision they run in (`device`), tokenizing text the
way scoring and generation need it (`tokens`), and generation with a shared context (`generation`).

The names below load on first use: a config reading `DEFAULT_MODEL` imports no torch.
"""

from icft._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "LoadedModel": "loading", "cache_root": "loading", "load": "loading", "load_folder": "loading",
    "load_finetuned": "loading", "drop_finetuned_weights": "loading",
    "DEFAULT_MODEL": "registry", "EMBEDDED": "registry", "resolve": "registry",
})
