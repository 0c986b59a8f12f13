"""The same pipeline on Daft's Ray runner: BM25 + dense + RRF, metrics equal to the native run's to 1e-9.

Each run is a CLI subprocess (Daft cannot switch runners inside one process); the Ray run starts a local cluster
(``ray.init(num_cpus=2)``) and shuts it down on exit. If a run fails or overruns, its process group is killed and
any Ray processes it left are stopped, so a failure never leaves a cluster behind.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, shared_dataset

pytest.importorskip("ray", reason="the Ray runner needs the [ray] extra (pip install -e '.[ray]')")

MEASURES = ["nDCG@10", "R@100", "MRR@10", "AP@100", "P@10"]
EVAL = ["eval", "-m", *MEASURES, "--json"]
RAY = ["--runner", "ray", "--ray-num-cpus", "2"]


def _ray_processes() -> bool:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True).stdout
    return bool(out.strip())


def _run(prefix: list[str], args: list[str], timeout: int = 900) -> dict:
    """Run the CLI; the JSON of its last stdout line. On Ray, the cluster is gone afterwards whatever happened."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "daft_retrieval", *prefix, *EVAL, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        if prefix and (proc.returncode != 0 or _ray_processes()):
            subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"], capture_output=True)
    assert proc.returncode == 0, f"{' '.join(prefix) or 'native'} run failed ({proc.returncode}): {err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


def _assert_same(native: dict, on_ray: dict, systems: list[str]) -> None:
    assert list(native) == list(on_ray) == systems
    for system in systems:
        assert list(on_ray[system]) == MEASURES
        assert on_ray[system] == pytest.approx(native[system], abs=1e-9), system
    # every step did something: each system's numbers differ from the one before
    for before, after in itertools.pairwise(systems):
        assert native[after] != native[before], (before, after)


@pytest.mark.slow
def test_ray_runner_gives_the_native_numbers_on_cranfield():
    """BM25 + dense (MiniLM) + RRF on Cranfield, the whole pipeline on a 2-CPU local Ray cluster."""
    args = ["--dataset", str(shared_dataset("cranfield")), "--retriever", "bm25", "--retriever", "dense"]
    args += ["--fuse", "rrf", "--no-cache"]
    native = _run([], args)
    on_ray = _run(RAY, args)
    _assert_same(native, on_ray, ["bm25", "dense-all-MiniLM-L6-v2", "rrf(bm25, dense-all-MiniLM-L6-v2)"])
    assert 0.3 < native["bm25"]["nDCG@10"] < 0.5  # BM25 on Cranfield: about 0.34 (and MiniLM about 0.38)
    assert not _ray_processes()


@pytest.mark.slow
def test_ray_runner_sparse_late_rerank_with_the_embedding_cache(tmp_path):
    """SPLADE + late interaction + RRF + bi-encoder rerank on the bundled demo, each with an embedding cache: on
    Ray every step gives the native numbers, and the misses are encoded and committed as on native."""
    pipeline = ["--dataset", str(ROOT / "data" / "demo"), "--max-seq-length", "64"]
    pipeline += ["--retriever", "splade", "--retriever", "late", "--fuse", "rrf"]
    pipeline += ["--rerank", "all-MiniLM-L6-v2", "--reranker", "bi", "--rerank-depth", "20"]
    native = _run([], [*pipeline, "--cache", str(tmp_path / "native")])
    on_ray = _run(RAY, [*pipeline, "--cache", str(tmp_path / "ray")])
    fused = "rrf(splade-splade-tiny, late-all-MiniLM-L6-v2)"
    systems = ["splade-splade-tiny", "late-all-MiniLM-L6-v2", fused, f"bi-all-MiniLM-L6-v2@20({fused})"]
    _assert_same(native, on_ray, systems)
    entries = {}
    for cache in ("native", "ray"):  # both encoded and committed the same texts
        stats = subprocess.run(
            [sys.executable, "-m", "daft_retrieval", "cache", "stats", "--json", "--cache", str(tmp_path / cache)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        entries[cache] = sorted((e["fingerprint"], e["role"], e["rows"]) for e in json.loads(stats)["entries"])
    assert entries["ray"] == entries["native"]
    # sparse, token and dense vectors, each for documents and queries
    assert sorted(role for _, role, _ in entries["native"]) == ["document"] * 3 + ["query"] * 3
