"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

RRF(d) = sum over runs r containing d of 1 / (k + rank_r(d)), k = 60 by default; ranks follow trec_eval's order
(score descending, then doc id descending) whatever the runs' own rank columns say. The terms are added in the
runs' order (:func:`~daft_retrieval.fusion.inputs.sum_over_runs`): the same bits however Daft partitions the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.fusion.by_name import check_fusion
from daft_retrieval.fusion.inputs import fusion_inputs, sum_over_runs
from daft_retrieval.run import check_runs, rank_run
from daft_retrieval.runner import materialize

__all__ = ["rrf"]


def rrf(runs: Sequence[daft.DataFrame], *, k: float = 60, depth: int | None = None) -> daft.DataFrame:
    """Fuse ``runs`` by reciprocal rank; the result keeps the top ``depth`` per query (all for None).

    >>> a = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["d1", "d2"], "score": [2.0, 1.0]})
    >>> b = daft.from_pydict({"query_id": ["q"], "doc_id": ["d2"], "score": [5.0]})
    >>> sorted(rrf([a, b]).to_pydict()["score"])  # d1: 1/61, d2: 1/62 + 1/61
    [0.01639344262295082, 0.03252247488101534]
    """
    check_fusion("rrf", len(check_runs(runs, "rrf")), k=k)  # depth: rank_run's check
    parts = [
        rank_run(r).select(S.QUERY_ID, S.DOC_ID, (1.0 / (col(S.RANK).cast("float64") + k)).alias(S.SCORE))
        for r in fusion_inputs(runs, "rrf")
    ]
    return materialize(rank_run(sum_over_runs(parts), depth))
