"""The daft-retrieval command: outputs, exit statuses, the main job on the bundled demo."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def cli(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daft_retrieval", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def files(tmp_path):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq1 0 d2 2\nq2 0 d9 1\n")
    run = tmp_path / "run.txt"
    run.write_text("q1 Q0 d3 1 3.0 t\nq1 Q0 d2 2 2.0 t\nq1 Q0 d1 3 1.0 t\nq3 Q0 d1 1 1.0 t\n")
    return qrels, run


def test_evaluate_json_is_the_last_line(files):
    qrels, run = files
    out = cli("evaluate", str(qrels), str(run), "-m", "P@2", "RR", "R@3", "--json")
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout.strip().splitlines()[-1])
    # q1: ranks d3, d2 (rel 2), d1 (rel 1); q2 is absent from the run and counts 0; q3 has no qrels.
    assert values == {"P@2": (1 / 2 + 0) / 2, "RR": (1 / 2 + 0) / 2, "R@3": (2 / 2 + 0) / 2}


def test_evaluate_table_and_per_query(files):
    qrels, run = files
    out = cli("evaluate", str(qrels), str(run), "-m", "nDCG@10", "--per-query", "--queries-in", "both")
    assert out.returncode == 0, out.stderr
    assert "query_id" in out.stdout and "q1" in out.stdout and "q2" not in out.stdout
    assert "nDCG@10" in out.stdout.splitlines()[-3]


@pytest.mark.parametrize(
    ("run_text", "measure", "message"),
    [
        ("q1 Q0 d1 1 2.0\n", "P@1", "run.txt:1: expected 6 fields, found 5"),
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 high t\n", "P@1", "run.txt:2: field 5 must be a number"),
        ("q1 Q0 d1 1 2.0 t\n", "nDCG@ten", "unknown measure 'nDCG@ten'"),
        ("q1 Q0 d1 1 2.0 t\n", "RR@10", "takes no cutoff"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, files, run_text, measure, message):
    qrels, _ = files
    run = tmp_path / "run.txt"
    run.write_text(run_text)
    out = cli("evaluate", str(qrels), str(run), "-m", measure)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
    assert out.stdout == ""


def test_missing_file_exits_2(files):
    qrels, _ = files
    out = cli("evaluate", str(qrels), "/no/such/run.txt")
    assert out.returncode == 2 and "/no/such/run.txt" in out.stderr


def test_help_does_not_import_daft():
    code = "import sys, daft_retrieval.cli.main as m; m.build_parser(); print('daft' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
    assert cli("--help").returncode == 0


def test_main_job_on_demo_and_run_file_round_trip(tmp_path):
    run_file = tmp_path / "demo.run"
    out = cli("eval", "--output-run", str(run_file), "--k", "50", "-m", "nDCG@10", "R@50", "--json")
    assert out.returncode == 0, out.stderr
    searched = json.loads(out.stdout.strip().splitlines()[-1])
    assert searched["nDCG@10"] > 0.7
    lines = run_file.read_text().splitlines()
    assert len(lines) == 44 * 50 and lines[0].split()[1] == "Q0"
    again = cli("evaluate", str(ROOT / "data/demo/qrels/test.tsv"), str(run_file), "-m", "nDCG@10", "R@50", "--json")
    assert json.loads(again.stdout.strip().splitlines()[-1]) == pytest.approx(searched, abs=1e-12)


def test_bm25_retriever_from_the_cli(tmp_path):
    run_file = tmp_path / "bm25.run"
    out = cli("search", "--retriever", "bm25", "--stopwords", "en", "--k", "10", "--output-run", str(run_file))
    assert out.returncode == 0, out.stderr
    lines = run_file.read_text().splitlines()
    per_query: dict[str, int] = {}
    for line in lines:
        per_query[line.split()[0]] = per_query.get(line.split()[0], 0) + 1
    # BM25 returns only documents sharing a term with the query: at most 10 each, most queries full
    assert max(per_query.values()) == 10 and sum(n == 10 for n in per_query.values()) >= 40
    bad = cli("eval", "--retriever", "bm25", "--stemmer", "klingon")
    assert bad.returncode == 2 and "unknown stemmer 'klingon'" in bad.stderr


def test_fuse_command(tmp_path):
    a, b, out = tmp_path / "a.run", tmp_path / "b.run", tmp_path / "rrf.run"
    a.write_text("q1 Q0 d1 1 3.0 a\nq1 Q0 d2 2 2.0 a\nq1 Q0 d3 3 1.0 a\n")
    b.write_text("q1 Q0 d3 1 9.0 b\nq1 Q0 d4 2 5.0 b\n")
    done = cli("fuse", "--method", "rrf", str(a), str(b), "--output-run", str(out))
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [x[2] for x in lines] == ["d3", "d1", "d4", "d2"]
    assert float(lines[0][4]) == 1 / 63 + 1 / 61 and lines[0][5] == "rrf"
    bad = cli("fuse", "--method", "wsum", str(a), str(b), "--weights", "1", "--output-run", str(out))
    assert bad.returncode == 2 and "one weight per run" in bad.stderr


def test_side_by_side_retrievers_and_fusion(tmp_path):
    run_file = tmp_path / "hybrid.run"
    out = cli(
        "eval",
        "--retriever",
        "bm25",
        "--retriever",
        "dense",
        "--fuse",
        "rrf",
        "--k",
        "20",
        "-m",
        "nDCG@10",
        "--json",
        "--output-run",
        str(run_file),
    )
    assert out.returncode == 0, out.stderr
    systems = json.loads(out.stdout.strip().splitlines()[-1])
    assert list(systems) == ["bm25", "dense-all-MiniLM-L6-v2", "rrf(bm25, dense-all-MiniLM-L6-v2)"]
    assert all(0 < v["nDCG@10"] <= 1 for v in systems.values())
    assert run_file.read_text().splitlines()[0].split()[5] == "rrf_bm25_dense-all-MiniLM-L6-v2"
    again = cli("evaluate", str(ROOT / "data/demo/qrels/test.tsv"), str(run_file), "-m", "nDCG@10", "--json")
    fused = systems["rrf(bm25, dense-all-MiniLM-L6-v2)"]["nDCG@10"]
    assert json.loads(again.stdout.strip().splitlines()[-1])["nDCG@10"] == pytest.approx(fused, abs=1e-12)
    one = cli("search", "--retriever", "bm25", "--retriever", "dense", "--output-run", str(run_file))
    assert one.returncode == 2 and "--fuse" in one.stderr


def test_data_warnings_are_one_line_each(tmp_path):
    """A load problem is reported once, as one 'daft-retrieval: warning:' line with distinct example ids."""
    demo = ROOT / "data" / "demo"
    (tmp_path / "qrels").mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        (tmp_path / name).write_bytes((demo / name).read_bytes())
    qrels = (demo / "qrels" / "test.tsv").read_text() + "qx-1\tnone-1\t1\nqx-1\tnone-2\t1\n"
    (tmp_path / "qrels" / "test.tsv").write_text(qrels)
    out = cli("eval", "--dataset", str(tmp_path), "--retriever", "bm25", "--no-cache", "-m", "nDCG@10")
    assert out.returncode == 0, out.stderr
    warned = [line for line in out.stderr.splitlines() if "warning:" in line.lower()]
    assert len(warned) == 1 and warned[0].startswith("daft-retrieval: warning: "), out.stderr
    assert "2 judgements name a query absent" in warned[0] and "['qx-1']" in warned[0]
    assert "DataWarning" not in out.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--depth", "0"], "--depth must be >= 1"),
        (["--weights", "1", "2"], "--weights applies to wsum only"),
        (["--method", "wsum", "--weights", "0", "0"], "--weights are all 0"),
    ],
)
def test_bad_fusion_options_exit_2_and_keep_the_old_output(tmp_path, files, extra, message):
    _, run = files
    other = tmp_path / "other.txt"
    other.write_text("q1 Q0 d1 1 5.0 t\n")
    output = tmp_path / "fused.txt"
    output.write_text("precious\n")
    out = cli("fuse", *extra, "--output-run", str(output), str(run), str(other))
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert output.read_text() == "precious\n"


def test_fusing_a_run_with_itself_or_writing_into_a_folder_exits_2(tmp_path, files):
    _, run = files
    out = cli("fuse", "--output-run", str(tmp_path / "f.txt"), str(run), str(run))
    assert out.returncode == 2 and "is given twice" in out.stderr
    out = cli("eval", "--retriever", "bm25", "--output-run", str(tmp_path))  # fails before any search
    assert out.returncode == 2 and "is a directory" in out.stderr and "searching" not in out.stderr
