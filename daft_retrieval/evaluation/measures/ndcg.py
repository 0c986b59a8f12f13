"""nDCG: normalised discounted cumulative gain (Järvelin & Kekäläinen, 2002), trec_eval ``ndcg_cut``.

DCG@k = sum_{i<=k} gain_i / log2(i + 1), gain = the relevance level (linear; relevance <= 0 gains 0);
nDCG@k = DCG@k / IDCG@k, the ideal DCG over ALL judged documents of the query, retrieved or not.

Other gains, as ir_measures writes them: ``nDCG(dcg='exp-log2')@k``, gain 2^rel - 1 (Burges et al., 2005,
"Learning to rank using gradient descent", ICML), and ``nDCG(gains={0:0,1:1,2:3})@k``, gain = the map's value
for the relevance level (a level the map does not list gains 0; levels <= 0 always gain 0). For these the
aggregation gathers each query's relevant hits (rank, relevance) and positive judgements, and the value computes
DCG and the ideal DCG (the judged gains in descending order, so the map need not be monotone) with
:func:`math.fsum`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import daft
import pyarrow as pa
from daft import DataType, Expression, col
from daft.functions import to_struct, when

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.evaluation.measures.base import (
    JUDGED_ONLY,
    Family,
    Measure,
    Param,
    float_sum,
    gain_map,
    one_of,
    register,
    safe_div,
    show_gains,
)

Gains = tuple[tuple[int, float], ...]


def _discounted(rank: str, k: int | None) -> Expression:
    """sum of relevance / log2(rank + 1) over rows with rank <= k (all rows for k None), exactly rounded."""
    gain = col(S.RELEVANCE).cast("float64") / (col(rank).cast("float64") + 1.0).log2()
    return float_sum(when(col(rank) <= k, gain).otherwise(0.0) if k is not None else gain)


def gain_function(dcg: str, gains: Gains | None) -> Callable[[int], float]:
    """The gain of a relevance level: linear (``log2``), 2^rel - 1 (``exp-log2``) or the map's; <= 0 gains 0."""
    if gains is not None:
        table = dict(gains)
        return lambda g: float(table.get(g, 0.0)) if g > 0 else 0.0
    if dcg == "exp-log2":
        return lambda g: 2.0**g - 1.0 if g > 0 else 0.0
    return lambda g: float(g) if g > 0 else 0.0


def ndcg(hits: list[tuple[int, int]], levels: list[int], k: int | None, gain: Callable[[int], float]) -> float:
    """nDCG@k of one query from its relevant hits (rank, relevance) and the relevance of its judged documents."""
    dcg = math.fsum(gain(g) / math.log2(r + 1) for r, g in hits if k is None or r <= k)
    ideal = sorted((gain(g) for g in levels), reverse=True)[:k]
    idcg = math.fsum(v / math.log2(i + 2) for i, v in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


@daft.func.batch(return_dtype=DataType.float64())
def _ndcg(hits: daft.Series, levels: daft.Series, k: int | None, dcg: str, gains: Gains | None) -> daft.Series:
    gain = gain_function(dcg, gains)
    values = [
        0.0 if h is None or j is None else ndcg([(x["rank"], x[S.RELEVANCE]) for x in h], j, k, gain)
        for h, j in zip(hits.to_pylist(), levels.to_pylist())
    ]
    return daft.Series.from_arrow(pa.array(values, pa.float64()))


@register
class NDCG(Family):
    name = "nDCG"
    aliases = ("ndcg", "ndcg_cut")
    takes_rel = False
    params = {  # noqa: RUF012
        "dcg": Param("log2", one_of("log2", "exp-log2"), "one of 'log2' (linear gain) and 'exp-log2' (2^rel - 1)"),
        "gains": Param(
            None, gain_map, "a dict relevance level -> gain, e.g. {0:0,1:1,2:3} (levels <= 0 gain 0)", show_gains
        ),
        **JUDGED_ONLY,
    }
    doc = "normalised DCG, linear gain (trec_eval ndcg_cut); or dcg='exp-log2', gains={..}"

    def check(self, text: str, m: Measure) -> None:
        if m.param("gains") is not None and m.param("dcg") != "log2":
            raise DataError(f"measure {text!r}: give dcg= or gains=, not both (gains= sets the gain of each level)")

    def _linear(self, m: Measure) -> bool:
        return m.param("dcg") == "log2" and m.param("gains") is None

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        if not self._linear(m):
            return {"graded_hits": to_struct(col("rank"), col(S.RELEVANCE)).list_agg()}
        return {f"dcg_{m.cutoff or 'all'}": _discounted("rank", m.cutoff)}

    def qrel_aggs(self, m: Measure) -> dict[str, Expression]:
        if not self._linear(m):
            return {"graded_levels": col(S.RELEVANCE).list_agg()}
        return {f"idcg_{m.cutoff or 'all'}": _discounted("ideal_rank", m.cutoff)}

    def value(self, m: Measure) -> Expression:
        if not self._linear(m):
            return _ndcg(col("graded_hits"), col("graded_levels"), m.cutoff, m.param("dcg"), m.param("gains"))
        k = m.cutoff or "all"
        return safe_div(col(f"dcg_{k}"), col(f"idcg_{k}"))
