import os

import pytest

from tiny_models import tiny_model


@pytest.fixture(scope="session", autouse=True)
def timings_outside_the_users_cache(tmp_path_factory):
    """Studies keep their timings in the user's cache for later estimates (`icft.study.history`); the tests' (and
    their subprocesses') go to a file of their own."""
    os.environ["ICFT_TIMINGS"] = str(tmp_path_factory.mktemp("history") / "timings.jsonl")


@pytest.fixture
def tiny():
    """A fresh tiny random model (tests may train it)."""
    return tiny_model()


@pytest.fixture(scope="session")
def embedded():
    """The real embedded model, loaded once for the whole session (converted on first use)."""
    from icft.models import load

    return load("smollm2-135m")


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """A tiny random model saved as a local model folder (studies load their models by name)."""
    folder = tmp_path_factory.mktemp("tiny-model")
    tiny = tiny_model(seed=1)
    tiny.model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    return str(folder)
