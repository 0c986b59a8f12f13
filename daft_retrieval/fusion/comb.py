"""Score fusion: CombSUM, CombMNZ (Fox & Shaw, TREC-2 1994) and the weighted sum, after per-query normalisation.

- CombSUM(d) = sum_r norm_r(d)
- CombMNZ(d) = CombSUM(d) x |{r : d in r}|
- weighted sum(d) = sum_r w_r x norm_r(d)     (a run without d contributes 0)

The terms are added in the runs' order (:func:`~daft_retrieval.fusion.inputs.sum_over_runs`), as ranx adds them:
the same bits however Daft partitions the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import daft
from daft import col, lit

from daft_retrieval import schema as S
from daft_retrieval.fusion.by_name import check_fusion
from daft_retrieval.fusion.inputs import RUNS, fusion_inputs, sum_over_runs
from daft_retrieval.fusion.normalize import normalize
from daft_retrieval.run import check_runs, rank_run
from daft_retrieval.runner import materialize

__all__ = ["comb_mnz", "comb_sum", "weighted_sum"]


def _fused(runs: Sequence[daft.DataFrame], norm: str, weights: Sequence[float] | None, what: str) -> daft.DataFrame:
    """The options checked (:func:`~daft_retrieval.fusion.by_name.check_fusion`: one finite weight per run, not all
    0; a known norm) before any run is read, then the sum over runs of each run's normalised, weighted scores."""
    n_runs = len(check_runs(runs, what))
    check_fusion(what, n_runs, norm=norm, weights=weights)
    weights = [1.0] * n_runs if weights is None else [float(w) for w in weights]
    runs = fusion_inputs(runs, what)
    parts = [normalize(r, norm).with_column(S.SCORE, col(S.SCORE) * lit(w)) for r, w in zip(runs, weights)]
    return sum_over_runs(parts)


def weighted_sum(
    runs: Sequence[daft.DataFrame], weights: Sequence[float], *, norm: str = "min-max", depth: int | None = None
) -> daft.DataFrame:
    """Fuse ``runs`` by a weighted sum of normalised scores: sum_r w_r x norm_r(d), top ``depth`` per query
    (``norm``: min-max, zmuv, sum or none). ``weights``: one finite number per run, not all 0.

    >>> weighted_sum([run_a, run_b], [0.7, 0.3], norm="zmuv")  # doctest: +SKIP
    """
    return materialize(rank_run(_fused(runs, norm, weights, "wsum").select(S.QUERY_ID, S.DOC_ID, S.SCORE), depth))


def comb_sum(runs: Sequence[daft.DataFrame], *, norm: str = "min-max", depth: int | None = None) -> daft.DataFrame:
    """CombSUM: the sum of the normalised scores."""
    return materialize(rank_run(_fused(runs, norm, None, "combsum").select(S.QUERY_ID, S.DOC_ID, S.SCORE), depth))


def comb_mnz(runs: Sequence[daft.DataFrame], *, norm: str = "min-max", depth: int | None = None) -> daft.DataFrame:
    """CombMNZ: CombSUM times the number of runs that retrieved the document."""
    fused = _fused(runs, norm, None, "combmnz")
    score = col(S.SCORE) * col(RUNS).cast("float64")
    return materialize(rank_run(fused.select(S.QUERY_ID, S.DOC_ID, score.alias(S.SCORE)), depth))
