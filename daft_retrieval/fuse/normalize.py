"""Per-query score normalisation before fusing (as ranx: Bassani & Romelli, "ranx.fuse", CIKM 2022).

- ``min-max``: (s - min) / max(max - min, 1e-9)
- ``zmuv``:    (s - mean) / max(std, 1e-9), population std (zero mean, unit variance)
- ``sum``:     (s - min) / max(sum - min * n, 1e-9)
- ``none``:    s
"""

from __future__ import annotations

import daft
from daft import col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError

__all__ = ["NORMALIZATIONS", "normalize"]

NORMALIZATIONS = ("min-max", "zmuv", "sum", "none")


def normalize(run: daft.DataFrame, method: str = "min-max") -> daft.DataFrame:
    """``run`` with each query's scores normalised by ``method`` (columns ``query_id, doc_id, score``).

    >>> run = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["a", "b"], "score": [2.0, 4.0]})
    >>> normalize(run).sort("doc_id").to_pydict()["score"]
    [0.0, 1.0]
    """
    if method not in NORMALIZATIONS:
        raise DataError(f"unknown normalisation {method!r}; expected one of {list(NORMALIZATIONS)}")
    run = run.select(S.QUERY_ID, S.DOC_ID, col(S.SCORE).cast("float64"))
    if method == "none":
        return run
    s = col(S.SCORE)
    stats = run.groupby(S.QUERY_ID).agg(
        s.min().alias("_min"),
        s.max().alias("_max"),
        s.sum().alias("_sum"),
        s.count().cast("float64").alias("_n"),
        s.mean().alias("_mean"),
        (s * s).mean().alias("_sq"),
    )
    joined = run.join(stats, on=S.QUERY_ID)
    if method == "min-max":
        value = (s - col("_min")) / _floor(col("_max") - col("_min"))
    elif method == "zmuv":
        var = col("_sq") - col("_mean") * col("_mean")
        std = daft.functions.when(var > 0, var).otherwise(0.0).sqrt()
        value = (s - col("_mean")) / _floor(std)
    else:
        value = (s - col("_min")) / _floor(col("_sum") - col("_min") * col("_n"))
    return joined.select(S.QUERY_ID, S.DOC_ID, value.alias(S.SCORE))


def _floor(x: daft.Expression) -> daft.Expression:
    return daft.functions.when(x > 1e-9, x).otherwise(1e-9)
