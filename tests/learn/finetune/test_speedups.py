"""What makes a fit fast without changing what it learns: the bf16 head's backward, compiled decoder layers."""

import pytest
import torch
import torch.nn.functional as F

import icft.learn.finetune.speedups as speedups
from icft.errors import IcftError
from icft.learn.finetune import FinetuneConfig, finetune
from icft.learn.finetune.speedups import COMPILE_MIN_STEPS, resolve_compile
from icft.learn.finetune.training import training_identity
from test_finetune import EXAMPLES, SMALL, tiny_model_for_lora

CPU = torch.device("cpu")


def test_compile_auto_compiles_long_bf16_fits_where_a_compiler_is(monkeypatch):
    monkeypatch.setattr(speedups, "_cpp_compiler", lambda: "/usr/bin/g++")
    assert resolve_compile("auto", "bf16", CPU, COMPILE_MIN_STEPS)
    assert not resolve_compile("auto", "bf16", CPU, COMPILE_MIN_STEPS - 1)  # compiling would not pay back
    assert not resolve_compile("auto", "bf16", CPU, COMPILE_MIN_STEPS, ["Gemma3DecoderLayer"])  # measured slower
    assert resolve_compile("on", "bf16", CPU, COMPILE_MIN_STEPS, ["Gemma3DecoderLayer"])
    assert not resolve_compile("auto", "fp32", CPU, 10 * COMPILE_MIN_STEPS)
    assert resolve_compile("on", "fp32", CPU, 1) and not resolve_compile("off", "bf16", CPU, 10 * COMPILE_MIN_STEPS)
    monkeypatch.setattr(speedups, "_cpp_compiler", lambda: None)
    assert not resolve_compile("auto", "bf16", CPU, 10 * COMPILE_MIN_STEPS)
    with pytest.raises(IcftError, match="needs a C\\+\\+ compiler.*compile = \"off\""):
        resolve_compile("on", "bf16", CPU, 100)
    with pytest.raises(IcftError, match="compile must be one of auto, on, off"):
        resolve_compile("yes", "bf16", CPU, 100)
    with pytest.raises(ValueError, match="compile must be one of auto, on, off, got 'always'"):
        FinetuneConfig(compile="always")


def test_compiling_is_how_a_fit_runs_not_what_it_is():
    identities = [training_identity("ft", FinetuneConfig(compile=c, precision="fp32"), device="cpu")
                  for c in ("auto", "on", "off")]
    assert identities[0] == identities[1] == identities[2]
    assert "compile" not in identities[0]["finetune"]


@pytest.mark.parametrize("head_trains", [False, True])
def test_the_heads_logits_are_fp32_and_its_backward_runs_in_bf16(head_trains):
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(12, 32, generator=generator, requires_grad=True)
    weight = torch.randn(500, 32, generator=generator).requires_grad_(head_trains)
    targets = torch.randint(0, 500, (12,), generator=generator)
    frozen_bf16 = None if head_trains else weight.detach().to(torch.bfloat16)
    logits = speedups._Fp32LogitsBf16Gradients.apply(hidden, weight, frozen_bf16)
    reference_hidden = hidden.detach().clone().requires_grad_(True)
    reference_weight = weight.detach().clone().requires_grad_(head_trains)
    reference = F.linear(reference_hidden, reference_weight)
    assert logits.dtype == torch.float32 and torch.equal(logits, reference)  # the forward is fp32's exactly
    F.cross_entropy(logits, targets).backward()
    F.cross_entropy(reference, targets).backward()
    assert hidden.grad.dtype == torch.float32
    assert relative_error(hidden.grad, reference_hidden.grad) < 0.01
    assert not torch.equal(hidden.grad, reference_hidden.grad)  # it did round to bf16
    if head_trains:
        assert relative_error(weight.grad, reference_weight.grad) < 0.01
    else:
        assert weight.grad is None


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value - reference).norm() / reference.norm())


def test_a_compiled_fit_trains_as_the_eager_one_and_leaves_the_layers_eager():
    """The auto path (bf16, LoRA) with its decoder layers compiled: the same losses up to float rounding."""
    runs = {}
    for compile_setting in ("off", "on"):
        loaded = tiny_model_for_lora()
        config = FinetuneConfig(epochs=4, learning_rate=1e-2, lora=True, precision="bf16", compile=compile_setting,
                                **SMALL)
        runs[compile_setting] = finetune(loaded, EXAMPLES, config, progress=False)
        layers = [m for m in loaded.model.modules() if type(m).__name__ == "LlamaDecoderLayer"]
        assert layers and all(layer._compiled_call_impl is None for layer in layers)  # scoring runs them eagerly
    eager, compiled = runs["off"], runs["on"]
    assert compiled.compiled and not eager.compiled and compiled.summary()["compiled"]
    assert compiled.final_loss < compiled.epoch_losses[0]
    assert compiled.epoch_losses == pytest.approx(eager.epoch_losses, rel=0.02)
