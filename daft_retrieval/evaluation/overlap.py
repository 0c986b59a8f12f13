"""Overlap@k of an approximate run with the exact one: how much of the exact top k the approximate search found
(the recall of approximate nearest-neighbour search against brute force, as in ann-benchmarks).

Per query of the exact run: ``|top_k(approx) ∩ top_k(exact)| / |top_k(exact)|``; a query the approximate run
misses scores 0. Both top-k lists are cut by :func:`daft_retrieval.run.rank_run` (trec_eval's order: score
descending, then doc id descending); the mean is an exactly rounded sum over the queries
(:func:`daft_retrieval.exact.fsum_mean`).

    >>> exact = daft.from_pydict({"query_id": ["q"] * 3, "doc_id": ["a", "b", "c"], "score": [3.0, 2.0, 1.0]})
    >>> approx = daft.from_pydict({"query_id": ["q"] * 3, "doc_id": ["a", "c", "x"], "score": [3.0, 2.0, 1.0]})
    >>> overlap(approx, exact, k=3).aggregate  # a and c of a, b, c: 2/3
    {'Overlap@3': 0.6666666666666666}
"""

from __future__ import annotations

import daft
from daft import DataType, col, lit

from daft_retrieval import schema as S
from daft_retrieval.evaluation.compute import Evaluation
from daft_retrieval.exact import fsum_mean
from daft_retrieval.run import rank_run

__all__ = ["overlap"]


def overlap(approx_run: daft.DataFrame, exact_run: daft.DataFrame, k: int = 10) -> Evaluation:
    """Overlap@k per query of ``exact_run`` (frame ``query_id, measure, value``) and its mean (``aggregate``)."""
    name = f"Overlap@{k}"
    approx = rank_run(approx_run, k).select(S.QUERY_ID, S.DOC_ID)
    exact = rank_run(exact_run, k).select(S.QUERY_ID, S.DOC_ID)
    wanted = exact.groupby(S.QUERY_ID).agg(col(S.DOC_ID).count().alias("_wanted"))
    shared = (
        exact.join(approx, on=[S.QUERY_ID, S.DOC_ID], how="inner")
        .groupby(S.QUERY_ID)
        .agg(col(S.DOC_ID).count().alias("_shared"))
    )
    per_query = (
        wanted.join(shared, on=S.QUERY_ID, how="left")
        .select(
            S.QUERY_ID,
            lit(name).alias(S.MEASURE),
            (col("_shared").fill_null(0).cast(DataType.float64()) / col("_wanted").cast(DataType.float64())).alias(
                S.VALUE
            ),
        )
        .sort(S.QUERY_ID)
        .collect()
    )
    return Evaluation(per_query, {name: fsum_mean(per_query.to_pydict()[S.VALUE])})
