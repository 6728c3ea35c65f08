import pytest

from tiny_models import tiny_model


@pytest.fixture
def tiny():
    """A fresh tiny random model (tests may train it)."""
    return tiny_model()


@pytest.fixture(scope="session")
def embedded():
    """The real embedded model, loaded once for the whole session (converted on first use)."""
    from icft.models import load

    return load("smollm2-135m")
