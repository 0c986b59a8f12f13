"""Shared test set-up: no telemetry, no progress bars, and the real collections in ../shared when present."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the CLI caches embeddings by default: never in the user's cache from tests
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="daft-retrieval-tests-cache-")

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("DAFT_RETRIEVAL_DATASETS", ROOT.parent / "shared" / "datasets"))


def shared_dataset(name: str) -> Path:
    """Path of a real collection under ../shared/datasets, or skip the test saying why."""
    path = DATASETS / name
    if not (path / "corpus.jsonl").exists():
        pytest.skip(f"real collection {name!r} not found under {DATASETS} (set DAFT_RETRIEVAL_DATASETS)")
    return path


@pytest.fixture
def demo_path() -> Path:
    return ROOT / "data" / "demo"
