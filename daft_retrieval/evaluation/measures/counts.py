"""Counts per query (trec_eval ``num_q``, ``num_ret``, ``num_rel``, ``num_rel_ret``; ir_measures' names).

``NumQ`` = 1; ``NumRet`` = documents retrieved (to the evaluation depth; ``NumRet(rel=t)``, as ir_measures, only
those with relevance >= t); ``NumRel`` = judged documents with relevance >= t, retrieved or not; ``NumRelRet`` =
retrieved documents with relevance >= t. A judged query absent from the run has NumQ 1, its NumRel and 0 retrieved.
"""

from __future__ import annotations

from daft import Expression, col, lit

from daft_retrieval.evaluation.measures.base import (
    RETRIEVED,
    Family,
    Measure,
    num_rel,
    num_rel_agg,
    register,
    rel_at,
    rel_at_agg,
)


@register
class NumQ(Family):
    name = "NumQ"
    aliases = ("num_q",)
    cutoff = "none"
    takes_rel = False
    doc = "1 per query: the mean is 1, per query the count (trec_eval num_q)"

    def value(self, m: Measure) -> Expression:
        return lit(1.0)


@register
class NumRet(Family):
    name = "NumRet"
    aliases = ("num_ret",)
    cutoff = "none"
    reads_retrieved = True
    doc = "documents retrieved; NumRet(rel=t) only relevant ones (trec_eval num_ret)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return {} if m.rel is None else rel_at_agg(m.rel, None)

    def value(self, m: Measure) -> Expression:
        return col(RETRIEVED if m.rel is None else rel_at(m.rel, None)).cast("float64")


@register
class NumRel(Family):
    name = "NumRel"
    aliases = ("num_rel",)
    cutoff = "none"
    doc = "relevant documents judged for the query (trec_eval num_rel)"

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        return col(num_rel(m.threshold)).cast("float64")


@register
class NumRelRet(Family):
    name = "NumRelRet"
    aliases = ("num_rel_ret",)
    cutoff = "none"
    doc = "relevant documents retrieved (trec_eval num_rel_ret)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return rel_at_agg(m.threshold, None)

    def value(self, m: Measure) -> Expression:
        return col(rel_at(m.threshold, None)).cast("float64")
