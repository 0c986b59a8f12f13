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
