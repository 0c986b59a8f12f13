"""Numbers right at every scale: exact sums, stable normalisation, non-finite fusion inputs refused, a mean over
no queries is NaN (Python) or exit 2 (CLI), a paired test over fewer than 2 queries has no p-value.

References are exact arithmetic: :class:`fractions.Fraction` for sums, :class:`decimal.Decimal` at 60 digits
for normalisations (a square root is not a fraction).
"""

from __future__ import annotations

import itertools
import math
import random
from decimal import Decimal, localcontext
from fractions import Fraction

import daft
import numpy as np
import pytest

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError, DataWarning
from daft_retrieval.evaluation import evaluate
from daft_retrieval.evaluation.measures.rbp import residual
from daft_retrieval.exact import fsum, fsum_mean, list_fsum, ordered_sums, prefix_expansions, segment_fsums
from daft_retrieval.fusion import comb_mnz, comb_sum, normalize, rrf, weighted_sum
from daft_retrieval.fusion.inputs import check_scores
from daft_retrieval.report.significance import paired_t_test, randomization_test
from tests.conftest import cli


def frame(scores: dict[str, float], query: str = "q") -> daft.DataFrame:
    return daft.from_pydict({S.QUERY_ID: [query] * len(scores), S.DOC_ID: list(scores), S.SCORE: list(scores.values())})


def by_doc(run: daft.DataFrame) -> dict[str, float]:
    d = run.to_pydict()
    return dict(zip(d[S.DOC_ID], d[S.SCORE]))


def ranking(run: daft.DataFrame) -> list[str]:
    return run.sort(S.RANK).to_pydict()[S.DOC_ID]


def hostile(rng: random.Random, n: int) -> list[float]:
    """Floats that cancel: huge and tiny magnitudes of both signs."""
    return [rng.choice([-1, 1]) * rng.random() * 10.0 ** rng.randint(-20, 20) for _ in range(n)]


# exact sums ---------------------------------------------------------------------------------------------------
def test_segment_fsums_are_the_exact_sums_rounded_once():
    rng = random.Random(3)
    values = [*hostile(rng, 500), 1e16, 1.0, -1e16]
    offsets = np.array([0, 1, 1, 200, 497, 503])
    got = segment_fsums(np.array(values), offsets)
    for (a, b), sum_ in zip(itertools.pairwise(offsets), got):
        assert sum_ == float(sum(map(Fraction, values[a:b]), Fraction(0))), (a, b)
    assert got[-1] != sum(values[497:503])  # the plain sum of that segment is off


def test_fsum_outside_the_float_range():
    assert fsum([1e308, 1e308]) == math.inf and fsum([-1e308, -1e308]) == -math.inf
    assert fsum([1e308, 1e308, -1e308]) == 1e308  # an intermediate overflow, a representable sum
    assert math.isnan(fsum([math.inf, -math.inf]))
    assert math.isnan(fsum_mean([]))


def test_prefix_expansions_sum_exactly_to_each_prefix():
    rng = random.Random(11)
    values = [*hostile(rng, 300), 1e16, 1.0, -1e16]
    prefix = prefix_expansions(values)
    assert len(prefix) == len(values) + 1 and prefix[0] == ()
    for d in range(len(prefix)):
        exact = sum(map(Fraction, values[:d]), Fraction(0))
        assert sum(map(Fraction, prefix[d]), Fraction(0)) == exact, d  # not rounded: the exact sum
        more = hostile(rng, 3)
        assert fsum([*prefix[d], *more]) == fsum([*values[:d], *more]), d


def test_rbp_residual_from_the_known_ranks_is_the_sum_over_the_unknown_ones():
    """RBP-Res adds the weights of ranks 1..d less the judged ones: the same bits as adding the unjudged weights."""
    rng = random.Random(2)
    for _ in range(200):
        p, n = rng.choice([0.5, 0.8, 0.95, 0.1, rng.random()]), rng.randint(0, 120)
        k = rng.choice([None, 1, 10, 100])
        known = sorted(rng.sample(range(1, n + 1), rng.randint(0, n)))
        depth = n if k is None else min(k, n)
        unknown = [(1.0 - p) * p ** (r - 1) for r in range(1, depth + 1) if r not in known]
        assert residual(known, n, p, k) == math.fsum([*unknown, p**depth]), (p, n, k)


def test_list_fsum_in_daft():
    rows = daft.from_pydict({"x": [[0.1] * 10, [], None, [1e16, 1.0, -1e16], [None, 2.5]]})
    assert rows.select(list_fsum(daft.col("x"))).to_pydict()["x"] == [1.0, 0.0, None, 1.0, 2.5]


def test_ordered_sums_add_in_key_order():
    rng = random.Random(5)
    keys, values, offsets = [], [], [0]
    for _ in range(40):
        n = rng.randint(0, 12)
        keys += rng.sample(range(100), n)
        values += hostile(rng, n)
        offsets.append(offsets[-1] + n)
    got = ordered_sums(np.array(keys), np.array(values), np.array(offsets))
    for i, (a, b) in enumerate(itertools.pairwise(offsets)):
        total = 0.0
        for _, v in sorted(zip(keys[a:b], values[a:b])):
            total += v
        assert got[i] == total, i


def test_a_mean_is_the_exact_sum_over_n():
    """Per-query values that cancel in a running sum: the mean is fsum / n, the same in any query order."""
    values = [1.0, 1e-16, 1e-16, 1e-16, 1e-16]
    assert sum(values) != sum(values[::-1])  # in order, each 1e-16 is lost against 1.0
    exact_sum = float(sum(map(Fraction, values), Fraction(0)))
    assert fsum_mean(values) == exact_sum / len(values) == fsum_mean(values[::-1])
    run = daft.from_pydict({S.QUERY_ID: ["q1", "q2", "q3"], S.DOC_ID: ["a", "b", "c"], S.SCORE: [1.0, 1.0, 1.0]})
    qrels = daft.from_pydict({S.QUERY_ID: ["q1", "q2", "q3"], S.DOC_ID: ["a", "b", "x"], S.RELEVANCE: [1, 1, 1]})
    assert evaluate(run, qrels, ["P@1"]).aggregate == {"P@1": float(Fraction(2, 3))}


# stable normalisation ------------------------------------------------------------------------------------------
def exact_zmuv(scores: dict[str, float]) -> dict[str, Decimal]:
    with localcontext() as ctx:
        ctx.prec = 60
        values = {d: Decimal(s) for d, s in scores.items()}  # Decimal(float) is exact
        mean = sum(values.values()) / len(values)
        std = (sum((v - mean) ** 2 for v in values.values()) / len(values)).sqrt()
        return {d: (v - mean) / std for d, v in values.items()}


def test_zmuv_of_huge_scores_with_small_offsets_is_exact():
    offsets = [0.0, 0.25, 0.5, 3.0, 7.75, 8.0, 11.5]
    scores = {f"d{i}": 1e10 + o for i, o in enumerate(offsets)}  # every 1e10 + o is exact in float64
    got = by_doc(normalize(frame(scores), "zmuv"))
    for doc, value in exact_zmuv(scores).items():
        assert got[doc] == pytest.approx(float(value), rel=1e-12, abs=1e-12), doc
    naive = np.array(list(scores.values()))
    var = (naive * naive).mean() - naive.mean() ** 2  # E[s^2] - mean^2: what zmuv computed before
    assert abs(var - np.var(offsets)) > 1.0  # cancels to noise at this scale


def test_zmuv_fusion_ranks_as_exact_arithmetic():
    rng = random.Random(11)
    docs = [f"d{i:02d}" for i in range(30)]
    a = {d: 1e10 + rng.randint(0, 4000) / 64 for d in docs}  # huge scores, small spread
    b = {d: rng.uniform(-3, 3) for d in docs}
    za, zb = exact_zmuv(a), exact_zmuv(b)
    exact = {d: Decimal("0.7") * za[d] + Decimal("0.3") * zb[d] for d in docs}
    ordered = sorted(docs, key=lambda d: (exact[d], d), reverse=True)  # trec_eval order: ties by doc id desc
    gaps = [exact[x] - exact[y] for x, y in itertools.pairwise(ordered)]
    assert min(gaps) > Decimal("1e-9")  # no near-tie: the exact ranking is unambiguous
    fused = weighted_sum([frame(a), frame(b)], [0.7, 0.3], norm="zmuv")
    assert ranking(fused) == ordered


def test_min_max_and_sum_at_extreme_scales():
    huge = {"a": 1e16, "b": 1e16 + 2, "c": 1e16 + 6, "d": 1e16 + 8}  # spaced by 2: the float grid there
    assert by_doc(normalize(frame(huge), "min-max")) == {"a": 0.0, "b": 0.25, "c": 0.75, "d": 1.0}
    assert by_doc(normalize(frame(huge), "sum")) == {"a": 0.0, "b": 2 / 16, "c": 6 / 16, "d": 8 / 16}
    wide = {"a": -1e308, "b": 0.0, "c": 1e308}  # max - min overflows unscaled
    assert by_doc(normalize(frame(wide), "min-max")) == {"a": 0.0, "b": 0.5, "c": 1.0}
    z = by_doc(normalize(frame(wide), "zmuv"))  # squares overflow unscaled
    assert z == pytest.approx({"a": -math.sqrt(1.5), "b": 0.0, "c": math.sqrt(1.5)}, rel=1e-12)
    tiny = {"a": 1e-300, "b": 3e-300}  # a spread far below ranx's 1e-9 floor still normalises
    assert by_doc(normalize(frame(tiny), "min-max")) == {"a": 0.0, "b": 1.0}
    assert by_doc(normalize(frame(tiny), "zmuv")) == pytest.approx({"a": -1.0, "b": 1.0}, rel=1e-12)


@pytest.mark.parametrize("method", ["min-max", "zmuv", "sum"])
def test_no_spread_normalises_to_zero(method):
    """One document, or all scores equal (so the sum of s - min is 0): 0, never 0 / 0."""
    for scores in ({"a": 5.0}, {"a": 0.1, "b": 0.1, "c": 0.1}, {"a": -0.0, "b": 0.0}, {"a": 1e10, "b": 1e10}):
        values = by_doc(normalize(frame(scores), method))
        assert values == dict.fromkeys(scores, 0.0), (method, scores)
        assert all(math.copysign(1.0, v) == 1.0 for v in values.values())  # no -0.0


def test_sum_normalisation_with_negative_scores():
    scores = {"a": -3.0, "b": -1.0, "c": 1.0}  # s - min = 0, 2, 4; their sum 6
    assert by_doc(normalize(frame(scores), "sum")) == {"a": 0.0, "b": 2 / 6, "c": 4 / 6}


# non-finite fusion inputs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("fuse", [rrf, comb_sum, comb_mnz, lambda runs: weighted_sum(runs, [1.0, 2.0], norm="zmuv")])
def test_a_fusion_refuses_a_score_that_is_not_finite(bad, fuse):
    good = frame({"d1": 1.0, "d2": 2.0})
    broken = daft.from_pydict({S.QUERY_ID: ["q", "q7"], S.DOC_ID: ["d1", "d9"], S.SCORE: [1.0, bad]})
    with pytest.raises(DataError, match=r"run 2: query 'q7' doc 'd9' has score (inf|-inf|nan); fusion needs a finite"):
        fuse([good, broken])


def test_a_fusion_refuses_a_document_listed_twice_and_bad_weights():
    twice = daft.from_pydict({S.QUERY_ID: ["q", "q"], S.DOC_ID: ["d1", "d1"], S.SCORE: [1.0, 2.0]})
    with pytest.raises(DataError, match="rrf run 1: query 'q' lists doc 'd1' 2 times"):
        rrf([twice])
    for weight in (math.nan, math.inf, "1"):
        with pytest.raises(DataError, match="weights must be finite numbers"):
            weighted_sum([frame({"a": 1.0})], [weight])
    with pytest.raises(DataError, match="rrf k must be a finite number"):
        rrf([frame({"a": 1.0})], k=math.nan)


def test_check_scores_names_the_file_and_line(tmp_path):
    from daft_retrieval.load import read_run

    path = tmp_path / "dense.run"
    path.write_text("q1 Q0 d1 1 2.0 x\n\nq1 Q0 d2 2 inf x\n")
    with pytest.raises(DataError, match=r"dense.run:3: the score \(field 5\) is 'inf'"):
        check_scores(read_run(str(path)), "dense", path=str(path))


def test_cli_fuse_names_the_file_and_line_of_an_inf_score(tmp_path, capsys):
    a, b, out = tmp_path / "a.run", tmp_path / "b.run", tmp_path / "fused.run"
    a.write_text("q1 Q0 d1 1 3.0 a\nq1 Q0 d2 2 2.0 a\n")
    b.write_text("q1 Q0 d3 1 9.0 b\nq1 Q0 d4 2 -Infinity b\n")
    status, _, err = cli(["fuse", "--method", "combsum", a, b, "--output-run", out], capsys)
    assert status == 2, err
    assert err.count("\n") == 1 and "b.run:2: the score (field 5) is '-Infinity'" in err
    assert not out.exists()


# means over no queries -------------------------------------------------------------------------------------------
def test_a_mean_over_no_queries_is_nan_with_a_warning():
    run = daft.from_pydict({S.QUERY_ID: ["q1"], S.DOC_ID: ["d1"], S.SCORE: [1.0]})
    qrels = daft.from_pydict({S.QUERY_ID: ["7"], S.DOC_ID: ["d1"], S.RELEVANCE: [1]})
    with pytest.warns(DataWarning, match=r"no query is in both the run \(e.g. \['q1'\]\) and the qrels \(e.g. \['7'\]"):
        both = evaluate(run, qrels, ["nDCG@10", "P@1"], queries="both")
    assert set(both.aggregate) == {"nDCG@10", "P@1"} and all(math.isnan(v) for v in both.aggregate.values())
    assert both.per_query.count_rows() == 0
    assert evaluate(run, qrels, ["P@1"]).aggregate == {"P@1": 0.0}  # "qrels": query 7 is counted, as 0
    empty = qrels.where(daft.col(S.RELEVANCE) > 5)
    with pytest.warns(DataWarning, match="the qrels are empty"):
        assert math.isnan(evaluate(run, empty, ["RR"]).aggregate["RR"])
    with pytest.raises(DataError, match="no query to average over: no query is in both"):
        evaluate(run, qrels, ["RR"], queries="both", empty="error")


def test_cli_evaluate_exits_2_on_no_queries(tmp_path, capsys):
    qrels, run = tmp_path / "qrels.txt", tmp_path / "run.txt"
    qrels.write_text("1 0 d1 1\n2 0 d2 1\n")
    run.write_text("q1 Q0 d1 1 3.0 t\n")
    status, out, err = cli(["evaluate", qrels, run, "-m", "nDCG@10", "--queries-in", "both", "--json"], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "no query to average over: no query is in both the run" in err


# paired tests ----------------------------------------------------------------------------------------------------
def test_a_paired_test_over_fewer_than_two_queries_has_no_p_value():
    for a, b in (([], []), ([0.3], [0.9])):
        assert math.isnan(paired_t_test(a, b)) and math.isnan(randomization_test(a, b, trials=50))
    with pytest.raises(DataError, match="one length"):
        paired_t_test([0.1, 0.2], [0.1])


def test_the_t_test_is_scipys_also_without_variance():
    from scipy.stats import ttest_rel

    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    assert paired_t_test(a, b) == float(ttest_rel(b, a).pvalue)
    assert math.isnan(paired_t_test([0.2, 0.4], [0.2, 0.4]))  # every difference 0: t = 0 / 0, as SciPy
    assert paired_t_test([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]) == 0.0  # equal non-zero differences: t = inf


def test_the_randomization_test_is_the_same_at_every_scale():
    rng = np.random.default_rng(2)
    a, b = rng.random(12), rng.random(12)
    p = randomization_test(a, b, trials=2000)
    assert 0.0 < p < 1.0
    for scale in (1e-20, 1e-9, 1e9):  # an absolute tolerance (1e-12 before) counted every flip at 1e-20
        assert randomization_test(a * scale, b * scale, trials=2000) == p, scale
    assert randomization_test(a, a, trials=99) == 1.0  # no difference: every flip is as extreme
