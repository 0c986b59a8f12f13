"""Retrieval over chunks of long documents, scored back per document: MaxP, FirstP, SumP (Dai & Callan, SIGIR 2019).

The corpus is cut into windows of the model's tokens (:mod:`daft_retrieval.text.chunk`), the retriever searches
the chunks as if they were documents (their vectors are cached by text, like any text), and each document's score
comes from its chunks' scores s_1..s_m:

* ``max`` (MaxP): max_i s_i. The top ``k`` x m chunks (m: the most chunks of one document) are searched, which
  holds the best chunk of at least ``k`` documents: the top ``k`` documents are those of exhaustive MaxP.
* ``first`` (FirstP): s_1, the first window only (only first chunks are searched: ``k`` of them).
* ``sum`` (SumP): s_1 + ... + s_m, the exactly rounded sum (:func:`daft_retrieval.exact.list_fsum`) over every chunk
  the retriever scores (every chunk is asked for: a cost of queries x chunks rows; a chunk the retriever does not
  return, e.g. SPLADE's chunks without a query term, scores 0).

The run frame is one row per document (``query_id, doc_id, score, rank``), ranked by :func:`rank_run`.

    >>> run = chunked_search(lambda c, depth: dense_search(c, queries, k=depth), corpus,
    ...                      Chunking(tokens=128, agg="max"), DenseConfig(), k=100)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.exact import list_fsum
from daft_retrieval.run import rank_run
from daft_retrieval.runner import materialize
from daft_retrieval.text.chunk import CHUNK, PARENT, Chunking, chunk_corpus

if TYPE_CHECKING:
    from daft_retrieval.encode.descriptor import ModelConfig

__all__ = ["chunk_depth", "chunked_search", "document_scores"]


def chunk_depth(chunks: daft.DataFrame, chunking: Chunking, k: int) -> int:
    """How many chunks per query the retriever must return for ``k`` exact documents (the module doc says why)."""
    if chunking.agg == "first":
        return k
    if chunking.agg == "sum":
        return max(1, chunks.count_rows())
    most = chunks.groupby(PARENT).agg(col(CHUNK).count().alias("n")).max("n").to_pydict()["n"][0]
    return k * max(1, most or 1)


def document_scores(chunk_run: daft.DataFrame, chunks: daft.DataFrame, agg: str) -> daft.DataFrame:
    """``query_id, doc_id, score`` per document from a run over chunk ids (``chunks``: ``doc_id, parent``)."""
    scored = chunk_run.select(S.QUERY_ID, S.DOC_ID, S.SCORE).join(chunks.select(S.DOC_ID, PARENT), on=S.DOC_ID)
    grouped = scored.groupby(S.QUERY_ID, PARENT)
    if agg == "sum":
        docs = grouped.agg(col(S.SCORE).list_agg().alias(S.SCORE)).with_column(S.SCORE, list_fsum(col(S.SCORE)))
    else:  # max; first: one chunk per document, its score
        docs = grouped.agg(col(S.SCORE).max().alias(S.SCORE))
    return docs.select(S.QUERY_ID, col(PARENT).alias(S.DOC_ID), S.SCORE)


def chunked_search(
    search: Callable[[daft.DataFrame, int], daft.DataFrame],
    corpus: daft.DataFrame,
    chunking: Chunking,
    model: ModelConfig,
    k: int = 100,
) -> daft.DataFrame:
    """The top ``k`` documents per query of ``search(chunk_corpus, depth)`` (any retriever's run over a corpus
    frame) run on the chunks of ``corpus`` in ``model``'s tokenizer, scored per document by ``chunking.agg``."""
    chunks = materialize(chunk_corpus(corpus, chunking, model))
    if chunking.agg == "first":
        chunks = materialize(chunks.where(col(CHUNK) == 0))
    depth = chunk_depth(chunks, chunking, k)
    chunk_run = search(chunks.select(S.DOC_ID, S.TITLE, S.TEXT), depth)
    return rank_run(document_scores(chunk_run, chunks, chunking.agg), k)
