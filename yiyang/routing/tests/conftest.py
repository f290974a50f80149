import pytest

from .factories import make_world


@pytest.fixture
def world():
    return make_world()
