"""Chunked retrieval: windows in the model's tokens, MaxP / FirstP / SumP arithmetic, and a chunked dense run equal to
one built from the encoder applied to each chunk directly."""

from __future__ import annotations

import itertools
import math
import random

import daft
import numpy as np
import pytest

from daft_retrieval import registry as R
from daft_retrieval import schema as S
from daft_retrieval.encode.dense import DenseConfig
from daft_retrieval.errors import DataError
from daft_retrieval.experiment import Retrieve
from daft_retrieval.experiment.spec import spec_key
from daft_retrieval.load import load_beir
from daft_retrieval.retrieve.chunked import chunked_search, document_scores
from daft_retrieval.run import rank_run
from daft_retrieval.text.chunk import AGGS, CHUNK, PARENT, Chunking, chunk_corpus, windows, word_windows
from tests.conftest import ROOT, cli

MODEL = DenseConfig(model="all-MiniLM-L6-v2", max_seq_length=64)


def test_windows_cover_the_tokens_every_stride():
    rng = random.Random(0)
    for _ in range(300):
        n, tokens = rng.randrange(0, 60), rng.randrange(1, 12)
        stride = rng.randrange(1, tokens + 1)
        cuts = windows(n, tokens, stride)
        assert cuts[0][0] == 0 and cuts[-1][1] == n
        assert all(b - a <= tokens for a, b in cuts)
        assert [a for a, _ in cuts] == list(range(0, stride * len(cuts), stride))
        assert all(b < n for _, b in cuts[:-1])  # only the last window reaches the end
        covered = set().union(*(range(a, b) for a, b in cuts))
        assert covered == set(range(n))


def test_word_windows_never_cut_a_word_and_tile_without_overlap():
    rng = random.Random(1)
    for _ in range(300):
        words = [w for w in range(rng.randrange(1, 25)) for _ in range(rng.randrange(1, 4))]
        tokens = rng.randrange(1, 9)
        cuts = word_windows(words, tokens, tokens)
        starts = {i for i, w in enumerate(words) if i == 0 or w != words[i - 1]}
        forced = set()  # ends inside a word: only where one word is longer than a window
        for a, b in cuts:
            assert a in starts or a in forced
            assert b == len(words) or b in starts or b - a == tokens
            if b not in starts:
                forced.add(b)
        assert cuts[0][0] == 0 and cuts[-1][1] == len(words)
        assert all(b1 == a2 for (_, b1), (a2, _) in itertools.pairwise(cuts)), cuts  # tiles: no gap, no overlap


def test_chunking_options_are_checked():
    assert Chunking(8).stride == 8 and Chunking(8, 3, "sum").label() == "chunk8s3sum"
    for bad in ({"tokens": 0}, {"tokens": 8, "stride": 9}, {"tokens": 8, "agg": "mean"}, {"tokens": True}):
        with pytest.raises(DataError):
            Chunking(**bad)
    assert list(AGGS) == R.CHUNK_AGGS.names()


def test_document_scores_max_first_sum_by_hand():
    run = daft.from_pydict(
        {
            S.QUERY_ID: ["q"] * 4,
            S.DOC_ID: ["0@a", "1@a", "0@b", "2@a"],
            S.SCORE: [0.1, 0.7, 0.3, 0.2],
        }
    )
    chunks = daft.from_pydict({S.DOC_ID: ["0@a", "1@a", "2@a", "0@b"], PARENT: ["a", "a", "a", "b"]})
    got = {agg: document_scores(run, chunks, agg).sort(S.DOC_ID).to_pydict()[S.SCORE] for agg in ("max", "sum")}
    assert got["max"] == [0.7, 0.3]
    assert got["sum"] == [sum([0.1, 0.7, 0.2]), 0.3] and got["sum"][0] == 1.0  # exactly rounded: 1.0, not 0.9999...


@pytest.fixture(scope="module")
def demo():
    ds = load_beir(str(ROOT / "data" / "demo"))
    corpus = ds.corpus.sort(S.DOC_ID).limit(40).collect()
    queries = ds.queries.sort(S.QUERY_ID).limit(6).collect()
    return corpus, queries


def test_chunks_are_windows_of_the_models_tokens_with_the_title(demo):
    corpus, _ = demo
    chunks = chunk_corpus(corpus, Chunking(24), MODEL).to_pydict()
    tokenizer = MODEL.build()[0].tokenizer
    docs = corpus.to_pydict()
    by_doc = dict(zip(docs[S.DOC_ID], zip(docs[S.TITLE], docs[S.TEXT])))
    assert set(chunks[PARENT]) == set(docs[S.DOC_ID])  # every document, empty or not
    pieces: dict[str, list] = {}
    for cid, parent, n, title, text in zip(
        chunks[S.DOC_ID], chunks[PARENT], chunks[CHUNK], chunks[S.TITLE], chunks[S.TEXT]
    ):
        assert cid == f"{n}@{parent}" and title == by_doc[parent][0]
        assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 24 + 2  # a re-split word may add one
        assert text in by_doc[parent][1] or not by_doc[parent][1]
        pieces.setdefault(parent, []).append((n, text))
    multi = 0
    for parent, parts in pieces.items():
        parts.sort()
        assert [n for n, _ in parts] == list(range(len(parts)))
        joined = "".join(t for _, t in parts).replace(" ", "")
        assert joined == (by_doc[parent][1] or "").replace(" ", "")  # stride = length: the text, tiled
        multi += len(parts) > 1
    assert multi > 10


def _toy_search(chunks: daft.DataFrame, depth: int, queries: list[str]) -> daft.DataFrame:
    """A deterministic retriever: score = a hash of (query, chunk text) in [0, 1), top ``depth``."""
    rows = chunks.to_pydict()
    qids, dids, scores = [], [], []
    for q in queries:
        for did, text in zip(rows[S.DOC_ID], rows[S.TEXT]):
            qids.append(q)
            dids.append(did)
            scores.append(random.Random(f"{q}|{text}").random())
    return rank_run(daft.from_pydict({S.QUERY_ID: qids, S.DOC_ID: dids, S.SCORE: scores}), depth)


@pytest.mark.parametrize("agg", AGGS)
def test_chunked_search_equals_exhaustive_aggregation(demo, agg):
    """MaxP's k x m chunks, FirstP's first chunks and SumP's every chunk give the documents an exhaustive
    aggregation over all chunk scores gives."""
    corpus, _ = demo
    queries, k = ["q1", "q2", "q3"], 7
    chunking = Chunking(16, 12, agg)
    got = chunked_search(lambda c, depth: _toy_search(c, depth, queries), corpus, chunking, MODEL, k=k)
    chunks = chunk_corpus(corpus, chunking, MODEL).to_pydict()
    want = []
    for q in queries:
        per_doc: dict[str, list] = {}
        for parent, n, text in zip(chunks[PARENT], chunks[CHUNK], chunks[S.TEXT]):
            per_doc.setdefault(parent, []).append((n, random.Random(f"{q}|{text}").random()))
        for parent, scored in per_doc.items():
            values = [s for _, s in sorted(scored)]
            score = {"max": max(values), "first": values[0], "sum": math.fsum(values)}[agg]
            want.append((q, parent, score))
    columns = {c: list(v) for c, v in zip([S.QUERY_ID, S.DOC_ID, S.SCORE], zip(*want))}
    ranked = rank_run(daft.from_pydict(columns), k).to_pydict()
    got = got.to_pydict()
    key = lambda r: sorted(zip(r[S.QUERY_ID], r[S.RANK], r[S.DOC_ID]))  # noqa: E731
    assert key(got) == key(ranked)
    assert sorted(got[S.SCORE]) == pytest.approx(sorted(ranked[S.SCORE]), abs=1e-12)
    assert len(got[S.DOC_ID]) == k * len(queries)


def test_chunked_dense_run_equals_the_encoder_applied_to_each_chunk(demo):
    """MaxP over dense chunks == max over chunks of the cosine of sentence-transformers' own embeddings of
    ``title + " " + chunk`` (the reference encodes each chunk directly, no Daft)."""
    from daft_retrieval.retrieve.dense import dense_search

    corpus, queries = demo
    chunking, k = Chunking(32, 24, "max"), 5
    run = chunked_search(
        lambda c, depth: dense_search(c, queries, model=MODEL, k=depth), corpus, chunking, MODEL, k=k
    ).to_pydict()
    model = MODEL.build()[0]
    chunks = chunk_corpus(corpus, chunking, MODEL).to_pydict()
    texts = [f"{t} {x}".strip() if t else x for t, x in zip(chunks[S.TITLE], chunks[S.TEXT])]
    doc_vectors = model.encode_document(texts, normalize_embeddings=True, convert_to_numpy=True)
    q = queries.to_pydict()
    query_vectors = model.encode_query(q[S.TEXT], normalize_embeddings=True, convert_to_numpy=True)
    scores = query_vectors.astype(np.float64) @ doc_vectors.astype(np.float64).T
    for qi, qid in enumerate(q[S.QUERY_ID]):
        best: dict[str, float] = {}
        for ci, parent in enumerate(chunks[PARENT]):
            best[parent] = max(best.get(parent, -2.0), scores[qi, ci])
        want = sorted(best.items(), key=lambda x: (-x[1], x[0]))[:k]
        got = sorted(
            [(d, s, r) for qq, d, s, r in zip(run[S.QUERY_ID], run[S.DOC_ID], run[S.SCORE], run[S.RANK]) if qq == qid],
            key=lambda x: x[2],
        )
        assert [d for d, _, _ in got] == [d for d, _ in want]
        assert [s for _, s, _ in got] == pytest.approx([s for _, s in want], abs=1e-5)


def test_specs_labels_and_keys():
    whole = Retrieve(retriever="dense")
    assert spec_key(whole) == spec_key(Retrieve(retriever="dense", chunk_agg="sum"))  # no chunking: no change
    chunked = Retrieve(retriever="dense", chunk_tokens=128)
    assert chunked.label_for() == "dense-all-MiniLM-L6-v2-chunk128max"
    first = Retrieve(retriever="dense", chunk_tokens=128, chunk_agg="first")
    assert len({spec_key(chunked), spec_key(whole), spec_key(first)}) == 3
    assert Retrieve(retriever="bm25", chunk_tokens=64).chunking() is None  # BM25 reads whole documents


def test_cli_refuses_a_bad_stride_before_any_work(capsys):
    status, _, err = cli(
        ["eval", "--dataset", str(ROOT / "data" / "demo"), "--retriever", "dense", "--chunk-tokens", "8",
         "--chunk-stride", "9", "--no-cache"],
        capsys,
    )  # fmt: skip
    assert status == 2 and "chunk stride must be between 1 and the chunk length (8), not 9" in err
    assert "Traceback" not in err
