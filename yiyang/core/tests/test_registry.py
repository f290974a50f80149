"""core/registry.py: the extension points a higher app plugs into."""

import pytest

from yiyang.core import registry


def test_registering_twice_keeps_one_entry_in_order():
    first, second = object(), object()
    before = registry.items("visit_sequences")
    try:
        registry.register("visit_sequences", first)
        registry.register("visit_sequences", second)
        registry.register("visit_sequences", first)
        assert registry.items("visit_sequences")[len(before):] == (first, second)
    finally:
        registry._stores["visit_sequences"][:] = list(before)


def test_an_unknown_store_fails_loudly():
    with pytest.raises(KeyError, match="no extension point"):
        registry.register("elder_pannels", object())
