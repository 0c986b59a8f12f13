"""One Ray session for every Ray test: a fresh interpreter (Daft cannot switch runners inside one process) that
starts one local cluster (``ray_runner(num_cpus=2)``) and runs every job in it, printing all results as one JSON
line. Starting a cluster per CLI run cost more than most of the runs themselves.

Jobs (a JSON list on argv[1]): ``{"name": ..., "cli": [argv]}`` runs ``daft_retrieval.cli.main.main(argv)`` (the
runner is already Ray; the result is the JSON of its last stdout line), ``{"name": ..., "digests": [cuts]}`` runs
:func:`tests.test_determinism.digests` on those cuts.

The :func:`ray_results` helper runs it from a test: if it fails or overruns, its process group is killed and any
Ray processes it left are stopped, so a failure never leaves a cluster behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

RAY_CPUS = 2


def ray_processes() -> bool:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True).stdout
    return bool(out.strip())


def _stop_ray(proc: subprocess.Popen) -> None:
    if proc.returncode != 0 or ray_processes():
        subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"], capture_output=True)


def ray_results(jobs: list[dict], *, timeout: int = 1500) -> dict:
    """Run ``jobs`` in one Ray session (a subprocess); ``{name: result}``. The cluster is gone afterwards."""
    from tests.conftest import python_json

    return python_json(["-m", "tests.ray_session", json.dumps(jobs)], timeout=timeout, after=_stop_ray)


def _run(jobs: list[dict]) -> dict:
    from daft_retrieval.cli.main import main
    from daft_retrieval.runner import on_ray, ray_runner

    results = {}
    with ray_runner(num_cpus=RAY_CPUS):
        assert on_ray()
        for job in jobs:
            if "digests" in job:
                from tests.test_determinism import digests

                results[job["name"]] = digests(cuts=tuple(job["digests"]))
                continue
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = main(job["cli"])
            if status != 0:
                raise SystemExit(f"{job['name']}: the CLI exited {status}")
            results[job["name"]] = json.loads(out.getvalue().strip().splitlines()[-1])
    return results


if __name__ == "__main__":
    print(json.dumps(_run(json.loads(sys.argv[1]))))
