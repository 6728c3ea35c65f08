"""The study config: one TOML file names the grid (worlds x models x modes x seeds) and its settings.

Validated once, here: an unknown key, a wrong type or an out-of-range value is a one-line `IcftError` naming
the key and what is allowed. Defaults live in the models below (fine-tuning defaults in
`icft.learn.finetune.config.FinetuneConfig`, held typed in `finetune`), and the resolved config is saved with
every result. A cell's fine-tuning settings (`StudyConfig.finetune_for`) layer, each over the one before:
FinetuneConfig's defaults, the model's defaults in the registry (`icft.models.registry`), the keys the study's
[finetune] sets, and its world's `finetune`; so a two-model study trains each model by its own recipe.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_serializer, field_validator, model_validator,
)

from icft.errors import IcftError
from icft.learn.augment.settings import AugmentSettings
from icft.learn.distill.settings import TEACHER_CONTEXTS, DistillSettings
from icft.learn.finetune.config import FinetuneConfig
from icft.learn.modes import MODES
from icft.models.registry import DEFAULT_MODEL, finetune_defaults
from icft.tasks.builtin import DOMAINS as BUILTIN_DOMAINS, TASK_NAMES as BUILTIN_TASKS
from icft.tasks.io import TaskFileSpec

WorldName = Literal["reversals", "syllogisms", "semantic", "reversal_curse", "process"]
ModeName = Literal["pretrained", "icl", "ft", "ft-split", "ft-local", "ft-global", "ft-local-global", "ft-oracle-local",
                   "ft-oracle-global", "ft-distill", "ft-distill-local", "ft-distill-probes"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorldSpec(Section):
    """A generated world (name + preset + sizes) or a folder made by `icft worlds import`."""

    name: WorldName | None = None
    preset: str = "default"
    sizes: dict[str, int] = Field(default_factory=dict)
    path: str | None = None
    label: str = ""  # how results name this world (default: its name, or its folder's name)
    modes: list[ModeName] | None = None  # this world's modes, when not the study's `modes`
    # this world's fine-tuning settings over the study's [finetune] (e.g. its target loss: worlds whose documents
    # carry random lead-in lines have a higher loss floor than worlds without)
    finetune: dict = Field(default_factory=dict)
    # this world's distillation settings over the study's [distill] (e.g. its ce_weight, where measurement shows its
    # students need the documents' next-token loss to learn them)
    distill: dict = Field(default_factory=dict)

    @field_validator("finetune")
    @classmethod
    def _known_finetune_keys(cls, value: dict) -> dict:
        finetune_config(value)  # raises with the key named
        return value

    @field_validator("distill")
    @classmethod
    def _known_distill_keys(cls, value: dict) -> dict:
        unknown = sorted(set(value) - set(DistillSpec.model_fields))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r}; allowed: {', '.join(DistillSpec.model_fields)}")
        try:
            DistillSpec.model_validate(value)
        except ValidationError as e:  # one line naming the key, as the study's own [distill] gets
            raise ValueError(_first_error(e)) from None
        return value

    @model_validator(mode="after")
    def _generated_or_imported(self):
        """A generated world's preset and sizes are checked here, before a study folder records anything."""
        from icft.worlds import resolve_sizes

        if (self.name is None) == (self.path is None):
            raise ValueError("a [[worlds]] entry needs either `name` (a generator) or `path` (a world folder)")
        if self.name is not None:
            try:
                resolve_sizes(self.name, self.preset, self.sizes)
            except IcftError as e:
                raise ValueError(str(e)) from None
        elif self.sizes or self.preset != "default":
            raise ValueError(f"world {self.path}: `sizes` and `preset` apply to generated worlds, not to a `path`")
        if not self.label:
            object.__setattr__(self, "label", self.name or Path(self.path).name)
        return self


class IclSpec(Section):
    subsample: float = Field(1.0, gt=0, le=1)  # fraction of documents in the context (paper: 1/8 for big worlds)
    template: Literal["plain", "chat"] = "plain"


class AugmentSpec(Section):
    """A study's augmentation: who generates, and the generation settings it passes (their defaults are
    `AugmentSettings`', the same as `icft augment`'s)."""

    generator: str = "self"  # "self" = the model under study; or a model name; or an endpoint (base_url)
    base_url: str | None = None
    endpoint_model: str | None = None
    max_new_tokens: int = Field(AugmentSettings.max_new_tokens, ge=8, le=2048)
    temperature: float = Field(AugmentSettings.temperature, ge=0, le=2)
    # the scaling curve: ft-oracle-local also trained at these many augmentation sentences per fact, on each
    # world that has ft-oracle-local (0 is plain FT: the curve reads the world's ft cell); [] = no curve
    per_fact: list[int] = Field(default_factory=list)

    @field_validator("per_fact")
    @classmethod
    def _budgets(cls, value: list[int]) -> list[int]:
        if any(k < 0 for k in value) or len(set(value)) != len(value):
            raise ValueError("per_fact lists distinct counts of 0 or more, e.g. [0, 1, 2, 4]")
        return value

    @model_validator(mode="after")
    def _one_endpoint(self):
        """An endpoint is a base_url with the model it serves (checked here, before a study folder is claimed)."""
        if bool(self.base_url) != bool(self.endpoint_model):
            raise ValueError("base_url and endpoint_model go together: the endpoint and the model name it serves")
        return self


class DistillSpec(Section):
    """How the distilled modes (ft-distill, ft-distill-local) learn from the model with the facts in its context
    (`icft.learn.distill`; the defaults are `DistillSettings`')."""

    context: Literal[*TEACHER_CONTEXTS] = DistillSettings.context
    temperature: float = Field(DistillSettings.temperature, gt=0, le=10)
    top_k: int = Field(DistillSettings.top_k, ge=1, le=1000)
    ce_weight: float = Field(DistillSettings.ce_weight, ge=0, le=10)

    def settings(self, overrides: dict | None = None) -> DistillSettings:
        """These settings, with a world's own `distill` keys over them."""
        return DistillSettings(**{**self.model_dump(), **(overrides or {})})


class TransferSpec(Section):
    """A transfer study (Yang et al. 2024): fine-tune on each training task, score on every test task."""

    builtin_tasks: list[Literal[*BUILTIN_TASKS]] = Field(default_factory=lambda: list(BUILTIN_TASKS))
    builtin_domains: list[Literal[*BUILTIN_DOMAINS]] = Field(
        default_factory=lambda: list(BUILTIN_DOMAINS))  # [] = no built-in suite (only `tasks`)
    builtin_sizes: dict[str, dict[str, int]] = Field(default_factory=dict)  # domain -> its world's size overrides
    tasks: list[TaskFileSpec] = Field(default_factory=list)  # the user's own tasks
    train: list[str] | None = None  # training rows as "task/domain"; default: every task
    variants: list[Literal["ft", "fticl"]] = Field(default_factory=lambda: ["ft", "fticl"], min_length=1)
    train_sizes: list[int] = Field(default_factory=lambda: [64], min_length=1)  # examples per training run
    demonstrations: int = Field(1, ge=1, le=8)  # k of FTICL: demonstrations in every training prompt
    eval_shots: int = Field(0, ge=0, le=8)  # 0 = zero-shot test prompts; k = k-shot (every class shown)
    test_examples: int = Field(24, ge=1)  # test examples scored per task (the first ones)
    max_new_tokens: int = Field(24, ge=1, le=512)  # generation tasks

    @field_validator("train_sizes")
    @classmethod
    def _positive_sizes(cls, value: list[int]) -> list[int]:
        if any(size < 1 for size in value):
            raise ValueError("every train size must be at least 1")
        return value


class StudyConfig(Section):
    name: str = "study"
    kind: Literal["icl_vs_ft", "transfer"] = "icl_vs_ft"
    worlds: list[WorldSpec] = Field(default_factory=list)  # icl_vs_ft: at least one
    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL], min_length=1)
    # by default every mode but the controls (the oracle's: they need a world with facts and wordings)
    modes: list[ModeName] = Field(default_factory=lambda: [m for m, spec in MODES.items() if not spec.control],
                                  min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    split: Literal["independent", "cumulative"] = "independent"  # sentence splitting of ft-split
    keep_weights: bool = False  # keep fine-tuned weights on disk after they are evaluated
    # where every model loads, trains and is scored: auto (a GPU when torch sees one) | cpu | cuda | cuda:N
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda|cuda:\d+)$")
    icl: IclSpec = Field(default_factory=IclSpec)
    augment: AugmentSpec = Field(default_factory=AugmentSpec)
    distill: DistillSpec = Field(default_factory=DistillSpec)
    # fine-tuning settings; `save_weights` is set per run (`keep_weights`), `seed` is the cell's world seed unless set
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    transfer: TransferSpec | None = None  # kind = "transfer" only
    # the [finetune] keys the config itself sets (not FinetuneConfig's defaults): only these override a model's
    # registry defaults. A typed FinetuneConfig given in Python sets every key.
    _finetune_keys: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_finetune_keys(cls, data, handler):
        config = handler(data)
        given = data.get("finetune") if isinstance(data, dict) else None
        if isinstance(given, dict):
            config._finetune_keys = frozenset(given)
        elif isinstance(given, FinetuneConfig):
            config._finetune_keys = frozenset(f.name for f in dataclasses.fields(FinetuneConfig))
        return config

    @field_serializer("finetune")
    def _only_keys_set(self, value: FinetuneConfig) -> dict:
        """A saved config (the study folder's) records the keys the config sets, so it reads back the same: the
        keys it leaves to each model stay the model's."""
        return {key: value.to_dict()[key] for key in sorted(self._finetune_keys)}

    def finetune_for(self, model: str, overrides: dict | None = None, cell_defaults: dict | None = None,
                     seed: int | None = None, **extra) -> FinetuneConfig:
        """`model`'s fine-tuning settings: FinetuneConfig's defaults < the model's registry defaults <
        `cell_defaults` (what a kind of cell trains by default: an imported world's augmented modes train until
        recalled) < `seed` (the cell's world seed: the fit's seed unless the config sets one) < the keys this
        config's [finetune] sets < `overrides` (a world's `finetune`) < `extra` (set per run: save_weights, ...).

        So `finetune = { seed = 1 }` on a world is a real fit seed (data order and adapter initialization): two
        entries of one world that differ only in it are two fits with two run ids."""
        study = {key: getattr(self.finetune, key) for key in sorted(self._finetune_keys)}
        if seed is not None:
            cell_defaults = {**(cell_defaults or {}), "seed": seed}
        try:
            return finetune_config({**finetune_defaults(model), **(cell_defaults or {}), **study, **(overrides or {})},
                                   **extra)
        except ValueError as e:  # a model's defaults with the study's keys can clash (row_tokens vs batch_tokens)
            raise IcftError(f"fine-tuning settings of {model}: {e}") from None

    @model_validator(mode="after")
    def _sections_of_kind(self):
        if self.kind == "icl_vs_ft" and not self.worlds:
            raise ValueError("an icl_vs_ft study needs at least one [[worlds]] entry")
        if self.kind == "icl_vs_ft" and self.transfer is not None:
            raise ValueError("[transfer] belongs to kind = \"transfer\" studies: set kind or drop the section")
        if self.kind == "transfer" and self.worlds:
            raise ValueError("a transfer study names tasks in [transfer], not [[worlds]]: drop the worlds")
        if self.kind == "transfer" and self.transfer is None:
            object.__setattr__(self, "transfer", TransferSpec())  # the built-in suite with its defaults
        labels = [w.label for w in self.worlds]
        for n, label in enumerate(labels):
            if label in labels[:n]:  # one label = one folder under worlds/ and augment/, one name in the store
                raise ValueError(f"worlds {labels.index(label)} and {n} are both named {label!r}: give one of "
                                 "them a `label`")
        return self

    @field_validator("finetune", mode="before")
    @classmethod
    def _typed_finetune(cls, value):
        return finetune_config(value) if isinstance(value, dict) else value  # raises with the key named


def finetune_config(overrides: dict, base: FinetuneConfig | None = None, **extra) -> FinetuneConfig:
    """`base` (default: the defaults) with `overrides` and `extra` applied; unknown keys and bad values name the key."""
    allowed = {f.name for f in dataclasses.fields(FinetuneConfig)}
    for key in overrides:
        if key not in allowed:
            raise ValueError(f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")
    try:
        return dataclasses.replace(base or FinetuneConfig(), **{**overrides, **extra})
    except (TypeError, ValueError) as e:
        raise ValueError(str(e)) from None


def load_study_config(path: str | Path, **overrides) -> StudyConfig:
    """The config of a TOML file; `overrides` (None = unset) replace its top-level keys, e.g. `device`."""
    path = Path(path)
    if not path.is_file():
        raise IcftError(f"study config {path} does not exist: see configs/ for examples")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise IcftError(f"{path}: malformed TOML ({e})") from None
    return parse_study_config({**raw, **{k: v for k, v in overrides.items() if v is not None}}, source=str(path))


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
    if not key:  # a rule across sections: its message names them
        return message
    if isinstance(first.get("input"), dict):  # a whole section: its message says what is wrong in it
        return f"key {key!r}: {message}"
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
