"""ERR@k: expected reciprocal rank (Chapelle, Metzler, Zhang & Grinspan, 2009, "Expected reciprocal rank for
graded relevance", CIKM), ir_measures ``ERR@k`` (its gdeval provider); no trec_eval measure.

ERR@k = sum over ranks r <= k of (1 / r) * R_r * prod_{i < r} (1 - R_i), the chance the reader stops at r,
with R_i = (2^g_i - 1) / 2^gmax for the relevance g_i of the document at rank i (relevance <= 0 and unjudged:
0; above gmax: gmax). gmax is the top grade of the scale, 4 by default as gdeval's MAX_JUDGMENT (ir_measures'
ERR); give the qrels' own top grade as ``ERR(gmax=3)@10``. The product runs over the ranking in rank order, so
the aggregation gathers each query's relevant hits (rank, relevance) and adds them up in rank order.
"""

from __future__ import annotations

import daft
import pyarrow as pa
from daft import DataType, Expression, col
from daft.functions import to_struct

from daft_retrieval import schema as S
from daft_retrieval.evaluation.measures.base import Family, Measure, Param, register


def _grade(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(value)
    return value


def err(hits: list[tuple[int, int]], k: int, gmax: int) -> float:
    """ERR@k of one ranking from its (rank, relevance) hits, in rank order."""
    total, stay = 0.0, 1.0
    for rank, grade in sorted(hits):
        if rank > k:
            break
        stop = (2.0 ** min(grade, gmax) - 1.0) / 2.0**gmax
        total += stay * stop / rank
        stay *= 1.0 - stop
    return total


@daft.func.batch(return_dtype=DataType.float64())
def _err(hits: daft.Series, k: int, gmax: int) -> daft.Series:
    values = [
        0.0 if row is None else err([(h["rank"], h[S.RELEVANCE]) for h in row], k, gmax) for row in hits.to_pylist()
    ]
    return daft.Series.from_arrow(pa.array(values, pa.float64()))


@register
class ERR(Family):
    name = "ERR"
    aliases = ("err",)
    cutoff = "required"
    takes_rel = False
    params = {"gmax": Param(4, _grade, "the top relevance grade, an integer >= 1, e.g. ERR(gmax=3)@10")}  # noqa: RUF012
    doc = "expected reciprocal rank, gains (2^g - 1) / 2^gmax (ir_measures ERR@k)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return {"err_hits": to_struct(col("rank"), col(S.RELEVANCE)).list_agg()}

    def value(self, m: Measure) -> Expression:
        return _err(col("err_hits"), m.cutoff, m.param("gmax"))
