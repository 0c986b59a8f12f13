"""AP@k: average precision (trec_eval ``map_cut_k``; ``AP`` without a cutoff is trec_eval ``map``).

AP@k = (1 / |relevant|) * sum over relevant docs at rank i <= k of P@i; the divisor counts ALL relevant docs of
the query, retrieved or not (Buckley & Voorhees, 2000).
"""

from __future__ import annotations

from daft import Expression, col
from daft.functions import when

from daft_retrieval.evaluation.measures.base import (
    JUDGED_ONLY,
    Family,
    Measure,
    float_sum,
    is_rel,
    num_rel,
    num_rel_agg,
    register,
    safe_div,
    within,
)


@register
class AP(Family):
    name = "AP"
    aliases = ("map", "map_cut", "MAP")
    params = JUDGED_ONLY
    doc = "average precision (trec_eval map_cut / map)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        t = m.threshold
        prec = col(f"above_{t}").cast("float64") / col("rank").cast("float64")
        return {f"sum_prec_{t}_{m.cutoff or 'all'}": float_sum(when(is_rel(t) & within(m.cutoff), prec).otherwise(0.0))}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        t = m.threshold
        return safe_div(col(f"sum_prec_{t}_{m.cutoff or 'all'}"), col(num_rel(t)))
