"""Confidence intervals of the mean per-query difference d_i = b_i - a_i of a system over a baseline.

- t-based: mean(d) +- t_{(1+c)/2, n-1} * sd(d) / sqrt(n), sd with ddof = 1 (Student 1908); equals SciPy's
  ``ttest_rel(b, a).confidence_interval(c)`` and ``scipy.stats.t.interval(c, n - 1, mean, sem)``.
- paired bootstrap, percentile method (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13;
  Sakai, "Evaluating evaluation metrics based on the bootstrap", SIGIR 2006): resample the n queries with
  replacement ``resamples`` times (the same queries for both systems: resample d), take the mean of each
  resample, and report its (1-c)/2 and (1+c)/2 quantiles (linear interpolation, NumPy's default). Seeded: the
  same inputs, ``resamples`` and ``seed`` give the same interval on every run; equals
  ``scipy.stats.bootstrap((d,), np.mean, method="percentile", rng=np.random.default_rng(seed))``.

Fewer than 2 queries: no interval (NaN, NaN). Every difference equal: the interval is that one value.

    >>> low, high = t_interval([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5])
    >>> round(low, 4), round(high, 4)
    (0.0477, 0.1273)
    >>> bootstrap_interval([0.0, 0.0], [0.5, 0.5])
    (0.5, 0.5)
"""

from __future__ import annotations

import math

import numpy as np

from daft_retrieval.errors import DataError
from daft_retrieval.statistics._check import Values, differences

__all__ = ["bootstrap_interval", "t_interval"]

_CHUNK = 500  # resamples drawn at once; the interval does not depend on it (the index stream is chunk-free)


def _confidence(confidence: float) -> float:
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise DataError(f"confidence must be a number in (0, 1), e.g. 0.95, not {confidence!r}")
    return float(confidence)


def t_interval(a: Values, b: Values, *, confidence: float = 0.95) -> tuple[float, float]:
    """The t-based confidence interval of mean(b - a): mean(d) +- t_{(1+c)/2, n-1} sd(d) / sqrt(n) (Student 1908).

    (NaN, NaN) under 2 queries; (mean, mean) when sd(d) = 0.

    >>> t_interval([0.3], [0.5])
    (nan, nan)
    """
    from scipy.stats import t

    c = _confidence(confidence)
    d = differences(a, b)
    n = len(d)
    if n < 2:
        return math.nan, math.nan
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:
        return mean, mean
    half = float(t.ppf((1 + c) / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def bootstrap_interval(
    a: Values, b: Values, *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """The paired percentile-bootstrap confidence interval of mean(b - a) (Efron & Tibshirani 1993).

    For r = 1..R: d*_r = d[I_r], I_r n indices drawn uniformly with replacement; the interval is the (1-c)/2 and
    (1+c)/2 quantiles of mean(d*_r). (NaN, NaN) under 2 queries.

    >>> low, high = bootstrap_interval([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5], resamples=2000)
    >>> 0.05 <= low < high <= 0.125  # tighter than t: 4 queries, 2.5%-97.5% of resampled means
    True
    """
    c = _confidence(confidence)
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise DataError(f"resamples must be an integer >= 1, e.g. 10000, not {resamples!r}")
    d = differences(a, b)
    n = len(d)
    if n < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        means[start : start + size] = d[rng.integers(0, n, (size, n))].mean(axis=-1)
    low, high = np.quantile(means, [(1 - c) / 2, (1 + c) / 2])
    return float(low), float(high)
