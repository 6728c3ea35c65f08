"""What makes a fit faster without changing what it learns, applied for the fit and undone after it.

    with training_speedups(model, loaded.model, config, device, planned_steps) as applied:
        ...train...                       # applied.compiled_layers says whether the decoder layers were compiled

With `precision` bf16 (the forward runs under `torch.autocast`):
  - the LM head computes the logits in fp32, outside autocast, so the loss is fp32 from end to end; its backward
    products (the gradient to the hidden states, and to the head's weight when it trains) run in bf16, as every
    other layer's do under autocast;
  - frozen linear layers (LoRA's base layers) get a bf16 copy of their weight once, instead of one per forward;
  - on a CPU the attention runs `eager`: torch's CPU SDPA kernel is twice as slow in bf16 as in fp32.
With `compile` (auto: where it pays, see `resolve_compile`), each decoder layer is compiled with `torch.compile`
(one graph, shape-dynamic, shared by all layers): it fuses the elementwise work around the products (norms,
rotary embeddings, activations, and in bf16 autocast's casts), which dominates a short step on a CPU.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from icft.errors import IcftError
from icft.learn.finetune.config import COMPILE_SETTINGS

# auto compiles fits that plan at least this many steps: compiling SmolLM2's layer took 7.5 s with the compiled
# kernels already cached and 46 s without, and saved 0.28 s of a 0.87 s bf16 step (1 thread, ~150 tokens a step)
COMPILE_MIN_STEPS = 40
# ... of models whose decoder layers compiling was measured to speed up: SmolLM2's (Llama) step went from 0.87 s to
# 0.57 (bf16, 1 thread); Gemma 3's went from 2.19 s to 2.62 (bf16, 2 threads), so auto leaves it eager
COMPILE_PAYS_FOR = ("LlamaDecoderLayer",)


@dataclass(frozen=True)
class AppliedSpeedups:
    attention: str | None  # the attention implementation training runs
    compiled_layers: int  # decoder layers compiled (0: eager)


def resolve_compile(setting: str, precision: str, device: torch.device, planned_steps: int,
                    layers: Sequence[str] = COMPILE_PAYS_FOR) -> bool:
    """Whether a fit compiles its decoder layers (of the classes `layers`): `setting` on, or auto where it pays.

    auto compiles bf16 fits of at least `COMPILE_MIN_STEPS` planned steps, of a model whose layers are in
    `COMPILE_PAYS_FOR`, on a GPU or on a CPU with a C++ compiler. Not fp32 ones: on a CPU eager runs fp32 products
    at full speed, and compiling saved 14% of a step (0.93 s against 1.08), which a fit repays only after 50-150
    steps.
    """
    if setting not in COMPILE_SETTINGS:
        raise IcftError(f"compile must be one of {', '.join(COMPILE_SETTINGS)}, got {setting!r}")
    if setting == "off":
        return False
    has_compiler = device.type == "cuda" or _cpp_compiler() is not None
    if setting == "on":
        if not has_compiler:
            raise IcftError("compile = \"on\" needs a C++ compiler on a CPU (torch.compile builds its kernels with "
                            "one): install g++, or set compile = \"off\"")
        return True
    pays = precision == "bf16" and planned_steps >= COMPILE_MIN_STEPS and set(layers) <= set(COMPILE_PAYS_FOR)
    return pays and bool(layers) and has_compiler


@contextlib.contextmanager
def training_speedups(model: torch.nn.Module, base_model: torch.nn.Module, precision: str, compile_layers: bool,
                      device: torch.device):
    """Apply the speedups to `model` (the trained module: the model or its LoRA wrapper) for the block; `base_model`
    is the transformers model inside it, whose config names its attention and its decoder layers."""
    implementation = getattr(base_model.config, "_attn_implementation", None)
    attention = training_attention(implementation, precision, device)
    head, frozen, compiled = None, {}, []
    try:
        base_model.config._attn_implementation = attention  # the model reads it at every forward
        if precision == "bf16":
            head = _lm_head_in_fp32(model, device.type)
            frozen = _frozen_weights_in_bf16(model, head)
        if compile_layers:
            compiled = _compile_decoder_layers(base_model)
        # a layer that dynamo cannot compile runs eagerly instead of failing the fit
        with torch._dynamo.config.patch(suppress_errors=True) if compiled else contextlib.nullcontext():
            yield AppliedSpeedups(attention, len(compiled))
    finally:
        base_model.config._attn_implementation = implementation
        for layer in compiled:
            layer._compiled_call_impl = None  # scoring runs the layers eagerly again
        if head is not None:
            del head.forward  # the LM head's own forward again
        for module, weight in frozen.items():  # the fp32 weights again (tied ones tied again), before any merge
            module.weight = weight


def training_attention(implementation: str | None, precision: str, device: torch.device) -> str | None:
    """The attention implementation training runs: the model's, except eager for sdpa on a CPU in bf16."""
    if implementation == "sdpa" and precision == "bf16" and device.type == "cpu":
        return "eager"  # torch's CPU SDPA takes 5.8 ms per layer forward and backward in bf16, eager 2.4 (T=142)
    return implementation


class _Fp32LogitsBf16Gradients(torch.autograd.Function):
    """logits = hidden @ weight.T in fp32; the backward's products in bf16 (`weight_bf16`: the frozen weight's bf16
    copy, or None to cast a trained weight at each backward)."""

    @staticmethod
    def forward(ctx, hidden, weight, weight_bf16):
        ctx.save_for_backward(hidden, weight if weight_bf16 is None else weight_bf16)
        return F.linear(hidden.float(), weight.float())

    @staticmethod
    def backward(ctx, grad_logits):
        hidden, weight = ctx.saved_tensors
        grad = grad_logits.to(torch.bfloat16)
        grad_hidden = (grad @ weight.to(torch.bfloat16)).to(hidden.dtype) if ctx.needs_input_grad[0] else None
        grad_weight = (grad.t() @ hidden.to(torch.bfloat16)).float() if ctx.needs_input_grad[1] else None
        return grad_hidden, grad_weight, None


def _lm_head_in_fp32(model: torch.nn.Module, device_type: str) -> torch.nn.Module:
    """Make the LM head compute its logits in fp32, outside autocast, for the fit; returns the head (`del
    head.forward` undoes it).

    Under autocast its product would come out in bf16: logits of 10-30 rounded to steps of 0.06-0.125 before
    the softmax over the vocabulary, which trained measurably slower than fp32 (final loss of the benchmark's
    24 steps 6% higher). Only learned positions reach the head. Its backward runs in bf16 (the gradient is
    rounded there as autocast rounds every other layer's): with SmolLM2's 49k-word vocabulary that saves 75 ms of a
    0.9 s step (1 thread, ~150 tokens).
    """
    head = model.get_output_embeddings()
    frozen_bf16 = None if head.weight.requires_grad else head.weight.detach().to(torch.bfloat16)

    def forward_fp32(hidden: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, enabled=False):
            logits = _Fp32LogitsBf16Gradients.apply(hidden, head.weight, frozen_bf16)
        return logits if head.bias is None else logits + head.bias.float()

    head.forward = forward_fp32
    return head


def _frozen_weights_in_bf16(model: torch.nn.Module, head: torch.nn.Module) -> dict[torch.nn.Module, torch.nn.Parameter]:
    """Give every frozen linear layer (LoRA's base layers) but the LM head `head` (fp32, see `_lm_head_in_fp32`) a
    bf16 copy of its weight for the fit.

    Autocast would make the same copy at every forward (it caches casts of trainable weights only); this makes
    it once. Returns the fp32 weights, to put back after training.
    """
    originals = {}
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and not module.weight.requires_grad and module is not head:
            originals[module] = module.weight
            module.weight = torch.nn.Parameter(module.weight.detach().to(torch.bfloat16), requires_grad=False)
    return originals


def _compile_decoder_layers(base_model: torch.nn.Module) -> list[torch.nn.Module]:
    """Compile each decoder layer in place (`Module.compile`); returns them.

    The layers are the modules of the classes transformers names as unsplittable blocks (`_no_split_modules`:
    LlamaDecoderLayer, Gemma3DecoderLayer, ...). Compiling the repeated layer, not the whole model, makes one
    graph that all 30 of SmolLM2's layers share (46 s to compile, against 563 s for the whole model). It is
    shape-dynamic, as packed rows differ in length from step to step. Compiled kernels are cached under
    `$ICFT_CACHE/inductor`, so later fits and runs reuse them.
    """
    from icft.models.loading import cache_root

    block_names = set(decoder_layer_classes(base_model))
    layers = [module for module in base_model.modules() if type(module).__name__ in block_names]
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_root() / "inductor"))
    for layer in layers:
        layer.compile(dynamic=True)
    return layers


def decoder_layer_classes(base_model: torch.nn.Module) -> tuple[str, ...]:
    """The class names transformers gives as the model's unsplittable blocks (`_no_split_modules`)."""
    return tuple(getattr(base_model, "_no_split_modules", None) or ())


def _cpp_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU kernels are built with (`$CXX`, else g++, c++ or clang++), if any."""
    candidates = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
    return next((found for name in candidates if (found := shutil.which(name))), None)
