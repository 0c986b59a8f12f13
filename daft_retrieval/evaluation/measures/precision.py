"""P@k: precision at k (trec_eval ``P_k``): relevant retrieved in the top k / k, even if fewer were retrieved."""

from __future__ import annotations

from daft import Expression, col

from daft_retrieval.evaluation.measures.base import JUDGED_ONLY, Family, Measure, register, rel_at, rel_at_agg


@register
class Precision(Family):
    name = "P"
    aliases = ("precision",)
    cutoff = "required"
    params = JUDGED_ONLY
    doc = "precision at k (trec_eval P)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return rel_at_agg(m.threshold, m.cutoff)

    def value(self, m: Measure) -> Expression:
        return col(rel_at(m.threshold, m.cutoff)).cast("float64") / float(m.cutoff)
