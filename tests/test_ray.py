"""The same pipelines on Daft's Ray runner: BM25 + dense + RRF, and SPLADE + late + RRF + rerank with an embedding
cache, metrics equal to the native run's to 1e-9.

Daft cannot switch runners inside one process: every Ray run of the suite happens in one Ray session (the session
fixture ``ray_session`` in tests/conftest.py: one subprocess, one local 2-CPU cluster, shut down on exit and
stopped by force if the run fails or overruns). The native runs are CLI calls in this process. The Cranfield
equality uses a subset of Cranfield (equality between runners needs no whole collection); the published number
(BM25 nDCG@10 about 0.34) is checked on the whole collection.
"""

from __future__ import annotations

import itertools
import json

import pytest

from tests.conftest import (
    RAY_CRANFIELD,
    RAY_DEMO,
    RAY_EVAL,
    RAY_FAISS,
    RAY_FAISS_INDEXES,
    RAY_MEASURES,
    cli,
    cli_json,
    shared_dataset,
)
from tests.ray_session import ray_processes

pytest.importorskip("ray", reason="the Ray runner needs the [ray] extra (pip install -e '.[ray]')")

MEASURES = RAY_MEASURES


def _assert_same(native: dict, on_ray: dict, systems: list[str]) -> None:
    assert list(native) == list(on_ray) == systems
    for system in systems:
        assert list(on_ray[system]) == MEASURES
        assert on_ray[system] == pytest.approx(native[system], abs=1e-9), system
    # every step did something: each system's numbers differ from the one before
    for before, after in itertools.pairwise(systems):
        assert native[after] != native[before], (before, after)


@pytest.mark.slow
def test_ray_runner_gives_the_native_numbers_on_cranfield(ray_session, capsys):
    """BM25 + dense (MiniLM) + RRF on (a subset of) Cranfield, the whole pipeline on a 2-CPU local Ray cluster."""
    native = cli_json([*RAY_EVAL, "--dataset", ray_session["cranfield"], *RAY_CRANFIELD], capsys)
    on_ray = ray_session["results"]["cranfield"]
    _assert_same(native, on_ray, ["bm25", "dense-all-MiniLM-L6-v2", "rrf(bm25, dense-all-MiniLM-L6-v2)"])
    whole = cli_json([*RAY_EVAL, "--dataset", shared_dataset("cranfield"), "--retriever", "bm25"], capsys)
    assert (
        0.3 < whole["nDCG@10"] < 0.5
    )  # one system: its measures; BM25 on Cranfield: about 0.34 (and MiniLM about 0.38)
    assert not ray_processes()


@pytest.mark.slow
def test_ray_runner_sparse_late_rerank_with_the_embedding_cache(ray_session, tmp_path, capsys):
    """SPLADE + late interaction + RRF + bi-encoder rerank on the bundled demo, each with an embedding cache (cold
    on both runners): on Ray every step gives the native numbers, and the misses are encoded and committed as on
    native."""
    native = cli_json([*RAY_EVAL, *RAY_DEMO, "--cache", tmp_path / "native"], capsys)
    on_ray = ray_session["results"]["demo"]
    fused = "rrf(splade-splade-tiny, late-all-MiniLM-L6-v2)"
    systems = ["splade-splade-tiny", "late-all-MiniLM-L6-v2", fused, f"bi-all-MiniLM-L6-v2@20({fused})"]
    _assert_same(native, on_ray, systems)
    entries = {}
    for name, cache in (("native", tmp_path / "native"), ("ray", ray_session["cache"])):  # the same texts
        status, stats, err = cli(["cache", "stats", "--json", "--cache", cache], capsys)
        assert status == 0, err
        entries[name] = sorted((e["fingerprint"], e["role"], e["rows"]) for e in json.loads(stats)["entries"])
    assert entries["ray"] == entries["native"]
    # sparse, token and dense vectors, each for documents and queries
    assert sorted(role for _, role, _ in entries["native"]) == ["document"] * 3 + ["query"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RAY_FAISS_INDEXES))
def test_ray_runner_gives_the_native_numbers_of_approximate_indexes(ray_session, name, tmp_path, capsys):
    """HNSW and IVF-PQ (FAISS) on the bundled demo: on Ray the same measures, Overlap@10 and delta to exact as on
    the native runner (the training sample is chosen by doc-id hash, so the same on any runner)."""
    pytest.importorskip("faiss", reason="approximate indexes need the [faiss] extra")
    native = cli_json([*RAY_FAISS, "--index", *RAY_FAISS_INDEXES[name], "--cache", tmp_path], capsys)
    on_ray = ray_session["results"][f"faiss-{name}"]
    assert set(on_ray) == {*MEASURES, "Overlap@10", "delta_to_exact"}
    for measure in MEASURES:
        assert on_ray[measure] == pytest.approx(native[measure], abs=1e-9), measure
    assert on_ray["Overlap@10"] == native["Overlap@10"]
    assert on_ray["delta_to_exact"] == pytest.approx(native["delta_to_exact"], abs=1e-9)
    assert 0 < native["Overlap@10"] <= 1
