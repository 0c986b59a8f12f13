"""Experiments: systems x datasets from a file or from flags (the same output), statistics equal to scipy and
statsmodels, each distinct (spec, dataset) computed once, saved runs reused only for the same spec and data (a
second run encodes and searches nothing and prints the same bytes), provenance, LaTeX and per-query outputs."""

from __future__ import annotations

import json
import math
import pathlib
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

import daft_retrieval as dr
from daft_retrieval import memo
from daft_retrieval.errors import DataError
from daft_retrieval.experiment import Fuse, Retrieve, dataset_fingerprint, read_experiment
from tests.conftest import ROOT, cli

DEMO = ROOT / "data" / "demo"
MEASURES = ["nDCG@10", "R@100"]


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory):
    """The demo and a second collection: the demo's first 22 queries with their judgements (folder demo-half)."""
    root = tmp_path_factory.mktemp("datasets")
    half = root / "demo-half"
    (half / "qrels").mkdir(parents=True)
    shutil.copy(DEMO / "corpus.jsonl", half / "corpus.jsonl")
    queries = (DEMO / "queries.jsonl").read_text().splitlines()[:22]
    (half / "queries.jsonl").write_text("\n".join(queries) + "\n")
    ids = {json.loads(q)["_id"] for q in queries}
    lines = (DEMO / "qrels" / "test.tsv").read_text().splitlines()
    (half / "qrels" / "test.tsv").write_text(
        "\n".join([lines[0], *[x for x in lines[1:] if x.split("\t")[0] in ids]]) + "\n"
    )
    return [str(DEMO), str(half)]


FLAGS = ["--bm25", "--model", "all-MiniLM-L6-v2", "--fuse", "rrf"]
SYSTEMS = [{"retriever": "bm25"}, {"retriever": "dense", "model": "all-MiniLM-L6-v2"}, {"fuse": "rrf"}]
COMMON = ["--max-seq-length", "64", "-m", *MEASURES, "--trials", "500", "--no-plot", "--json"]


def _compare(args, capsys, tmp_path, name) -> tuple[str, str, dict]:
    status, out, err = cli(["compare", *args, *COMMON, "--output-dir", tmp_path / name], capsys)
    assert status == 0, err
    return out, err, json.loads(out.strip().splitlines()[-1])


def test_a_file_and_flags_give_the_same_experiment_and_a_second_run_the_same_bytes(two_datasets, tmp_path, capsys):
    runs = ["--runs-dir", tmp_path / "runs", "--cache", tmp_path / "cache"]
    datasets = [a for d in two_datasets for a in ("--dataset", d)]
    out_flags, err, by_flags = _compare([*datasets, *FLAGS, *runs], capsys, tmp_path, "flags")
    assert err.count("(computed)") == 6 and "encoding documents" in err  # 3 systems x 2 datasets
    assert list(by_flags) == ["datasets", "mean"] and list(by_flags["datasets"]) == ["demo", "demo-half"]
    systems = ["bm25", "dense-all-MiniLM-L6-v2", "rrf(bm25, dense-all-MiniLM-L6-v2)"]
    for body in by_flags["datasets"].values():
        assert list(body["table"]) == systems and len(body["tests"]) == 2 * len(MEASURES)
        fields = ["system", "baseline", "measure", "difference", "p_t_test", "p_randomization", "p_corrected"]
        fields += ["correction", "ci_low", "ci_high", "effect_size", "wins", "ties", "losses"]
        assert all(list(t) == fields for t in body["tests"])
    for system in systems:  # BEIR's mean over datasets
        for m in MEASURES:
            means = [by_flags["datasets"][d]["table"][system][m] for d in ("demo", "demo-half")]
            assert by_flags["mean"][system][m] == math.fsum(means) / 2
    # the same experiment from a file (JSON and TOML): the same numbers, from the saved runs
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps({"systems": SYSTEMS, "datasets": two_datasets}))
    out_file, err, by_file = _compare(["--experiment", path, *runs], capsys, tmp_path, "file")
    assert by_file == by_flags and out_file == out_flags  # the same bytes on stdout
    assert err.count("(saved)") == 6 and "encoding" not in err and "searching" not in err
    toml = tmp_path / "experiment.toml"
    rows = "".join(f"[[systems]]\n{''.join(f'{k} = {json.dumps(v)}' + chr(10) for k, v in s.items())}" for s in SYSTEMS)
    toml.write_text(f"datasets = {json.dumps(two_datasets)}\n{rows}")
    assert _compare(["--experiment", toml, *runs], capsys, tmp_path, "toml")[2] == by_flags
    # --fresh runs every system again (the embeddings from the cache) and gives the same bits
    out_fresh, err, _ = _compare([*datasets, *FLAGS, *runs, "--fresh"], capsys, tmp_path, "fresh")
    assert err.count("(computed)") == 6 and out_fresh == out_flags
    report = tmp_path / "flags"
    per_query = pq.read_table(report / "per_query.parquet")
    assert per_query.column_names == ["dataset", "system", "query_id", "measure", "value"]
    assert sorted(set(per_query.column("dataset").to_pylist())) == ["demo", "demo-half"]
    assert per_query.num_rows == (44 + 22) * 3 * len(MEASURES)
    latex = (report / "comparison.tex").read_text()
    assert latex.count(r"\begin{tabular}") == 3 and "bm25 (a)" in latex  # two datasets and the mean
    provenance = json.loads((report / "comparison.json").read_text())["provenance"]
    assert provenance["package"]["runner"] == "native" and provenance["package"]["device"] == "cpu"
    assert set(provenance["datasets"]) == {"demo", "demo-half"}
    demo = provenance["datasets"]["demo"]
    assert set(demo["seconds"]) == {"load", "evaluate"} and len(demo["fingerprint"]) == 16
    dense = demo["systems"]["dense-all-MiniLM-L6-v2"]
    assert dense["from"] == "computed" and dense["cache"] == {"hits": 0, "misses": 44 + 300}  # queries + passages
    # what made each run, as its saved file says: the spec and the model's weights digest (BM25: its tokenizer)
    assert dense["system"]["model"] == "all-MiniLM-L6-v2" and dense["system"]["kind"] == "Retrieve"
    assert len(dense["model"]["weights"]) == 64 and "tokenizer" in demo["systems"]["bm25"]["model"]


def test_the_statistics_equal_scipy_and_statsmodels(two_datasets, tmp_path):
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    systems = [Retrieve(retriever="bm25"), Retrieve(retriever="bm25", stemmer="english", name="stem"), Fuse()]
    experiment = dr.Experiment(systems, two_datasets[:1], MEASURES, baselines=["bm25", "stem"], trials=2000)
    result = experiment.run()
    comparison = result.comparisons["demo"]
    tests = comparison.tests
    assert len(tests) == 2 * 2 * len(MEASURES)  # each baseline against the two other systems
    p = []
    for t in tests:
        values = comparison._values(t["measure"])
        a, b = values[t["baseline"]], values[t["system"]]
        expected = stats.ttest_rel(b, a).pvalue
        assert t["p_t_test"] == pytest.approx(expected, rel=1e-12, abs=1e-15) or math.isnan(expected)
        d = b - a
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        assert t["ci_low"] == pytest.approx(d.mean() - half) and t["ci_high"] == pytest.approx(d.mean() + half)
        with np.errstate(invalid="ignore"):  # d all 0: no effect size (NaN), as 0 / 0
            assert t["effect_size"] == pytest.approx(d.mean() / d.std(ddof=1), nan_ok=True)
        assert (t["wins"], t["ties"], t["losses"]) == (int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum()))
        p.append(t["p_t_test"])
    tested = [i for i, x in enumerate(p) if not math.isnan(x)]  # a NaN p-value (no test) is not in the family
    holm = multipletests([p[i] for i in tested], method="holm")[1]
    assert [tests[i]["p_corrected"] for i in tested] == pytest.approx(list(holm))
    assert {t["correction"] for t in tests} == {"holm"} and len(tested) >= len(tests) // 2
    again = dr.Experiment(systems, two_datasets[:1], MEASURES, baselines=["bm25", "stem"], trials=2000).run()
    assert again.to_json() == result.to_json()  # the seeded randomisation test: the same p-values every run


def test_each_distinct_spec_runs_once_per_dataset(two_datasets):
    memo.forget("dense")
    dense = Retrieve(retriever="dense", max_seq_length=64)
    systems = [dense, Retrieve(retriever="dense", max_seq_length=64, name="again"), Retrieve(retriever="bm25")]
    result = dr.Experiment([*systems, Fuse(runs=("again", "bm25"))], two_datasets, ["nDCG@10"], trials=100).run()
    for name in ("demo", "demo-half"):
        steps = result.provenance["datasets"][name]["systems"]
        assert [s["from"] for s in steps.values()] == ["computed", "shared", "computed", "computed"]
        assert result.comparisons[name].table["again"] == result.comparisons[name].table["dense-all-MiniLM-L6-v2"]
    assert len(memo.loaded("dense")) == 1  # one model load for every dense system on every dataset


def test_saved_runs_are_keyed_by_content_not_by_name(two_datasets, tmp_path):
    store = dr.RunStore(tmp_path / "runs")
    first = dr.Experiment([Retrieve(retriever="bm25", name="x")], two_datasets[:1], ["nDCG@10"], runs=store).run()
    renamed = dr.Experiment([Retrieve(retriever="bm25", name="y")], two_datasets[:1], ["nDCG@10"], runs=store).run()
    assert renamed.provenance["datasets"]["demo"]["systems"]["y"]["from"] == "saved"
    other = dr.Experiment([Retrieve(retriever="bm25", k1=0.9)], two_datasets[:1], ["nDCG@10"], runs=store).run()
    assert other.provenance["datasets"]["demo"]["systems"]["bm25"]["from"] == "computed"
    # a changed query is another dataset: its runs are computed again
    changed = tmp_path / "demo"
    shutil.copytree(DEMO, changed)
    text = (changed / "queries.jsonl").read_text().splitlines()
    query = json.loads(text[0])
    query["text"] += " indeed"
    (changed / "queries.jsonl").write_text("\n".join([json.dumps(query), *text[1:]]) + "\n")
    assert dataset_fingerprint(dr.load_beir(str(changed))) != dataset_fingerprint(dr.load_beir(str(DEMO)))
    again = dr.Experiment([Retrieve(retriever="bm25", name="x")], [str(changed)], ["nDCG@10"], runs=store).run()
    assert again.provenance["datasets"]["demo"]["systems"]["x"]["from"] == "computed"
    assert first.provenance["datasets"]["demo"]["fingerprint"] != again.provenance["datasets"]["demo"]["fingerprint"]
    # the saved file says what made it
    from daft_retrieval.load.trec import read_provenance

    step = first.provenance["datasets"]["demo"]
    saved = pathlib.Path(store.path(step["systems"]["x"]["key"], step["fingerprint"]))
    provenance = read_provenance(str(saved))
    assert provenance["system"]["retriever"] == "bm25" and provenance["package"].startswith("daft_retrieval")
    assert len(provenance["dataset"]["fingerprint"]) == 16 and "tokenizer" in provenance["model"]
    # a cut file is computed again, with a warning, and replaced
    saved.write_text("\n".join(saved.read_text().splitlines()[:3]) + "\nqa-01 Q0 broken\n")
    with pytest.warns(dr.DataWarning, match="saved run not used"):
        dr.Experiment([Retrieve(retriever="bm25", name="x")], two_datasets[:1], ["nDCG@10"], runs=store).run()


def test_tukey_and_several_baselines_from_the_command_line(tmp_path, capsys):
    args = ["compare", "--dataset", DEMO, "--bm25", "--retriever", "splade", "--fuse", "rrf", "--tukey"]
    args += ["--baseline", "bm25", "--baseline", "splade-splade-tiny", "--correction", "bh", "--max-seq-length", "32"]
    rest = ["-m", "nDCG@10", "--trials", "300", "--no-plot", "--json", "--output-dir", tmp_path]
    status, out, err = cli([*args, *rest], capsys)
    assert status == 0, err
    body = json.loads(out.strip().splitlines()[-1])["datasets"]["demo"]
    assert {(t["baseline"], t["system"]) for t in body["tests"]} == {
        ("bm25", "splade-splade-tiny"),
        ("bm25", "rrf(bm25, splade-splade-tiny)"),
        ("splade-splade-tiny", "bm25"),
        ("splade-splade-tiny", "rrf(bm25, splade-splade-tiny)"),
    }
    assert {t["correction"] for t in body["tests"]} == {"bh"}
    assert len(body["tukey"]) == 3 and all(0 < t["p"] <= 1 for t in body["tukey"])
    status, out, err = cli([*args, *rest, "--interval", "bootstrap"], capsys)
    assert status == 0, err
    boot = json.loads(out.strip().splitlines()[-1])["datasets"]["demo"]["tests"]
    from daft_retrieval.statistics import bootstrap_interval

    by_pair = {(t["baseline"], t["system"], t["measure"]): t for t in boot}
    assert {k: (t["ci_low"], t["ci_high"]) for k, t in by_pair.items()} != {
        (t["baseline"], t["system"], t["measure"]): (t["ci_low"], t["ci_high"]) for t in body["tests"]
    }
    per_query = pq.read_table(tmp_path / "per_query.parquet").to_pylist()
    values = {}
    for row in per_query:
        values.setdefault(row["system"], {})[row["query_id"]] = row["value"]
    for (baseline, system, _), t in by_pair.items():
        qids = sorted(values[baseline])
        a, b = [values[baseline][q] for q in qids], [values[system][q] for q in qids]
        assert (t["ci_low"], t["ci_high"]) == bootstrap_interval(a, b)  # seeded: the same interval every run
    assert "Randomised Tukey HSD" in out


def test_bad_experiments_are_refused_before_any_work(tmp_path, capsys):
    status, _, err = cli(["compare", "--dataset", DEMO, "--bm25", "--baseline", "nope"], capsys)
    assert status == 2 and "--baseline 'nope' is not a system; the systems: bm25" in err
    path = tmp_path / "e.toml"
    path.write_text('[[systems]]\nretriever = "bm25"\nk = "ten"\n')
    status, _, err = cli(["compare", "--experiment", path], capsys)
    assert status == 2 and "system 1: 'k' must be an integer, not 'ten'" in err
    path.write_text("[[systems]\n")
    status, _, err = cli(["compare", "--experiment", path], capsys)
    assert status == 2 and "not TOML" in err
    with pytest.raises(DataError, match="two datasets are named 'demo'"):
        dr.Experiment([Retrieve(retriever="bm25")], [str(DEMO), str(DEMO)], ["nDCG@10"]).run()
    with pytest.raises(DataError, match="expected a Retrieve, Fuse or Rerank spec"):
        dr.Experiment([{"retriever": "bm25"}], [str(DEMO)], ["nDCG@10"]).check()
    found = read_experiment(_json(tmp_path))
    assert found.systems[0] == Retrieve(retriever="bm25", name="b", k=10) and found.settings == {"measures": ["RR"]}


def _json(tmp_path) -> str:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"systems": [{"name": "b", "retriever": "bm25", "k": "10"}], "measures": ["RR"]}))
    return str(path)


def test_fingerprint_ignores_row_order(two_datasets):
    ds = dr.load_beir(two_datasets[0])
    shuffled = ds._replace(corpus=ds.corpus.sort("doc_id", desc=True), qrels=ds.qrels.sort("doc_id"))
    assert dataset_fingerprint(shuffled) == dataset_fingerprint(ds)
    assert np.unique([dataset_fingerprint(ds), dataset_fingerprint(dr.load_beir(two_datasets[1]))]).size == 2
