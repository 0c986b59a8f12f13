"""Measures without a trec_eval counterpart (RBP, ERR, nDCG's other gains, SetF's beta) against plain-Python references
written from the published formulas, on the 200 random cases of test_metrics_parity in one batched evaluation."""

from __future__ import annotations

import math
import random

import pytest

from daft_retrieval.evaluation import evaluate, parse_measure
from tests.test_metrics_parity import SEEDS, _case_query, random_case, to_frames


def ranking(run: dict[str, float]) -> list[str]:
    """trec_eval's order: score descending, then doc id descending."""
    return [d for d, _ in sorted(run.items(), key=lambda x: (x[1], x[0]), reverse=True)]


def rbp(docs: list[str], judgements: dict[str, int], p: float, rel: int, k: int | None) -> float:
    """Moffat & Zobel (2008): (1 - p) * sum_i [rel_i >= rel] p^(i-1)."""
    top = docs if k is None else docs[:k]
    return (1 - p) * sum(p ** (i - 1) for i, d in enumerate(top, 1) if judgements.get(d, 0) >= rel)


def rbp_residual(docs: list[str], judgements: dict[str, int], p: float, k: int | None) -> float:
    """Moffat & Zobel (2008): the RBP weight of the unjudged ranks read plus p^d for the ranks past them."""
    top = docs if k is None else docs[:k]
    unknown = sum(p ** (i - 1) for i, d in enumerate(top, 1) if judgements.get(d, -1) < 0)
    return (1 - p) * unknown + p ** len(top)


def err(docs: list[str], judgements: dict[str, int], k: int, gmax: int) -> float:
    """Chapelle et al. (2009): sum_r 1/r R_r prod_{i<r} (1 - R_i), R = (2^g - 1) / 2^gmax."""
    total, stay = 0.0, 1.0
    for r, d in enumerate(docs[:k], 1):
        g = min(max(judgements.get(d, 0), 0), gmax)
        stop = (2**g - 1) / 2**gmax
        total += stay * stop / r
        stay *= 1 - stop
    return total


def ndcg(docs: list[str], judgements: dict[str, int], k: int | None, gain) -> float:
    """Järvelin & Kekäläinen (2002): DCG@k / ideal DCG@k, discount log2(i + 1), the ideal over every judged doc."""

    def dcg(gains: list[float]) -> float:
        return sum(g / math.log2(i + 1) for i, g in enumerate(gains[:k] if k else gains, 1))

    ideal = dcg(sorted((gain(v) for v in judgements.values()), reverse=True))
    return dcg([gain(judgements.get(d, 0)) for d in docs]) / ideal if ideal > 0 else 0.0


def exp_gain(level: int) -> float:
    return 2**level - 1 if level > 0 else 0  # Burges et al. (2005)


def mapped(table: dict[int, float]):
    return lambda level: table.get(level, 0) if level > 0 else 0


def iprec(docs: list[str], judgements: dict[str, int], r: float, rounding: str) -> float:
    """Interpolated precision at recall r: the best precision at or below the rank where the c-th relevant
    document is retrieved, c = r * |relevant| rounded as trec_eval 9 (up from .1) or 10.0 (to nearest)."""
    relevant = sum(v >= 1 for v in judgements.values())
    x = r * relevant
    c = math.floor(x + 0.9) if rounding == "up" else math.floor(x) + (x - math.floor(x) >= 0.5)
    found = [i for i, d in enumerate(docs, 1) if judgements.get(d, 0) >= 1]
    if c > len(found) or not found:
        return 0.0
    start = found[c - 1] if c > 0 else 1
    return max(sum(judgements.get(d, 0) >= 1 for d in docs[:i]) / i for i in range(start, len(docs) + 1))


def set_f(docs: list[str], judgements: dict[str, int], beta: float, rel: int) -> float:
    """van Rijsbergen's F_beta of set precision and set recall: (1 + b^2) P R / (b^2 P + R), 0 when P + R = 0."""
    relret = sum(judgements.get(d, 0) >= rel for d in docs)
    relevant = sum(v >= rel for v in judgements.values())
    p = relret / len(docs) if docs else 0.0
    r = relret / relevant if relevant else 0.0
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r > 0 else 0.0


REFERENCES = {
    "SetF": lambda docs, j: set_f(docs, j, 1.0, 1),  # also checked against pytrec_eval
    "SetF(beta=0.5)": lambda docs, j: set_f(docs, j, 0.5, 1),
    "SetF(rel=2,beta=3.0)": lambda docs, j: set_f(docs, j, 3.0, 2),
    "RBP": lambda docs, j: rbp(docs, j, 0.8, 1, None),
    "RBP(p=0.5)": lambda docs, j: rbp(docs, j, 0.5, 1, None),
    "RBP(rel=2,p=0.95)@10": lambda docs, j: rbp(docs, j, 0.95, 2, 10),
    "RBP@3": lambda docs, j: rbp(docs, j, 0.8, 1, 3),
    "RBP-Res": lambda docs, j: rbp_residual(docs, j, 0.8, None),
    "RBP-Res(p=0.5)@5": lambda docs, j: rbp_residual(docs, j, 0.5, 5),
    "RBP-Res(p=0.95)@100": lambda docs, j: rbp_residual(docs, j, 0.95, 100),
    "ERR@1": lambda docs, j: err(docs, j, 1, 4),
    "ERR@10": lambda docs, j: err(docs, j, 10, 4),
    "ERR(gmax=3)@20": lambda docs, j: err(docs, j, 20, 3),
    "ERR(gmax=2)@5": lambda docs, j: err(docs, j, 5, 2),  # grade 3 counts as 2
    "IPrec@0.3": lambda docs, j: iprec(docs, j, 0.3, "up"),  # also checked against pytrec_eval
    "IPrec(rounding='nearest')@0.3": lambda docs, j: iprec(docs, j, 0.3, "nearest"),
    "IPrec(rounding='nearest')@0.5": lambda docs, j: iprec(docs, j, 0.5, "nearest"),
    "IPrec(rounding='nearest')@0.0": lambda docs, j: iprec(docs, j, 0.0, "nearest"),
    "IPrec(rounding='nearest')@1.0": lambda docs, j: iprec(docs, j, 1.0, "nearest"),
    "11pt(rounding='nearest')": lambda docs, j: sum(iprec(docs, j, i / 10, "nearest") for i in range(11)) / 11,
    "nDCG(dcg='exp-log2')@10": lambda docs, j: ndcg(docs, j, 10, exp_gain),
    "nDCG(dcg='exp-log2')": lambda docs, j: ndcg(docs, j, None, exp_gain),
    "nDCG(gains={0:0,1:1,2:3})@5": lambda docs, j: ndcg(docs, j, 5, mapped({1: 1, 2: 3})),  # level 3 gains 0
    "nDCG(gains={1:5,2:1,3:0.5})@20": lambda docs, j: ndcg(docs, j, 20, mapped({1: 5, 2: 1, 3: 0.5})),  # not monotone
    "nDCG(gains={0:0,1:1,2:2,3:3})@20": lambda docs, j: ndcg(docs, j, 20, mapped({1: 1, 2: 2, 3: 3})),  # = linear
}
MEASURES = list(REFERENCES)


def test_measure_strings_round_trip():
    for text in MEASURES:
        assert str(parse_measure(text)) == text
    assert str(parse_measure("RBP(p=0.8)")) == "RBP"  # the default is left out
    assert str(parse_measure("ERR(gmax=4)@10")) == "ERR@10"
    assert str(parse_measure("RBP(p=0.95, rel=2)@10")) == "RBP(rel=2,p=0.95)@10"
    assert str(parse_measure("SetF(beta=1)")) == "SetF"
    assert str(parse_measure("SetF(beta=2)")) == "SetF(beta=2.0)"


@pytest.fixture(scope="module")
def batch():
    cases = {seed: random_case(random.Random(seed)) for seed in SEEDS}
    run = {_case_query(s, q): ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {_case_query(s, q): ds for s, (_, j) in cases.items() for q, ds in j.items()}
    result = evaluate(*to_frames(run, qrels), [*MEASURES, "nDCG@20"])
    per_query = {(r["query_id"], r["measure"]): r["value"] for r in result.per_query.to_pylist()}
    return run, qrels, result, per_query


def test_per_query_values_and_means_match_the_references(batch):
    run, qrels, result, per_query = batch
    checked = 0
    for m, reference in REFERENCES.items():
        expected = {q: reference(ranking(run.get(q, {})), j) for q, j in qrels.items()}
        for q, value in expected.items():
            assert math.isclose(per_query[(q, m)], value, abs_tol=1e-12), (m, q)
            checked += 1
        assert math.isclose(result.aggregate[m], math.fsum(expected.values()) / len(expected), abs_tol=1e-12), m
    assert checked > len(REFERENCES) * 1000
    assert any(per_query[(q, "ERR(gmax=2)@5")] > 0 for q in qrels)
    for q in qrels:  # RBP + its residual is at most 1 (every unknown doc relevant)
        assert per_query[(q, "RBP")] + per_query[(q, "RBP-Res")] <= 1 + 1e-12
    # trec_eval 10.0's rounding changes IPrec on some queries (7 relevant: 0.3 reads the 2nd, not the 3rd)
    assert any(per_query[(q, "IPrec@0.3")] != per_query[(q, "IPrec(rounding='nearest')@0.3")] for q in qrels)
    for q in qrels:  # a gain map equal to the linear gains is linear nDCG (trec_eval's, checked against pytrec_eval)
        assert math.isclose(
            per_query[(q, "nDCG(gains={0:0,1:1,2:2,3:3})@20")], per_query[(q, "nDCG@20")], abs_tol=1e-12
        )
