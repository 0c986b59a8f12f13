"""Remote loading: BEIR folders over HTTP and S3 (servers started here), the async fetcher's concurrency cap,
retries and errors."""

from __future__ import annotations

import json

import daft
import pytest
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError, RemoteError
from daft_retrieval.load import load_beir
from daft_retrieval.load.fetch import Fetcher, fetch_corpus
from tests.conftest import ROOT
from tests.servers import http_server

DEMO = ROOT / "data" / "demo"


def _rows(frame: daft.DataFrame, key: str) -> list[dict]:
    return sorted(frame.to_pylist(), key=lambda r: tuple(str(r[k]) for k in key.split(",")))


def test_beir_folder_over_http_equals_local():
    local = load_beir(DEMO)
    with http_server(str(DEMO.parent)) as (base, counters):
        remote = load_beir(f"{base}/demo")
        assert _rows(remote.corpus, S.DOC_ID) == _rows(local.corpus, S.DOC_ID)
        assert _rows(remote.queries, S.QUERY_ID) == _rows(local.queries, S.QUERY_ID)
        assert _rows(remote.qrels, "query_id,doc_id") == _rows(local.qrels, "query_id,doc_id")
        assert remote.report == local.report
        assert any(path.endswith("corpus.jsonl") for path in counters.hits)


def test_missing_remote_folder_names_the_url():
    with http_server(str(DEMO.parent)) as (base, _), pytest.raises(Exception, match=rf"{base}/nowhere"):
        load_beir(f"{base}/nowhere").corpus.collect()


def test_fetcher_caps_concurrency_and_keeps_order():
    with http_server(latency=0.02) as (base, counters):
        urls = daft.from_pydict({"url": [f"{base}/doc/{i}" for i in range(200)]})
        out = urls.select(Fetcher(concurrency=8).fetch_text(col("url")).alias("body")).to_pydict()["body"]
        assert out == [f"passage {i} about topic {i % 7}" for i in range(200)]
        assert 2 <= counters.max_in_flight <= 8, counters.max_in_flight


def test_fetch_corpus_from_a_rest_endpoint():
    with http_server() as (base, _):
        frame = daft.from_pydict({S.DOC_ID: ["a", "b"], "url": [f"{base}/json/1", f"{base}/json/2"]})
        corpus = fetch_corpus(frame, format="json").sort(S.DOC_ID).to_pydict()
    assert corpus == {
        S.DOC_ID: ["a", "b"],
        S.TITLE: ["title 1", "title 2"],
        S.TEXT: ["passage 1 as json", "passage 2 as json"],
    }


def test_5xx_is_retried_4xx_is_not():
    with http_server() as (base, counters):
        flaky = daft.from_pydict({"url": [f"{base}/flaky/2/a"]})
        assert flaky.select(Fetcher(retries=3, backoff=0.01).fetch_text(col("url"))).to_pydict()["url"] == ["recovered"]
        assert counters.hits["/flaky/2/a"] == 3  # two 503s, then 200
        missing = daft.from_pydict({"url": [f"{base}/status/404"]})
        with pytest.raises(Exception, match=r"/status/404: HTTP 404"):
            missing.select(Fetcher(retries=3, backoff=0.01).fetch(col("url"))).collect()
        assert counters.hits["/status/404"] == 1  # no retry on a client error
        broken = daft.from_pydict({"url": [f"{base}/status/500"]})
        with pytest.raises(Exception, match=r"/status/500: HTTP 500.*after 3 attempts"):
            broken.select(Fetcher(retries=2, backoff=0.01).fetch(col("url"))).collect()
        assert counters.hits["/status/500"] == 3


def test_timeout_and_null_mode_count_failures():
    with http_server() as (base, counters):
        urls = daft.from_pydict({"url": [f"{base}/doc/1", f"{base}/slow/2", f"{base}/status/404", None]})
        with pytest.warns(Warning, match="2 of 4 URLs failed"):
            out = urls.select(Fetcher(timeout=0.3, retries=1, backoff=0.01, on_error="null").fetch_text(col("url")))
            values = out.to_pydict()["url"]
        assert values == ["passage 1 about topic 1", None, None, None]
        assert counters.hits["/slow/2"] == 2  # a timeout is retried


def test_fetcher_options_are_checked():
    with pytest.raises(DataError, match="on_error"):
        Fetcher(on_error="ignore")


def _upload_demo(client, bucket: str) -> None:
    client.create_bucket(Bucket=bucket)
    for path in DEMO.rglob("*"):
        if path.is_file():
            client.put_object(Bucket=bucket, Key=f"demo/{path.relative_to(DEMO)}", Body=path.read_bytes())


def test_beir_folder_on_s3_equals_local(monkeypatch):
    from daft_retrieval.load.io import s3_config
    from tests.servers import s3_server

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    local = load_beir(DEMO)
    with s3_server() as (endpoint, client):
        _upload_demo(client, "beir-data")
        remote = load_beir("s3://beir-data/demo", io_config=s3_config(endpoint))
        assert _rows(remote.corpus, S.DOC_ID) == _rows(local.corpus, S.DOC_ID)
        assert _rows(remote.qrels, "query_id,doc_id") == _rows(local.qrels, "query_id,doc_id")
        # the CLI reads it too and gets the same numbers as the local folder
        from tests.conftest import cli_process as cli

        args = ["eval", "--retriever", "bm25", "-m", "nDCG@10", "--json"]
        s3 = cli(*args, "--dataset", "s3://beir-data/demo", "--s3-endpoint", endpoint)
        assert s3.returncode == 0, s3.stderr
        local_out = cli(*args, "--dataset", str(DEMO)).stdout.splitlines()[-1]
        assert json.loads(s3.stdout.splitlines()[-1]) == pytest.approx(json.loads(local_out), abs=1e-12)


def test_zip_archive_by_url_is_downloaded_once_and_checked(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("DAFT_RETRIEVAL_CACHE", str(tmp_path / "home"))
    served = tmp_path / "served"
    served.mkdir()
    shutil.make_archive(str(served / "demo"), "zip", root_dir=DEMO.parent, base_dir="demo")
    (served / "broken.zip").write_bytes((served / "demo.zip").read_bytes()[:2000])
    local = load_beir(DEMO)
    with http_server(str(served)) as (base, counters):
        first = load_beir(f"{base}/demo.zip")
        again = load_beir(f"{base}/demo.zip")
        assert counters.hits["/demo.zip"] == 1  # the second load reads the unpacked copy
        assert _rows(first.corpus, S.DOC_ID) == _rows(local.corpus, S.DOC_ID) == _rows(again.corpus, S.DOC_ID)
        with pytest.raises(DataError, match=r"broken\.zip: not a zip archive"):
            load_beir(f"{base}/broken.zip")
        with pytest.raises(RemoteError, match=r"missing\.zip: HTTP 404"):
            load_beir(f"{base}/missing.zip")
    assert not any(p.name.startswith(".") for p in (tmp_path / "home" / "datasets").iterdir())  # no leftovers
