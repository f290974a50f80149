import time

import pytest

from yiyang.core import selectors
from yiyang.core.models import Region
from yiyang.core.services import load_regions

pytestmark = pytest.mark.django_db


def test_whole_tree_is_loaded_with_real_counts():
    assert Region.objects.filter(level="province").count() == 31
    assert Region.objects.filter(level="street").count() == 41352
    enyang = Region.objects.get(code="511903")
    assert enyang.name == "恩阳区"
    assert enyang.parent.name == "巴中市" and enyang.parent.parent.name == "四川省"
    # The seed document: 恩阳区辖18个镇（街道），309个村（社区）.
    assert Region.objects.filter(parent=enyang).count() == 18
    assert Region.objects.filter(code__startswith="511903", level="community").count() == 309


def test_loading_again_changes_nothing_and_is_fast():
    before = Region.objects.count()
    started = time.perf_counter()
    assert load_regions() == 0
    assert time.perf_counter() - started < 30
    assert Region.objects.count() == before


def test_pinyin_initials_find_enyang():
    results = selectors.search_regions(query="ey")
    assert "恩阳区" in [r.name for r in results[:10]]
    assert selectors.search_regions(query="eyq")[0].name == "恩阳区"


def test_search_by_chinese_name_and_within_a_subtree():
    results = selectors.search_regions(query="登科", within="511903")
    assert results[0].name == "登科街道"
    assert all(r.code.startswith("511903") for r in results)


def test_search_by_full_pinyin_and_code():
    assert selectors.search_regions(query="enyang")[0].code == "511903"
    assert selectors.search_regions(query="511903001")[0].name == "登科街道"


def test_paths_and_resolution_by_name_path():
    region = Region.objects.get(code="511903001")
    assert region.path_name() == "四川省/巴中市/恩阳区/登科街道"
    assert selectors.region_paths([region]) == {"511903001": "四川省/巴中市/恩阳区/登科街道"}
    assert selectors.find_region_by_path(path="恩阳区/登科街道").code == "511903001"
    assert selectors.find_region_by_path(path="511903").name == "恩阳区"
    assert selectors.find_region_by_path(path="巴州区/登科街道") is None


def test_statistical_code():
    assert Region.objects.get(code="511903").statistical_code == "511903000000"
