"""The same pipeline on Daft's Ray runner: BM25 + dense + RRF on Cranfield, metrics equal to the native run's.

Each run is a CLI subprocess (Daft cannot switch runners inside one process); the Ray run starts a local cluster
(``ray.init(num_cpus=2)``) and shuts it down on exit. Its process group is killed if it overruns, and any Ray
processes it left are stopped, so a failure never leaves a cluster behind.
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

ARGS = ["eval", "--retriever", "bm25", "--retriever", "dense", "--fuse", "rrf", "--max-seq-length", "64"]
ARGS += ["--no-cache", "-m", "nDCG@10", "R@100", "MRR@10", "AP@100", "P@10", "--json"]


def _run(prefix: list[str], dataset: str, timeout: int = 900) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-m", "daft_retrieval", *prefix, *ARGS, "--dataset", dataset],
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
        pytest.fail(f"{' '.join(prefix) or 'native'} run timed out: {err[-2000:]}")
    finally:
        if prefix:
            subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"], capture_output=True)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_ray_runner_gives_the_native_numbers_on_cranfield():
    dataset = str(shared_dataset("cranfield"))
    native = _run([], dataset)
    on_ray = _run(["--runner", "ray", "--ray-num-cpus", "2"], dataset)
    assert list(on_ray) == list(native) == ["bm25", "dense-all-MiniLM-L6-v2", "rrf(bm25, dense-all-MiniLM-L6-v2)"]
    for system, values in native.items():
        assert on_ray[system] == pytest.approx(values, abs=1e-9), system
    assert 0.2 < native["rrf(bm25, dense-all-MiniLM-L6-v2)"]["nDCG@10"] < 0.6
