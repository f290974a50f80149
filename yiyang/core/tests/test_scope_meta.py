"""Every model with a scope filter has its generated scope tests (scope_matrix.ScopeMatrix)."""

import importlib
import pkgutil

from django.apps import apps

import yiyang
from yiyang.core.tests.scope_matrix import ScopeMatrix


def _scope_cases() -> dict:
    # Scope tests live in each app's tests package; import them all to find the ScopeMatrix classes.
    for info in pkgutil.walk_packages(yiyang.__path__, "yiyang."):
        if ".tests." in info.name and info.name.rsplit(".", 1)[-1].startswith("test_"):
            importlib.import_module(info.name)
    cases, stack = {}, list(ScopeMatrix.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.model is not None and cls.__name__.startswith("Test"):
            cases.setdefault(cls.model, []).append(cls)
    return cases


def scoped_models() -> set:
    return {m for m in apps.get_models() if m.__module__.startswith("yiyang.") and hasattr(m, "scope_filter")}


# Models whose scope tests are still to be written; this set only shrinks (it is empty: keep it so).
PENDING: set[str] = set()


def test_every_scoped_model_has_a_scope_matrix():
    covered = set(_scope_cases())
    missing = {m._meta.label for m in scoped_models() - covered}
    assert missing == PENDING, (
        f"Scoped models without a ScopeMatrix test class (core/tests/scope_matrix.py): {sorted(missing - PENDING)}; "
        f"covered now, remove from PENDING: {sorted(PENDING - missing)}")
