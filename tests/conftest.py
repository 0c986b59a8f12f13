"""Shared test set-up: no telemetry, no progress bars, and the real collections in ../shared when present."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The CLI caches embeddings (and unpacks models) in the user's cache home by default, and the hub client takes its
# cache folder from XDG_CACHE_HOME when it is imported (at collection): a folder of this session, set before any
# import, and removed when the session ends (at exit too, should the session stop early).
CACHE_HOME = tempfile.mkdtemp(prefix="daft-retrieval-tests-cache-")
os.environ["XDG_CACHE_HOME"] = CACHE_HOME
os.environ.pop("DAFT_RETRIEVAL_CACHE", None)
atexit.register(shutil.rmtree, CACHE_HOME, ignore_errors=True)

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("DAFT_RETRIEVAL_DATASETS", ROOT.parent / "shared" / "datasets"))


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(CACHE_HOME, ignore_errors=True)


def shared_dataset(name: str) -> Path:
    """Path of a real collection under ../shared/datasets, or skip the test saying why."""
    path = DATASETS / name
    if not (path / "corpus.jsonl").exists():
        pytest.skip(f"real collection {name!r} not found under {DATASETS} (set DAFT_RETRIEVAL_DATASETS)")
    return path


@pytest.fixture
def demo_path() -> Path:
    return ROOT / "data" / "demo"
