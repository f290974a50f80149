import pytest

from yiyang.core.services import load_regions

from .factories import make_world


@pytest.fixture
def world(request):
    # Browser tests (`flushes`) run against a live server whose database is emptied between tests: they load
    # 巴中's division tree (5119) first.
    if request.node.get_closest_marker("flushes"):
        load_regions(prefix="5119")
    return make_world()
