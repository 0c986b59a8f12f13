"""Randomised Tukey HSD: p-values for every pair of systems at once, controlling the family-wise error rate.

X is the n x m matrix of per-query values (n queries, m systems) and mean_i the mean of column i. Under the null
that all systems are equivalent, the m values of a query are exchangeable, so each trial permutes every row of X
independently and records the range of the permuted column means, R* = max_i mean*_i - min_i mean*_i. For the pair
(i, j):

    p_ij = (1 + #{trials : R* >= |mean_i - mean_j|}) / (1 + trials)

Carterette, "Multiple testing in statistical analysis of systems-based information retrieval experiments", ACM
TOIS 30(1), 2012; Sakai, "Statistical reform in information retrieval?", SIGIR Forum 48(1), 2014, and Sakai,
"Statistical Significance, Power, and Sample Sizes" (Springer, 2018), the "randomised Tukey HSD" algorithm.
They divide by ``trials``; the + 1 counts the observed assignment, as in the randomisation test, so p is in (0, 1].
Comparing every pair with the same distribution of the range is what makes the family-wise error rate hold.
R* counts as at least the observed difference within 100 ulps of it (as the randomisation test).

Seeded: the same values, ``trials`` and ``seed`` give the same p-values on every run, thread count and chunking
(each permutation is the argsort of ``Generator.random`` draws, a stream independent of the chunk it is drawn in).

    >>> p = randomized_tukey_hsd({"a": [0.1, 0.2, 0.3], "b": [0.1, 0.2, 0.3], "c": [0.9, 0.8, 0.9]}, trials=999)
    >>> p[("a", "b")], p[("a", "b")] == p[("b", "a")], p[("a", "c")] < 0.2
    (1.0, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from daft_retrieval.errors import DataError
from daft_retrieval.statistics._check import Values, vector

__all__ = ["randomized_tukey_hsd"]

_CHUNK = 256  # trials drawn at once; the p-values do not depend on it (tests/test_statistics.py)


def randomized_tukey_hsd(
    values: Mapping[str, Values], *, trials: int = 10_000, seed: int = 0
) -> dict[tuple[str, str], float]:
    """The randomised Tukey HSD p-value of every ordered pair of systems (both orders, equal): ``values`` maps each
    system to its per-query values, every list over the same queries in the same order.

    p_ij = (1 + #{R* >= |mean_i - mean_j|}) / (1 + trials), R* the range of the column means after permuting
    each query's values across systems (Carterette 2012; Sakai 2014). NaN for every pair under 2 queries.

    >>> randomized_tukey_hsd({"a": [0.5], "b": [0.7]})
    {('a', 'b'): nan, ('b', 'a'): nan}
    """
    if not isinstance(values, Mapping) or len(values) < 2:
        raise DataError('randomized_tukey_hsd takes a dict of 2 or more systems, e.g. {"bm25": [...], "dense": [...]}')
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise DataError(f"trials must be >= 1, not {trials}")
    names = list(values)
    columns = [vector(values[name], f"the per-query values of system {name!r}") for name in names]
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        sizes = ", ".join(f"{name}: {len(c)}" for name, c in zip(names, columns))
        raise DataError(f"every system needs one value per query, over the same queries; got {sizes}")
    x = np.stack(columns, axis=1)  # n queries x m systems
    n, m = x.shape
    pairs = [(names[i], names[j]) for i in range(m) for j in range(m) if i != j]
    if n < 2:
        return dict.fromkeys(pairs, math.nan)
    means = x.mean(axis=0)
    observed = np.abs(means[:, None] - means[None, :])  # m x m
    threshold = observed - 100 * np.finfo(np.float64).eps * observed
    ranges = np.empty(trials)
    rng = np.random.default_rng(seed)
    for start in range(0, trials, _CHUNK):
        size = min(_CHUNK, trials - start)
        order = np.argsort(rng.random((size, n, m)), axis=-1, kind="stable")
        permuted = np.take_along_axis(np.broadcast_to(x, (size, n, m)), order, axis=-1).mean(axis=1)
        ranges[start : start + size] = permuted.max(axis=1) - permuted.min(axis=1)
    ranges.sort()
    # #{R* >= threshold} for every pair at once: R* sorted, so the count is trials - (index of the first >=)
    exceed = trials - np.searchsorted(ranges, threshold, side="left")
    p = (1 + exceed) / (1 + trials)
    return {(names[i], names[j]): float(p[i, j]) for i in range(m) for j in range(m) if i != j}
