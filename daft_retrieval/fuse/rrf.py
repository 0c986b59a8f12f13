"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

RRF(d) = sum over runs r containing d of 1 / (k + rank_r(d)), k = 60 by default; ranks follow trec_eval's order
(score descending, then doc id descending) whatever the runs' own rank columns say.
"""

from __future__ import annotations

from collections.abc import Sequence

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.run import check_runs, rank_run

__all__ = ["rrf"]


def rrf(runs: Sequence[daft.DataFrame], *, k: float = 60, depth: int | None = None) -> daft.DataFrame:
    """Fuse ``runs`` by reciprocal rank; the result keeps the top ``depth`` per query (all for None).

    >>> a = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["d1", "d2"], "score": [2.0, 1.0]})
    >>> b = daft.from_pydict({"query_id": ["q"], "doc_id": ["d2"], "score": [5.0]})
    >>> sorted(rrf([a, b]).to_pydict()["score"])  # d1: 1/61, d2: 1/62 + 1/61
    [0.01639344262295082, 0.03252247488101534]
    """
    runs = check_runs(runs, "rrf")
    if k < 0:
        raise DataError(f"rrf k must be >= 0, not {k}")
    parts = [
        rank_run(r).select(S.QUERY_ID, S.DOC_ID, (1.0 / (col(S.RANK).cast("float64") + k)).alias(S.SCORE)) for r in runs
    ]
    return _sum(parts, depth)


def _sum(parts: Sequence[daft.DataFrame], depth: int | None) -> daft.DataFrame:
    stacked = parts[0]
    for p in parts[1:]:
        stacked = stacked.concat(p)
    fused = stacked.groupby(S.QUERY_ID, S.DOC_ID).agg(col(S.SCORE).sum())
    return rank_run(fused, depth)
