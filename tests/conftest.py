"""Shared test set-up: no telemetry, no progress bars, and the real collections in ../shared when present."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The hub client takes its cache folder from XDG_CACHE_HOME when it is imported (at collection): a folder of this
# session, set before any import, and removed when the session ends (at exit too, should the session stop early).
# Our own cache home (the CLI's default embedding cache, downloaded datasets, unpacked models) is each test's own:
# the autouse ``cache_home`` fixture below, so one test's cache never serves another.
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


@pytest.fixture(autouse=True)
def cache_home(tmp_path_factory):
    """This test's own ``$DAFT_RETRIEVAL_CACHE`` (what the CLI caches by default: embeddings, datasets, unpacked
    models), empty when the test starts; subprocesses the test starts inherit it. Set and restored here, not by
    ``monkeypatch``: the test's own ``monkeypatch`` then undoes its settings first, as the environment checks of
    tests/test_cli_contact.py expect."""
    home = tmp_path_factory.mktemp("cache-home")
    before = os.environ.get("DAFT_RETRIEVAL_CACHE")
    os.environ["DAFT_RETRIEVAL_CACHE"] = str(home)
    yield home
    if before is None:
        os.environ.pop("DAFT_RETRIEVAL_CACHE", None)
    else:
        os.environ["DAFT_RETRIEVAL_CACHE"] = before


@pytest.fixture
def demo_path() -> Path:
    return ROOT / "data" / "demo"


def cranfield_subset(root: Path, queries: int = 40, docs: int = 200) -> Path:
    """A smaller Cranfield under ``root``: its first ``queries`` queries, its first ``docs`` documents and every
    document judged for those queries, and their judgements. For assertions about equality between runners, not
    for published numbers (those keep the whole collection)."""
    import csv

    source = shared_dataset("cranfield")
    chosen = [json.loads(line) for line in (source / "queries.jsonl").read_text().splitlines()[:queries]]
    ids = {q["_id"] for q in chosen}
    with open(source / "qrels" / "test.tsv", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, judged = rows[0], [r for r in rows[1:] if r[0] in ids]
    corpus = [json.loads(line) for line in (source / "corpus.jsonl").read_text().splitlines()]
    keep = {d["_id"] for d in corpus[:docs]} | {r[1] for r in judged}
    (root / "qrels").mkdir(parents=True)
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in chosen))
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus if d["_id"] in keep))
    lines = [header, *(r for r in judged if r[1] in keep)]
    (root / "qrels" / "test.tsv").write_text("".join("\t".join(r) + "\n" for r in lines))
    return root


RAY_MEASURES = ["nDCG@10", "R@100", "MRR@10", "AP@100", "P@10"]
RAY_EVAL = ["eval", "-m", *RAY_MEASURES, "--json"]
RAY_CRANFIELD = ["--retriever", "bm25", "--retriever", "dense", "--fuse", "rrf", "--no-cache"]
RAY_DEMO = ["--dataset", str(ROOT / "data" / "demo"), "--max-seq-length", "64"]
RAY_DEMO += ["--retriever", "splade", "--retriever", "late", "--fuse", "rrf"]
RAY_DEMO += ["--rerank", "all-MiniLM-L6-v2", "--reranker", "bi", "--rerank-depth", "20"]
RAY_FAISS = [*RAY_EVAL, "--dataset", str(ROOT / "data" / "demo"), "--max-seq-length", "64", "--retriever", "dense"]
RAY_FAISS_INDEXES = {"hnsw": ["faiss:HNSW32"], "ivfpq": ["faiss:IVF16,PQ8x4", "--nprobe-faiss", "2"]}
RAY_DIGEST_CUTS = (1, 4, 8)  # about 30 s a report on a 2-CPU local cluster


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory) -> dict:
    """Every Ray run of the suite in one Ray session (one subprocess, one local cluster; see tests/ray_session.py):
    the CLI pipelines of tests/test_ray.py and the determinism digests of tests/test_determinism.py. Returns the
    inputs the jobs used (``cranfield``: a subset of Cranfield; ``cache``: the embedding cache of the demo
    pipeline, cold before the session) and ``results`` by job name."""
    pytest.importorskip("ray", reason="the Ray runner needs the [ray] extra (pip install -e '.[ray]')")
    from tests.ray_session import ray_results

    root = tmp_path_factory.mktemp("ray-session")
    cranfield = cranfield_subset(root / "cranfield")
    cache = root / "ray-cache"
    jobs = [
        {"name": "digests", "digests": list(RAY_DIGEST_CUTS)},
        {"name": "cranfield", "cli": [*RAY_EVAL, "--dataset", str(cranfield), *RAY_CRANFIELD]},
        {"name": "demo", "cli": [*RAY_EVAL, *RAY_DEMO, "--cache", str(cache)]},
        *(
            {"name": f"faiss-{name}", "cli": [*RAY_FAISS, "--index", *index, "--cache", str(root / "faiss-cache")]}
            for name, index in RAY_FAISS_INDEXES.items()
        ),
    ]
    return {"cranfield": cranfield, "cache": cache, "results": ray_results(jobs)}


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """The CLI in this process (on the native runner, as every in-process run here): exit status, stdout and
    stderr. ``main`` restores ``os.environ``; use :func:`cli_process` where a fresh process is the point."""
    from daft_retrieval.cli.main import main

    capsys.readouterr()
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors (and --help): the status the process would exit with
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return status, out, err


def cli_json(argv: list[str], capsys):
    """The JSON of the last stdout line of a CLI run in this process that must succeed."""
    status, out, err = cli(argv, capsys)
    assert status == 0, f"the CLI exited {status}: {err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


def cli_process(*args, env: dict | None = None, merged: bool = False) -> subprocess.CompletedProcess:
    """``python -m daft_retrieval ARGS`` in a fresh process (in the checkout, this session's environment plus
    ``env``), for tests where the process itself is the point; ``merged``: stderr into stdout, in the order
    written (stdout unbuffered)."""
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT if merged else subprocess.PIPE}
    env = {**os.environ, **(env or {}), **({"PYTHONUNBUFFERED": "1"} if merged else {})}
    command = [sys.executable, "-m", "daft_retrieval", *map(str, args)]
    return subprocess.run(command, text=True, cwd=ROOT, env=env, timeout=600, **streams)


@pytest.fixture
def files(tmp_path) -> tuple[str, str]:
    """A small qrels file and a run (as paths): q1 ranks d3, d2 (rel 2), d1 (rel 1); q2 is judged but absent from
    the run; q3 is in the run but has no judgements."""
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq1 0 d2 2\nq2 0 d9 1\n")
    run = tmp_path / "run.txt"
    run.write_text("q1 Q0 d3 1 3.0 t\nq1 Q0 d2 2 2.0 t\nq1 Q0 d1 3 1.0 t\nq3 Q0 d1 1 1.0 t\n")
    return str(qrels), str(run)


def python_json(args: list[str], *, cpus: set[int] | None = None, timeout: int = 900, after=None):
    """The JSON of the last stdout line of ``python *args`` run in a fresh interpreter from the repository root,
    optionally pinned to ``cpus`` (Daft sizes its thread pool by the CPUs it may use). Its process group is killed
    on a timeout; ``after(proc)`` runs whatever happened (stopping what it may have left, such as a Ray cluster)."""
    import signal
    import subprocess
    import sys

    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=preexec,
        env={**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0", "RAY_AUTH_MODE": "disabled"},
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        if after is not None:
            after(proc)
    assert proc.returncode == 0, f"{' '.join(args)[:200]} failed ({proc.returncode}): {err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def driver():
    """One headless Chromium for the session (:mod:`tests.browser`; skipped where there is none, failed on CI)."""
    from tests.browser import start_driver

    drv = start_driver()
    yield drv
    drv.quit()
