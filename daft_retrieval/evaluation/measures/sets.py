"""Set measures, the ranking read as a set (trec_eval ``set_P``, ``set_recall``, ``set_F``; ir_measures' names).

With ret = documents retrieved (to the evaluation depth), relret = those with relevance >= t, rel = all judged
documents with relevance >= t: SetP = relret / ret, SetR = relret / rel, SetF = 2 * SetP * SetR / (SetP + SetR)
(F1, trec_eval's default beta = 1); each is 0 where its divisor is 0.
"""

from __future__ import annotations

from daft import Expression, col

from daft_retrieval.evaluation.measures.base import (
    Family,
    Measure,
    num_rel,
    num_rel_agg,
    register,
    rel_at,
    rel_at_agg,
    safe_div,
)


def _precision(m: Measure) -> Expression:
    return safe_div(col(rel_at(m.threshold, None)), col("num_ret"))


def _recall(m: Measure) -> Expression:
    return safe_div(col(rel_at(m.threshold, None)), col(num_rel(m.threshold)))


class _Set(Family):
    cutoff = "none"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return rel_at_agg(m.threshold, None)

    def ranking_aggs(self, m: Measure) -> dict[str, Expression]:
        return {"num_ret": col("rank").count()}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)


@register
class SetP(_Set):
    name = "SetP"
    aliases = ("set_P",)
    doc = "relevant retrieved / retrieved (trec_eval set_P)"

    def value(self, m: Measure) -> Expression:
        return _precision(m)


@register
class SetR(_Set):
    name = "SetR"
    aliases = ("set_recall",)
    doc = "relevant retrieved / relevant (trec_eval set_recall)"

    def value(self, m: Measure) -> Expression:
        return _recall(m)


@register
class SetF(_Set):
    name = "SetF"
    aliases = ("set_F",)
    doc = "F1 of SetP and SetR (trec_eval set_F, beta 1)"

    def value(self, m: Measure) -> Expression:
        p, r = _precision(m), _recall(m)
        return safe_div(2.0 * p * r, p + r)
