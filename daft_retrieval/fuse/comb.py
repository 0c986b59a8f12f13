"""Score fusion: CombSUM, CombMNZ (Fox & Shaw, TREC-2 1994) and the weighted sum, after per-query normalisation.

- CombSUM(d) = sum_r norm_r(d)
- CombMNZ(d) = CombSUM(d) x |{r : d in r}|
- weighted sum(d) = sum_r w_r x norm_r(d)     (a run without d contributes 0)
"""

from __future__ import annotations

from collections.abc import Sequence

import daft
from daft import col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.fuse.normalize import normalize
from daft_retrieval.run import check_runs, rank_run

__all__ = ["comb_mnz", "comb_sum", "weighted_sum"]


def _stack(runs: Sequence[daft.DataFrame], norm: str, weights: Sequence[float]) -> daft.DataFrame:
    runs = check_runs(runs, "fusion")
    if len(weights) != len(runs):
        raise DataError(f"{len(weights)} weights given for {len(runs)} runs; give one weight per run")
    parts = [normalize(r, norm).with_column(S.SCORE, col(S.SCORE) * lit(float(w))) for r, w in zip(runs, weights)]
    stacked = parts[0]
    for p in parts[1:]:
        stacked = stacked.concat(p)
    return stacked


def weighted_sum(
    runs: Sequence[daft.DataFrame], weights: Sequence[float], *, norm: str = "min-max", depth: int | None = None
) -> daft.DataFrame:
    """Fuse ``runs`` by a weighted sum of normalised scores: sum_r w_r x norm_r(d), top ``depth`` per query
    (``norm``: min-max, zmuv, sum or none).

    >>> weighted_sum([run_a, run_b], [0.7, 0.3], norm="zmuv")  # doctest: +SKIP
    """
    fused = _stack(runs, norm, weights).groupby(S.QUERY_ID, S.DOC_ID).agg(col(S.SCORE).sum())
    return rank_run(fused, depth)


def comb_sum(runs: Sequence[daft.DataFrame], *, norm: str = "min-max", depth: int | None = None) -> daft.DataFrame:
    """CombSUM: the sum of the normalised scores."""
    return weighted_sum(runs, [1.0] * len(runs), norm=norm, depth=depth)


def comb_mnz(runs: Sequence[daft.DataFrame], *, norm: str = "min-max", depth: int | None = None) -> daft.DataFrame:
    """CombMNZ: CombSUM times the number of runs that retrieved the document."""
    fused = (
        _stack(runs, norm, [1.0] * len(runs))
        .groupby(S.QUERY_ID, S.DOC_ID)
        .agg(col(S.SCORE).sum().alias("_sum"), col(S.SCORE).count().alias("_n"))
        .select(S.QUERY_ID, S.DOC_ID, (col("_sum") * col("_n").cast("float64")).alias(S.SCORE))
    )
    return rank_run(fused, depth)
