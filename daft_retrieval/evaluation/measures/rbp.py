"""RBP: rank-biased precision (Moffat & Zobel, 2008, "Rank-biased precision for measurement of retrieval
effectiveness", TOIS 27(1)), ir_measures ``RBP(p=0.8)`` (binary, ``rel=``); no trec_eval measure.

RBP = (1 - p) * sum over ranks i (<= k with ``RBP@k``) of rel_i * p^(i - 1), rel_i = 1 when the document at rank i
has relevance >= rel (default 1), else 0 (unjudged: 0). The persistence p (0 < p < 1, default 0.8 as
ir_measures) is the chance a reader goes on to the next rank; ``RBP`` is canonical for ``RBP(p=0.8)``. The
aggregation gathers each query's relevant ranks and the value adds their weights with :func:`math.fsum`.
"""

from __future__ import annotations

import functools
import math

import daft
import pyarrow as pa
from daft import DataType, Expression, col
from daft.functions import when

from daft_retrieval import schema as S
from daft_retrieval.evaluation.measures.base import RETRIEVED, Family, Measure, Param, is_rel, register, unit_interval
from daft_retrieval.exact import fsum, prefix_expansions


def rbp(ranks: list[int], p: float, k: int | None) -> float:
    """(1 - p) * sum of p^(rank - 1) over the relevant ranks (<= k), exactly rounded (:func:`math.fsum`)."""
    return math.fsum((1.0 - p) * p ** (r - 1) for r in ranks if r is not None and (k is None or r <= k))


@daft.func.batch(return_dtype=DataType.float64())
def _rbp(ranks: daft.Series, p: float, k: int | None) -> daft.Series:
    values = [0.0 if row is None else rbp(row, p, k) for row in ranks.to_pylist()]
    return daft.Series.from_arrow(pa.array(values, pa.float64()))


@register
class RBP(Family):
    name = "RBP"
    aliases = ("rbp",)
    params = {"p": Param(0.8, unit_interval, "a persistence between 0 and 1 (exclusive), e.g. RBP(p=0.5)")}  # noqa: RUF012
    doc = "rank-biased precision, persistence p (ir_measures RBP(p=0.8))"

    def hit_aggs(self, m: Measure) -> dict[str, Expression]:
        """The ranks of the relevant hits (a list of integers: not a float_sum, the value adds them)."""
        t = m.threshold
        return {f"rbp_ranks_{t}": when(is_rel(t), col("rank")).otherwise(None).list_agg()}

    def value(self, m: Measure) -> Expression:
        return _rbp(col(f"rbp_ranks_{m.threshold}"), m.param("p"), m.cutoff)


@functools.lru_cache(maxsize=64)
def _weights(p: float, depth: int) -> list[tuple[float, ...]]:
    """Exact prefix sums (:func:`~daft_retrieval.exact.prefix_expansions`) of the weights (1 - p) * p^(i - 1) of
    ranks 1..depth, shared by every query of an evaluation."""
    return prefix_expansions([(1.0 - p) * p ** (r - 1) for r in range(1, depth + 1)])


def residual(known: list[int], retrieved: int, p: float, k: int | None, weights: list | None = None) -> float:
    """(1 - p) * sum of p^(rank - 1) over the unknown ranks <= d + p^d, d = the ranks read (k, or fewer when the
    ranking is shorter), from the ``known`` ranks (judgement >= 0): all the weights to d less the known ones,
    exactly rounded (the same bits as adding the unknown weights themselves). ``weights``: :func:`_weights` of
    p to at least d (shared by the queries of a batch)."""
    depth = retrieved if k is None else min(k, retrieved)
    weights = _weights(p, depth) if weights is None else weights
    less = [-((1.0 - p) * p ** (r - 1)) for r in known if r is not None and r <= depth]
    return fsum([*weights[depth], *less, p**depth])


@daft.func.batch(return_dtype=DataType.float64())
def _residual(known: daft.Series, retrieved: daft.Series, p: float, k: int | None) -> daft.Series:
    lengths = retrieved.to_pylist()
    deepest = max(lengths, default=0) if k is None else min(k, max(lengths, default=0))
    weights = _weights(p, deepest)
    values = [residual(u or [], n, p, k, weights) for u, n in zip(known.to_pylist(), lengths)]
    return daft.Series.from_arrow(pa.array(values, pa.float64()))


@register
class RBPResidual(Family):
    """The residual of RBP (Moffat & Zobel, 2008, section 4): how much RBP could still grow if every document of
    unknown relevance were relevant, (1 - p) * sum over the unjudged ranks i <= d of p^(i - 1) + p^d, d the depth
    read (k, or the ranking's length when shorter): the documents past the ranking are unknown too. A negative
    judgement is no judgement (as trec_eval reads it). trec_eval 10.0's ``rbp_resid`` is the same sum but 0 for
    a ranking without an unjudged document (its tail p^d left out); no ir_measures measure."""

    name = "RBP-Res"
    aliases = ("rbp_resid",)
    takes_rel = False
    params = RBP.params
    doc = "residual of RBP: the most RBP could grow were every unjudged doc relevant (Moffat & Zobel)"

    reads_retrieved = True

    def judged_aggs(self, m: Measure) -> dict[str, Expression]:
        return {"rbp_known_ranks": when(col(S.RELEVANCE) >= 0, col("rank")).otherwise(None).list_agg()}

    def value(self, m: Measure) -> Expression:
        return _residual(col("rbp_known_ranks"), col(RETRIEVED), m.param("p"), m.cutoff)
