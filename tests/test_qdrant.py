"""Qdrant index: in embedded local mode (an exhaustive search) the run equals the exact search's, ids, order and
scores, for dense vectors and for SPLADE's sparse vectors; the index reopened from its folder gives the same run;
an unreachable server and a missing client are refused with the fix named. No Qdrant server runs here: the server
path is tested only as far as the refusal of a port where none listens."""

from __future__ import annotations

import json
import socket
import sys

import daft
import numpy as np
import pytest

from daft_retrieval import schema as S
from daft_retrieval.cache import EmbeddingCache
from daft_retrieval.encode.column import encode
from daft_retrieval.errors import DataError
from daft_retrieval.evaluation.overlap import overlap
from daft_retrieval.index.kind import index_kind
from daft_retrieval.index.qdrant import (
    QdrantOptions,
    close_clients,
    collection_name,
    open_qdrant_index,
    point_id,
)
from daft_retrieval.load import load_beir
from daft_retrieval.retrieve.dense import dense_search, search_qdrant_index
from daft_retrieval.retrieve.splade import search_qdrant_sparse, sparse_rows, splade_search
from tests.conftest import ROOT

pytest.importorskip("qdrant_client")

DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo collection, one embedding cache, and the shared Qdrant collections (dense and SPLADE, each built
    once in its index folder) with the exact runs they are held to."""
    ds = load_beir(str(DEMO))
    root = tmp_path_factory.mktemp("qdrant")
    cache = EmbeddingCache(str(root / "cache"))
    runs = {
        "dense": dense_search(ds.corpus, ds.queries, k=10, cache=cache),
        "dense-qdrant": dense_search(ds.corpus, ds.queries, k=10, cache=cache, index="qdrant", index_dir=root / "d"),
        "splade": splade_search(ds.corpus, ds.queries, k=10, cache=cache),
        "splade-qdrant": splade_search(
            ds.corpus, ds.queries, k=10, cache=cache, index="qdrant", index_dir=str(root / "s")
        ),
    }
    return ds, cache, root, runs


def _rows(run: daft.DataFrame) -> list[tuple]:
    table = run.sort([S.QUERY_ID, S.RANK]).to_pydict()
    return list(zip(table[S.QUERY_ID], table[S.DOC_ID], table[S.SCORE], table[S.RANK]))


def _same(got: list[tuple], want: list[tuple]) -> None:
    assert [(q, d, r) for q, d, _, r in got] == [(q, d, r) for q, d, _, r in want]
    np.testing.assert_allclose([s for _, _, s, _ in got], [s for _, _, s, _ in want], rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["dense", "splade"])
def test_local_mode_equals_the_exact_search(demo, kind):
    runs = demo[3]
    got, want = _rows(runs[f"{kind}-qdrant"]), _rows(runs[kind])
    assert len(want) == 44 * 10
    _same(got, want)
    assert [s for *_, s, _ in got] == [s for *_, s, _ in want]  # scored as the exact search scores: the same bits
    assert overlap(runs[f"{kind}-qdrant"], runs[kind]).aggregate == {"Overlap@10": 1.0}


def test_the_index_reopened_from_its_folder_gives_the_same_run(demo):
    ds, cache, root, runs = demo
    close_clients()  # local mode's storage is opened again, from disk
    from daft_retrieval.encode.dense import DenseConfig
    from daft_retrieval.encode.sparse import SparseConfig

    dense = open_qdrant_index(str(root / "d"))
    assert (dense.vector, dense.count, dense.url) == ("dense", 300, None)
    assert dense.collection == collection_name("dense", dense.fingerprint)
    vectors = encode(ds.queries, S.QUERY_ID, daft.col(S.TEXT), DenseConfig.of(None), role="query", cache=cache)
    assert _rows(search_qdrant_index(dense, vectors, 10)) == _rows(runs["dense-qdrant"])
    sparse = open_qdrant_index(str(root / "s"))
    assert (sparse.vector, sparse.metric) == ("sparse", "dot")
    vectors = encode(ds.queries, S.QUERY_ID, daft.col(S.TEXT), SparseConfig.of(None), role="query", cache=cache)
    assert _rows(search_qdrant_sparse(sparse, sparse_rows(vectors, S.QUERY_ID), 10)) == _rows(runs["splade-qdrant"])
    meta = json.loads((root / "d" / "index.json").read_text())
    assert meta["collection"] == dense.collection and (root / "d" / "qdrant").is_dir()


def test_the_collection_name_is_the_content_fingerprint(demo, tmp_path):
    ds, cache = demo[0], demo[1]
    # the same corpus and model, rebuilt elsewhere with another batch size: the same collection name
    again = tmp_path / "again"
    options = {"batch_size": 7}
    dense_search(ds.corpus, ds.queries, k=3, cache=cache, index="qdrant", index_dir=again, index_options=options)
    assert open_qdrant_index(str(again)).collection == open_qdrant_index(str(demo[2] / "d")).collection
    assert point_id("d1") == point_id("d1") != point_id("d2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_is_refused_before_any_encoding(tmp_path, capsys):
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    never = daft.from_pydict({S.DOC_ID: ["d"], S.TITLE: [""], S.TEXT: ["x"]})
    queries = daft.from_pydict({S.QUERY_ID: ["q"], S.TEXT: ["x"]})
    with pytest.raises(DataError, match=rf"cannot reach the Qdrant server at {url} .*leave out --qdrant-url"):
        dense_search(never, queries, model="/no/such/model", index="qdrant", index_options={"url": url})
    with pytest.raises(DataError, match=rf"cannot reach the Qdrant server at {url}"):
        splade_search(never, queries, model="/no/such/model", index="qdrant", index_options={"url": url})
    from tests.conftest import cli

    argv = ["eval", "--dataset", DEMO, "--retriever", "dense", "--index", "qdrant", "--qdrant-url", url]
    status, _, err = cli([*argv, "--cache", tmp_path / "cache"], capsys)
    assert status == 2
    errors = [line for line in err.splitlines() if line.startswith("daft-retrieval:")]
    assert len(errors) == 1 and "Traceback" not in err and "Warning" not in err  # one line, no traceback
    assert f"cannot reach the Qdrant server at {url}" in err and "Traceback" not in err


def test_bad_options_and_index_strings_are_refused():
    with pytest.raises(DataError, match="must start with http:// or https://"):
        QdrantOptions.of({"url": "localhost:6333"})
    with pytest.raises(DataError, match=r"unknown Qdrant index option\(s\) \['nprobe'\]"):
        QdrantOptions.of({"nprobe": 2})
    with pytest.raises(DataError, match="refine must be an integer >= 1"):
        QdrantOptions(refine=0)
    with pytest.raises(DataError, match="splade retriever's index must be 'exact' or 'qdrant'"):
        index_kind("faiss:HNSW32", retriever="splade")
    with pytest.raises(DataError, match="or 'qdrant'"):
        index_kind("qdrnt")


def test_a_missing_client_names_the_pip_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "qdrant_client", None)  # import qdrant_client now raises ImportError
    with pytest.raises(DataError, match=r"pip install 'daft-retrieval\[qdrant\]'"):
        index_kind("qdrant")
    never = daft.from_pydict({S.DOC_ID: ["d"], S.TITLE: [""], S.TEXT: ["x"]})
    queries = daft.from_pydict({S.QUERY_ID: ["q"], S.TEXT: ["x"]})
    with pytest.raises(DataError, match=r"daft-retrieval\[qdrant\]"):
        dense_search(never, queries, model="/no/such/model", index="qdrant")
    assert index_kind("exact") == "exact"  # the exact index needs no Qdrant


def test_experiment_specs_take_qdrant_for_dense_and_splade():
    from daft_retrieval.experiment import Retrieve, spec_key, system_from_mapping
    from daft_retrieval.experiment.against import exact_counterpart

    spec = system_from_mapping({"retriever": "splade", "index": "qdrant", "qdrant-url": "http://h:6333"}, "s 1")
    assert (spec.index, spec.label_for(), spec.index_options()) == (
        "qdrant",
        "splade-splade-tiny-qdrant",
        {"url": "http://h:6333"},
    )
    assert exact_counterpart(spec).index == "exact"
    local = Retrieve(retriever="splade", index="qdrant")
    assert spec_key(spec) == spec_key(local)  # where the collection lives changes no number
    assert Retrieve(retriever="bm25", index="qdrant").index == "exact"  # bm25 searches its own postings


@pytest.mark.parametrize("retriever", ["dense", "splade"])
def test_cli_eval_with_qdrant_reports_overlap_one_and_no_delta(demo, retriever, capsys):
    from tests.conftest import cli_json

    argv = ["-q", "eval", "--dataset", DEMO, "--retriever", retriever, "--cache", demo[1].root, "--k", "10"]
    out = cli_json([*argv, "--index", "qdrant", "-m", "nDCG@10", "--json"], capsys)
    assert out["Overlap@10"] == 1.0 and out["delta_to_exact"] == {"nDCG@10": 0.0}


def test_sparse_scores_are_the_arithmetic_and_the_name_ignores_the_row_order(tmp_path):
    from daft_retrieval.index.qdrant import build_qdrant_sparse_index

    docs = ["a", "a", "b", "b", "c"]
    terms = ["x", "y", "x", "z", "z"]
    values = [1.0, 2.0, 0.5, 4.0, 3.0]
    rows = daft.from_pydict({S.DOC_ID: docs, S.TERM: terms, S.VALUE: values})
    one = build_qdrant_sparse_index(rows, str(tmp_path / "one"))
    shuffled = daft.from_pydict({S.DOC_ID: docs[::-1], S.TERM: terms[::-1], S.VALUE: values[::-1]})
    two = build_qdrant_sparse_index(shuffled, str(tmp_path / "two"))
    assert one.collection == two.collection and one.count == 3 and one.dim == 3
    query = daft.from_pydict({S.QUERY_ID: ["q", "q"], S.TERM: ["x", "z"], S.VALUE: [2.0, 1.0]})
    got = search_qdrant_sparse(one, query, k=3).sort(S.RANK).to_pydict()
    # a: 2*1.0 = 2.0; b: 2*0.5 + 1*4.0 = 5.0; c: 1*3.0 = 3.0
    assert list(zip(got[S.DOC_ID], got[S.SCORE])) == [("b", 5.0), ("c", 3.0), ("a", 2.0)]
