"""The same pipeline on Daft's Ray runner: BM25 + dense + RRF, metrics equal to the native run's to 1e-9.

Each run is a CLI subprocess (Daft cannot switch runners inside one process); the Ray run starts a local cluster
(``ray.init(num_cpus=2)``) and shuts it down on exit. If a run fails or overruns, its process group is killed and
any Ray processes it left are stopped, so a failure never leaves a cluster behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, shared_dataset

pytest.importorskip("ray", reason="the Ray runner needs the [ray] extra (pip install 'daft-retrieval[ray]')")

MEASURES = ["nDCG@10", "R@100", "MRR@10", "AP@100", "P@10"]
PIPELINE = ["eval", "--retriever", "bm25", "--retriever", "dense", "--fuse", "rrf", "-m", *MEASURES, "--json"]
SYSTEMS = ["bm25", "dense-all-MiniLM-L6-v2", "rrf(bm25, dense-all-MiniLM-L6-v2)"]
RAY = ["--runner", "ray", "--ray-num-cpus", "2"]


def _ray_processes() -> bool:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True).stdout
    return bool(out.strip())


def _run(prefix: list[str], args: list[str], timeout: int = 900) -> dict:
    """Run the CLI; the JSON of its last stdout line. On Ray, the cluster is gone afterwards whatever happened."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "daft_retrieval", *prefix, *PIPELINE, *args],
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


def _assert_same(native: dict, on_ray: dict) -> None:
    assert list(native) == list(on_ray) == SYSTEMS
    for system in SYSTEMS:
        assert list(on_ray[system]) == MEASURES
        assert on_ray[system] == pytest.approx(native[system], abs=1e-9), system
    # fusion did something: RRF differs from each of its inputs
    assert native[SYSTEMS[2]]["nDCG@10"] not in (native[SYSTEMS[0]]["nDCG@10"], native[SYSTEMS[1]]["nDCG@10"])


@pytest.mark.slow
def test_ray_runner_gives_the_native_numbers_on_cranfield():
    """BM25 + dense (MiniLM) + RRF on Cranfield, the whole pipeline on a 2-CPU local Ray cluster."""
    args = ["--dataset", str(shared_dataset("cranfield")), "--no-cache"]
    native = _run([], args)
    on_ray = _run(RAY, args)
    _assert_same(native, on_ray)
    assert 0.3 < native[SYSTEMS[0]]["nDCG@10"] < 0.5  # BM25 on Cranfield: about 0.34 (and MiniLM about 0.38)
    assert not _ray_processes()


@pytest.mark.slow
def test_ray_runner_with_the_embedding_cache(tmp_path):
    """The bundled demo with an embedding cache: on Ray the misses are encoded and committed as on native."""
    demo = ["--dataset", str(ROOT / "data" / "demo"), "--max-seq-length", "64"]
    native = _run([], [*demo, "--cache", str(tmp_path / "native")])
    on_ray = _run(RAY, [*demo, "--cache", str(tmp_path / "ray")])
    _assert_same(native, on_ray)
    entries = {}
    for cache in ("native", "ray"):  # both encoded and committed the same texts: documents and queries
        stats = subprocess.run(
            [sys.executable, "-m", "daft_retrieval", "cache", "stats", "--json", "--cache", str(tmp_path / cache)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        entries[cache] = sorted((e["fingerprint"], e["role"], e["rows"]) for e in json.loads(stats)["entries"])
    assert entries["ray"] == entries["native"]
    assert sorted(role for _, role, _ in entries["native"]) == ["document", "query"]
