"""Where models run: the `device` setting (auto | cpu | cuda | cuda:N) and the precision that goes with it.

Every mode of a study loads, trains and scores on the one device resolved here, so no comparison mixes a CPU
score with a GPU one. On a GPU that supports it, bf16 is the default precision; on a CPU, fp32. Fine-tuning
has its own `precision` setting (the dtype of its matrix products), resolved here too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from icft.errors import IcftError

DEVICE_SETTING = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def resolve_device(setting: str = "auto") -> torch.device:
    """The torch device of a setting; `auto` is the first GPU when torch sees one, else the CPU."""
    if not DEVICE_SETTING.match(setting):
        raise IcftError(f"device {setting!r} is not one of auto, cpu, cuda, cuda:N")
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(setting)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise IcftError(f"device {setting!r}: torch sees no GPU here; use device \"cpu\" (or \"auto\")")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise IcftError(f"device {setting!r}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0")
    return device


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that supports it (half the memory, tensor cores), else fp32."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def precision_name(dtype: torch.dtype) -> str:
    """"float32", "bfloat16": how runs record their precision."""
    return str(dtype).removeprefix("torch.")


def device_precision(setting: str) -> str:
    """The precision models get on the device of `setting` (what a run records before any model loads)."""
    return precision_name(default_dtype(resolve_device(setting)))


def resolve_precision(setting: str, device: torch.device) -> str:
    """A fine-tuning's `precision` setting on `device`: "fp32" or "bf16" ("auto" resolved).

    auto is bf16 on a GPU that supports it, and on a CPU that multiplies bf16 natively (avx512_bf16 or AMX: 1.7-3.6x
    fp32's matrix-product rate there); elsewhere bf16 would be emulated, slower than fp32.
    """
    if setting != "auto":
        return checked_precision(setting, device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def checked_precision(setting: str, device: torch.device) -> str:
    """A resolved precision ("fp32", "bf16") that `device` can run: bf16 on a GPU without it is an error."""
    if setting == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise IcftError("precision bf16: this GPU does not support bf16; use precision fp32 (or auto)")
    return setting


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has bf16 matrix instructions (its flags list avx512_bf16 or amx_bf16; Linux only).

    torch's `backends.cpu.get_cpu_capability()` says only "AVX512", with or without them.
    """
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: no bf16 claimed
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    # and torch dispatches to its AVX-512 kernels: with ATEN_CPU_CAPABILITY=avx2 (or an older build) bf16 products
    # are emulated, about 30x slower than fp32 (measured: 30 s a default-study step)
    native = torch.backends.cpu.get_cpu_capability().startswith(("AVX512", "AMX"))
    return native and ("avx512_bf16" in flags or "amx_bf16" in flags)


def device_label(setting: str) -> str:
    """The hardware a speed was measured on: "cpu (2 cores)", "NVIDIA H200 (bfloat16)"."""
    device = resolve_device(setting)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({precision_name(default_dtype(device))})"
    return f"cpu ({os.cpu_count()} cores)"
