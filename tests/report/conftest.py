import pytest

from hand_made_studies import write_study


@pytest.fixture
def make_study():
    return write_study
