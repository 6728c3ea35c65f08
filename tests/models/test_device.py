"""The device setting: where models load, train and are scored, and the precision that goes with it."""

import pytest
import torch

from icft.errors import IcftError
from icft.models.device import default_dtype, device_precision, resolve_device


def test_settings_resolve_and_bad_ones_are_one_line():
    assert resolve_device("cpu") == torch.device("cpu") and default_dtype(torch.device("cpu")) == torch.float32
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device_precision("cpu") == "float32"
    with pytest.raises(IcftError, match="not one of auto, cpu, cuda, cuda:N"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(IcftError, match="torch sees no GPU here"):
            resolve_device("cuda:0")


def test_a_model_trains_where_it_was_loaded(tiny, monkeypatch):
    """Accelerate would move a CPU-loaded model to the GPU when there is one: the other modes stay on the CPU."""
    import accelerate

    from icft.learn.examples import TrainingExample
    from icft.learn.finetune import FinetuneConfig, finetune

    made = []
    real = accelerate.Accelerator

    def recording(*args, **kwargs):
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(accelerate, "Accelerator", recording)
    config = FinetuneConfig(epochs=1, max_steps=1, row_tokens=128, batch_tokens=128, micro_batch_tokens=128)
    finetune(tiny, [TrainingExample("", "femp are glon.")], config, progress=False)
    assert made == [{"cpu": True}] and tiny.device.type == "cpu"


def test_the_study_config_and_the_cli_set_the_device(tmp_path):
    from icft.study.config import load_study_config, parse_study_config
    from icft.study.grid import Study

    assert parse_study_config({"worlds": [{"name": "reversals"}]}).device == "auto"
    with pytest.raises(IcftError, match="key 'device'"):
        parse_study_config({"worlds": [{"name": "reversals"}], "device": "gpu"})
    path = tmp_path / "s.toml"
    path.write_text('device = "cuda"\n[[worlds]]\nname = "reversals"\n')
    config = load_study_config(path, device="cpu")  # --device overrides the file
    assert config.device == "cpu" and Study(config, tmp_path / "s")._base.device == "cpu"
    assert Study(config, tmp_path / "s").precision == "float32"
