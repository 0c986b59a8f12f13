"""Per-query score normalisation before fusing (as ranx: Bassani & Romelli, "ranx.fuse", CIKM 2022).

- ``min-max``: (s - min) / (max - min)
- ``zmuv``:    (s - mean) / std, population std (zero mean, unit variance)
- ``sum``:     (s - min) / sum(s_i - min)
- ``none``:    s

A query whose denominator is 0 (one document, or all scores equal) normalises to 0 (ranx floors the denominator
at 1e-9, which gives the same 0 there, but also rescales any run whose scores span less than 1e-9).

Stable at every scale: each query's scores are first scaled by a power of two (exact) so the largest magnitude is
in [0.5, 1), so no difference or square overflows (scores near +-1e308 normalise); sums are exactly rounded
(:mod:`daft_retrieval.exact`), so the same bits come back whatever the partitioning; zmuv is two-pass with a
correction (Chan, Golub & LeVeque, 1983): mean m = fsum(s) / n, then e = fsum(s - m) / n and
var = fsum((s - m - e)^2) / n, so scores such as 1e10 + small offsets keep their exact order and spacing (the
one-pass E[s^2] - mean^2 cancels to noise there).
"""

from __future__ import annotations

import daft
import numpy as np
import pyarrow as pa
from daft import DataType, col, lit
from daft.functions import when

from daft_retrieval import registry
from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.exact import segment_fsums

__all__ = ["NORMALIZATIONS", "normalize"]

NORMALIZATIONS = tuple(registry.NORMALIZATIONS.names())  # ("min-max", "zmuv", "sum", "none")
_SCORES, _STATS = "_scores", "_stats"
_FIELDS = ("scale", "center", "shift", "spread")
_STATS_TYPE = DataType.struct({f: DataType.float64() for f in _FIELDS})


def normalize(run: daft.DataFrame, method: str = "min-max") -> daft.DataFrame:
    """``run`` with each query's scores normalised by ``method`` (columns ``query_id, doc_id, score``).

    The value is ((s x scale - center) - shift) / spread, the per-query statistics in the scaled units
    (:func:`query_stats`); 0 where spread is 0.

    >>> run = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["a", "b"], "score": [2.0, 4.0]})
    >>> normalize(run).sort("doc_id").to_pydict()["score"]
    [0.0, 1.0]
    >>> huge = daft.from_pydict({"query_id": ["q"] * 3, "doc_id": ["a", "b", "c"], "score": [-1e308, 0.0, 1e308]})
    >>> normalize(huge).sort("doc_id").to_pydict()["score"]
    [0.0, 0.5, 1.0]
    """
    if method not in NORMALIZATIONS:
        raise DataError(f"unknown normalisation {method!r}; expected one of {list(NORMALIZATIONS)}")
    run = run.select(S.QUERY_ID, S.DOC_ID, col(S.SCORE).cast(DataType.float64()))
    if method == "none":
        return run
    stats = (
        run.groupby(S.QUERY_ID)
        .agg(col(S.SCORE).list_agg().alias(_SCORES))
        .select(S.QUERY_ID, query_stats(col(_SCORES), method).alias(_STATS))
    )
    stats = stats.select(S.QUERY_ID, *[col(_STATS)[f].alias(f"_{f}") for f in _FIELDS])
    s, spread = col(S.SCORE), col("_spread")
    value = ((s * col("_scale") - col("_center")) - col("_shift")) / spread
    value = when(spread > 0.0, value).otherwise(lit(0.0))
    return run.join(stats, on=S.QUERY_ID).select(S.QUERY_ID, S.DOC_ID, value.alias(S.SCORE))


@daft.func.batch(return_dtype=_STATS_TYPE)
def query_stats(lists: daft.Series, method: str) -> daft.Series:
    """Per list of one query's (finite) scores: ``scale`` (2^-e, e the exponent of the largest magnitude) and, for
    the scores times scale, ``center``, ``shift`` and ``spread`` (min, 0, max - min for min-max; mean, mean
    correction, std for zmuv; min, 0, fsum(s - min) for sum). Same bits in any row order."""
    array = lists.to_arrow()
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    offsets = array.offsets.to_numpy().astype(np.int64)
    flat = array.values.cast(pa.float64()).to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)
    if len(lengths) == 0:
        return daft.Series.from_arrow(pa.array([], pa.struct([(f, pa.float64()) for f in _FIELDS])))
    if (lengths == 0).any():
        raise ValueError("query_stats: every query needs at least one score")
    starts = offsets[:-1]
    _, exponent = np.frexp(np.maximum.reduceat(np.abs(flat), starts))
    scale = np.ldexp(1.0, -exponent)
    y = flat * np.repeat(scale, lengths)  # a power of two: exact
    low = np.minimum.reduceat(y, starts)
    zero = np.zeros(len(lengths))
    if method == "min-max":
        center, shift, spread = low, zero, np.maximum.reduceat(y, starts) - low
    elif method == "sum":
        center, shift, spread = low, zero, segment_fsums(y - np.repeat(low, lengths), offsets)
    else:  # zmuv
        center = segment_fsums(y, offsets) / lengths
        d = y - np.repeat(center, lengths)
        shift = segment_fsums(d, offsets) / lengths
        spread = np.sqrt(segment_fsums((d - np.repeat(shift, lengths)) ** 2, offsets) / lengths)
    columns = [scale, center, shift, spread]
    return daft.Series.from_arrow(pa.StructArray.from_arrays([pa.array(c) for c in columns], names=list(_FIELDS)))
