"""BM25 retrieval: tokenise the queries with the index's tokenizer and search its postings.

score(q, d) = sum over query tokens t (repeats counted) of idf(t) x tfc(t, d): see :mod:`daft_retrieval.score.bm25`.

    >>> ds = load_beir("data/demo")  # doctest: +SKIP
    >>> tok = Tokenizer(stopwords="en", stemmer="english")
    >>> run = bm25_search(ds.corpus, ds.queries, k=100, tokenizer=tok)  # doctest: +SKIP
    >>> evaluate(run, ds.qrels, ["nDCG@10"]).aggregate  # doctest: +SKIP
"""

from __future__ import annotations

import daft
from daft import col, lit

from daft_retrieval import schema as S
from daft_retrieval.index.bm25 import BM25Index
from daft_retrieval.retrieve.postings import search_postings
from daft_retrieval.schema import TERM, VALUE, WEIGHT
from daft_retrieval.text.tokenize import Tokenizer

__all__ = ["bm25_search"]


def bm25_search(
    index_or_corpus: BM25Index | daft.DataFrame | str,
    queries: daft.DataFrame,
    *,
    k: int = 100,
    tokenizer: Tokenizer | None = None,
    k1: float = 1.2,
    b: float = 0.75,
    variant: str = "lucene",
) -> daft.DataFrame:
    """Top-``k`` BM25 run for ``queries`` (``query_id, text``).

    ``index_or_corpus``: a :class:`BM25Index`, an index directory, or a corpus frame (``doc_id, title, text``)
    indexed on the fly with ``tokenizer``, ``k1``, ``b`` and ``variant`` (which are ignored for a built index:
    it keeps its own; use :meth:`BM25Index.with_params` to change them).
    """
    if isinstance(index_or_corpus, BM25Index):
        index = index_or_corpus
    elif isinstance(index_or_corpus, str):
        index = BM25Index.load(index_or_corpus)
    else:
        index = BM25Index.build(index_or_corpus, tokenizer=tokenizer, k1=k1, b=b, variant=variant)
    S.require_columns(queries, [S.QUERY_ID, S.TEXT], "queries")
    rows = index.tokenizer.terms(queries, S.QUERY_ID, col(S.TEXT)).with_column(VALUE, lit(1.0))
    rows = rows.select(S.QUERY_ID, TERM, VALUE)
    return search_postings(rows, index.postings, k, weight=WEIGHT, path=index.path)
