"""RBP: rank-biased precision (Moffat & Zobel, 2008, "Rank-biased precision for measurement of retrieval
effectiveness", TOIS 27(1)), ir_measures ``RBP(p=0.8)`` (binary, ``rel=``); no trec_eval measure.

RBP = (1 - p) * sum over ranks i (<= k with ``RBP@k``) of rel_i * p^(i - 1), rel_i = 1 when the document at rank i
has relevance >= rel (default 1), else 0 (unjudged: 0). The persistence p (0 < p < 1, default 0.8 as
ir_measures) is the chance a reader goes on to the next rank; ``RBP`` is canonical for ``RBP(p=0.8)``. The
aggregation gathers each query's relevant ranks and the value adds their weights with :func:`math.fsum`.
"""

from __future__ import annotations

import math

import daft
import pyarrow as pa
from daft import DataType, Expression, col
from daft.functions import when

from daft_retrieval import schema as S
from daft_retrieval.evaluation.measures.base import Family, Measure, Param, is_rel, register, unit_interval


def rbp(ranks: list[int], p: float, k: int | None) -> float:
    """(1 - p) * sum of p^(rank - 1) over the relevant ranks (<= k), exactly rounded (:func:`math.fsum`)."""
    return math.fsum((1.0 - p) * p ** (r - 1) for r in ranks if r is not None and (k is None or r <= k))


@daft.func.batch(return_dtype=DataType.float64())
def _rbp(ranks: daft.Series, p: float, k: int | None) -> daft.Series:
    values = [0.0 if row is None else rbp(row, p, k) for row in ranks.to_pylist()]
    return daft.Series.from_arrow(pa.array(values, pa.float64()))


@register
class RBP(Family):
    name = "RBP"
    aliases = ("rbp",)
    params = {"p": Param(0.8, unit_interval, "a persistence between 0 and 1 (exclusive), e.g. RBP(p=0.5)")}  # noqa: RUF012
    doc = "rank-biased precision, persistence p (ir_measures RBP(p=0.8))"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        """The ranks of the relevant hits (a list of integers: not a float_sum, the value adds them)."""
        t = m.threshold
        return {f"rbp_ranks_{t}": when(is_rel(t), col("rank")).otherwise(None).list_agg()}

    def value(self, m: Measure) -> Expression:
        return _rbp(col(f"rbp_ranks_{m.threshold}"), m.param("p"), m.cutoff)


def residual(unknown: list[int], retrieved: int, p: float, k: int | None) -> float:
    """(1 - p) * sum of p^(rank - 1) over the unknown ranks (<= k) + p^d, d = the ranks read."""
    depth = retrieved if k is None else min(k, retrieved)
    return math.fsum([*((1.0 - p) * p ** (r - 1) for r in unknown if r is not None and r <= depth), p**depth])


@daft.func.batch(return_dtype=DataType.float64())
def _residual(unknown: daft.Series, retrieved: daft.Series, p: float, k: int | None) -> daft.Series:
    values = [residual(u or [], n, p, k) for u, n in zip(unknown.to_pylist(), retrieved.to_pylist())]
    return daft.Series.from_arrow(pa.array(values, pa.float64()))


@register
class RBPResidual(Family):
    """The residual of RBP (Moffat & Zobel, 2008, section 4): how much RBP could still grow if every document of
    unknown relevance were relevant, (1 - p) * sum over the unjudged ranks i <= d of p^(i - 1) + p^d, d the depth
    read (k, or the ranking's length when shorter): the documents past the ranking are unknown too. A negative
    judgement is no judgement (as trec_eval reads it). trec_eval 10.0's ``rbp_resid`` is the same sum but 0 for
    a ranking without an unjudged document (its tail p^d left out); no ir_measures measure."""

    name = "RBP-Res"
    aliases = ("rbp_resid",)
    takes_rel = False
    params = RBP.params
    doc = "residual of RBP: the most RBP could grow were every unjudged doc relevant (Moffat & Zobel)"

    def ranking_aggs(self, m: Measure) -> dict[str, Expression]:
        unknown = when(col(S.RELEVANCE) < 0, col("rank")).otherwise(None).list_agg()
        return {"rbp_unknown_ranks": unknown, "rbp_retrieved": col("rank").count()}

    def value(self, m: Measure) -> Expression:
        return _residual(col("rbp_unknown_ranks"), col("rbp_retrieved"), m.param("p"), m.cutoff)
