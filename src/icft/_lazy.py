"""Package names that load their module on first use, so importing a package does not import torch."""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, homes: dict[str, str]):
    """`__getattr__` and `__all__` for `package`, whose public names live in the submodules `homes` names."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{homes[name]}"), name)

    return __getattr__, sorted(homes)
