"""BM25: hand arithmetic on three documents, parity with bm25s on real collections, save/load round trip."""

from __future__ import annotations

import math

import daft
import numpy as np
import pytest

from daft_retrieval import schema as S
from daft_retrieval.evaluation import evaluate
from daft_retrieval.index.bm25 import BM25Index
from daft_retrieval.load import load_beir
from daft_retrieval.retrieve.bm25 import bm25_search
from daft_retrieval.schema import document_text
from daft_retrieval.score.bm25 import bm25_weight
from daft_retrieval.text.tokenize import Tokenizer
from tests.conftest import shared_dataset


def _corpus(texts: dict[str, str]) -> daft.DataFrame:
    return daft.from_pydict({S.DOC_ID: list(texts), S.TITLE: [""] * len(texts), S.TEXT: list(texts.values())})


def _queries(texts: dict[str, str]) -> daft.DataFrame:
    return daft.from_pydict({S.QUERY_ID: list(texts), S.TEXT: list(texts.values())})


def _scores(run: daft.DataFrame) -> dict[tuple[str, str], float]:
    d = run.to_pydict()
    return {(q, doc): s for q, doc, s in zip(d[S.QUERY_ID], d[S.DOC_ID], d[S.SCORE])}


def test_hand_arithmetic_three_documents():
    # lengths 2, 3, 1 -> avgdl 2, N 3; "cat" in d1 (tf 1) and d2 (tf 2): df 2; "dog" in d1 only: df 1
    corpus = _corpus({"d1": "cat dog", "d2": "cat cat fish", "d3": "bird"})
    run = bm25_search(corpus, _queries({"q": "cat dog dog"}), k=10)
    k1, b, n, avgdl = 1.2, 0.75, 3, 2.0
    idf_cat = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))
    idf_dog = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    d1 = idf_cat * 1 / (1 + k1 * (1 - b + b * 2 / avgdl)) + 2 * idf_dog * 1 / (1 + k1 * (1 - b + b * 2 / avgdl))
    d2 = idf_cat * 2 / (2 + k1 * (1 - b + b * 3 / avgdl))  # "dog" counted twice in the query, absent from d2
    assert _scores(run) == pytest.approx({("q", "d1"): d1, ("q", "d2"): d2}, rel=1e-6)
    assert run.sort(S.RANK).to_pydict()[S.DOC_ID] == ["d1", "d2"]


def test_variants_by_hand():
    kw = {"tf": 2, "df": 3, "dl": 10, "n_docs": 4, "avgdl": 5.0, "k1": 1.2, "b": 0.75}
    tfc = 2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 10 / 5))
    assert bm25_weight("lucene", **kw) == pytest.approx(math.log(1 + 1.5 / 3.5) * tfc)
    assert bm25_weight("robertson", **kw) == 0.0  # (4 - 3 + 0.5) / 3.5 < 1 is clamped to 1: ln 1 = 0
    assert bm25_weight("atire", **kw) == pytest.approx(math.log(4 / 3) * tfc * 2.2)


def test_ties_break_on_doc_id_descending_and_empty_documents_count():
    corpus = _corpus({"a": "xx yy", "b": "xx yy", "c": "", "d": "zz zz"})
    index = BM25Index.build(corpus)
    assert (index.n_docs, index.avgdl) == (4, 1.5)
    run = bm25_search(index, _queries({"q": "xx", "none": "unknown words"}), k=10).sort(S.RANK).to_pydict()
    assert run[S.DOC_ID] == ["b", "a"] and run[S.RANK] == [1, 2]


def test_save_load_round_trip(tmp_path, demo_path):
    ds = load_beir(str(demo_path))
    index = BM25Index.build(ds.corpus, tokenizer=Tokenizer(stopwords="en", stemmer="english"), k1=0.9, b=0.4)
    index.save(str(tmp_path / "idx"))
    loaded = BM25Index.load(str(tmp_path / "idx"))
    assert loaded.settings() == index.settings()
    before = bm25_search(index, ds.queries, k=20).sort([S.QUERY_ID, S.RANK]).to_pydict()
    after = bm25_search(str(tmp_path / "idx"), ds.queries, k=20).sort([S.QUERY_ID, S.RANK]).to_pydict()
    assert before == after and len(before[S.DOC_ID]) > 0


def _bm25s_run(corpus: daft.DataFrame, queries: daft.DataFrame, settings: dict, method: str, k: int):
    """bm25s's top-k as {query_id: (doc_ids, scores)}."""
    bm25s = pytest.importorskip("bm25s")
    stemmer_module = pytest.importorskip("Stemmer")
    docs = corpus.select(S.DOC_ID, document_text()).to_pydict()
    qs = queries.to_pydict()
    stemmer = stemmer_module.Stemmer(settings["stemmer"]) if settings.get("stemmer") else None
    sw = settings.get("stopwords")
    retriever = bm25s.BM25(method=method, k1=1.2, b=0.75)
    retriever.index(
        bm25s.tokenize(docs["document"], stopwords=sw, stemmer=stemmer, show_progress=False), show_progress=False
    )
    tokens = bm25s.tokenize(qs[S.TEXT], stopwords=sw, stemmer=stemmer, return_ids=False, show_progress=False)
    ids = np.asarray(docs[S.DOC_ID], dtype=object)
    out = {}
    for qid, toks in zip(qs[S.QUERY_ID], tokens):
        scores = retriever.get_scores(toks) if toks else np.zeros(len(ids), dtype=np.float32)
        top = np.argsort(-scores, kind="stable")[:k]
        out[qid] = (ids[top], scores[top].astype(np.float64))
    return out


def _assert_same_top(ours: daft.DataFrame, reference: dict, k: int) -> int:
    """Same scores (relative 1e-5) at every rank, and the same ids wherever the score is not tied. Returns #queries."""
    d = ours.sort([S.QUERY_ID, S.RANK]).to_pydict()
    got: dict[str, tuple[list, list]] = {}
    for q, doc, s in zip(d[S.QUERY_ID], d[S.DOC_ID], d[S.SCORE]):
        got.setdefault(q, ([], []))[0].append(doc)
        got[q][1].append(s)
    checked = 0
    for qid, (ref_ids, ref_scores) in reference.items():
        positive = ref_scores > 0
        ref_ids, ref_scores = list(ref_ids[positive]), ref_scores[positive]
        ids, scores = got.get(qid, ([], []))
        ids, scores = [i for i, s in zip(ids, scores) if s > 0], [s for s in scores if s > 0]
        assert len(ids) == len(ref_ids), qid
        assert scores == pytest.approx(list(ref_scores), rel=1e-5, abs=1e-6), qid
        last = ref_scores[-1] if len(ref_scores) == k else -1.0
        gap = 1e-5 * max(1.0, abs(last))
        sure = {doc for doc, s in zip(ids, scores) if s > last + gap}
        assert sure == {doc for doc, s in zip(ref_ids, ref_scores) if s > last + gap}, qid
        checked += 1
    return checked


PARITY = [
    ("scifact", {}),
    ("scifact", {"stopwords": "en", "stemmer": "english"}),
    ("cranfield", {"stopwords": "en", "stemmer": "english"}),
    ("heq", {}),
]


@pytest.mark.parametrize(("name", "settings"), PARITY)
def test_lucene_parity_with_bm25s(name, settings):
    ds = load_beir(str(shared_dataset(name)))
    reference = _bm25s_run(ds.corpus, ds.queries, settings, "lucene", 10)
    run = bm25_search(ds.corpus, ds.queries, k=10, tokenizer=Tokenizer(**settings))
    assert _assert_same_top(run, reference, 10) == ds.queries.count_rows()


@pytest.mark.parametrize("variant", ["robertson", "atire"])
def test_other_variants_parity_with_bm25s(variant):
    ds = load_beir(str(shared_dataset("cranfield")))
    reference = _bm25s_run(ds.corpus, ds.queries, {}, variant, 10)
    index = BM25Index.build(ds.corpus).with_params(variant=variant)
    assert _assert_same_top(bm25_search(index, ds.queries, k=10), reference, 10) > 200


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({}, (0.6596, 0.8726)), ({"stopwords": "en", "stemmer": "english"}, (0.6791, 0.9127))],
)
def test_scifact_effectiveness(settings, expected):
    ds = load_beir(str(shared_dataset("scifact")))
    run = bm25_search(ds.corpus, ds.queries, k=100, tokenizer=Tokenizer(**settings))
    got = evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate
    assert (round(got["nDCG@10"], 4), round(got["R@100"], 4)) == expected


def _arrays(index: BM25Index) -> dict[str, object]:
    """Every frame of an index as sorted columns, plus its statistics (what must not depend on how it was built)."""
    postings = index.postings.postings.sort(["term_id", "doc"]).to_pydict()
    vocabulary = index.postings.vocabulary.sort("term_id").to_pydict()
    documents = index.postings.documents.sort("doc").to_pydict()
    stats = (index.n_docs, index.avgdl)
    return {"postings": postings, "vocabulary": vocabulary, "documents": documents, "stats": stats}


@pytest.mark.parametrize("tokenizer", [Tokenizer(), Tokenizer(stopwords="en", stemmer="english")])
def test_streamed_build_equals_pooled_build_on_demo(tokenizer):
    # the streamed build (terms counted per document, two passes) gives the one-row-per-token build's arrays,
    # bit for bit
    corpus = load_beir("data/demo").corpus
    streamed = BM25Index.build(corpus, tokenizer=tokenizer)
    pooled = BM25Index._build_pooled(corpus, tokenizer, 1.2, 0.75, "lucene")
    assert _arrays(streamed) == _arrays(pooled)
    assert streamed.postings.postings.schema() == pooled.postings.postings.schema()


def test_streamed_build_equals_pooled_build_on_scifact_slice():
    corpus = load_beir(str(shared_dataset("scifact"))).corpus.limit(1500).collect()
    tokenizer = Tokenizer(stopwords="en", stemmer="english")
    streamed = BM25Index.build(corpus, tokenizer=tokenizer, variant="robertson")
    pooled = BM25Index._build_pooled(corpus, tokenizer, 1.2, 0.75, "robertson")
    assert _arrays(streamed) == _arrays(pooled)


def test_a_doc_id_twice_pools_its_rows():
    corpus = _corpus({"a": "xx yy"}).concat(_corpus({"a": "xx", "b": "zz"}))
    index = BM25Index.build(corpus)
    assert (index.n_docs, index.avgdl) == (2, 2.0)
    assert index.postings.postings.sort(["term_id", "doc"]).to_pydict()["value"] == [2.0, 1.0, 1.0]
