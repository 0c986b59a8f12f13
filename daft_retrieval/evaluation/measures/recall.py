"""R@k: recall at k (trec_eval ``recall_k``): relevant retrieved in the top k / all relevant of the query.

Not BEIR's "R_cap@k", which divides by min(k, |relevant|).
"""

from __future__ import annotations

from daft import Expression, col

from daft_retrieval.evaluation.measures.base import (
    JUDGED_ONLY,
    Family,
    Measure,
    num_rel,
    num_rel_agg,
    register,
    rel_at,
    rel_at_agg,
    safe_div,
)


@register
class Recall(Family):
    name = "R"
    aliases = ("recall",)
    params = JUDGED_ONLY
    doc = "recall at k (trec_eval recall)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return rel_at_agg(m.threshold, m.cutoff)

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        return safe_div(col(rel_at(m.threshold, m.cutoff)), col(num_rel(m.threshold)))
