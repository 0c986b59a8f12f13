"""The daft-retrieval command: outputs, exit statuses, the main job on the bundled demo."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import conftest
from tests.conftest import ROOT, cli_json, cli_process


def test_evaluate_json_is_the_last_line(files):
    """Through the ``python -m daft_retrieval`` entry point itself, end to end: a fresh process and its status."""
    qrels, run = files
    out = cli_process("evaluate", qrels, run, "-m", "P@2", "RR", "R@3", "--json")
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout.strip().splitlines()[-1])
    # q1: ranks d3, d2 (rel 2), d1 (rel 1); q2 is absent from the run and counts 0; q3 has no qrels.
    assert values == {"P@2": (1 / 2 + 0) / 2, "RR": (1 / 2 + 0) / 2, "R@3": (2 / 2 + 0) / 2}


def test_evaluate_table_and_per_query(files, capsys):
    qrels, run = files
    args = ["evaluate", qrels, run, "-m", "nDCG@10", "--per-query", "--queries-in", "both"]
    status, out, err = conftest.cli(args, capsys)
    assert status == 0, err
    assert "query_id" in out and "q1" in out and "q2" not in out
    assert "nDCG@10" in out.splitlines()[-3]


@pytest.mark.parametrize(
    ("run_text", "measure", "message"),
    [
        ("q1 Q0 d1 1 2.0\n", "P@1", "run.txt:1: expected 6 fields, found 5"),
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 high t\n", "P@1", "run.txt:2: field 5 must be a number"),
        ("q1 Q0 d1 1 2.0 t\n", "nDCG@ten", "unknown measure 'nDCG@ten'"),
        ("q1 Q0 d1 1 2.0 t\n", "R-Prec@10", "takes no cutoff"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, files, capsys, run_text, measure, message):
    qrels, _ = files
    run = tmp_path / "run.txt"
    run.write_text(run_text)
    status, out, err = conftest.cli(["evaluate", qrels, run, "-m", measure], capsys)
    assert status == 2
    assert err.count("\n") == 1 and message in err, err
    assert out == ""


def test_missing_file_exits_2(files, capsys):
    qrels, _ = files
    status, _, err = conftest.cli(["evaluate", qrels, "/no/such/run.txt"], capsys)
    assert status == 2 and "/no/such/run.txt" in err


def test_help_does_not_import_daft():
    code = "import sys, daft_retrieval.cli.main as m; m.build_parser(); print('daft' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
    assert cli_process("--help").returncode == 0


def test_main_job_on_demo_and_run_file_round_trip(tmp_path, capsys):
    run_file = tmp_path / "demo.run"
    searched = cli_json(["eval", "--output-run", run_file, "--k", "50", "-m", "nDCG@10", "R@50", "--json"], capsys)
    assert searched["nDCG@10"] > 0.7
    text = run_file.read_text().splitlines()
    head, lines = [t for t in text if t.startswith("# ")], [t for t in text if not t.startswith("#")]
    assert len(lines) == 44 * 50 and lines[0].split()[1] == "Q0"
    assert text[: len(head)] == head  # provenance first: package, system spec, dataset and its fingerprint
    from daft_retrieval.load.trec import read_provenance

    provenance = read_provenance(str(run_file))
    assert provenance["system"]["retriever"] == "dense" and provenance["system"]["k"] == 50
    assert provenance["dataset"]["name"] == "demo" and len(provenance["dataset"]["fingerprint"]) == 16
    assert provenance["model"]["model"] == "all-MiniLM-L6-v2" and len(provenance["model"]["weights"]) == 64
    assert provenance["model"]["dtype"] == "float32" and provenance["seconds"] > 0
    qrels = ROOT / "data/demo/qrels/test.tsv"
    again = cli_json(["evaluate", qrels, run_file, "-m", "nDCG@10", "R@50", "--json"], capsys)
    assert again == pytest.approx(searched, abs=1e-12)


def test_bm25_retriever_from_the_cli(tmp_path, capsys):
    run_file = tmp_path / "bm25.run"
    args = ["search", "--retriever", "bm25", "--stopwords", "en", "--k", "10", "--output-run", run_file]
    status, _, err = conftest.cli(args, capsys)
    assert status == 0, err
    lines = run_file.read_text().splitlines()
    per_query: dict[str, int] = {}
    for line in lines:
        per_query[line.split()[0]] = per_query.get(line.split()[0], 0) + 1
    # BM25 returns only documents sharing a term with the query: at most 10 each, most queries full
    assert max(per_query.values()) == 10 and sum(n == 10 for n in per_query.values()) >= 40
    status, _, err = conftest.cli(["eval", "--retriever", "bm25", "--stemmer", "klingon"], capsys)
    assert status == 2 and "unknown stemmer 'klingon'" in err


def test_fuse_command(tmp_path, capsys):
    a, b, out = tmp_path / "a.run", tmp_path / "b.run", tmp_path / "rrf.run"
    a.write_text("q1 Q0 d1 1 3.0 a\nq1 Q0 d2 2 2.0 a\nq1 Q0 d3 3 1.0 a\n")
    b.write_text("q1 Q0 d3 1 9.0 b\nq1 Q0 d4 2 5.0 b\n")
    status, _, err = conftest.cli(["fuse", "--method", "rrf", a, b, "--output-run", out], capsys)
    assert status == 0, err
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [x[2] for x in lines] == ["d3", "d1", "d4", "d2"]
    assert float(lines[0][4]) == 1 / 63 + 1 / 61 and lines[0][5] == "rrf"
    status, _, err = conftest.cli(["fuse", "--method", "wsum", a, b, "--weights", "1", "--output-run", out], capsys)
    assert status == 2 and "one weight per run" in err


def test_side_by_side_retrievers_and_fusion(tmp_path, capsys):
    run_file = tmp_path / "hybrid.run"
    args = ["eval", "--retriever", "bm25", "--retriever", "dense", "--fuse", "rrf", "--k", "20", "-m", "nDCG@10"]
    systems = cli_json([*args, "--json", "--output-run", run_file], capsys)
    assert list(systems) == ["bm25", "dense-all-MiniLM-L6-v2", "rrf(bm25, dense-all-MiniLM-L6-v2)"]
    assert all(0 < v["nDCG@10"] <= 1 for v in systems.values())
    first = next(line for line in run_file.read_text().splitlines() if not line.startswith("#"))
    assert first.split()[5] == "rrf_bm25_dense-all-MiniLM-L6-v2"
    again = cli_json(["evaluate", ROOT / "data/demo/qrels/test.tsv", run_file, "-m", "nDCG@10", "--json"], capsys)
    fused = systems["rrf(bm25, dense-all-MiniLM-L6-v2)"]["nDCG@10"]
    assert again["nDCG@10"] == pytest.approx(fused, abs=1e-12)
    args = ["search", "--retriever", "bm25", "--retriever", "dense", "--output-run", run_file]
    status, _, err = conftest.cli(args, capsys)
    assert status == 2 and "--fuse" in err


def test_data_warnings_are_one_line_each(tmp_path, capsys):
    """A load problem is reported once, as one 'daft-retrieval: warning:' line with distinct example ids."""
    demo = ROOT / "data" / "demo"
    (tmp_path / "qrels").mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        (tmp_path / name).write_bytes((demo / name).read_bytes())
    qrels = (demo / "qrels" / "test.tsv").read_text() + "qx-1\tnone-1\t1\nqx-1\tnone-2\t1\n"
    (tmp_path / "qrels" / "test.tsv").write_text(qrels)
    args = ["eval", "--dataset", tmp_path, "--retriever", "bm25", "--no-cache", "-m", "nDCG@10"]
    status, _, err = conftest.cli(args, capsys)
    assert status == 0, err
    warned = [line for line in err.splitlines() if "warning:" in line.lower()]
    assert len(warned) == 1 and warned[0].startswith("daft-retrieval: warning: "), err
    assert "2 judgements name a query absent" in warned[0] and "['qx-1']" in warned[0]
    assert "DataWarning" not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--depth", "0"], "--depth must be >= 1"),
        (["--weights", "1", "2"], "--weights applies to wsum only"),
        (["--method", "wsum", "--weights", "0", "0"], "--weights are all 0"),
    ],
)
def test_bad_fusion_options_exit_2_and_keep_the_old_output(tmp_path, files, capsys, extra, message):
    _, run = files
    other = tmp_path / "other.txt"
    other.write_text("q1 Q0 d1 1 5.0 t\n")
    output = tmp_path / "fused.txt"
    output.write_text("precious\n")
    status, _, err = conftest.cli(["fuse", *extra, "--output-run", output, run, other], capsys)
    assert status == 2 and message in err, err
    assert output.read_text() == "precious\n"


def test_fusing_a_run_with_itself_or_writing_into_a_folder_exits_2(tmp_path, files, capsys):
    _, run = files
    status, _, err = conftest.cli(["fuse", "--output-run", tmp_path / "f.txt", run, run], capsys)
    assert status == 2 and "is given twice" in err
    # fails before any search
    status, _, err = conftest.cli(["eval", "--retriever", "bm25", "--output-run", tmp_path], capsys)
    assert status == 2 and "is a directory" in err and "searching" not in err


def test_depth_and_rel_level_are_trec_evals_m_and_l(files, capsys, tmp_path):
    """--depth M reads each ranking to rank M (trec_eval -M); --rel-level L is the rel= of every binary measure
    that gives none (trec_eval -l), so P@2 --rel-level 2 is P(rel=2)@2; graded measures keep their gains."""
    import pytrec_eval

    from daft_retrieval.load import read_qrels, read_run

    qrels_path, run_path = files
    qrels = {}
    for r in read_qrels(qrels_path).to_pylist():
        qrels.setdefault(r["query_id"], {})[r["doc_id"]] = r["relevance"]
    run = {}
    for r in read_run(run_path).to_pylist():
        run.setdefault(r["query_id"], {})[r["doc_id"]] = r["score"]
    ours = cli_json(["evaluate", qrels_path, run_path, "-m", "AP", "R@100", "--depth", "1", "--json"], capsys)
    top1 = {q: dict(sorted(ds.items(), key=lambda x: (x[1], x[0]), reverse=True)[:1]) for q, ds in run.items()}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"map", "recall.100"}).evaluate(top1)
    assert ours["AP"] == pytest.approx(sum(v["map"] for v in ref.values()) / len(qrels), abs=1e-12)
    level = cli_json(["evaluate", qrels_path, run_path, "-m", "P@2", "nDCG@2", "--rel-level", "2", "--json"], capsys)
    plain = cli_json(["evaluate", qrels_path, run_path, "-m", "P(rel=2)@2", "nDCG@2", "--json"], capsys)
    assert level == plain and list(level) == ["P(rel=2)@2", "nDCG@2"]
    for flag, value, message in (("--depth", "0", "--depth must be >= 1"), ("--rel-level", "0", "--rel-level must")):
        status, _, err = conftest.cli(["evaluate", qrels_path, run_path, flag, value], capsys)
        assert status == 2 and message in err
