"""The study config: one TOML file names the grid (worlds x models x modes x seeds) and its settings.

Validated once, here: an unknown key, a wrong type or an out-of-range value is a one-line `IcftError` naming
the key and what is allowed. Defaults live in the models below (fine-tuning defaults in
`icft.learn.finetune.FinetuneConfig`), and the resolved config is saved with every result.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from icft.errors import IcftError
from icft.learn.modes import MODES

WorldName = Literal["reversals", "syllogisms", "semantic", "reversal_curse"]
ModeName = Literal["pretrained", "icl", "ft", "ft-split", "ft-local", "ft-global", "ft-local-global"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorldSpec(Section):
    """A generated world (name + preset + sizes) or a folder made by `icft worlds import`."""

    name: WorldName | None = None
    preset: str = "default"
    sizes: dict[str, int] = Field(default_factory=dict)
    path: str | None = None
    modes: list[ModeName] | None = None  # this world's modes, when not the study's `modes`

    @property
    def label(self) -> str:
        return self.name or Path(self.path or "world").name


class IclSpec(Section):
    subsample: float = Field(1.0, gt=0, le=1)  # fraction of documents in the context (paper: 1/8 for big worlds)
    template: Literal["plain", "chat"] = "plain"


class AugmentSpec(Section):
    generator: str = "self"  # "self" = the model under study; or a model name; or an endpoint (base_url)
    base_url: str | None = None
    endpoint_model: str | None = None
    max_new_tokens: int = Field(96, ge=8, le=2048)
    temperature: float = Field(0.0, ge=0, le=2)


class StudyConfig(Section):
    name: str = "study"
    kind: Literal["icl_vs_ft", "transfer"] = "icl_vs_ft"
    worlds: list[WorldSpec] = Field(min_length=1)
    models: list[str] = Field(default_factory=lambda: ["smollm2-135m"], min_length=1)
    modes: list[ModeName] = Field(default_factory=lambda: list(MODES), min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    split: Literal["independent", "cumulative"] = "independent"  # sentence splitting of ft-split
    keep_weights: bool = False  # keep fine-tuned weights on disk after they are evaluated
    icl: IclSpec = Field(default_factory=IclSpec)
    augment: AugmentSpec = Field(default_factory=AugmentSpec)
    finetune: dict = Field(default_factory=dict)  # fields of icft.learn.finetune.FinetuneConfig

    @field_validator("finetune")
    @classmethod
    def _known_finetune_keys(cls, value: dict) -> dict:
        finetune_config(value)  # raises with the key named
        return value


def finetune_config(overrides: dict, **extra):
    """`FinetuneConfig` with the study's overrides; unknown keys and bad values name the key."""
    from icft.learn.finetune import FinetuneConfig

    allowed = {f.name for f in dataclasses.fields(FinetuneConfig)}
    for key in overrides:
        if key not in allowed:
            raise ValueError(f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")
    try:
        return FinetuneConfig(**{**overrides, **extra})
    except (TypeError, ValueError) as e:
        raise ValueError(str(e)) from None


def load_study_config(path: str | Path) -> StudyConfig:
    path = Path(path)
    if not path.is_file():
        raise IcftError(f"study config {path} does not exist: see configs/ for examples")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise IcftError(f"{path}: malformed TOML ({e})") from None
    return parse_study_config(raw, source=str(path))


def parse_study_config(raw: dict, source: str = "config") -> StudyConfig:
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as e:
        raise IcftError(f"{source}: {_first_error(e)}") from None


def _first_error(error: ValidationError) -> str:
    """One line: the dotted key and what is wrong with it (and what is allowed)."""
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"unknown key {key!r}: {_allowed_keys(first['loc'])}"
    message = first["msg"].removeprefix("Value error, ")
    return f"key {key!r}: {message} (got {first.get('input')!r})"


def _allowed_keys(loc: tuple) -> str:
    model: type[BaseModel] = StudyConfig
    for part in loc[:-1]:
        annotation = model.model_fields.get(str(part)) if isinstance(part, str) else None
        inner = getattr(annotation, "annotation", None)
        args = getattr(inner, "__args__", ())
        candidates = [a for a in (inner, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if candidates:
            model = candidates[0]
    return "allowed keys are " + ", ".join(model.model_fields)
