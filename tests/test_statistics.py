"""daft_retrieval.statistics against SciPy, statsmodels and brute-force NumPy references, on seeded random data."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from daft_retrieval.errors import DataError
from daft_retrieval.report import significance
from daft_retrieval.report.compare import _strict
from daft_retrieval.statistics import (
    PairedComparison,
    adjust_p_values,
    bootstrap_interval,
    cohens_dz,
    correct,
    paired_comparison,
    paired_t_test,
    randomization_test,
    randomized_tukey_hsd,
    t_interval,
    wins_ties_losses,
)
from daft_retrieval.statistics import interval as interval_module
from daft_retrieval.statistics import paired as paired_module
from daft_retrieval.statistics import tukey as tukey_module

# the fields of a test in `compare --json`, in the order issue 14 lists them
FIELDS = [
    "system", "baseline", "measure", "difference", "p_t_test", "p_randomization", "p_corrected", "correction",
    "ci_low", "ci_high", "effect_size", "wins", "ties", "losses",
]  # fmt: skip


def pair(seed: int, n: int = 40, shift: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Per-query values of a baseline and a system in [0, 1], correlated as IR systems on one topic set are."""
    rng = np.random.default_rng(seed)
    a = rng.random(n)
    b = np.clip(a + shift + rng.normal(0, 0.15, n), 0, 1)
    return a, b


# paired tests ------------------------------------------------------------------------------------------------------
def test_the_old_module_re_exports_the_same_functions():
    assert significance.paired_t_test is paired_t_test and significance.randomization_test is randomization_test


def test_the_t_test_is_scipys_ttest_rel():
    for seed in range(20):
        a, b = pair(seed, n=5 + seed)
        assert paired_t_test(a, b) == pytest.approx(float(stats.ttest_rel(b, a).pvalue), rel=1e-12, abs=1e-300)


def test_the_randomization_test_is_close_to_scipys_exact_permutation_test():
    # n = 10: SciPy enumerates all 2^10 sign vectors (exact p); ours samples 20000 of them. Both count the
    # observed assignment; the difference is Monte-Carlo error: sd = sqrt(p(1-p)/trials) <= 0.0036, allow 4.5 sd.
    for seed in range(4):
        a, b = pair(seed, n=10, shift=0.04)
        exact = stats.permutation_test(
            (b - a,), np.mean, permutation_type="samples", vectorized=True, n_resamples=10**6
        ).pvalue
        p = randomization_test(a, b, trials=20_000, seed=seed)
        assert abs(p - exact) <= 4.5 * math.sqrt(exact * (1 - exact) / 20_000) + 1 / 20_001, (seed, p, exact)


def test_the_randomization_test_is_seeded_and_independent_of_chunking(monkeypatch):
    a, b = pair(3, n=25, shift=0.03)
    p = randomization_test(a, b, trials=3000, seed=7)
    assert p == randomization_test(a, b, trials=3000, seed=7)
    assert p != randomization_test(a, b, trials=3000, seed=8)  # the seed is used (could fail only by chance tie)
    for chunk in (1, 7, 999, 10**6):
        monkeypatch.setattr(paired_module, "_CHUNK", chunk)
        assert randomization_test(a, b, trials=3000, seed=7) == p, chunk


THREADS_SCRIPT = """
import numpy as np
from daft_retrieval.statistics import bootstrap_interval, randomization_test, randomized_tukey_hsd
rng = np.random.default_rng(11)
a, b, c = rng.random(60), rng.random(60), rng.random(60)
print(repr((randomization_test(a, b, trials=4000), bootstrap_interval(a, b, resamples=2000),
            sorted(randomized_tukey_hsd({"a": a, "b": b, "c": c}, trials=500).items()))))
"""


def test_the_seeded_statistics_are_the_same_at_every_thread_count():
    outputs = set()
    for threads in ("1", "2", "8"):
        env = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0"}
        env.update({k: threads for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
        out = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        outputs.add(out.stdout)
    assert len(outputs) == 1, outputs


def test_the_randomization_test_p_value_is_pinned():
    # a fixed value: a change of the sign-flip stream (NumPy's Generator, the chunking) would show here
    a, b = pair(5, n=30, shift=0.03)
    p = randomization_test(a, b, trials=2000, seed=0)
    assert 0 < p < 1 and p * 2001 == round(p * 2001)  # (1 + count) / (1 + trials)
    assert p == 1713 / 2001  # recorded with NumPy 2.4 (its Generator streams are stable across versions)


# corrections -------------------------------------------------------------------------------------------------------
def test_holm_and_bh_equal_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    worst = 0.0
    for trial in range(25):  # statsmodels takes ~60 ms a call
        m = int(rng.integers(1, 30))
        p = rng.random(m) ** 3  # many small p-values, so the corrections reject and interact
        if trial % 5 == 0:
            p[rng.integers(0, m, m // 2)] = p[0]  # ties
        for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
            expected = multipletests(p, method=theirs)[1]
            got = adjust_p_values(p, ours)
            worst = max(worst, float(np.max(np.abs(got - expected))))
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
        assert adjust_p_values(p, "none").tolist() == p.tolist()
    assert worst <= 1e-15


def test_a_nan_p_value_stays_nan_and_is_left_out_of_the_family():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.2])
    tested = ~np.isnan(p)
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        got = adjust_p_values(p, ours)
        assert np.isnan(got[~tested]).all()
        np.testing.assert_allclose(got[tested], multipletests(p[tested], method=theirs)[1], rtol=1e-12)
    assert adjust_p_values(p, "holm")[0] == pytest.approx(0.04)  # m = 4, not 6
    assert np.isnan(adjust_p_values([np.nan, np.nan], "bh")).all() and adjust_p_values([], "holm").size == 0


def test_corrections_reject_bad_input():
    with pytest.raises(DataError, match="correction must be one of holm, bh, none, not 'bonferroni'"):
        adjust_p_values([0.1], "bonferroni")
    with pytest.raises(DataError, match=r"p-value 1.5 at position 1 is not in \[0, 1\]"):
        adjust_p_values([0.1, 1.5], "holm")


# intervals ---------------------------------------------------------------------------------------------------------
def test_the_t_interval_is_scipys():
    worst = 0.0
    for seed in range(20):
        a, b = pair(seed, n=3 + 3 * seed)
        for confidence in (0.9, 0.95, 0.99):
            low, high = t_interval(a, b, confidence=confidence)
            ci = stats.ttest_rel(b, a).confidence_interval(confidence)
            d = b - a
            sem = d.std(ddof=1) / math.sqrt(len(d))
            by_t = stats.t.interval(confidence, len(d) - 1, loc=d.mean(), scale=sem)
            for ref in ((ci.low, ci.high), by_t):
                worst = max(worst, abs(low - ref[0]), abs(high - ref[1]))
                assert (low, high) == pytest.approx(ref, rel=1e-12, abs=1e-14)
    assert worst < 1e-14


def test_the_t_interval_without_data_or_variance():
    assert all(math.isnan(x) for x in t_interval([0.3], [0.4]))
    assert t_interval([0.0, 0.5], [0.5, 1.0]) == (0.5, 0.5)
    low, high = t_interval([0.0, 0.0], [0.0, 0.0])
    assert low == high == 0.0


def test_the_bootstrap_interval_is_scipys_percentile_bootstrap():
    # the same resamples as SciPy: one Generator, rng.integers(0, n, (batch, n)) per batch, the mean of each,
    # quantiles by linear interpolation. SciPy's stats.quantile does that interpolation in another order of
    # operations than np.quantile: the bounds may differ in the last bit (1 ulp seen), hence rel=1e-15.
    for seed in range(6):
        a, b = pair(seed, n=10 + 7 * seed)
        got = bootstrap_interval(a, b, resamples=3000, seed=seed)
        ref = stats.bootstrap(
            (b - a,), np.mean, n_resamples=3000, batch=interval_module._CHUNK, method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval  # fmt: skip
        assert got == pytest.approx((ref.low, ref.high), rel=1e-15, abs=1e-18), seed


def test_the_bootstrap_interval_is_a_plain_numpy_bootstrap_and_seeded(monkeypatch):
    a, b = pair(9, n=50)
    got = bootstrap_interval(a, b, resamples=2000, seed=4)
    rng = np.random.default_rng(4)  # the reference: one resample at a time
    d = b - a
    means = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)]
    # a row drawn alone is the same indices as in a block (the stream is chunk-free); its mean may round
    # differently from a row of a 2-D mean only in the last bits: 1e-15 over values in [-1, 1]
    np.testing.assert_allclose(got, np.quantile(means, [0.025, 0.975]), rtol=0, atol=1e-15)
    for chunk in (1, 13, 10**6):
        monkeypatch.setattr(interval_module, "_CHUNK", chunk)
        assert bootstrap_interval(a, b, resamples=2000, seed=4) == got, chunk
    assert bootstrap_interval(a, b, resamples=2000, seed=5) != got
    low, high = got
    assert low < d.mean() < high and (low, high) == pytest.approx(t_interval(a, b), abs=0.02)  # close to t at n=50
    assert all(math.isnan(x) for x in bootstrap_interval([0.3], [0.4]))
    with pytest.raises(DataError, match="resamples must be an integer >= 1"):
        bootstrap_interval(a, b, resamples=0)
    with pytest.raises(DataError, match=r"confidence must be a number in \(0, 1\)"):
        bootstrap_interval(a, b, confidence=95)


# effect size, wins / ties / losses --------------------------------------------------------------------------------
def test_cohens_dz_is_the_paired_t_over_root_n():
    for seed in range(10):
        a, b = pair(seed, n=8 + seed)
        t = float(stats.ttest_rel(b, a).statistic)
        assert cohens_dz(a, b) == pytest.approx(t / math.sqrt(len(a)), rel=1e-12)
        d = b - a
        assert cohens_dz(a, b) == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-14)
    assert math.isnan(cohens_dz([0.1], [0.3])) and math.isnan(cohens_dz([0.0, 0.5], [0.5, 1.0]))
    assert cohens_dz([0.2, 0.4, 0.6], [0.1, 0.2, 0.3]) < 0  # worse than the baseline: negative


def test_wins_ties_and_losses_count_exactly_equal_values_as_ties():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, 200) / 4  # few distinct values: many ties
    b = rng.integers(0, 4, 200) / 4
    w, t, lo = wins_ties_losses(a, b)
    assert (w, t, lo) == (int((b > a).sum()), int((b == a).sum()), int((b < a).sum())) and w + t + lo == 200
    assert t > 0 and wins_ties_losses(a, a) == (0, 200, 0)
    assert wins_ties_losses([0.3], [0.3 + 1e-17]) == (0, 1, 0)  # 0.3 + 1e-17 rounds to 0.3: the same float
    assert wins_ties_losses([0.3], [np.nextafter(0.3, 1)]) == (1, 0, 0)  # one ulp above: a win, no tolerance


# randomised Tukey HSD ----------------------------------------------------------------------------------------------
def tukey_brute_force(x: np.ndarray, trials: int, seed: int) -> np.ndarray:
    """Carterette's / Sakai's algorithm, one trial and one query at a time, on the same random stream."""
    rng = np.random.default_rng(seed)
    n, m = x.shape
    means = x.mean(axis=0)
    counts = np.zeros((m, m))
    for _ in range(trials):
        keys = rng.random((n, m))
        permuted = np.array([x[i][np.argsort(keys[i], kind="stable")] for i in range(n)])
        r = permuted.mean(axis=0).max() - permuted.mean(axis=0).min()
        for i, j in itertools.product(range(m), repeat=2):
            observed = abs(means[i] - means[j])
            counts[i, j] += r >= observed - 100 * np.finfo(float).eps * observed
    return (1 + counts) / (1 + trials)


def as_matrix(p: dict, names: list[str]) -> np.ndarray:
    return np.array([[p.get((s, t), 1.0) if s != t else np.nan for t in names] for s in names])


def test_tukey_equals_a_brute_force_reference():
    rng = np.random.default_rng(3)
    x = rng.random((12, 4)) + np.array([0.0, 0.05, 0.1, 0.3])
    names = ["a", "b", "c", "d"]
    p = randomized_tukey_hsd(dict(zip(names, x.T)), trials=400, seed=2)
    ref = tukey_brute_force(x, trials=400, seed=2)
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_array_equal(as_matrix(p, names)[off], ref[off])


def test_tukey_is_close_to_the_exact_permutation_distribution():
    # 3 queries x 3 systems: all (3!)^3 = 216 row permutations enumerated give the exact p (here counting the
    # identity among the 216); ours samples 20000 of them: Monte-Carlo sd <= 0.0036, allow 4.5 sd
    x = np.array([[0.1, 0.3, 0.7], [0.2, 0.2, 0.9], [0.4, 0.5, 0.6]])
    means = x.mean(axis=0)
    perms = list(itertools.permutations(range(3)))
    ranges = []
    for choice in itertools.product(perms, repeat=3):
        mm = np.array([x[i][list(choice[i])] for i in range(3)]).mean(axis=0)
        ranges.append(mm.max() - mm.min())
    ranges = np.array(ranges)
    p = randomized_tukey_hsd({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}, trials=20_000, seed=1)
    for (i, s), (j, t) in itertools.permutations(enumerate("abc"), 2):
        observed = abs(means[i] - means[j])
        exact = float(np.mean(ranges >= observed - 1e-12))
        assert abs(p[(s, t)] - exact) <= 4.5 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4, (s, t)


def test_tukey_properties(monkeypatch):
    rng = np.random.default_rng(8)
    base = rng.random(30)
    systems = {"same1": base, "same2": base.copy(), "noise": np.clip(base + rng.normal(0, 0.1, 30), 0, 1)}
    systems["better"] = np.clip(base + 0.3, 0, 1)
    p = randomized_tukey_hsd(systems, trials=1000, seed=0)
    assert set(p) == {(s, t) for s in systems for t in systems if s != t}
    assert all(0 < v <= 1 for v in p.values())
    assert all(p[(s, t)] == p[(t, s)] for s, t in p)
    assert p[("same1", "same2")] == 1.0  # equal means: every permuted range is at least 0
    assert p[("better", "same1")] == 1 / 1001 and p[("better", "noise")] < 0.01
    assert p[("noise", "same1")] > 0.05
    equal = randomized_tukey_hsd({"x": base, "y": base, "z": base}, trials=50)
    assert set(equal.values()) == {1.0}
    assert randomized_tukey_hsd(systems, trials=1000, seed=0) == p
    for chunk in (1, 999, 5000):
        monkeypatch.setattr(tukey_module, "_CHUNK", chunk)
        assert randomized_tukey_hsd(systems, trials=1000, seed=0) == p, chunk
    assert all(math.isnan(v) for v in randomized_tukey_hsd({"a": [0.1], "b": [0.2]}).values())


def test_tukey_rejects_bad_input():
    with pytest.raises(DataError, match="dict of 2 or more systems"):
        randomized_tukey_hsd({"a": [0.1, 0.2]})
    with pytest.raises(DataError, match="same queries; got a: 2, b: 3"):
        randomized_tukey_hsd({"a": [0.1, 0.2], "b": [0.1, 0.2, 0.3]})
    with pytest.raises(DataError, match="the per-query values of system 'b' hold nan at position 1"):
        randomized_tukey_hsd({"a": [0.1, 0.2], "b": [0.1, float("nan")]})


# the comparison record -------------------------------------------------------------------------------------------
def test_a_paired_comparison_has_the_issues_fields_and_every_statistic():
    a, b = pair(2, n=35)
    r = paired_comparison(a, b, system="dense", baseline="bm25", measure="nDCG@10", trials=500, seed=3)
    assert [f.name for f in dataclasses.fields(PairedComparison)] == FIELDS == list(r.to_dict())
    assert (r.system, r.baseline, r.measure, r.correction) == ("dense", "bm25", "nDCG@10", "none")
    assert r.difference == float(b.mean() - a.mean())
    assert r.p_t_test == paired_t_test(a, b) and r.p_randomization == randomization_test(a, b, trials=500, seed=3)
    assert (r.ci_low, r.ci_high) == t_interval(a, b) and r.effect_size == cohens_dz(a, b)
    assert (r.wins, r.ties, r.losses) == wins_ties_losses(a, b) and math.isnan(r.p_corrected)
    boot = paired_comparison(a, b, system="s", baseline="b", measure="m", interval="bootstrap", resamples=700)
    assert (boot.ci_low, boot.ci_high) == bootstrap_interval(a, b, resamples=700)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.wins = 0  # type: ignore[misc]
    with pytest.raises(DataError, match="interval must be one of t, bootstrap"):
        paired_comparison(a, b, system="s", baseline="b", measure="m", interval="bca")
    with pytest.raises(DataError, match="one length"):
        paired_comparison(a, b[:-1], system="s", baseline="b", measure="m")


def test_correct_fills_p_corrected_over_a_tables_comparisons():
    from statsmodels.stats.multitest import multipletests

    rows = [
        paired_comparison(*pair(seed, n=20, shift=0.02 * seed), system=f"s{seed}", baseline="b", measure="m",
                          trials=100)
        for seed in range(6)
    ]  # fmt: skip
    rows.append(paired_comparison([0.5], [0.7], system="one", baseline="b", measure="m"))  # no test: NaN
    p = np.array([r.p_t_test for r in rows[:-1]])
    for name, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        corrected = correct(rows, name)
        assert [r.correction for r in corrected] == [name] * 7 and math.isnan(corrected[-1].p_corrected)
        np.testing.assert_allclose([r.p_corrected for r in corrected[:-1]], multipletests(p, method=theirs)[1])
        assert [dataclasses.replace(r, p_corrected=math.nan, correction="none") for r in corrected] == rows
    on_rand = correct(rows, "none", on="p_randomization")
    assert [r.p_corrected for r in on_rand[:-1]] == [r.p_randomization for r in rows[:-1]]
    with pytest.raises(DataError, match="correction must be one of"):
        correct(rows, "BH")


def test_nan_becomes_null_only_in_json():
    r = correct([paired_comparison([0.5], [0.7], system="s", baseline="b", measure="m")], "holm")[0]
    d = r.to_dict()
    assert math.isnan(d["p_t_test"]) and math.isnan(d["ci_low"]) and math.isnan(d["effect_size"])
    text = json.dumps(_strict(d), allow_nan=False)
    assert json.loads(text) == {**d, "p_t_test": None, "p_randomization": None, "p_corrected": None,
                                "ci_low": None, "ci_high": None, "effect_size": None}  # fmt: skip


def test_bad_per_query_values_name_the_value_and_the_fix():
    with pytest.raises(DataError, match=r"hold inf at position 2: every per-query value must be a finite number"):
        paired_t_test([0.1, 0.2, 0.3], [0.1, 0.2, float("inf")])
    with pytest.raises(DataError, match=r"one length, not \(1, 1\) and \(1, 1\)"):
        cohens_dz([[0.1]], [[0.2]])
    with pytest.raises(DataError, match="one list of numbers"):
        randomized_tukey_hsd({"a": [[0.1]], "b": [[0.2]]})


# compare() ---------------------------------------------------------------------------------------------------------
def synthetic_runs(n_queries: int = 16) -> tuple[dict, object]:
    """Three runs over one relevant document per query: "good" ranks it 1st, "mixed" 1st or 3rd, "bad" 5th."""
    import daft

    from daft_retrieval import schema as S

    def run(rank_of) -> daft.DataFrame:
        rows = {S.QUERY_ID: [], S.DOC_ID: [], S.SCORE: [], S.RANK: []}
        for q in range(n_queries):
            relevant = rank_of(q)
            for r in range(1, 6):
                rows[S.QUERY_ID].append(f"q{q}")
                rows[S.DOC_ID].append(f"q{q}-rel" if r == relevant else f"q{q}-d{r}")
                rows[S.SCORE].append(float(10 - r))
                rows[S.RANK].append(r)
        return daft.from_pydict(rows)

    qrels = daft.from_pydict(
        {S.QUERY_ID: [f"q{q}" for q in range(n_queries)], S.DOC_ID: [f"q{q}-rel" for q in range(n_queries)],
         S.RELEVANCE: [1] * n_queries}
    )  # fmt: skip
    runs = {"good": run(lambda q: 1), "mixed": run(lambda q: 1 if q % 2 else 3), "bad": run(lambda q: 5)}
    return runs, qrels


def test_compare_fills_every_field_with_holm_over_the_table_by_default():
    from statsmodels.stats.multitest import multipletests

    from daft_retrieval.report.compare import compare

    runs, qrels = synthetic_runs()
    result = compare(runs, qrels, ["RR", "nDCG@10"], trials=200)
    assert [list(t) for t in result.tests] == [FIELDS] * 4
    assert [(t["system"], t["measure"]) for t in result.tests] == [
        ("mixed", "RR"), ("bad", "RR"), ("mixed", "nDCG@10"), ("bad", "nDCG@10"),
    ]  # fmt: skip
    assert {t["baseline"] for t in result.tests} == {"good"} and {t["correction"] for t in result.tests} == {"holm"}
    t = result.tests[0]  # mixed vs good on RR: 1/3 - 1 on the even queries, a tie on the odd ones
    assert (t["wins"], t["ties"], t["losses"]) == (0, 8, 8) and t["difference"] == pytest.approx(-1 / 3)
    assert t["ci_low"] < t["difference"] < t["ci_high"] < 0 and t["effect_size"] < 0
    p = [t["p_t_test"] for t in result.tests]
    np.testing.assert_allclose([t["p_corrected"] for t in result.tests], multipletests(p, method="holm")[1])
    bad = result.tests[1]  # every difference -0.8: no variance: t = -inf (p = 0), d_z undefined, CI a point
    assert bad["p_t_test"] == bad["p_corrected"] == 0.0 and math.isnan(bad["effect_size"])
    assert bad["ci_low"] == bad["ci_high"] == pytest.approx(-0.8) and bad["losses"] == 16
    strict = result.to_json()["tests"]
    json.dumps(strict, allow_nan=False)
    assert strict[1]["p_t_test"] == 0.0 and strict[1]["effect_size"] is None
    assert "p (corrected)" in result.markdown() and "0 / 8 / 8" in result.markdown()
    plain = compare(runs, qrels, ["RR", "nDCG@10"], trials=200, correction="none")
    assert [t["p_corrected"] for t in plain.tests] == p
    with pytest.raises(DataError, match="correction must be one of holm, bh, none, not 'fdr'"):
        compare(runs, qrels, ["RR"], correction="fdr")
