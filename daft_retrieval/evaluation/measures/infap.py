"""infAP: inferred average precision (Yilmaz & Aslam, 2006, "Estimating average precision with incomplete and
imperfect judgments", CIKM), trec_eval ``infAP`` (trec_eval 9's m_infAP.c), ir_measures ``infAP``.

The judgements sample a pool: a document absent from the qrels is outside the pool, one judged < 0 is in the pool
but was not sampled (unjudged), one judged 0 <= relevance < t is non-relevant and one judged >= t relevant. Walking
the ranking, for the relevant document at 0-based position j with r relevant, n non-relevant and u pooled-unjudged
documents above it (documents outside the pool count in j only):

    1                                                                        for j = 0,
    1/(j+1) + j/(j+1) * ((r + n + u) / j) * ((r + eps) / (r + n + 2 eps))   else, eps = 0.00001 (INFAP_EPSILON);

infAP is the sum over the retrieved relevant documents / the query's relevant documents (0 where there are none).
The aggregation gathers each query's judged retrieved documents as ``rank * 4 + kind`` (one integer list: the order of
two lists could differ) and the value walks them in rank order, adding the terms with :func:`math.fsum`.
"""

from __future__ import annotations

import math

import daft
import pyarrow as pa
from daft import DataType, Expression, col
from daft.functions import when

from daft_retrieval import schema as S
from daft_retrieval.evaluation.measures.base import Family, Measure, is_rel, num_rel, num_rel_agg, register

EPSILON = 0.00001  # trec_eval's INFAP_EPSILON
UNJUDGED, NONREL, REL = 1, 2, 3  # a judged retrieved document's kind (the low 2 bits of its code)


def infap(judged: list[tuple[int, int]], relevant: int) -> float:
    """infAP of a ranking from its judged documents as (rank, kind) in rank order (trec_eval's te_calc_infap;
    the documents outside the pool count only in the position j = rank - 1)."""
    rel = nonrel = unjudged = 0
    terms = []
    for rank, kind in judged:
        if kind == UNJUDGED:
            unjudged += 1
        elif kind == NONREL:
            nonrel += 1
        else:
            if rank == 1:
                terms.append(1.0)
            else:
                fj = float(rank - 1)
                terms.append(
                    1.0 / (fj + 1.0)
                    + (fj / (fj + 1.0))
                    * ((rel + nonrel + unjudged) / fj)
                    * ((rel + EPSILON) / (rel + nonrel + 2 * EPSILON))
                )
            rel += 1
    return math.fsum(terms) / relevant if relevant else 0.0


@daft.func.batch(return_dtype=DataType.float64())
def _infap(codes: daft.Series, relevant: daft.Series) -> daft.Series:
    values = [
        infap([divmod(c, 4) for c in sorted(row)], n) if row else 0.0
        for row, n in zip(codes.to_pylist(), relevant.to_pylist())
    ]
    return daft.Series.from_arrow(pa.array(values, pa.float64()))


@register
class InfAP(Family):
    name = "infAP"
    aliases = ("infap",)
    cutoff = "none"
    doc = "inferred AP over a sampled pool, judgement < 0: pooled, not sampled (trec_eval infAP)"

    def judged_aggs(self, m: Measure) -> dict[str, Expression]:
        t = m.threshold
        kind = when(col(S.RELEVANCE) < 0, UNJUDGED).when(is_rel(t), REL).otherwise(NONREL)
        return {f"infap_codes_{t}": (col("rank").cast("int64") * 4 + kind).list_agg()}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        return num_rel_agg(m.threshold)

    def value(self, m: Measure) -> Expression:
        t = m.threshold
        return _infap(col(f"infap_codes_{t}"), col(num_rel(t)))
