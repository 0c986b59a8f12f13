"""Fusion: hand arithmetic on tiny runs, and equality with ranx (a dev dependency) on random runs to 1e-9."""

from __future__ import annotations

import math
import random

import daft
import pytest

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.fusion import comb_mnz, comb_sum, normalize, rrf, weighted_sum


def frame(run: dict[str, dict[str, float]]) -> daft.DataFrame:
    rows = [(q, d, s) for q, ds in run.items() for d, s in ds.items()]
    return daft.from_pydict(
        {S.QUERY_ID: [r[0] for r in rows], S.DOC_ID: [r[1] for r in rows], S.SCORE: [r[2] for r in rows]}
    )


def as_dict(run: daft.DataFrame) -> dict[tuple[str, str], float]:
    return {(r[S.QUERY_ID], r[S.DOC_ID]): r[S.SCORE] for r in run.to_pylist()}


A = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}
B = {"q1": {"d3": 9.0, "d4": 5.0}}


def test_rrf_arithmetic():
    fused = as_dict(rrf([frame(A), frame(B)]))
    assert fused[("q1", "d3")] == 1 / (60 + 3) + 1 / (60 + 1)
    assert fused[("q1", "d1")] == 1 / (60 + 1)
    assert fused[("q1", "d4")] == 1 / (60 + 2)
    ranked = rrf([frame(A), frame(B)]).sort(S.RANK).to_pydict()[S.DOC_ID]
    assert ranked == ["d3", "d1", "d4", "d2"]


def test_rrf_ranks_ties_as_trec_eval():
    tied = {"q1": {"a": 1.0, "b": 1.0}}  # trec_eval order: b before a (doc id descending)
    fused = as_dict(rrf([frame(tied)], k=0))
    assert fused[("q1", "b")] == 1.0 and fused[("q1", "a")] == 0.5


def test_combsum_combmnz_wsum_arithmetic():
    # min-max: A -> d1 1, d2 0.5, d3 0; B -> d3 1, d4 0
    s = as_dict(comb_sum([frame(A), frame(B)]))
    assert s[("q1", "d3")] == 0 + 1 and s[("q1", "d2")] == 0.5
    m = as_dict(comb_mnz([frame(A), frame(B)]))
    assert m[("q1", "d3")] == (0 + 1) * 2 and m[("q1", "d1")] == 1 * 1
    w = as_dict(weighted_sum([frame(A), frame(B)], [0.25, 0.75]))
    assert w[("q1", "d3")] == 0.25 * 0 + 0.75 * 1 and w[("q1", "d1")] == 0.25
    with pytest.raises(DataError, match="one weight per run"):
        weighted_sum([frame(A), frame(B)], [1.0])
    with pytest.raises(DataError, match="unknown normalisation"):
        normalize(frame(A), "l2")


def random_run(rng: random.Random, queries: int) -> dict[str, dict[str, float]]:
    run = {}
    for q in range(queries):
        docs = rng.sample(range(40), rng.randint(1, 25))
        run[f"q{q}"] = {f"d{d}": rng.uniform(-5, 20) for d in docs}  # distinct scores: ranks are unambiguous
    return run


@pytest.mark.parametrize("seed", range(25))
def test_fusion_equals_ranx(seed):
    ranx = pytest.importorskip("ranx", reason="ranx is a dev dependency")
    rng = random.Random(seed)
    runs = [random_run(rng, 6) for _ in range(rng.randint(2, 4))]
    frames = [frame(r) for r in runs]
    weights = [rng.uniform(0.1, 1.0) for _ in runs]
    cases = [
        (rrf(frames), ranx.fuse([ranx.Run(r) for r in runs], norm=None, method="rrf")),
        (comb_sum(frames), ranx.fuse([ranx.Run(r) for r in runs], norm="min-max", method="sum")),
        (comb_mnz(frames), ranx.fuse([ranx.Run(r) for r in runs], norm="min-max", method="mnz")),
    ]
    for norm in ("min-max", "zmuv", "sum"):
        ours = weighted_sum(frames, weights, norm=norm)
        ref = ranx.fuse([ranx.Run(r) for r in runs], norm=norm, method="wsum", params={"weights": weights})
        cases.append((ours, ref))
    for ours, ref in cases:
        got = as_dict(ours)
        expected = {(q, d): s for q, ds in ref.to_dict().items() for d, s in ds.items()}
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-9), (seed, key, got[key], value)
