"""Judged@k: the share of the top k that the qrels judge, any relevance (ir_measures ``Judged``; not in trec_eval).

Judged@k = judged docs within rank k / min(k, retrieved), ir_measures' divisor for a ranking shorter than k; 0 for
a judged query absent from the run. Ranks are trec_eval's (ties by doc id descending; ir_measures' own provider
breaks ties by doc id ascending, which can change which tied documents fall inside k).
"""

from __future__ import annotations

from daft import Expression, col
from daft.functions import when

from daft_retrieval.evaluation.measures.base import (
    RETRIEVED,
    Family,
    Measure,
    count_where,
    register,
    safe_div,
    within,
)


@register
class Judged(Family):
    name = "Judged"
    aliases = ("judged",)
    cutoff = "required"
    takes_rel = False
    reads_retrieved = True
    doc = "share of the top k with a judgement (ir_measures Judged)"

    def judged_aggs(self, m: Measure) -> dict[str, Expression]:
        return {f"judged_{m.cutoff}": count_where(within(m.cutoff))}

    def value(self, m: Measure) -> Expression:
        k = m.cutoff
        shown = when(col(RETRIEVED) < k, col(RETRIEVED)).otherwise(k)  # min(k, retrieved)
        return safe_div(col(f"judged_{k}"), shown)
