"""Load a model by name into a trainable fp32 PyTorch model, converting GGUF files once into a cache.

The first load of a GGUF model (the embedded ones) de-quantizes it with transformers and saves
safetensors + tokenizer files under `$ICFT_CACHE/models/NAME` (default `~/.cache/icft`); later loads read
that folder, which takes well under a second instead of half a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from icft.errors import IcftError
from icft.models.device import default_dtype, resolve_device
from icft.models.registry import EMBEDDED, ModelSource, embedded_gguf_path, resolve

CONVERTED_MARKER = "icft-converted.json"  # written last: a folder without it is an unfinished conversion


@dataclass
class LoadedModel:
    """A causal LM, its tokenizer, and the name it was loaded by."""

    model: torch.nn.Module
    tokenizer: object
    name: str

    @property
    def context_window(self) -> int:
        config = self.model.config
        return int(getattr(config, "max_position_embeddings", None) or self.tokenizer.model_max_length)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype


def cache_root() -> Path:
    return Path(os.environ.get("ICFT_CACHE", "~/.cache/icft")).expanduser()


def load(name: str, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> LoadedModel:
    """Load `name` (an embedded model, a local folder or .gguf file, or a hub id) onto `device`.

    `device` is a torch device or a setting (auto | cpu | cuda | cuda:N); `dtype` defaults to the device's
    (`icft.models.device.default_dtype`: bf16 on a GPU that supports it, else fp32).
    """
    source = resolve(name)
    folder = model_folder(source)
    return load_folder(folder, name=name, device=device, dtype=dtype)


def model_folder(source: ModelSource) -> str:
    """A folder (or hub id) that `from_pretrained` can read, converting a GGUF source once."""
    if source.kind == "hub":
        return source.location
    if source.kind == "local" and not source.location.endswith(".gguf"):
        return source.location
    if source.kind == "embedded":
        gguf = embedded_gguf_path(EMBEDDED[source.name], cache_root())
    else:
        gguf = Path(source.location)
    target = cache_root() / "models" / source.cache_key
    if not _is_converted(target, gguf):
        convert_gguf(gguf, target)
    return str(target)


def load_folder(folder: str, name: str, device: str | torch.device = "cpu",
                dtype: torch.dtype | None = None) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    device = resolve_device(device) if isinstance(device, str) else device
    dtype = dtype or default_dtype(device)

    hf_logging.disable_progress_bar()  # a cached load takes under a second: its bar is noise in a study's log
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    except OSError as e:
        raise IcftError(
            f"could not load model {name!r} ({str(e).splitlines()[0]}): with no network, download it into a "
            "local folder and pass that folder"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, name=name)


# the folders a fine-tuning run keeps its weights in (`icft.learn.finetune` with save_weights): all of them, or
# the LoRA adapter
FULL_WEIGHTS, ADAPTER = "model", "adapter"


def load_finetuned(run_folder: str | Path, name: str, device: str | torch.device = "cpu") -> LoadedModel | None:
    """The model a fine-tuning run kept in `run_folder`: its full weights, or its LoRA adapter merged into a fresh
    copy of `name` (the base model it was trained from); None when the run kept no weights."""
    folder = Path(run_folder)
    if (folder / FULL_WEIGHTS / "config.json").is_file():
        return load_folder(str(folder / FULL_WEIGHTS), name=name, device=device)
    if (folder / ADAPTER / "adapter_config.json").is_file():
        from peft import PeftModel

        base = load(name, device=device)
        base.model = PeftModel.from_pretrained(base.model, str(folder / ADAPTER)).merge_and_unload()
        return base
    return None


def drop_finetuned_weights(run_folder: str | Path) -> None:
    """Delete the weights a fine-tuning run kept (its curve and config stay)."""
    for weights in (FULL_WEIGHTS, ADAPTER):
        shutil.rmtree(Path(run_folder) / weights, ignore_errors=True)


def convert_gguf(gguf: Path, target: Path) -> Path:
    """De-quantize a GGUF file into an fp32 safetensors folder at `target` (atomic: temp folder + rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # the one slow step (about 40 s): show it
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        # the weights are already de-quantized to fp32; dropping the GGUF quantizer makes them saveable
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        stat = gguf.stat()
        (tmp / CONVERTED_MARKER).write_text(json.dumps({"gguf": str(gguf), "size": stat.st_size}) + "\n")
        if target.exists():  # a stale or unfinished conversion
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if _is_converted(target, gguf):  # another process finished the same conversion first
            return target
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _is_converted(target: Path, gguf: Path) -> bool:
    marker = target / CONVERTED_MARKER
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return False
    return recorded.get("size") == gguf.stat().st_size
