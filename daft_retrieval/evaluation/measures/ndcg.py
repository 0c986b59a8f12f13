"""nDCG: normalised discounted cumulative gain (Järvelin & Kekäläinen, 2002), trec_eval ``ndcg_cut``.

DCG@k = sum_{i<=k} gain_i / log2(i + 1), gain = the relevance level (linear; relevance <= 0 gains 0);
nDCG@k = DCG@k / IDCG@k, the ideal DCG over ALL judged documents of the query, retrieved or not.
"""

from __future__ import annotations

from daft import Expression, col
from daft.functions import when

from daft_retrieval import schema as S
from daft_retrieval.evaluation.measures.base import Family, Measure, float_sum, register, safe_div


def _discounted(rank: str, k: int | None) -> Expression:
    """sum of relevance / log2(rank + 1) over rows with rank <= k (all rows for k None), exactly rounded."""
    gain = col(S.RELEVANCE).cast("float64") / (col(rank).cast("float64") + 1.0).log2()
    return float_sum(when(col(rank) <= k, gain).otherwise(0.0) if k is not None else gain)


@register
class NDCG(Family):
    name = "nDCG"
    aliases = ("ndcg", "ndcg_cut")
    takes_rel = False
    doc = "normalised DCG, linear gain (trec_eval ndcg_cut)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return {f"dcg_{m.cutoff or 'all'}": _discounted("rank", m.cutoff)}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return {f"idcg_{m.cutoff or 'all'}": _discounted("ideal_rank", m.cutoff)}

    def value(self, m: Measure) -> Expression:
        k = m.cutoff or "all"
        return safe_div(col(f"dcg_{k}"), col(f"idcg_{k}"))
