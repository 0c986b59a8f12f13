"""Reciprocal rank: ``RR`` = 1 / rank of the first relevant document, no cutoff (trec_eval ``recip_rank``);
``RR@k`` (ir_measures) = ``MRR@k`` (BEIR/MTEB/ranx) = the same, 0 when the first relevant document ranks below k.

Averaged over queries these are MRR (Voorhees, TREC-8 QA track, 1999).
"""

from __future__ import annotations

from daft import Expression, col
from daft.functions import when

from daft_retrieval.evaluation.measures.base import JUDGED_ONLY, Family, Measure, is_rel, register


def _first(t: int) -> dict[str, Expression]:
    return {f"first_rel_{t}": when(is_rel(t), col("rank")).otherwise(None).min()}


def _reciprocal(t: int, k: int | None) -> Expression:
    first = col(f"first_rel_{t}")
    ok = (first > 0) & (first <= k) if k is not None else first > 0
    return when(ok, 1.0 / first.cast("float64")).otherwise(0.0)


@register
class RR(Family):
    name = "RR"
    aliases = ("recip_rank",)
    params = JUDGED_ONLY
    doc = "reciprocal rank of the first relevant doc (trec_eval recip_rank); RR@k within the top k"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return _first(m.threshold)

    def value(self, m: Measure) -> Expression:
        return _reciprocal(m.threshold, m.cutoff)


@register
class MRR(Family):
    name = "MRR"
    aliases = ("recip_rank_cut",)
    cutoff = "required"
    params = JUDGED_ONLY
    doc = "reciprocal rank within the top k (BEIR/MTEB MRR@k)"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        return _first(m.threshold)

    def value(self, m: Measure) -> Expression:
        return _reciprocal(m.threshold, m.cutoff)
