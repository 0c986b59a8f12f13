"""Every measure equals pytrec_eval (trec_eval's C code) to 1e-9, per query and on average, on random runs."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import daft
import pytest

from daft_retrieval.errors import DataWarning
from daft_retrieval.evaluation import evaluate, parse_measure

pytrec_eval = pytest.importorskip("pytrec_eval", reason="pytrec-eval-terrier is a dev dependency")

# ours -> (pytrec_eval measure, key in its output)
PAIRS = {
    "nDCG@5": ("ndcg_cut.5", "ndcg_cut_5"),
    "nDCG@20": ("ndcg_cut.20", "ndcg_cut_20"),
    "nDCG": ("ndcg", "ndcg"),
    "R@3": ("recall.3", "recall_3"),
    "R@50": ("recall.50", "recall_50"),
    "P@1": ("P.1", "P_1"),
    "P@7": ("P.7", "P_7"),
    "P@40": ("P.40", "P_40"),
    "AP@4": ("map_cut.4", "map_cut_4"),
    "AP@100": ("map_cut.100", "map_cut_100"),
    "AP": ("map", "map"),
    "RR": ("recip_rank", "recip_rank"),
    "R-Prec": ("Rprec", "Rprec"),
    "Success@3": ("success.3", "success_3"),
    "NumQ": ("num_q", "num_q"),
    "NumRet": ("num_ret", "num_ret"),
    "NumRel": ("num_rel", "num_rel"),
    "NumRelRet": ("num_rel_ret", "num_rel_ret"),
    "SetP": ("set_P", "set_P"),
    "SetR": ("set_recall", "set_recall"),
    "SetF": ("set_F", "set_F"),
    "Bpref": ("bpref", "bpref"),
    "infAP": ("infAP", "infAP"),
    **{f"IPrec@{r / 10}": ("iprec_at_recall", f"iprec_at_recall_{r / 10:.2f}") for r in range(11)},
    "11pt": ("11pt_avg", "11pt_avg"),
    "GMAP": ("gm_map", "gm_map"),  # per query log(max(AP, 1e-5)), as pytrec_eval reports it
}
THRESHOLDED = {
    "P(rel=2)@5": ("P.5", "P_5", 2),
    "R(rel=2)@10": ("recall.10", "recall_10", 2),
    "AP(rel=3)": ("map", "map", 3),
    "RR(rel=2)": ("recip_rank", "recip_rank", 2),
    "NumRet(rel=2)": ("num_rel_ret", "num_rel_ret", 2),
    "NumRel(rel=3)": ("num_rel", "num_rel", 3),
    "SetF(rel=2)": ("set_F", "set_F", 2),
    "Bpref(rel=2)": ("bpref", "bpref", 2),
    "infAP(rel=3)": ("infAP", "infAP", 3),
    "IPrec(rel=2)@0.3": ("iprec_at_recall", "iprec_at_recall_0.30", 2),
    "11pt(rel=3)": ("11pt_avg", "11pt_avg", 3),
    "GMAP(rel=2)": ("gm_map", "gm_map", 2),
}
MRR = {"MRR@3": 3, "MRR@10": 10, "RR@5": 5}
JUDGED = {"Judged@1": 1, "Judged@5": 5, "Judged@20": 20}  # no trec_eval measure: a plain-Python reference
# judged_only=True (ir_measures; Sakai, 2007): pytrec_eval on the run less its documents without a judgement >= 0
# (ours -> key in pytrec_eval's output, relevance level, cutoff of a truncated run as for MRR)
JUDGED_ONLY = {
    "nDCG(judged_only=True)@5": ("ndcg_cut_5", 1, None),
    "nDCG(judged_only=True)": ("ndcg", 1, None),
    "P(judged_only=True)@7": ("P_7", 1, None),
    "P(rel=2,judged_only=True)@5": ("P_5", 2, None),
    "AP(judged_only=True)": ("map", 1, None),
    "AP(judged_only=True)@100": ("map_cut_100", 1, None),
    "RR(judged_only=True)": ("recip_rank", 1, None),
    "MRR(judged_only=True)@3": ("recip_rank", 1, 3),
    "R(judged_only=True)@3": ("recall_3", 1, None),
    "R-Prec(judged_only=True)": ("Rprec", 1, None),
    "Success(judged_only=True)@3": ("success_3", 1, None),
    "SetP(judged_only=True)": ("set_P", 1, None),
    "SetF(rel=2,judged_only=True)": ("set_F", 2, None),
    "IPrec(judged_only=True)@0.3": ("iprec_at_recall_0.30", 1, None),
}


def missing(measure: str, judgements: dict[str, int]) -> float:
    """The value of a judged query absent from the run (trec_eval -c evaluates it on an empty ranking; pytrec_eval
    reports no value): NumQ 1 and NumRel the query's relevant count, every other measure 0."""
    if measure == "NumQ":
        return 1.0
    if measure.startswith("GMAP"):
        return math.log(1e-5)  # AP 0
    if measure.startswith("NumRel") and not measure.startswith("NumRelRet"):
        level = parse_measure(measure).threshold
        return float(sum(v >= level for v in judgements.values()))
    return 0.0


# trec_eval keeps measure parameters (cutoffs) in global tables: evaluators built with different parameter
# strings in one process interfere (and can hang), so every evaluator here asks for this one set.
TREC_MEASURES = {
    "ndcg_cut.5,20",
    "ndcg",
    "recall.3,10,50",
    "P.1,5,7,40",
    "map_cut.4,100",
    "map",
    "recip_rank",
    "Rprec",
    "success.3",
    "num_q",
    "num_ret",
    "num_rel",
    "num_rel_ret",
    "set_P",
    "set_recall",
    "set_F",
    "bpref",
    "infAP",
    "iprec_at_recall",
    "11pt_avg",
    "gm_map",
}


def random_case(rng: random.Random):
    """A run and graded qrels with ties, missing queries, unjudged docs and short lists."""
    docs = [f"d{i}" for i in range(rng.randint(5, 60))]  # d1 < d10 < d2: string order matters for ties
    queries = [f"q{i}" for i in range(rng.randint(1, 12))]
    qrels: dict[str, dict[str, int]] = {}
    for q in queries:
        if rng.random() < 0.15:
            continue  # a query without judgements (only in the run)
        judged = rng.sample(docs, rng.randint(1, min(len(docs), 15)))
        qrels[q] = {d: rng.choice([-1, 0, 0, 1, 1, 2, 3]) for d in judged}
        if max(qrels[q].values()) < 0:  # see test_query_judged_only_negative for this case
            qrels[q][judged[0]] = 0
    run: dict[str, dict[str, float]] = {}
    for q in queries:
        if rng.random() < 0.2:
            continue  # a query absent from the run
        retrieved = rng.sample(docs, rng.randint(1, len(docs)))
        levels = rng.choice([3, 5, 1000])  # few levels -> many ties
        run[q] = {d: float(rng.randint(0, levels)) / 7.0 for d in retrieved}
    if not qrels:
        qrels[queries[0]] = {docs[0]: 1}
    return run, qrels


def to_frames(run, qrels):
    r = [(q, d, s) for q, ds in run.items() for d, s in ds.items()]
    j = [(q, d, v) for q, ds in qrels.items() for d, v in ds.items()]
    run_df = daft.from_pydict({"query_id": [x[0] for x in r], "doc_id": [x[1] for x in r], "score": [x[2] for x in r]})
    qrels_df = daft.from_pydict(
        {"query_id": [x[0] for x in j], "doc_id": [x[1] for x in j], "relevance": [x[2] for x in j]}
    )
    return run_df, qrels_df


def judged_run(run, qrels):
    """The run less the documents without a judgement >= 0 (a query left with none dropped)."""
    kept = {q: {d: v for d, v in ds.items() if qrels.get(q, {}).get(d, -1) >= 0} for q, ds in run.items()}
    return {q: ds for q, ds in kept.items() if ds}


def truncate_trec(run, k):
    """The top k of each ranking in trec_eval order (score desc, doc id desc)."""
    out = {}
    for q, ds in run.items():
        ranked = sorted(ds.items(), key=lambda x: (x[1], x[0]), reverse=True)[:k]
        out[q] = dict(ranked)
    return out


_EVALUATORS: list = []


def trec_evaluate(qrels, run):
    """pytrec_eval over our fixed measure set (evaluators kept alive: freeing one can upset the next)."""
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, TREC_MEASURES)
    _EVALUATORS.append(evaluator)
    return evaluator.evaluate(run)


def reference(run, qrels) -> dict[str, dict[str, float]]:
    """pytrec_eval values per measure per query, over queries in run and qrels (missing ones filled later)."""
    ref: dict[str, dict[str, float]] = {}
    base = trec_evaluate(qrels, run)
    for ours, (_, key) in PAIRS.items():
        ref[ours] = {q: v[key] for q, v in base.items()}
    for ours, (_, key, level) in THRESHOLDED.items():
        # trec_eval's relevance_level=level, written as binarised qrels (the same thing for binary measures);
        # negative judgements stay negative (bpref reads them as unjudged, not as non-relevant)
        binary = {q: {d: int(v >= level) if v >= 0 else v for d, v in ds.items()} for q, ds in qrels.items()}
        res = trec_evaluate(binary, run)
        ref[ours] = {q: v[key] for q, v in res.items()}
    for ours, k in MRR.items():
        res = trec_evaluate(qrels, truncate_trec(run, k))
        ref[ours] = {q: v["recip_rank"] for q, v in res.items()}
    condensed = judged_run(run, qrels)
    for ours, (key, level, k) in JUDGED_ONLY.items():
        graded = (
            qrels
            if level == 1
            else {q: {d: int(v >= level) if v >= 0 else v for d, v in ds.items()} for q, ds in qrels.items()}
        )
        res = trec_evaluate(graded, truncate_trec(condensed, k) if k else condensed) if condensed else {}
        ref[ours] = {q: res[q][key] if q in res else 0.0 for q in run if q in qrels}  # none judged: 0
    for ours, k in JUDGED.items():
        top = truncate_trec(run, k)
        ref[ours] = {q: sum(d in qrels[q] for d in top[q]) / len(top[q]) for q in run if q in qrels}
    return ref


MEASURES = [*PAIRS, *THRESHOLDED, *MRR, *JUDGED, *JUDGED_ONLY]
COUNTS = {"NumQ", "NumRet", "Judged@1", "Judged@5", "Judged@20"}  # nonzero for a query without relevant docs
GEOMETRIC = {"GMAP", "GMAP(rel=2)"}  # per query a log; the aggregate is exp of the mean of the logs


def mean_of(measure: str, values: list[float]) -> float:
    """What evaluate's aggregate of these per-query values should be: their mean, or for GMAP exp(mean)."""
    mean = math.fsum(values) / len(values)
    return math.exp(mean) if measure in GEOMETRIC else mean


def test_measure_strings_round_trip():
    for text in MEASURES:
        assert str(parse_measure(text)) == text


SEEDS = range(200)


def _case_query(seed: int, query: str) -> str:
    return f"s{seed}/{query}"


@pytest.fixture(scope="module")
def batch():
    """All 200 random cases in one run and one qrels (query ids prefixed by the case's seed: a query's documents
    and their order are the case's), evaluated once over the qrels' queries and once over queries in both."""
    cases = {seed: random_case(random.Random(seed)) for seed in SEEDS}
    run = {_case_query(s, q): ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {_case_query(s, q): ds for s, (_, j) in cases.items() for q, ds in j.items()}
    run_df, qrels_df = to_frames(run, qrels)
    ours = evaluate(run_df, qrels_df, MEASURES)
    both = evaluate(run_df, qrels_df, MEASURES, queries="both")
    return {
        "cases": cases,
        "ours": ours,
        "both": both,
        "per_query": {(r["query_id"], r["measure"]): r["value"] for r in ours.per_query.to_pylist()},
        "per_query_both": {(r["query_id"], r["measure"]): r["value"] for r in both.per_query.to_pylist()},
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_random_run_matches_pytrec_eval(seed, batch):
    """Per query and per measure, the case's values in the batched evaluation equal pytrec_eval's on the case
    alone (over the qrels' queries, and over queries in both: the same values, only for those queries); the
    case's means (trec_eval -c, and over queries in both) equal the means of pytrec_eval's values."""
    run, qrels = batch["cases"][seed]
    ref = reference(run, qrels)
    in_both = [q for q in qrels if q in run]
    prefix = _case_query(seed, "")
    reported_both = sorted({q for q, _ in batch["per_query_both"] if q.startswith(prefix)})
    assert reported_both == sorted(_case_query(seed, q) for q in in_both), seed
    for m in MEASURES:
        ours = {q: batch["per_query"][(_case_query(seed, q), m)] for q in qrels}
        for q in qrels:  # every qrels query is reported; one absent from the run scores 0
            expected = ref[m].get(q, missing(m, qrels[q]))
            assert math.isclose(ours[q], expected, abs_tol=1e-9), (seed, m, q)
        for q in in_both:
            assert math.isclose(batch["per_query_both"][(_case_query(seed, q), m)], ref[m][q], abs_tol=1e-9)
        mean_c = sum(ref[m].get(q, missing(m, qrels[q])) for q in qrels) / len(qrels)  # trec_eval -c
        assert math.isclose(math.fsum(ours.values()) / len(qrels), mean_c, abs_tol=1e-9), (seed, m)
    if not in_both:  # a mean over no queries is NaN (with a DataWarning), not 0: this case on its own
        run_df, qrels_df = to_frames(run, qrels)
        with pytest.warns(DataWarning, match="no query to average over"):
            alone = evaluate(run_df, qrels_df, MEASURES, queries="both")
        for m in MEASURES:
            assert math.isnan(alone.aggregate[m]), (seed, m)


def test_batched_means_match_pytrec_eval(batch):
    """evaluate's own means over the 200 cases' queries: over the qrels' queries (trec_eval -c) and over queries
    in both, against the means of pytrec_eval's per-query values."""
    refs = {seed: reference(*case) for seed, case in batch["cases"].items()}
    for m in MEASURES:
        c, in_both = [], []
        for seed, (run, qrels) in batch["cases"].items():
            c += [refs[seed][m].get(q, missing(m, qrels[q])) for q in qrels]
            in_both += [refs[seed][m][q] for q in qrels if q in run]
        assert math.isclose(batch["ours"].aggregate[m], mean_of(m, c), abs_tol=1e-9), m
        assert math.isclose(batch["both"].aggregate[m], mean_of(m, in_both), abs_tol=1e-9), m


def test_query_judged_only_negative():
    """A query whose judgements are all < 0 has no relevant document: every measure is 0, and it counts in the
    mean. (pytrec-eval-terrier 0.5.11 hangs when a second evaluator sees such qrels, so the reference here is
    the arithmetic.)"""
    run = daft.from_pydict({"query_id": ["a", "a", "b"], "doc_id": ["d1", "d2", "d1"], "score": [2.0, 1.0, 1.0]})
    qrels = daft.from_pydict({"query_id": ["a", "b"], "doc_id": ["d1", "d1"], "relevance": [-1, 1]})
    result = evaluate(run, qrels, MEASURES)
    for m in [m for m in MEASURES if m not in COUNTS]:
        values = {r["query_id"]: r["value"] for r in result.per_query.to_pylist() if r["measure"] == m}
        if m in GEOMETRIC:  # AP 0: log(1e-5)
            assert values["a"] == math.log(1e-5), m
            assert result.aggregate[m] == math.exp((values["a"] + values["b"]) / 2), m
            continue
        assert values["a"] == 0.0, m
        assert result.aggregate[m] == values["b"] / 2, m
    counts = {r["measure"]: r["value"] for r in result.per_query.to_pylist() if r["query_id"] == "a"}
    assert {m: counts[m] for m in sorted(COUNTS)} == {
        "Judged@1": 1.0,  # d1 is judged (-1), d2 is not
        "Judged@20": 0.5,
        "Judged@5": 0.5,
        "NumQ": 1.0,
        "NumRet": 2.0,
    }


def test_wide_has_one_row_per_query_and_a_column_per_measure():
    run = daft.from_pydict({"query_id": ["a", "a", "b"], "doc_id": ["d1", "d2", "d1"], "score": [2.0, 1.0, 1.0]})
    qrels = daft.from_pydict({"query_id": ["a", "b"], "doc_id": ["d2", "d1"], "relevance": [1, 1]})
    wide = evaluate(run, qrels, ["P@1", "RR"]).wide().to_pydict()
    assert wide == {"query_id": ["a", "b"], "P@1": [0.0, 1.0], "RR": [0.5, 1.0]}


def test_depth_reads_the_rankings_only_that_deep():
    """``depth=5`` (trec_eval -M 5) for the measures that read the whole ranking: pytrec_eval on the rankings cut
    to 5 (the judgements, and so Bpref's judged non-relevant count, stay whole); 40 cases in one evaluation."""
    depth_measures = {
        "NumRet": "num_ret",
        "NumRelRet": "num_rel_ret",
        "SetP": "set_P",
        "SetR": "set_recall",
        "SetF": "set_F",
        "Bpref": "bpref",
    }
    cases = {seed: random_case(random.Random(1000 + seed)) for seed in range(40)}
    run = {_case_query(s, q): ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {_case_query(s, q): ds for s, (_, j) in cases.items() for q, ds in j.items()}
    result = evaluate(*to_frames(run, qrels), list(depth_measures), depth=5, queries="both")
    ours = {(r["query_id"], r["measure"]): r["value"] for r in result.per_query.to_pylist()}
    checked = 0
    for seed, (case_run, case_qrels) in cases.items():
        for q, values in trec_evaluate(case_qrels, truncate_trec(case_run, 5)).items():
            for m, key in depth_measures.items():
                assert math.isclose(ours[(_case_query(seed, q), m)], values[key], abs_tol=1e-9), (seed, q, m)
                checked += 1
    assert checked > 500


_SET_F = """
import json, sys, pytrec_eval
qrels, run, x = json.load(sys.stdin)
print(json.dumps(pytrec_eval.RelevanceEvaluator(qrels, {"set_F." + x}).evaluate(run)))
"""


@pytest.mark.parametrize(("beta", "x"), [(0.5, "0.25"), (2.0, "4"), (3.0, "9")])
def test_set_f_beta_matches_pytrec_eval_set_f_x(beta, x, batch):
    """SetF(beta=b) is trec_eval's set_F.x with x = b^2, on the 200 cases. trec_eval keeps measure parameters in
    global tables, so each parameter is evaluated in its own process."""
    cases = batch["cases"]
    run = {_case_query(s, q): ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {_case_query(s, q): ds for s, (_, j) in cases.items() for q, ds in j.items()}
    out = subprocess.run(
        [sys.executable, "-c", _SET_F], input=json.dumps([qrels, run, x]), capture_output=True, text=True, check=True
    )
    expected = {q: v["set_F"] for q, v in json.loads(out.stdout).items()}
    name = f"SetF(beta={beta})"
    result = evaluate(*to_frames(run, qrels), [name])
    ours = {r["query_id"]: r["value"] for r in result.per_query.to_pylist()}
    assert len(ours) == len(qrels) and len(expected) > 500
    for q in qrels:
        assert math.isclose(ours[q], expected.get(q, 0.0), abs_tol=1e-9), (name, q)
    assert any(ours[q] != batch["per_query"][(q, "SetF")] for q in expected)


def test_inf_ap_reads_the_pool_by_hand():
    """Ranking c (judged -1: pooled, not sampled), b (0), a (1), d (outside the pool), e (2); 2 relevant:
    a at j=2 adds 1/3 + 2/3 * (2/2) * (eps / (1 + 2 eps)), e at j=4 adds 1/5 + 4/5 * (3/4) * ((1 + eps) / (2 + 2 eps))
    (pytrec_eval: 0.41666999993333464)."""
    run = daft.from_pydict({"query_id": ["q"] * 5, "doc_id": list("abcde"), "score": [1.0, 2.0, 3.0, 0.5, 0.1]})
    qrels = daft.from_pydict({"query_id": ["q"] * 4, "doc_id": list("abce"), "relevance": [1, 0, -1, 2]})
    eps = 0.00001
    expected = (
        1 / 3 + 2 / 3 * (2 / 2) * (eps / (1 + 2 * eps)) + 1 / 5 + 4 / 5 * (3 / 4) * ((1 + eps) / (2 + 2 * eps))
    ) / 2
    value = evaluate(run, qrels, ["infAP"]).aggregate["infAP"]
    assert math.isclose(value, expected, abs_tol=1e-15)
    assert math.isclose(value, 0.41666999993333464, abs_tol=1e-15)


def test_inf_ap_differs_from_ap_on_incomplete_judgements(batch):
    differ = [q for (q, m), v in batch["per_query"].items() if m == "infAP" and v != batch["per_query"][(q, "AP")]]
    assert len(differ) > 100


_JUDGED_DOCS_ONLY = """
import json, sys, pytrec_eval
qrels, run = json.load(sys.stdin)
measures = {"ndcg_cut.5", "P.7", "map", "recip_rank", "recall.3"}
print(json.dumps(pytrec_eval.RelevanceEvaluator(qrels, measures, judged_docs_only_flag=True).evaluate(run)))
"""


def test_judged_only_is_trec_eval_judged_docs_only(batch):
    """judged_only=True is trec_eval -J (pytrec_eval's judged_docs_only_flag, which ir_measures passes for it): a
    judgement < 0 is dropped as an unjudged document is. In its own process (trec_eval's global tables)."""
    cases = batch["cases"]
    run = {_case_query(s, q): ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {_case_query(s, q): ds for s, (_, j) in cases.items() for q, ds in j.items()}
    out = subprocess.run(
        [sys.executable, "-c", _JUDGED_DOCS_ONLY], input=json.dumps([qrels, run]), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    expected = json.loads(out.stdout)
    pairs = {
        "nDCG(judged_only=True)@5": "ndcg_cut_5",
        "P(judged_only=True)@7": "P_7",
        "AP(judged_only=True)": "map",
        "RR(judged_only=True)": "recip_rank",
        "R(judged_only=True)@3": "recall_3",
    }
    checked = 0
    for q, values in expected.items():
        for m, key in pairs.items():
            assert math.isclose(batch["per_query"][(q, m)], values[key], abs_tol=1e-9), (q, m)
            checked += 1
    assert checked > 2000
    # the condensed list changes the values: judged_only is no other name for the measure
    changed = [
        q for q in expected if batch["per_query"][(q, "P(judged_only=True)@7")] != batch["per_query"][(q, "P@7")]
    ]
    assert len(changed) > 100


def test_judged_only_reads_the_depth_first():
    """depth=5 (trec_eval -M 5) cuts the ranking before the unjudged documents are dropped (as trec_eval -M -J)."""
    cases = {seed: random_case(random.Random(2000 + seed)) for seed in range(40)}
    run = {_case_query(s, q): ds for s, (r, _) in cases.items() for q, ds in r.items()}
    qrels = {_case_query(s, q): ds for s, (_, j) in cases.items() for q, ds in j.items()}
    result = evaluate(*to_frames(run, qrels), ["P(judged_only=True)@5", "P@5"], depth=5, queries="both")
    ours = {(r["query_id"], r["measure"]): r["value"] for r in result.per_query.to_pylist()}
    checked = 0
    for seed, (case_run, case_qrels) in cases.items():
        condensed = judged_run(truncate_trec(case_run, 5), case_qrels)
        values = trec_evaluate(case_qrels, condensed) if condensed else {}
        for q in case_run:
            if q in case_qrels:
                expected = values[q]["P_5"] if q in values else 0.0
                assert math.isclose(ours[(_case_query(seed, q), "P(judged_only=True)@5")], expected, abs_tol=1e-9)
                checked += 1
    assert checked > 100
