"""Success@k: 1 if a relevant document is in the top k, else 0 (trec_eval ``success_k``)."""

from __future__ import annotations

from daft import Expression, col
from daft.functions import when

from daft_retrieval.evaluation.measures.base import JUDGED_ONLY, Family, Measure, register, rel_at, rel_at_agg


@register
class Success(Family):
    name = "Success"
    aliases = ("success", "S")
    cutoff = "required"
    params = JUDGED_ONLY
    doc = "1 if any relevant doc is in the top k (trec_eval success)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return rel_at_agg(m.threshold, m.cutoff)

    def value(self, m: Measure) -> Expression:
        return when(col(rel_at(m.threshold, m.cutoff)) > 0, 1.0).otherwise(0.0)
