"""GMAP: the geometric mean of average precision over queries (Robertson, 2006), trec_eval ``gm_map``.

GMAP = exp((1 / |Q|) * sum over queries q of log(max(AP_q, 1e-5))), trec_eval's epsilon (MIN_GEO_MEAN) keeping a
query with AP 0 from making the mean 0. As trec_eval (and pytrec_eval) report it, the per-query value is
log(max(AP_q, 1e-5)), and only the aggregate is the geometric mean (:meth:`GMAP.aggregate`): a query absent
from the run has AP 0 and per-query value log(1e-5). ``GMAP(rel=2)``: AP at relevance >= 2.
"""

from __future__ import annotations

import math

from daft import Expression
from daft.functions import when

from daft_retrieval.evaluation.measures.ap import AP
from daft_retrieval.evaluation.measures.base import Family, Measure, register
from daft_retrieval.exact import fsum_mean

EPSILON = 1e-5  # trec_eval's MIN_GEO_MEAN


@register
class GMAP(Family):
    name = "GMAP"
    aliases = ("gm_map",)
    cutoff = "none"
    doc = "geometric mean of AP, per query log(max(AP, 1e-5)) (trec_eval gm_map)"

    def _ap(self, m: Measure) -> Measure:
        return Measure("AP", None, m.rel)

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return AP().hit_aggs(self._ap(m))

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return AP().qrel_aggs(self._ap(m))

    def value(self, m: Measure) -> Expression:
        ap = AP().value(self._ap(m))
        return when(ap > EPSILON, ap).otherwise(EPSILON).ln()

    def aggregate(self, m: Measure, values: list[float]) -> float:
        """exp of the exactly rounded mean of the per-query logs (NaN for no query)."""
        return math.exp(fsum_mean(values))
