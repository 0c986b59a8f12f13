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


def test_every_public_name_is_what_it_says_whatever_was_imported_first():
    """A subpackage named like a function (import daft_retrieval.x binds x on the package) would turn dr.x into
    a module; each name is checked in a fresh interpreter after every subpackage was imported first."""
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, types, daft_retrieval as dr\n"
        "for m in pkgutil.walk_packages(dr.__path__, 'daft_retrieval.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "bad = [n for n in dr.__all__ if isinstance(getattr(dr, n), types.ModuleType)]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
