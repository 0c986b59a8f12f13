"""Search over postings, shared by BM25 and SPLADE: score(q, d) = sum over terms t of w_q(t) x w_d(t).

Query rows ``query_id, term, value`` are summed per (query, term) (for BM25 that is the count of the term in the
query, as bm25s scores a repeated query token once per occurrence), mapped to term ids through the vocabulary,
joined with the postings on ``term_id``, multiplied, and summed per (query, document): one join and one groupby,
no cross join and no Python loop over queries. The top ``k`` per query are cut on integer document numbers
(ordered by score, then ``doc`` descending, i.e. doc id descending), then named and ranked by
:func:`daft_retrieval.run.rank_run`.

Two engines compute the same run. ``method="impacts"`` (the default) gathers each query's terms into lists and
scores them in an :class:`~daft_retrieval.index.impacts.ImpactSearcher` (NumPy term-at-a-time accumulation in a
Daft class; 20x+ faster on one machine). ``method="join"`` is the relational plan: query terms joined with the
postings, multiplied, and summed per (query, document) by a Daft groupby; it needs no array copy of the postings.

    >>> run = search_postings(query_rows, index.postings, k=100, weight="weight")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import itertools

import daft
import numpy as np
from daft import DataType, Window, col
from daft.functions import row_number, to_struct

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.exact import sum_in_key_order
from daft_retrieval.index.impacts import ImpactSearcher
from daft_retrieval.index.postings import DF, DOC, TERM_ID, Postings
from daft_retrieval.paths import scratch_directory
from daft_retrieval.run import merge_hits, rank_run
from daft_retrieval.runner import persist
from daft_retrieval.schema import TERM, VALUE

__all__ = ["search_postings"]

_QW = "_query_weight"
_DW = "_doc_weight"
_POS = "_position"
_BATCH = "_batch"


def search_postings(
    query_rows: daft.DataFrame,
    index: Postings,
    k: int = 100,
    *,
    weight: str = VALUE,
    method: str = "impacts",
    path: str | None = None,
    shard_postings: int = 50_000_000,
    max_hits: int = 20_000_000,
) -> daft.DataFrame:
    """The run (``query_id, doc_id, score, rank``, top ``k`` per query) of ``query_rows`` against ``index``.

    ``weight`` names the postings column holding w_d(t) (``value`` for SPLADE, ``weight`` for BM25). Memory is
    bounded by ``max_hits``: queries are searched in batches whose (query term, posting) matches, the sum of
    their terms' document frequencies, stay under it (one batch for ordinary collections; ``method="join"`` only).
    ``path``: the directory where ``index`` is saved (:meth:`Postings.save`), which the impact searchers load on
    the workers; without one the index is written to a temporary directory and the run is collected before it is
    removed. Documents are split into shards of about ``shard_postings`` postings, one searcher each.
    """
    S.require_columns(query_rows, [S.QUERY_ID, TERM, VALUE], "query terms")
    if k < 1:
        raise DataError(f"k must be >= 1, not {k}")
    if method not in ("impacts", "join"):
        raise DataError(f"method must be 'impacts' or 'join', not {method!r}")
    query = query_rows.groupby(S.QUERY_ID, TERM).agg(col(VALUE).sum().alias(_QW))
    query = query.join(index.vocabulary.select(TERM, TERM_ID, DF), on=TERM).select(S.QUERY_ID, TERM_ID, _QW, DF)
    if method == "impacts":
        if path is not None:
            return _search_impacts(query, index, k, weight, path, shard_postings)
        with scratch_directory("daft-retrieval-postings-") as tmp:
            index.save(tmp)
            return persist(_search_impacts(query, index, k, weight, tmp, shard_postings))
    query = persist(query)
    hits = query.groupby(S.QUERY_ID).agg(col(DF).sum().alias(DF)).sort(S.QUERY_ID).to_pydict()
    cumulative = np.cumsum(np.asarray(hits[DF], dtype=np.int64))
    batch = (cumulative - 1) // max(1, max_hits) if len(cumulative) else cumulative
    batches = daft.from_pydict({S.QUERY_ID: hits[S.QUERY_ID], _BATCH: batch})
    query = persist(query.join(batches, on=S.QUERY_ID))
    runs = [_search(query.where(col(_BATCH) == b), index, k, weight) for b in np.unique(batch)]
    if not runs:
        return rank_run(daft.from_pydict({S.QUERY_ID: [], S.DOC_ID: [], S.SCORE: []}), k)
    run = runs[0] if len(runs) == 1 else functools.reduce(daft.DataFrame.concat, [persist(r) for r in runs])
    return run


def _search_impacts(
    query: daft.DataFrame, index: Postings, k: int, weight: str, path: str, shard_postings: int
) -> daft.DataFrame:
    lists = query.groupby(S.QUERY_ID).agg(col(TERM_ID).list_agg().alias(TERM_ID), col(_QW).list_agg().alias(_QW))
    lists = persist(lists)
    n_docs, n_postings = index.documents.count_rows(), index.postings.count_rows()
    n_shards = max(1, min(n_docs, -(-n_postings // max(1, shard_postings))))
    bounds = np.linspace(0, n_docs, n_shards + 1).round().astype(int).tolist()
    searchers = (
        ImpactSearcher(path, weight, k, docs=(lo, hi) if n_shards > 1 else None)
        for lo, hi in itertools.pairwise(bounds)
    )
    top = merge_hits(lists, (searcher.top_k(col(TERM_ID), col(_QW)) for searcher in searchers), doc=DOC)
    named = top.join(index.documents.select(DOC, S.DOC_ID), on=DOC)
    return rank_run(named.select(S.QUERY_ID, S.DOC_ID, S.SCORE), k)


def _search(query: daft.DataFrame, index: Postings, k: int, weight: str) -> daft.DataFrame:
    hits = query.select(S.QUERY_ID, TERM_ID, _QW).join(
        index.postings.select(TERM_ID, DOC, col(weight).alias(_DW)), on=TERM_ID
    )
    part = (col(_QW).cast(DataType.float64()) * col(_DW).cast(DataType.float64())).alias(S.SCORE)
    # summed in term id order, as the impact searchers' sparse product adds: the same bits however Daft
    # partitions the rows (a Daft sum adds in arrival order)
    pairs = to_struct(col(TERM_ID), col(S.SCORE)).list_agg().alias(S.SCORE)
    scored = hits.select(S.QUERY_ID, DOC, TERM_ID, part).groupby(S.QUERY_ID, DOC).agg(pairs)
    scored = scored.with_column(S.SCORE, sum_in_key_order(col(S.SCORE), TERM_ID, S.SCORE))
    order = Window().partition_by(S.QUERY_ID).order_by(S.SCORE, DOC, desc=[True, True])
    top = scored.with_column(_POS, row_number().over(order)).where(col(_POS) <= k)
    named = top.join(index.documents.select(DOC, S.DOC_ID), on=DOC)
    return rank_run(named.select(S.QUERY_ID, S.DOC_ID, S.SCORE), k)
