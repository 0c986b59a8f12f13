"""The same pipeline on Daft's Ray runner: BM25 search and evaluation, metrics equal to the native run's.

Each run is a CLI subprocess (Daft cannot switch runners inside one process); the Ray run starts a local cluster
(``ray.init(num_cpus=2)``) and shuts it down on exit. Its process group is killed if it overruns, and any Ray
processes it left are stopped, so a failure never leaves a cluster behind.

Known gap (issue 7 stays open): with a dense retriever in the pipeline, Daft 0.7.26's Ray runner hung here (an
actor spinning in a window + join stage), so this test covers the BM25 pipeline only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("ray", reason="the Ray runner needs the [ray] extra (pip install 'daft-retrieval[ray]')")

ARGS = ["eval", "--retriever", "bm25", "--no-cache", "-m", "nDCG@10", "R@100", "MRR@10", "AP@100", "P@10", "--json"]


def _run(prefix: list[str], dataset: str, timeout: int = 600) -> dict:
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
def test_ray_runner_gives_the_native_numbers_for_bm25():
    dataset = str(ROOT / "data" / "demo")
    native = _run([], dataset)
    on_ray = _run(["--runner", "ray", "--ray-num-cpus", "2"], dataset)
    assert list(on_ray) == list(native) == ["nDCG@10", "R@100", "MRR@10", "AP@100", "P@10"]
    assert on_ray == pytest.approx(native, abs=1e-9)
    assert 0.5 < native["nDCG@10"] < 1.0
