"""Set measures, the ranking read as a set (trec_eval ``set_P``, ``set_recall``, ``set_F``; ir_measures' names).

With ret = documents retrieved (to the evaluation depth), relret = those with relevance >= t, rel = all judged
documents with relevance >= t: SetP = relret / ret, SetR = relret / rel, and
SetF(beta=b) = (1 + b^2) * SetP * SetR / (b^2 * SetP + SetR) (van Rijsbergen's F; recall weighs b times as much
as precision; ``SetF`` is canonical for beta 1, F1); each is 0 where its divisor is 0. trec_eval's ``set_F.x``
takes x = b^2 (its "relative importance of R to P"): ``SetF(beta=2)`` is ``set_F.4``.
"""

from __future__ import annotations

from daft import Expression, col

from daft_retrieval.evaluation.measures.base import (
    JUDGED_ONLY,
    RETRIEVED,
    Family,
    Measure,
    Param,
    num_rel,
    num_rel_agg,
    register,
    rel_at,
    rel_at_agg,
    safe_div,
)


def positive(value: object) -> float:
    """A finite float > 0 (SetF's beta)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < float("inf"):
        raise ValueError(value)
    return float(value)


def _precision(m: Measure) -> Expression:
    return safe_div(col(rel_at(m.threshold, None)), col(RETRIEVED))


def _recall(m: Measure) -> Expression:
    return safe_div(col(rel_at(m.threshold, None)), col(num_rel(m.threshold)))


class _Set(Family):
    cutoff = "none"
    reads_retrieved = True

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return rel_at_agg(m.threshold, None)

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)


@register
class SetP(_Set):
    name = "SetP"
    aliases = ("set_P",)
    params = JUDGED_ONLY
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
    params = {"beta": Param(1.0, positive, "a number > 0, e.g. SetF(beta=0.5)"), **JUDGED_ONLY}  # noqa: RUF012
    doc = "F_beta of SetP and SetR, beta 1 by default (trec_eval set_F.beta^2)"

    def value(self, m: Measure) -> Expression:
        p, r = _precision(m), _recall(m)
        x = m.param("beta") ** 2  # trec_eval's parameter; 1.0 for F1 (then 2PR / (P + R), the same bits)
        return safe_div((x + 1.0) * p * r, x * p + r)
