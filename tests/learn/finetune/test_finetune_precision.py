"""Mixed precision in the fine-tuning loop, and the LM head computed at learned positions only."""

import json

import pytest
import torch
import torch.nn.functional as F

import icft.learn.finetune.loop as finetune_module
import icft.models.device as device_module
from icft.learn.finetune import FinetuneConfig, finetune
from icft.learn.finetune.packing import IGNORE, collate_rows, tokenize_examples
from icft.learn.finetune.training import training_identity
from icft.models.device import cpu_has_bf16, resolve_precision
from test_finetune import EXAMPLES, SMALL, tiny_model_for_lora
from tiny_models import tiny_model

CPU = torch.device("cpu")


def test_auto_is_bf16_where_the_hardware_multiplies_bf16(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert cpu_has_bf16(cpuinfo)
    # torch held to its AVX2 kernels (ATEN_CPU_CAPABILITY=avx2) emulates bf16: fp32 is faster there
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert not cpu_has_bf16(cpuinfo)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 amx_tile amx_bf16\n")
    assert cpu_has_bf16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert not cpu_has_bf16(cpuinfo) and not cpu_has_bf16(tmp_path / "missing")
    for has, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: has)
        assert resolve_precision("auto", CPU) == expected
        assert resolve_precision("fp32", CPU) == "fp32" and resolve_precision("bf16", CPU) == "bf16"
    for supported, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda supported=supported: supported)
        assert resolve_precision("auto", torch.device("cuda")) == expected


def test_the_run_identity_holds_the_resolved_precision(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: False)
    identity = {p: training_identity("ft", FinetuneConfig(precision=p), device="cpu") for p in ("auto", "fp32", "bf16")}
    assert identity["auto"] == identity["fp32"] != identity["bf16"]
    assert identity["auto"]["finetune"]["precision"] == "fp32" and identity["bf16"]["finetune"]["precision"] == "bf16"
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: True)
    assert training_identity("ft", FinetuneConfig(), device="cpu") == identity["bf16"]


def test_a_bf16_fit_trains_like_fp32_and_records_its_precision(tmp_path):
    config = FinetuneConfig(epochs=15, learning_rate=3e-3, **SMALL)  # one step per epoch (see SMALL)
    runs = {p: finetune(tiny_model(), EXAMPLES, FinetuneConfig(**{**config.to_dict(), "precision": p}),
                        tmp_path / p, progress=False) for p in ("fp32", "bf16")}
    fp32, bf16 = runs["fp32"].epoch_losses, runs["bf16"].epoch_losses
    assert bf16[-1] < bf16[0] - 2.0
    assert bf16 == pytest.approx(fp32, rel=0.03) and bf16 != fp32
    assert runs["bf16"].summary()["precision"] == "bf16"
    record = json.loads((tmp_path / "bf16" / "finetune_config.json").read_text())
    assert record["config"]["precision"] == "bf16" and record["stopping"]["precision"] == "bf16"


def test_bf16_keeps_weights_adapter_and_optimizer_state_in_fp32(monkeypatch):
    optimizers = []
    real = finetune_module._optimizer
    monkeypatch.setattr(finetune_module, "_optimizer", lambda *a: optimizers.append(real(*a)) or optimizers[-1])
    loaded = tiny_model_for_lora()
    attention = loaded.model.config._attn_implementation
    config = FinetuneConfig(epochs=3, learning_rate=1e-2, lora=True, merge_lora=False, precision="bf16", **SMALL)
    result = finetune(loaded, EXAMPLES, config, progress=False)
    assert result.precision == "bf16" and result.final_loss < result.loss_curve[0][1]
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())  # the frozen ones put back, too
    base = loaded.model.get_base_model()
    assert base.lm_head.weight is base.model.embed_tokens.weight  # tied again after the fit
    assert base.config._attn_implementation == attention
    assert "forward" not in vars(base.lm_head)  # its own forward again
    state = [v for s in optimizers[0].state.values() for v in s.values() if v.is_floating_point() and v.ndim]
    assert state and all(v.dtype == torch.float32 for v in state)
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in loaded.model.parameters())


def test_a_bf16_fit_computes_its_logits_in_fp32_from_the_fp32_head():
    """Under autocast the head's product would come out in bf16 (logits rounded before the softmax)."""
    loaded = tiny_model_for_lora()
    head = loaded.model.get_output_embeddings()
    projection = next(m for name, m in loaded.model.named_modules() if name.endswith("q_proj"))
    seen, below = [], []
    head.register_forward_hook(lambda module, args, out: seen.append((module.weight.dtype, out.dtype)))
    projection.register_forward_hook(lambda module, args, out: below.append(out.dtype))
    finetune(loaded, EXAMPLES, FinetuneConfig(epochs=1, lora=True, precision="bf16", **SMALL), progress=False)
    assert seen and all(weight == out == torch.float32 for weight, out in seen)
    assert below and all(out == torch.bfloat16 for out in below)  # the layers below did run in bf16


def test_the_lm_head_at_learned_positions_gives_the_full_logits_there():
    """transformers' 2-D bool `logits_to_keep` projects hidden[learned] only, in the order of targets[learned]."""
    loaded = tiny_model_for_lora()
    tokenized = tokenize_examples(EXAMPLES, loaded.tokenizer)
    batch = collate_rows([tokenized[:3], tokenized[3:]], loaded.tokenizer.pad_token_id)  # (2, T), two rows
    targets = batch.targets
    learned = targets != IGNORE  # (B, T)
    assert 0 < int(learned.sum()) < learned.numel()
    with torch.no_grad():
        kept = loaded.model(**batch.model_inputs(), logits_to_keep=learned).logits  # (N, V)
        full = loaded.model(**batch.model_inputs()).logits  # (B, T, V)
    assert kept.shape == (int(learned.sum()), full.shape[-1])
    torch.testing.assert_close(kept, full[learned])
    torch.testing.assert_close(F.cross_entropy(kept, targets[learned]),
                               F.cross_entropy(full.flatten(0, 1), targets.flatten(), ignore_index=IGNORE))
