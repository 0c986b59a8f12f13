"""R-Prec: precision after R documents, R = the number of relevant documents of the query (trec_eval ``Rprec``)."""

from __future__ import annotations

from daft import Expression, col
from daft.functions import when

from daft_retrieval.evaluation.measures.base import (
    JUDGED_ONLY,
    Family,
    Measure,
    is_rel,
    num_rel,
    num_rel_agg,
    register,
    safe_div,
)


@register
class RPrec(Family):
    name = "R-Prec"
    aliases = ("Rprec", "R_Prec", "RPrec")
    cutoff = "none"
    params = JUDGED_ONLY
    doc = "precision at R, R = number of relevant docs (trec_eval Rprec)"

    def depth(self, m: Measure) -> int | None:
        return None

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        t = m.threshold
        # hits carry num_rel_<t> (joined from qrels) so the cutoff R is known per row.
        return {f"rel_ret_{t}_R": when(is_rel(t) & (col("rank") <= col(num_rel(t))), 1).otherwise(0).sum()}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        t = m.threshold
        return safe_div(col(f"rel_ret_{t}_R"), col(num_rel(t)))
