"""The Python API in daily (IPython) use: wrong calls fail at once with a DataError naming the fix, never with a
deep traceback or a silently wrong number; results print as short summaries; progress lines can be silenced."""

from __future__ import annotations

import daft
import pytest

import daft_retrieval as dr
from daft_retrieval import memo
from daft_retrieval.progress import QUIET, Progress
from tests.conftest import ROOT

DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="module")
def demo():
    ds = dr.load_beir(DEMO)
    return ds, dr.bm25_search(ds.corpus, ds.queries, k=20)


def _qrels(relevance) -> daft.DataFrame:
    return daft.from_pydict({"query_id": ["1"], "doc_id": ["b"], "relevance": [relevance]})


@pytest.mark.parametrize("bad", [None, float("nan"), "high"])
def test_a_score_that_is_not_a_number_fails_rather_than_ranking_first(bad):
    run = daft.from_pydict({"query_id": ["1", "1"], "doc_id": ["a", "b"], "score": [0.9, bad]})
    with pytest.raises(dr.DataError, match=r"run: 1 row has no usable 'score'.*'doc_id': 'b'"):
        dr.evaluate(run, _qrels(1), ["RR"])


def test_a_relevance_that_is_not_an_integer_fails_rather_than_counting_as_non_relevant():
    run = daft.from_pydict({"query_id": ["1"], "doc_id": ["b"], "score": [1.0]})
    assert dr.evaluate(run, _qrels(1), ["RR"]).aggregate == {"RR": 1.0}
    with pytest.raises(dr.DataError, match="qrels: 1 row has no usable 'relevance'"):
        dr.evaluate(run, _qrels("yes"), ["RR"])


def test_wrong_arguments_name_the_fix(demo, tmp_path):
    ds, run = demo
    pandas = pytest.importorskip("pandas")
    cases = [
        (lambda: dr.evaluate(pandas.DataFrame({"a": [1]}), ds.qrels, ["RR"]), "daft.from_pandas"),
        (lambda: dr.rrf(run), r"rrf takes a list of run frames"),
        (lambda: dr.rrf([run, run], depth=0), "k must be >= 1"),
        (lambda: dr.compare([run], ds.qrels, ["RR"]), "compare takes a dict of named runs"),
        (lambda: dr.explore(run, ds, k=0), "k must be >= 1"),
        (lambda: dr.explore(run, ds.qrels), "explore needs the Dataset"),
        (lambda: dr.rank_run(run, k=-1), "k must be >= 1"),
        (lambda: dr.rerank(run, ds.corpus, ds.queries, method="bi", model="m"), r"queries \(rerank\(run, queries"),
        (lambda: dr.rerank(run, ds.queries, ds.corpus, method="bi", model=None), "rerank needs model="),
        (lambda: dr.late_search(ds.corpus, ds.queries, nprobe=-1), "nprobe must be >= 0"),
        (lambda: dr.Tokenizer(pattern="("), "not a valid regex"),
        (lambda: dr.load_beir(DEMO / "corpus.jsonl"), "is a file; give the BEIR folder"),
    ]
    for call, message in cases:
        with pytest.raises(dr.DataError, match=message):
            call()
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(dr.DataError, match="must be a folder"):
        dr.EmbeddingCache(afile)
    with pytest.raises(dr.DataError, match="cannot make its folder"):
        dr.write_run(run, str(afile / "run.txt"))


def test_dense_search_checks_k_and_metric_before_encoding_anything(demo):
    ds, _ = demo
    loads = len(memo.loaded("dense"))
    with pytest.raises(dr.DataError, match="k must be >= 1"):
        dr.dense_search(ds.corpus, ds.queries, k=0)
    with pytest.raises(dr.DataError, match="metric must be 'cosine' or 'dot'"):
        dr.dense_search(ds.corpus, ds.queries, metric="l2")
    assert len(memo.loaded("dense")) == loads


def test_a_model_that_cannot_load_is_named_with_the_fix(demo):
    ds, _ = demo
    with pytest.raises(dr.DataError, match=r"model 'no-such-model-xyz' cannot be loaded .*offline short name"):
        dr.dense_search(ds.corpus, ds.queries.limit(2), model=dr.DenseConfig("no-such-model-xyz"))


def test_results_print_as_short_summaries(demo):
    ds, run = demo
    assert repr(ds) == "Dataset('demo': 300 documents, 44 queries, 204 judgements; .corpus, .queries, .qrels)"
    result = dr.evaluate(run, ds.qrels, ["nDCG@10", "R@20"])
    text = repr(result)
    assert text.startswith("Evaluation(44 queries: nDCG@10=0.") and "R@20=" in text and len(text) < 120
    table = repr(dr.compare({"bm25": run, "again": run}, ds.qrels, ["nDCG@10"], trials=50))
    assert table.splitlines()[0].split() == ["system", "nDCG@10"] and len(table.splitlines()) == 4


def test_progress_in_logs_marks_partial_counts_and_reports_the_final_one_once(capsys, monkeypatch):
    monkeypatch.delenv(QUIET, raising=False)
    p = Progress("searching", every=3600)  # a step shorter than `every`: its final count only
    p.add(21)
    p.add(23)
    p.close()
    p.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["searching: 44"] and not lines[0].endswith("so far")
    p = Progress("searching", every=0)  # a line each time `every` has passed, marked partial
    p.add(21)
    p.add(23)
    p.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["searching: 21", "searching: 44", "searching: 44"]
    assert lines[0].endswith("so far") and lines[1].endswith("so far") and not lines[2].endswith("so far")
    monkeypatch.setenv(QUIET, "0")
    quiet = Progress("searching")
    quiet.add(5)
    quiet.close()
    assert capsys.readouterr().err == ""


def test_a_finished_search_does_not_keep_its_temporary_index_in_memory(demo):
    from daft_retrieval import memo

    ds, _ = demo
    dr.bm25_search(ds.corpus, ds.queries, k=5)  # searches a temporary index, removed afterwards
    memo.load_once(("probe",), lambda: None)  # any later load sweeps what was read from files now gone
    assert memo.loaded("impacts") == []
    assert memo.load_once(("probe",), lambda: 1) is None  # entries without files stay
