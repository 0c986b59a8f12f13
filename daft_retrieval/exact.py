"""Exactly rounded float sums, so that a number does not depend on how Daft partitions or schedules rows.

Daft's ``sum()`` and ``mean()`` of floats add in the order that partitions, morsels and threads deliver the rows,
and float addition is not associative: the last bits (the 16th digit) change with partition counts, thread counts
and the runner. Here a float sum is gathered per group (``list_agg``, any order) and added by :func:`math.fsum`
(Shewchuk's algorithm): the correctly rounded sum of the exact values, the same bits whatever the order.

    >>> frame = daft.from_pydict({"g": [1, 1, 1], "x": [1e16, 1.0, -1e16]})
    >>> frame.groupby("g").agg(daft.col("x").list_agg()).select(list_fsum(daft.col("x"))).to_pydict()
    {'x': [1.0]}
    >>> fsum_mean([1e16, 1.0, -1e16])  # added in order: (1e16 + 1.0 - 1e16) / 3 = 0.0
    0.3333333333333333
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

import daft
import numpy as np
import pyarrow as pa
from daft import DataType, Expression

__all__ = [
    "fsum",
    "fsum_mean",
    "list_fsum",
    "ordered_sums",
    "prefix_expansions",
    "segment_fsums",
    "sum_in_key_order",
]


def segment_fsums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The exact (correctly rounded) sum of each segment ``values[offsets[i]:offsets[i + 1]]`` (0.0 if empty).

    >>> segment_fsums(np.array([0.1, 0.2, 0.3, 5.0]), np.array([0, 3, 3, 4])).tolist()  # in order: 0.6000000000000001
    [0.6, 0.0, 5.0]
    """
    flat = np.asarray(values, dtype=np.float64).tolist()  # Python floats: fsum reads them without conversion
    bounds = np.asarray(offsets, dtype=np.int64).tolist()
    return np.array([fsum(flat[a:b]) for a, b in itertools.pairwise(bounds)], dtype=np.float64)


def fsum(values: list[float]) -> float:
    """:func:`math.fsum`, also where it raises: a sum past the float range is +-inf (as rounding the exact sum
    gives), inf + -inf is NaN.

    >>> fsum([1e308, 1e308]), fsum([1e308, 1e308, -1e308])
    (inf, 1e+308)
    """
    try:
        return math.fsum(values)
    except OverflowError:  # an intermediate sum overflowed: add the values scaled by 2^-64 (exact), scale back
        return math.fsum(math.ldexp(v, -64) for v in values) * 2.0**64
    except ValueError:  # inf + -inf
        return math.nan


def prefix_expansions(values: list[float]) -> list[tuple[float, ...]]:
    """For each d from 0 to len(values), a few floats whose exact sum is the exact sum of ``values[:d]`` (Shewchuk's
    non-overlapping partials, 1997, "Adaptive precision floating-point arithmetic", the algorithm behind
    :func:`math.fsum`). So ``fsum([*prefix[d], *more]) == fsum([*values[:d], *more])`` to the bit, for any
    ``more``: a long prefix (RBP's weights of ranks 1..d) is added once and then reused exactly by every query.
    Finite values only.

    >>> prefix = prefix_expansions([1e16, 1.0, -1e16])
    >>> fsum([*prefix[3], 0.5]), fsum([1e16, 1.0, -1e16, 0.5])
    (1.5, 1.5)
    """
    partials: list[float] = []
    out = [()]
    for x in values:
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)  # exact: hi + lo == x + y (Dekker's fast two-sum, |x| >= |y|)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]
        out.append(tuple(partials))
    return out


@daft.func.batch(return_dtype=DataType.float64())
def _list_fsum(lists: daft.Series) -> daft.Series:
    array = lists.to_arrow()
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if len(array) == 0:
        return daft.Series.from_arrow(pa.array([], pa.float64()))
    offsets = array.offsets.to_numpy()
    values = array.values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    sums = segment_fsums(values[offsets[0] : offsets[-1]], offsets - offsets[0])
    return daft.Series.from_arrow(pa.array(sums, pa.float64(), mask=array.is_null().to_numpy(zero_copy_only=False)))


def list_fsum(lists: Expression) -> Expression:
    """Per row, the exact sum of a list column of numbers (0.0 for an empty list, null for a null one; nulls inside
    a list count 0). Keeps the column's name."""
    name = lists.name()
    return _list_fsum(lists).alias(name)


def ordered_sums(keys: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per segment, ``((0 + v_1) + v_2) + ...`` over its values in ascending key order: the same bits as any
    accumulator that adds in key order (SciPy's sparse product adds a row's terms in column order).

    >>> ordered_sums(np.array([3, 1, 2, 1]), np.array([1.0, 1e16, -1e16, 2.0]), np.array([0, 3, 4])).tolist()
    [1.0, 2.0]
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    segment = np.repeat(np.arange(len(lengths)), lengths)
    order = np.lexsort((np.asarray(keys), segment))  # by segment, then key (a stable sort)
    ordered = np.asarray(values, dtype=np.float64)[order]
    sums = np.zeros(len(lengths))
    for j in range(int(lengths.max()) if len(lengths) else 0):  # step j adds each segment's j-th value
        rows = np.nonzero(lengths > j)[0]
        sums[rows] += ordered[offsets[rows] + j]
    return sums


@daft.func.batch(return_dtype=DataType.float64())
def _sum_in_key_order(pairs: daft.Series, key: str, value: str) -> daft.Series:
    array = pairs.to_arrow()
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    offsets = array.offsets.to_numpy().astype(np.int64)
    flat = array.values[offsets[0] : offsets[-1]]
    keys = flat.field(key).to_numpy(zero_copy_only=False)
    values = flat.field(value).cast(pa.float64()).to_numpy(zero_copy_only=False)
    return daft.Series.from_arrow(pa.array(ordered_sums(keys, values, offsets - offsets[0]), pa.float64()))


def sum_in_key_order(pairs: Expression, key: str, value: str) -> Expression:
    """Per row, the sum of a ``list<struct{key, value}>`` column's values added in ascending ``key`` order
    (:func:`ordered_sums`): the same bits whatever order ``list_agg`` gathered them in. Keeps the column's name."""
    return _sum_in_key_order(pairs, key, value).alias(pairs.name())


def fsum_mean(values: Iterable[float]) -> float:
    """The mean of ``values`` as fsum(values) / n: the same bits in any order. NaN for no values (no warning here:
    callers say why there is nothing to average).
    """
    values = [float(v) for v in values]
    return fsum(values) / len(values) if values else math.nan
