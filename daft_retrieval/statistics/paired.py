"""Paired significance tests of system ``b`` against baseline ``a`` over the same queries, on d_i = b_i - a_i.

- Paired (Student's) t-test, two-sided: t = mean(d) / (sd(d) / sqrt(n)), sd with ddof = 1, referred to Student's t
  with n - 1 degrees of freedom; p = 2 * (1 - F_t(|t|)) (SciPy's ``ttest_rel``). Student (1908), "The probable
  error of a mean", Biometrika 6(1).
- Randomisation (permutation) test, two-sided: under the null each query's pair is exchangeable, so the sign of
  each d_i is flipped at random; p = (1 + #{|mean(d*)| >= |mean(d)|}) / (1 + trials). Fisher (1935); Smucker,
  Allan & Carterette, "A comparison of statistical significance tests for information retrieval evaluation",
  CIKM 2007, recommend it for IR.

The randomisation test is seeded: the same inputs, ``trials`` and ``seed`` give the same p-value on every run,
machine thread count and BLAS library (no matrix product is used; sign flips are drawn from one
``numpy.random.Generator`` stream whose values do not depend on the chunk size it is drawn in).

    >>> a, b = [0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5]
    >>> round(paired_t_test(a, b), 4), randomization_test(a, b, trials=1000) < 0.2
    (0.006, True)
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from daft_retrieval.errors import DataError
from daft_retrieval.statistics._check import Values, differences

__all__ = ["paired_t_test", "randomization_test"]

_CHUNK = 1000  # sign-flip trials drawn at once; the p-value does not depend on it (tests/test_statistics.py)


def paired_t_test(a: Values, b: Values) -> float:
    """Two-sided p-value of the paired t-test of ``b`` against ``a``, as SciPy's ``ttest_rel`` gives it.

    t = mean(d) / (sd(d) / sqrt(n)), d = b - a, sd with ddof = 1, n - 1 degrees of freedom (Student 1908).
    No p-value (NaN) for fewer than 2 queries (no variance to estimate) or when every difference is 0 (t = 0 / 0);
    differences all equal and not 0 give t = +-inf, p = 0.

    >>> paired_t_test([0.5], [0.7]), paired_t_test([0.1, 0.2], [0.1, 0.2]), paired_t_test([0.0, 0.0], [1.0, 1.0])
    (nan, nan, 0.0)
    """
    from scipy.stats import ttest_rel

    d = differences(a, b)
    if len(d) < 2 or not d.any():
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SciPy's "catastrophic cancellation" note on equal d
        return float(ttest_rel(d, np.zeros_like(d)).pvalue)


def randomization_test(a: Values, b: Values, *, trials: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of the paired randomisation test (random sign flips of the per-query differences).

    p = (1 + #{t : |mean(s_t * d)| >= |mean(d)|}) / (1 + trials), s_t a vector of independent random signs
    (Smucker, Allan & Carterette, CIKM 2007). The + 1 counts the observed assignment, so p is in (0, 1].
    NaN for fewer than 2 queries (one sign flip cannot change |mean|: no test). A permuted mean counts as at
    least the observed one within 100 ulps of it (SciPy's ``permutation_test`` tolerance, relative, so it
    holds at every scale of the values).

    >>> randomization_test([0.5], [0.7]), randomization_test([0.1, 0.2], [0.1, 0.2], trials=99)
    (nan, 1.0)
    """
    d = differences(a, b)
    if len(d) < 2:
        return math.nan
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise DataError(f"trials must be >= 1, not {trials}")
    observed = abs(d.mean())
    tolerance = 100 * np.finfo(np.float64).eps * observed
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, trials, _CHUNK):
        n = min(_CHUNK, trials - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(n, len(d)))
        exceed += int((np.abs((signs * d).mean(axis=1)) >= observed - tolerance).sum())
    return (1 + exceed) / (1 + trials)
