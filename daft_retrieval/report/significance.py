"""Paired significance tests over per-query values of two systems on the same queries.

- paired t-test (Student): t = mean(d) / (sd(d) / sqrt(n)) with d = b - a, two-sided (SciPy's ``ttest_rel``);
- randomisation (permutation) test, two-sided: under the null each query's pair is exchangeable, so the sign of
  each d_i is flipped at random; p = (1 + #{|mean(d*)| >= |mean(d)|}) / (1 + trials) (Smucker, Allan & Carterette,
  CIKM 2007, recommend it for IR).

    >>> a, b = [0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.35, 0.5]
    >>> round(paired_t_test(a, b), 4), randomization_test(a, b, trials=1000) < 0.2
    (0.006, True)
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from daft_retrieval.errors import DataError

__all__ = ["paired_t_test", "randomization_test"]


def _differences(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"a paired test needs two lists of per-query values of one length, not {a.shape} and {b.shape}")
    return b - a


def paired_t_test(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    """Two-sided p-value of the paired t-test of ``b`` against ``a``, as SciPy's ``ttest_rel`` gives it.

    No p-value (NaN) for fewer than 2 queries (no variance to estimate) or when every difference is 0 (t = 0 / 0);
    differences all equal and not 0 give t = +-inf, p = 0.

    >>> paired_t_test([0.5], [0.7]), paired_t_test([0.1, 0.2], [0.1, 0.2]), paired_t_test([0.0, 0.0], [1.0, 1.0])
    (nan, nan, 0.0)
    """
    from scipy.stats import ttest_rel

    d = _differences(a, b)
    if len(d) < 2 or not d.any():
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SciPy's "catastrophic cancellation" note on equal d
        return float(ttest_rel(d, np.zeros_like(d)).pvalue)


def randomization_test(
    a: list[float] | np.ndarray, b: list[float] | np.ndarray, *, trials: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value of the paired randomisation test (random sign flips of the per-query differences).

    NaN for fewer than 2 queries (one sign flip cannot change |mean|: no test). A permuted mean counts as at
    least the observed one within 100 ulps of it (SciPy's ``permutation_test`` tolerance, relative, so it
    holds at every scale of the values).

    >>> randomization_test([0.5], [0.7]), randomization_test([0.1, 0.2], [0.1, 0.2], trials=99)
    (nan, 1.0)
    """
    d = _differences(a, b)
    if len(d) < 2:
        return math.nan
    if trials < 1:
        raise DataError(f"trials must be >= 1, not {trials}")
    observed = abs(d.mean())
    tolerance = 100 * np.finfo(np.float64).eps * observed
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, trials, 1000):
        n = min(1000, trials - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(n, len(d)))
        exceed += int((np.abs((signs * d).mean(axis=1)) >= observed - tolerance).sum())
    return (1 + exceed) / (1 + trials)
