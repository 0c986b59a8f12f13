"""The CLI's later stages: rerank, late interaction, compare with its report, the embedding cache commands."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, cli, cli_json
from tests.local_models import cross_encoder_dir

DEMO = str(ROOT / "data" / "demo")


def _stats(cache, capsys) -> dict:
    status, out, err = cli(["cache", "stats", "--cache", cache, "--json"], capsys)
    assert status == 0, err
    return json.loads(out)


def test_rerank_stage_is_reported_beside_its_input(tmp_path, capsys):
    model = cross_encoder_dir(tmp_path)
    args = ["eval", "--dataset", DEMO, "--retriever", "bm25", "--rerank", model, "--rerank-depth", "5"]
    values = cli_json([*args, "--no-cache", "-m", "R@5", "R@100", "--json", "--output-run", tmp_path / "r"], capsys)
    assert list(values) == ["bm25", "cross-minilm-cross-encoder@5(bm25)"]
    # reranking the top 5 keeps the same five documents: R@5 cannot change, R@100 drops to what was reranked
    assert values["cross-minilm-cross-encoder@5(bm25)"]["R@5"] == pytest.approx(values["bm25"]["R@5"])
    lines = [line for line in (tmp_path / "r").read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 5 * 44 and {line.split()[3] for line in lines} == {"1", "2", "3", "4", "5"}


def test_bad_rerank_depth_exits_2(capsys):
    args = ["eval", "--dataset", DEMO, "--retriever", "bm25", "--rerank", "x", "--rerank-depth", "0"]
    status, _, err = cli(args, capsys)
    assert status == 2 and "--rerank-depth must be >= 1" in err


def test_compare_writes_table_tests_json_and_plot(tmp_path, capsys):
    cache = tmp_path / "cache"
    report = tmp_path / "report"
    args = ["compare", "--dataset", DEMO, "--bm25", "--model", "all-MiniLM-L6-v2", "--max-seq-length", "64"]
    args += ["--cache", cache, "--output-dir", report, "--trials", "500", "-m", "nDCG@10", "R@100"]
    full = cli_json([*args, "--json"], capsys)
    assert list(full) == ["datasets", "mean"] and list(full["datasets"]) == ["demo"]
    result = full["datasets"]["demo"]
    assert full["mean"] == result["table"]  # one dataset: its means
    assert list(result["table"]) == ["bm25", "dense-all-MiniLM-L6-v2"]
    assert {t["baseline"] for t in result["tests"]} == {"bm25"}
    assert {t["measure"] for t in result["tests"]} == {"nDCG@10", "R@100"}
    assert all(0 < t["p_t_test"] <= 1 and 0 < t["p_randomization"] <= 1 for t in result["tests"])
    for name in ("comparison.md", "comparison.json", "comparison.tex", "comparison.png", "per_query.parquet"):
        assert (report / name).stat().st_size > 0
    assert (report / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the table equals what `eval` prints for the same systems
    single = cli_json(["eval", "--dataset", DEMO, "--retriever", "bm25", "-m", "nDCG@10", "R@100", "--json"], capsys)
    assert result["table"]["bm25"] == pytest.approx(single)
    # and the second run's dense embeddings all came from the cache
    stats = _stats(cache, capsys)
    assert {e["role"] for e in stats["entries"]} == {"query", "document"}
    status, _, err = cli(args, capsys)  # the saved runs: nothing is encoded or searched again
    assert status == 0 and "demo: bm25 (saved)" in err and "demo: dense-all-MiniLM-L6-v2 (saved)" in err, err
    status, _, err = cli([*args, "--fresh"], capsys)  # run again: every embedding from the cache
    assert status == 0 and "demo: dense-all-MiniLM-L6-v2 (computed)" in err, err
    counts = _stats(cache, capsys)["last_run"]["counts"]
    assert sum(c["misses"] for c in counts.values()) == 0 and sum(c["hits"] for c in counts.values()) == 344
    status, out, _ = cli(["cache", "prune", "--cache", cache, "--model", "all-MiniLM-L6-v2"], capsys)
    assert status == 0 and "removed 2 entries" in out
    assert _stats(cache, capsys)["entries"] == []


def test_compare_from_an_experiment_file_with_fusion(tmp_path, capsys):
    experiment = tmp_path / "exp.json"
    systems = [
        {"name": "bm25", "retriever": "bm25"},
        {"name": "bm25-stem", "retriever": "bm25", "stopwords": "en", "stemmer": "english"},
        {"name": "all", "fuse": "rrf"},  # no runs: every earlier system
        {"name": "hybrid", "fuse": "rrf", "runs": ["bm25", "bm25-stem"]},
    ]
    experiment.write_text(json.dumps({"systems": systems}))
    args = ["compare", "--dataset", DEMO, "--experiment", experiment, "--no-plot", "--trials", "200"]
    result = cli_json([*args, "--output-dir", tmp_path / "r", "-m", "nDCG@10", "--json"], capsys)["datasets"]["demo"]
    assert list(result["table"]) == ["bm25", "bm25-stem", "all", "hybrid"]
    assert result["table"]["bm25"] != result["table"]["bm25-stem"]
    assert result["table"]["all"] == result["table"]["hybrid"]  # both fuse bm25 and bm25-stem


def test_compare_by_options_fuses_and_reranks_like_eval(tmp_path, capsys):
    """compare --bm25 --retriever splade --fuse rrf --rerank M: the fusion of every system above, then a rerank of
    it; the numbers equal eval's for the same pipeline."""
    stages = ["--fuse", "rrf", "--rerank", "all-MiniLM-L6-v2", "--reranker", "bi", "--rerank-depth", "10"]
    common = ["--dataset", DEMO, "--max-seq-length", "32", "--no-cache", "-m", "nDCG@10", "R@100", "--json"]
    args = ["compare", "--bm25", "--retriever", "splade", *stages, "--no-plot", "--trials", "200"]
    result = cli_json([*args, *common, "--output-dir", tmp_path / "r"], capsys)["datasets"]["demo"]
    fused = "rrf(bm25, splade-splade-tiny)"
    assert list(result["table"]) == ["bm25", "splade-splade-tiny", fused, f"bi-all-MiniLM-L6-v2@10({fused})"]
    single = cli_json(["eval", "--retriever", "bm25", "--retriever", "splade", *stages, *common], capsys)
    assert list(single) == list(result["table"])
    for system, values in single.items():
        assert result["table"][system] == pytest.approx(values, abs=1e-12), system


def test_compare_takes_systems_from_the_file_or_the_options_not_both(tmp_path, capsys):
    experiment = tmp_path / "exp.json"
    experiment.write_text(json.dumps({"systems": [{"retriever": "bm25"}]}))
    args = ["compare", "--dataset", DEMO, "--experiment", experiment, "--fuse", "rrf", "--no-plot"]
    status, _, err = cli(args, capsys)
    assert status == 2 and "either in --experiment or by options" in err, err
    status, _, err = cli(["compare", "--dataset", DEMO, "--bm25", "--fuse", "rrf", "--no-plot"], capsys)
    assert status == 2 and "--fuse needs at least two systems" in err, err


@pytest.mark.parametrize(
    ("systems", "message"),
    [
        ([{"name": "h", "fuse": "rrf", "runs": ["nope", "x"]}], "'runs' must name at least two earlier systems"),
        ([{"retriever": "bm25", "colour": "red"}], "unknown option 'colour'"),
        ([{"retriever": "magic"}], "unknown retriever 'magic'"),
    ],
)
def test_bad_experiment_files_exit_2(tmp_path, capsys, systems, message):
    experiment = tmp_path / "exp.json"
    experiment.write_text(json.dumps({"systems": systems}))
    status, _, err = cli(["compare", "--dataset", DEMO, "--experiment", experiment, "--no-plot"], capsys)
    assert status == 2 and message in err, err


def test_late_interaction_retriever_from_the_cli(tmp_path, capsys):
    args = ["eval", "--dataset", DEMO, "--retriever", "late", "--max-seq-length", "64", "--no-cache"]
    values = cli_json([*args, "-m", "nDCG@10", "--json"], capsys)
    assert 0.5 < values["nDCG@10"] <= 1.0


def test_bi_encoder_rerank_reads_and_fills_the_cache(tmp_path, capsys):
    cache = tmp_path / "cache"
    args = ["eval", "--dataset", DEMO, "--retriever", "bm25", "--rerank", "all-MiniLM-L6-v2", "--reranker", "bi"]
    args += ["--rerank-depth", "3", "--max-seq-length", "32", "--cache", cache, "-m", "nDCG@10", "--json"]
    first = cli_json(args, capsys)
    assert {e["role"] for e in _stats(cache, capsys)["entries"]} == {"query", "document"}
    second = cli_json(args, capsys)
    counts = _stats(cache, capsys)["last_run"]["counts"]
    assert sum(c["misses"] for c in counts.values()) == 0 and sum(c["hits"] for c in counts.values()) > 44
    for system, values in first.items():  # the same numbers (means may differ in the last bit: summation order)
        assert second[system] == pytest.approx(values, abs=1e-12)
