"""Remote faults end quickly and clearly: HTTP 500s after the retries, redirect loops, bodies cut short, host
names that do not resolve, refused and silent endpoints, missing S3 credentials, unreachable Ray addresses.

Every fault is served here (tests/servers.py: loopback HTTP with faults, a TCP port that never answers, moto's
S3); each test asserts the error class and the URL in the message, and for the CLI exit status 2 with one line
on stderr, no traceback and no Rust panic text. The timeouts are small (2 s); a hang would fail the CLI tests'
subprocess guard rather than wait.
"""

from __future__ import annotations

import os
import subprocess
import sys

import daft
import pytest
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError, RemoteError
from daft_retrieval.load import load_beir
from daft_retrieval.load.fetch import Fetcher, FetchError, fetch_corpus
from daft_retrieval.load.io import remote_timeout, s3_config
from daft_retrieval.load.remote import remote_failure, unwrap_udf_error
from tests.conftest import ROOT
from tests.servers import closed_port, http_server, s3_server, silent_server

DEMO = ROOT / "data" / "demo"
T = 2.0  # seconds: the timeout of these tests


@pytest.fixture(scope="module")
def server():
    with http_server(str(DEMO.parent)) as (base, counters):
        yield base, counters


@pytest.fixture(scope="module")
def silent():
    with silent_server() as address:
        yield address


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("500", r"HTTP 500 Internal Server Error after \d attempts"),
        ("loop", r"redirect loop"),
        ("silent", r"no answer within 2 s \(raise it with --timeout"),
        ("truncate", r"the connection broke while reading the body"),
        ("silent-body", r"timed out \(the timeout is 2 s per file"),
    ],
)
def test_http_faults_are_remote_errors_naming_the_file(server, fault, expected):
    base, _ = server
    with pytest.raises(RemoteError, match=rf"^{base}/fault/{fault}/demo/corpus\.jsonl: {expected}"):
        load_beir(f"{base}/fault/{fault}/demo", timeout=T)


def test_500s_are_retried_within_the_timeout(server):
    base, _ = server
    with pytest.raises(RemoteError, match=r"/fault/500/demo/corpus\.jsonl: HTTP 500.* after 3 attempts; gave up"):
        load_beir(f"{base}/fault/500/demo", timeout=T)


def test_unreachable_hosts(silent):
    port = closed_port()
    with pytest.raises(RemoteError, match=rf"^http://127\.0\.0\.1:{port}/demo/corpus\.jsonl: connection refused"):
        load_beir(f"http://127.0.0.1:{port}/demo", timeout=T)
    with pytest.raises(
        RemoteError, match=r"^http://no-such-host\.invalid/demo/corpus\.jsonl: the host name .* \(DNS\)"
    ):
        load_beir("http://no-such-host.invalid/demo", timeout=T)
    with pytest.raises(RemoteError, match=rf"^http://{silent}/demo/corpus\.jsonl: no answer within 2 s"):
        load_beir(f"http://{silent}/demo", timeout=T)


def test_a_missing_remote_file_may_be_gzip_compressed(tmp_path):
    import gzip
    import shutil

    folder = tmp_path / "gz"
    shutil.copytree(DEMO, folder)
    corpus = folder / "corpus.jsonl"
    (folder / "corpus.jsonl.gz").write_bytes(gzip.compress(corpus.read_bytes()))
    corpus.unlink()
    with http_server(str(tmp_path)) as (base, counters):
        remote = load_beir(f"{base}/gz", timeout=10)
        assert counters.hits["/gz/corpus.jsonl.gz"] >= 1
    assert remote.report == load_beir(DEMO).report


def test_a_slow_server_within_the_timeout_is_read(server):
    base, _ = server
    slow = load_beir(f"{base}/fault/slow-0.2/demo", timeout=8)
    assert slow.report == load_beir(DEMO).report


def test_the_timeout_comes_from_the_environment(silent, monkeypatch):
    monkeypatch.setenv("DAFT_RETRIEVAL_TIMEOUT", "1.5")
    assert remote_timeout() == 1.5 and remote_timeout(7) == 7.0
    with pytest.raises(RemoteError, match=r"no answer within 1\.5 s"):
        load_beir(f"http://{silent}/demo")
    monkeypatch.setenv("DAFT_RETRIEVAL_TIMEOUT", "soon")
    with pytest.raises(DataError, match="DAFT_RETRIEVAL_TIMEOUT must be a number of seconds > 0, not 'soon'"):
        remote_timeout()
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(DataError, match="timeout must be"):
            remote_timeout(bad)


def test_daft_timeouts_are_bounded_by_the_timeout():
    config = s3_config(timeout=T)
    assert config.s3.num_tries == 2
    assert config.s3.connect_timeout_ms == config.s3.read_timeout_ms == 500  # 2 tries x 500 ms < 2 s
    assert s3_config().s3.read_timeout_ms == 15_000  # the default, 60 s


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def s3():
    with s3_server() as (endpoint, client):
        client.create_bucket(Bucket="beir-faults")
        for path in DEMO.rglob("*"):
            if path.is_file():
                client.put_object(Bucket="beir-faults", Key=f"demo/{path.relative_to(DEMO)}", Body=path.read_bytes())
        yield endpoint


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


def test_s3_without_credentials(s3, no_credentials):
    with pytest.raises(RemoteError, match=r"^s3://beir-faults/demo/corpus\.jsonl: no credentials found .*--anonymous"):
        load_beir("s3://beir-faults/demo", io_config=s3_config(s3, timeout=T))


def test_s3_anonymous_on_a_private_bucket(s3, credentials):
    with pytest.raises(RemoteError, match=r"^s3://beir-faults/demo/corpus\.jsonl: the server refused the request"):
        load_beir("s3://beir-faults/demo", io_config=s3_config(s3, anonymous=True, timeout=T))


@pytest.mark.parametrize("anonymous", [False, True])
def test_s3_unreachable_endpoint(silent, credentials, anonymous):
    closed = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(RemoteError, match=rf"^s3://beir-faults/demo/corpus\.jsonl: connection refused.*{closed}"):
        load_beir("s3://beir-faults/demo", io_config=s3_config(closed, anonymous=anonymous, timeout=T), timeout=T)
    silent_config = s3_config(f"http://{silent}", anonymous=anonymous, timeout=T)
    with pytest.raises(RemoteError, match=r"^s3://beir-faults/demo/corpus\.jsonl: timed out \(the timeout is 2 s"):
        load_beir("s3://beir-faults/demo", io_config=silent_config, timeout=T)


def test_s3_missing_bucket_and_folder(s3, credentials):
    with pytest.raises(RemoteError, match=r"^s3://no-such-bucket-here/demo/corpus\.jsonl: no such bucket"):
        load_beir("s3://no-such-bucket-here/demo", io_config=s3_config(s3, timeout=T))
    with pytest.raises(
        DataError, match=r"^s3://beir-faults/nowhere: s3://beir-faults/nowhere/corpus\.jsonl is missing"
    ):
        load_beir("s3://beir-faults/nowhere", io_config=s3_config(s3, timeout=T))


# -- the fetcher -------------------------------------------------------------------------------------------


def test_fetch_corpus_errors_are_ours_and_name_url_and_row(server):
    base, _ = server
    frame = daft.from_pydict({S.DOC_ID: ["d1", "d2"], "url": [f"{base}/doc/1", f"{base}/fault/500/demo/qrels"]})
    with pytest.raises(FetchError, match=rf"^{base}/fault/500/demo/qrels \(doc_id 'd2'\): HTTP 500") as caught:
        fetch_corpus(frame, retries=1, backoff=0.01, timeout=T)
    assert isinstance(caught.value, RemoteError)
    json_frame = daft.from_pydict({S.DOC_ID: ["d7"], "url": [f"{base}/doc/7"]})
    with pytest.raises(DataError, match=r"doc_id 'd7': the fetched passage is not JSON"):
        fetch_corpus(json_frame, format="json", timeout=T)  # raised in a row-wise UDF: unwrapped here


def test_fetch_max_bytes(server):
    base, counters = server
    frame = daft.from_pydict({S.DOC_ID: ["small", "big"], "url": [f"{base}/doc/3", f"{base}/demo/corpus.jsonl"]})
    size = (DEMO / "corpus.jsonl").stat().st_size
    with pytest.raises(
        FetchError, match=rf"corpus\.jsonl \(doc_id 'big'\): the body is {size:,} bytes, over max_bytes"
    ):
        fetch_corpus(frame, max_bytes=1000, timeout=T)
    assert counters.hits["/demo/corpus.jsonl"] == 1  # a size limit is not retried
    with pytest.warns(Warning, match="1 of 2 URLs failed"):
        corpus = fetch_corpus(frame, max_bytes=1000, timeout=T, on_error="null").sort(S.DOC_ID).to_pydict()
    assert corpus[S.TEXT] == [None, "passage 3 about topic 3"]
    assert fetch_corpus(frame, max_bytes=None, timeout=T).count_rows() == 2


@pytest.mark.parametrize(
    ("path", "expected", "retried"),
    [
        ("/fault/truncate/demo/queries.jsonl", r"the body was cut short .* after 3 attempts", True),
        ("/fault/loop/demo/queries.jsonl", r"redirect loop", False),
        ("/fault/silent/demo/queries.jsonl", r"no answer within [\d.]+ s .* after 3 attempts", True),
    ],
)
def test_fetch_faults(server, path, expected, retried):
    base, counters = server
    urls = daft.from_pydict({"url": [base + path], "key": ["k1"]})
    fetcher = Fetcher(retries=2, backoff=0.01, timeout=T)
    before = counters.hits.get(path, 0)
    with pytest.raises(FetchError, match=rf"^{base}{path} \(key 'k1'\): {expected}"):
        urls.select(fetcher.fetch(col("url"), col("key"))).collect()
    asked = counters.hits[path] - before
    assert asked == 3 if retried else 1 <= asked <= 11, asked  # a redirect loop: one attempt of up to 10 hops


def test_fetch_dns_failure_is_not_retried():
    urls = daft.from_pydict({"url": ["http://no-such-host.invalid/doc/1"]})
    with pytest.raises(FetchError, match=r"^http://no-such-host\.invalid/doc/1: the host name does not resolve"):
        urls.select(Fetcher(retries=3, timeout=T).fetch(col("url"))).collect()


def test_unwrap_and_reasons():
    wrapped = ValueError(
        "DaftError::ComputeError Error processing some rows:\n0: DaftError::PyO3Error FetchError: u: x"
    )
    found = unwrap_udf_error(wrapped)
    assert isinstance(found, FetchError) and str(found) == "u: x"
    plain = ValueError("something else")
    assert unwrap_udf_error(plain) is plain
    daft_text = "MiscTransient\n\nCaused by the following errors:\n  1: x\n  2: Connection refused (os error 111)"
    assert remote_failure(ValueError(daft_text)).startswith("connection refused")
    assert remote_failure(ValueError("JSON deserialization error: Syntax at character 0")) is None


# -- the CLI: exit 2, one line ------------------------------------------------------------------------------


def _cli(*args: str, env: dict | None = None, code: str | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", **(env or {})}
    environ = {k: v for k, v in environ.items() if v is not None}  # None: unset
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "daft_retrieval", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environ, timeout=120)


def _one_line_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    assert "Traceback" not in out.stderr and "panicked" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("daft-retrieval: error: "), out.stderr
    return lines[0]


EVAL = ["eval", "--retriever", "bm25", "--timeout", "2"]


def test_cli_http_faults(server, silent):
    base, _ = server
    cases = {
        f"{base}/fault/500/demo": "HTTP 500",
        f"{base}/fault/loop/demo": "redirect loop",
        f"{base}/fault/truncate/demo": "the connection broke while reading the body",
        f"http://{silent}/demo": "no answer within 2 s",
        "http://no-such-host.invalid/demo": "does not resolve",
    }
    for dataset, expected in cases.items():
        line = _one_line_error(_cli(*EVAL, "--dataset", dataset))
        assert f"{dataset}/corpus.jsonl: " in line and expected in line, line


def test_cli_s3_faults(s3, silent, tmp_path):
    closed = f"http://127.0.0.1:{closed_port()}"
    no_keys = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": None}
    no_keys |= {"AWS_SESSION_TOKEN": None, "AWS_EC2_METADATA_DISABLED": "true"}
    no_keys |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    keys = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    cases = [
        (["--s3-endpoint", s3], no_keys, "no credentials found"),
        (["--s3-endpoint", closed], keys, "connection refused"),
        (["--s3-endpoint", closed, "--anonymous"], no_keys, "connection refused"),
        (["--s3-endpoint", f"http://{silent}", "--anonymous"], no_keys, "timed out"),
    ]
    for options, env, expected in cases:
        line = _one_line_error(_cli(*EVAL, "--dataset", "s3://beir-faults/demo", *options, env=env))
        assert "s3://beir-faults/demo/corpus.jsonl: " in line and expected in line, (options, line)


def test_cli_ray_address_unreachable(silent):
    pytest.importorskip("ray", reason="the Ray runner needs the [ray] extra")
    port = closed_port()
    for address, expected in [(f"ray://127.0.0.1:{port}", "connection refused"), (f"ray://{silent}", "no Ray server")]:
        line = _one_line_error(_cli("--runner", "ray", "--ray-address", address, *EVAL))
        assert f"{address}: " in line and expected in line, line


def test_cli_ray_runner_without_ray_names_the_extra():
    code = "import sys; sys.modules['ray'] = None\nfrom daft_retrieval.cli.main import main\nsys.exit(main())"
    line = _one_line_error(_cli("--runner", "ray", *EVAL, code=code))
    assert "pip install 'daft-retrieval[ray]'" in line, line


def test_ray_without_ray_and_unreachable_addresses_in_process(silent, monkeypatch):
    from daft_retrieval.runner import check_ray_address, ray_runner

    pytest.importorskip("grpc", reason="the gRPC check comes with Ray")
    check_ray_address(None)  # a local cluster: nothing to check
    port = closed_port()
    with pytest.raises(RemoteError, match=rf"^ray://127\.0\.0\.1:{port}: cannot reach the Ray cluster \(connection"):
        check_ray_address(f"ray://127.0.0.1:{port}", timeout=T)
    with pytest.raises(RemoteError, match=rf"^{silent}: something listens there but no Ray server answered within 2 s"):
        check_ray_address(silent, timeout=T)  # a GCS address (host:port) is checked the same way
    with pytest.raises(RemoteError, match=r"^ray://no-such-host\.invalid: .*does not resolve"):
        check_ray_address("ray://no-such-host.invalid", timeout=T)  # the client port by default
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    with pytest.raises(ImportError, match=r"pip install 'daft-retrieval\[ray\]'"), ray_runner(num_cpus=1):
        pass
