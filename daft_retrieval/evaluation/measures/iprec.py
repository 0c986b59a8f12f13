"""Interpolated precision: ``IPrec@r`` (trec_eval ``iprec_at_recall_r``, ir_measures ``IPrec@r``) and ``11pt``
(trec_eval ``11pt_avg``), van Rijsbergen (1979), the TREC recall-precision curve (Harman, 1993).

IPrec@r = max over ranks i at or below the rank of the c-th relevant retrieved document of P@i, with
c = floor(r * |relevant| + 0.9) (trec_eval's recall point, rounded up from 0.1 below: with 7 relevant documents
r = 0.3 asks for c = 3, not 2.1); 0 if fewer than c relevant documents are retrieved. For c = 0 (r = 0.0) the max
runs over the whole ranking. The max is reached at a relevant document, so it is taken over the relevant hits j
of that depth: max (above_j / rank_j) over hits with above_j >= c. 11pt = the mean of IPrec@0.0, 0.1, ..., 1.0.

trec_eval 10.0 rounds the recall point to the nearest instead (``lround(r * |relevant|)``: 7 relevant, r = 0.3
reads the 2nd): ``IPrec(rounding='nearest')@0.3``, ``11pt(rounding='nearest')``. The default, ``rounding='up'``,
is trec_eval 9 (pytrec_eval's, so ir_measures').
"""

from __future__ import annotations

from daft import Expression, col, lit
from daft.functions import when

from daft_retrieval.evaluation.measures.base import (
    JUDGED_ONLY,
    Family,
    Measure,
    Param,
    is_rel,
    num_rel,
    num_rel_agg,
    one_of,
    register,
)

POINTS = tuple(i / 10 for i in range(11))  # 0.0, 0.1, ..., 1.0 as trec_eval's doubles


ROUNDING = {
    "rounding": Param(
        "up", one_of("up", "nearest"), "one of 'up' (trec_eval 9, pytrec_eval) and 'nearest' (trec_eval 10.0)"
    )
}


def _column(t: int, r: float, rounding: str) -> str:
    return f"iprec_{t}_{r!r}_{rounding}".replace(".", "p")


def _needed(t: int, r: float, rounding: str) -> Expression:
    """The rank among the relevant retrieved documents that recall r asks for."""
    x = lit(r) * col(num_rel(t)).cast("float64")
    if rounding == "up":
        return (x + 0.9).floor()  # trec_eval 9: (long) (r * num_rel + 0.9)
    whole = x.floor()  # trec_eval 10.0: lround(r * num_rel), x >= 0; x - floor(x) is exact
    return whole + when(x - whole >= 0.5, 1.0).otherwise(0.0)


def _iprec(t: int, r: float, rounding: str) -> dict[str, Expression]:
    needed = _needed(t, r, rounding)
    above = col(f"above_{t}")
    prec = above.cast("float64") / col("rank").cast("float64")
    return {_column(t, r, rounding): when(is_rel(t) & (above.cast("float64") >= needed), prec).otherwise(0.0).max()}


@register
class IPrec(Family):
    name = "IPrec"
    aliases = ("iprec_at_recall",)
    cutoff = "required"
    cutoff_kind = "fraction"
    params = {**ROUNDING, **JUDGED_ONLY}  # noqa: RUF012
    doc = "interpolated precision at recall r, IPrec@0.1 (trec_eval iprec_at_recall)"

    def depth(self, m: Measure) -> int | None:
        return None

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return _iprec(m.threshold, float(m.cutoff), m.param("rounding"))

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        return col(_column(m.threshold, float(m.cutoff), m.param("rounding"))).cast("float64")


@register
class ElevenPoint(Family):
    name = "11pt"
    aliases = ("11pt_avg",)
    cutoff = "none"
    params = ROUNDING
    doc = "mean IPrec at recall 0.0, 0.1, ..., 1.0 (trec_eval 11pt_avg)"

    def depth(self, m: Measure) -> int | None:
        return None

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        aggs: dict[str, Expression] = {}
        for r in POINTS:
            aggs.update(_iprec(m.threshold, r, m.param("rounding")))
        return aggs

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        total = lit(0.0)
        for r in POINTS:  # added in trec_eval's order, 0.0 first
            total = total + col(_column(m.threshold, r, m.param("rounding"))).cast("float64")
        return total / float(len(POINTS))
