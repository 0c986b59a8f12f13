"""The docstring examples are true: every module's doctests run (those marked +SKIP need a model, a server or
the network, and are checked by the tests of their feature instead)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import daft_retrieval
from tests.conftest import ROOT

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(daft_retrieval.__path__, "daft_retrieval.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples name data/demo relative to the project
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (output above)"
