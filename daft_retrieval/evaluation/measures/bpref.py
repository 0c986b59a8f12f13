"""Bpref: binary preference (Buckley & Voorhees, 2004), trec_eval ``bpref``, ir_measures ``Bpref``.

With R relevant (>= t) and N judged non-relevant (0 <= relevance < t) documents of the query, and n_r the judged
non-relevant documents ranked above relevant retrieved document r:
Bpref = (1 / R) * sum over relevant retrieved r of (1 - min(n_r, R) / min(N, R)); unjudged documents and negative
judgements count neither way (trec_eval reads a negative relevance as "not in the pool"). Computed as
(relret - sum_r min(n_r, R) / min(N, R)) / R: integer sums, exact whatever the partitioning.
"""

from __future__ import annotations

from daft import Expression, col
from daft.functions import when

from daft_retrieval.evaluation.measures.base import (
    Family,
    Measure,
    count_where,
    is_nonrel,
    is_rel,
    nonrel_above,
    num_rel,
    num_rel_agg,
    register,
    safe_div,
)


@register
class Bpref(Family):
    name = "Bpref"
    aliases = ("bpref",)
    cutoff = "none"
    doc = "binary preference: relevant above judged non-relevant (trec_eval bpref)"

    def judged_aggs(self, m: Measure) -> dict[str, Expression]:
        t = m.threshold
        n, r = col(nonrel_above(t)), col(num_rel(t))
        above = when(is_rel(t), when(n < r, n).otherwise(r)).otherwise(0).sum()
        return {f"bpref_rel_{t}": count_where(is_rel(t)), f"bpref_above_{t}": above}

    def judgement_aggs(self, m: Measure) -> dict[str, Expression]:
        return {f"num_nonrel_{m.threshold}": count_where(is_nonrel(m.threshold))}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        t = m.threshold
        big_n, big_r = col(f"num_nonrel_{t}"), col(num_rel(t))
        penalty = safe_div(col(f"bpref_above_{t}"), when(big_n < big_r, big_n).otherwise(big_r))
        return safe_div(col(f"bpref_rel_{t}").cast("float64") - penalty, big_r)
