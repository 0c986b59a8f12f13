"""Hostile input for every reader: each case names its file and line (or its values) in a DataError, or reads the
exact values trec_eval 10.0 would; streams are read once; nothing is left behind in the temporary folder."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import daft
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from daft_retrieval import schema as S
from daft_retrieval.errors import ArchiveError, DataError, RemoteError
from daft_retrieval.evaluation import evaluate
from daft_retrieval.load import read_corpus, read_qrels, read_queries, read_run
from daft_retrieval.load.lines import daft_reason
from tests.servers import http_server

ROOT = Path(__file__).resolve().parents[1]
RUN = "q1 Q0 d1 1 2.5 t\nq1 Q0 d2 2 1.5 t\n"


@pytest.fixture(autouse=True)
def spool(tmp_path, monkeypatch) -> Path:
    """The readers' temporary copies go to a folder of this test, which must be empty again afterwards."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert list(folder.iterdir()) == []


def write(path: Path, data: str | bytes) -> str:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def error_of(call, *args, kind=DataError, **kwargs) -> str:
    with pytest.raises(kind) as info:
        call(*args, **kwargs)
    assert "panicked" not in str(info.value) and "Traceback" not in str(info.value)
    return str(info.value)


def rows(frame: daft.DataFrame) -> list[tuple]:
    return sorted(tuple(r.values()) for r in frame.to_pylist())


# --- TREC runs: read as trec_eval reads them -------------------------------------------------------------------


def test_comment_lines_and_trailing_fields_are_skipped_as_trec_eval_does(tmp_path):
    text = "# run by me\nq1 Q0 d1 1 2.5 t extra more\n   # indented comment\n\nq1 Q0 d2 2 1.5 t\n#q1 Q0 d3 3 1 t\n"
    run = read_run(write(tmp_path / "run.txt", text))
    assert run.to_pydict() == {"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"], "score": [2.5, 1.5], "rank": [1, 2]}


@pytest.mark.parametrize("qid", ["3.0", "1e3", "007", "-0", "q\u00a0one", "q#1", "0x10", "NaN"])
def test_ids_stay_the_strings_in_the_file(tmp_path, qid):
    run = read_run(write(tmp_path / "run.txt", f"{qid} Q0 {qid} 1 1.0 t\n"))
    assert run.to_pydict()["query_id"] == [qid] and run.to_pydict()["doc_id"] == [qid]


def test_fields_split_on_ascii_whitespace_only(tmp_path):
    # \v \f \r and tabs separate fields (C's isspace); a no-break space or an ideographic space does not
    run = read_run(write(tmp_path / "run.txt", "q1\x0bQ0\x0cd\u3000x\t1 \t2.5\rt\r\n"))
    assert run.to_pydict() == {"query_id": ["q1"], "doc_id": ["d\u3000x"], "score": [2.5], "rank": [1]}


@pytest.mark.parametrize(
    "line, problem",
    [
        ("q1 Q0 d3 3 1.0", "expected 6 fields, found 5"),
        ("q1 Q0 d3 3", "expected 6 fields, found 4"),
        ("\u3000", "expected 6 fields, found 1"),  # not whitespace to trec_eval: a one-field line
        ("q1 Q0 d3 1_000 1.0 t", "field 4 must be an integer in plain ASCII digits"),
        ("q1 Q0 d3 \u0663 1.0 t", "field 4 must be an integer in plain ASCII digits"),
        ("q1 Q0 d3 \uff11 1.0 t", "field 4 must be an integer in plain ASCII digits"),
        ("q1 Q0 d3 99999999999999999999 1.0 t", "field 4 is an integer past 64 bits"),
        ("q1 Q0 d3 -9223372036854775809 1.0 t", "field 4 is an integer past 64 bits"),
        ("q1 Q0 d3 3.0 1.0 t", "field 4 must be an integer, found '3.0'"),
        ("q1 Q0 d3 0x10 1.0 t", "field 4 must be a number (int), found '0x10'"),
        ("q1 Q0 d3 3 1_0.5 t", "field 5 must be a number in plain ASCII digits"),
        ("q1 Q0 d3 3 \u0661.\u0665 t", "field 5 must be a number in plain ASCII digits"),
        ("q1 Q0 d3 3 nan t", "field 5 is NaN"),
        ("q1 Q0 d3 3 -NaN t", "field 5 is NaN"),
        ("q1 Q0 d3 3 0x1p3 t", "field 5 must be a number (float), found '0x1p3'"),
        ("q1 Q0 d3 3 1,5 t", "field 5 must be a number (float), found '1,5'"),
    ],
)
def test_a_bad_run_line_names_file_line_and_field(tmp_path, line, problem):
    path = write(tmp_path / "run.txt", RUN + "# a comment\n" + line + "\n")
    message = error_of(read_run, path)
    assert message.startswith(f"{path}:4: {problem}")


@pytest.mark.parametrize(
    "rank, score",
    [("+7", "1e3"), ("007", "inf"), ("-3", "-inf"), ("9223372036854775807", ".5"), ("0", "5."), ("1", "+1.5E-3")],
)
def test_numbers_daft_reads_are_the_numbers_python_reads(tmp_path, rank, score):
    run = read_run(write(tmp_path / "run.txt", f"q1 Q0 d1 {rank} {score} t\n"))
    assert run.to_pydict()["rank"] == [int(rank)] and run.to_pydict()["score"] == [float(score)]


def test_a_run_listing_an_unjudged_document_twice_is_refused(tmp_path):
    path = write(tmp_path / "run.txt", "q1 Q0 d1 1 2 t\nq2 Q0 d1 1 2 t\nq1 Q0 d1 2 1 t\n")
    message = error_of(read_run, path)
    assert message.startswith(f"{path}: query 'q1' lists doc 'd1' 2 times")


# --- byte-order marks, NUL bytes, encodings ----------------------------------------------------------------------


def test_a_byte_order_mark_is_stripped_at_the_start_of_a_file_only(tmp_path):
    assert rows(read_run(write(tmp_path / "a.run", "\ufeff" + RUN))) == [("q1", "d1", 2.5, 1), ("q1", "d2", 1.5, 2)]
    assert rows(read_qrels(write(tmp_path / "q.tsv", "\ufeffquery-id\tcorpus-id\tscore\nq1\td1\t1\n"))) == [
        ("q1", "d1", 1)
    ]
    corpus = read_corpus(write(tmp_path / "c.jsonl", '\ufeff{"_id": "a", "text": "x"}\n'))
    assert corpus.to_pydict() == {"doc_id": ["a"], "title": [""], "text": ["x"]}


@pytest.mark.parametrize(
    "text, line",
    [
        (RUN + "\ufeffq2 Q0 d1 1 1.0 t\n", 3),  # two files joined with cat
        ("\ufeff" + RUN + "q2 Q0 d\ufeff1 1 1.0 t\n", 3),  # a second mark inside an id
        ("\ufeff\ufeff" + RUN, 1),
    ],
)
def test_a_byte_order_mark_inside_the_file_names_its_line(tmp_path, text, line):
    path = write(tmp_path / "run.txt", text)
    assert error_of(read_run, path).startswith(f"{path}:{line}: a byte-order mark (U+FEFF) inside the file")


@pytest.mark.parametrize("reader, name", [(read_run, "run.txt"), (read_qrels, "q.tsv"), (read_queries, "q.jsonl")])
def test_a_nul_byte_names_its_line(tmp_path, reader, name):
    good = {"run.txt": "q1 Q0 d1 1 2.5 t\n", "q.tsv": "q1\td1\t1\n", "q.jsonl": '{"_id": "a", "text": "x"}\n'}[name]
    path = write(tmp_path / name, (good * 3).encode() + b"x\x00y\n")
    assert error_of(reader, path).startswith(f"{path}:4: a NUL byte")


def test_a_character_cut_by_the_8_mib_reads_is_no_error_but_a_bad_byte_far_down_names_its_line(tmp_path):
    lines = b"".join(b"q1 Q0 d%07d 1 1.0 t\n" % i for i in range((1 << 23) // 24))
    pad = (1 << 23) - 1 - len(lines) - len(b"q2 Q0 d")  # the euro sign's 3 bytes start one byte before 8 MiB
    body = lines + b"q2 Q0 d" + b"x" * pad + "\u20ac 1 1.0 t\n".encode()
    assert body.index("\u20ac".encode()) == (1 << 23) - 1
    path = write(tmp_path / "run.txt", body)
    last = body.count(b"\n")
    assert read_run(path).count_rows() == last
    path = write(tmp_path / "bad.txt", body + b"q9 Q0 caf\xe9 1 1.0 t\n")
    assert error_of(read_run, path).startswith(f"{path}:{last + 1}: not UTF-8")
    path = write(tmp_path / "cut.txt", body + b"q9 Q0 d\xe2\x82")
    assert error_of(read_run, path).startswith(f"{path}:{last + 1}: ends inside a UTF-8 character")


# --- qrels: the same judgements in every format ------------------------------------------------------------------


JUDGED = [("007", "3.0", 1), ("q1", "1e3", 2), ("q1", "d2", 0), ("q2", "d9", -1)]


def test_every_qrels_format_reads_the_same_judgements(tmp_path):
    trec = write(tmp_path / "q.txt", "# judged by me\n" + "".join(f"{q} 0 {d} {r}\n" for q, d, r in JUDGED))
    beir = write(tmp_path / "q.tsv", "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{r}\n" for q, d, r in JUDGED))
    lines = [json.dumps({"query-id": q, "corpus-id": d, "score": r}) for q, d, r in JUDGED]
    jsonl = write(tmp_path / "q.jsonl", "\n".join(lines) + "\n")
    columns = list(zip(*JUDGED))
    table = pa.table({"query_id": columns[0], "doc_id": columns[1], "relevance": pa.array(columns[2], pa.int64())})
    pq.write_table(table, tmp_path / "q.parquet")
    gz = write(tmp_path / "q.txt.gz", gzip.compress(Path(trec).read_bytes()))
    for path in (trec, beir, jsonl, str(tmp_path / "q.parquet"), gz):
        assert rows(read_qrels(path)) == sorted(JUDGED), path


def test_a_first_line_is_a_header_only_when_its_last_field_is_not_a_number(tmp_path):
    assert rows(read_qrels(write(tmp_path / "a.tsv", "q1\td1\t1\nq1\td2\t0\n"))) == [("q1", "d1", 1), ("q1", "d2", 0)]
    path = write(tmp_path / "b.tsv", "q1\td1\t1.5\nq1\td2\t1\n")  # a judgement with a bad relevance, not a header
    assert error_of(read_qrels, path).startswith(f"{path}:1: field 3 must be an integer, found '1.5'")
    path = write(tmp_path / "c.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nquery-id\tcorpus-id\tscore\n")
    assert error_of(read_qrels, path).startswith(f"{path}:3: the header line again")


@pytest.mark.parametrize(
    "name, text, line, problem",
    [
        ("q.txt", "q1 0 d1 1\nq1 0 d2 1.5\n", 2, "field 4 must be an integer, found '1.5'"),
        ("q.txt", "q1 0 d1 1\nq1 0 d2 1 extra\n", 2, "expected 4 fields, found 5"),
        ("q.txt", "q1 0 d1 1 extra\n", 1, "expected 4 fields, found 5"),
        ("q.txt", "# c\nq1 0 d1 1_0\n", 2, "field 4 must be an integer in plain ASCII digits"),
        ("q.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t9223372036854775808\n", 2, "field 3 is an integer past 64"),
        ("q.jsonl", '{"query-id": "q", "corpus-id": "d", "score": 1.5}\n', 1, "'score' is the number 1.5"),
        (
            "q.jsonl",
            '{"query-id": "q", "corpus-id": "d", "score": 1}\n{"query-id": "q", "corpus-id": "e"}\n',
            2,
            "'score' is missing",
        ),
        ("q.jsonl", '{"query-id": "q", "corpus-id": "d", "score": "1"}\n', 1, "'score' is the string '1'"),
        ("q.jsonl", '{"query-id": "q", "corpus-id": "d", "score": true}\n', 1, "'score' is true (a boolean)"),
        ("q.jsonl", '{"query-id": "q", "corpus-id": "d", "score": null}\n', 1, "'score' is null"),
        ("q.jsonl", '{"query-id": "q", "corpus-id": "d", "score": 9223372036854775808}\n', 1, "'score' is the number"),
        ("q.jsonl", '{"query-id": "q", "corpus-id": "d", "score": 1e400}\n', 1, "the number 1e400 is out of range"),
        (
            "q.jsonl",
            '{"query-id": 3.0, "corpus-id": "d", "score": 1}\n',
            1,
            "the query id 'query-id' is the number 3.0",
        ),
    ],
)
def test_non_integer_relevance_and_bad_lines_are_refused_in_every_format(tmp_path, name, text, line, problem):
    path = write(tmp_path / name, text)
    assert error_of(read_qrels, path).startswith(f"{path}:{line}: {problem}")


def test_a_whole_float_relevance_in_a_table_is_read_as_an_integer_and_a_fraction_refused(tmp_path):
    pq.write_table(pa.table({"query-id": ["q", "q"], "corpus-id": ["d", "e"], "score": [1.0, 2.0]}), tmp_path / "a.pq")
    assert rows(read_qrels(str(tmp_path / "a.pq"), format="parquet")) == [("q", "d", 1), ("q", "e", 2)]
    pq.write_table(pa.table({"query-id": ["q", "q"], "corpus-id": ["d", "e"], "score": [1.0, 1.5]}), tmp_path / "b.pq")
    message = error_of(read_qrels, str(tmp_path / "b.pq"), format="parquet")
    assert "'score' 1.5" in message and "'e'" in message and "expected an integer relevance" in message


def test_duplicate_judgements_are_blamed_on_the_qrels_in_every_format(tmp_path):
    lines = '{"query-id": "q", "corpus-id": "d", "score": 1}\n{"query-id": "q", "corpus-id": "d", "score": 2}\n'
    for path in (write(tmp_path / "q.jsonl", lines), write(tmp_path / "q.txt", "q 0 d 1\nq 0 d 2\n")):
        assert error_of(read_qrels, path).startswith(f"{path}: query 'q' judges doc 'd' 2 times")


# --- JSONL and Parquet tables ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines, line, problem",
    [
        (['{"_id": "x", "text": "b"}', '{"_id": 3.0, "text": "a"}'], 2, "the document id '_id' is the number 3.0"),
        (['{"_id": 1e3, "text": "a"}'], 1, "the document id '_id' is the number 1e3"),
        (['{"_id": -0, "text": "a"}'], 1, "the document id '_id' is the number -0"),
        (['{"_id": true, "text": "a"}'], 1, "the document id '_id' is true (a boolean)"),
        (['{"_id": {"a": 1}, "text": "a"}'], 1, "the document id '_id' is an object"),
        (['{"_id": "a", "text": {"x": 1}}', '{"_id": "b", "text": "t"}'], 1, "document 'a': its text 'text' is an obj"),
        (['{"_id": "b", "text": "t"}', '{"_id": "a", "text": ["x"]}'], 2, "document 'a': its text 'text' is an array"),
        (['{"_id": "a", "text": 5}'], 1, "document 'a': its text 'text' is the number 5"),
        (['{"_id": "a", "text": "t", "title": {"x": 1}}'], 1, "document 'a': its title 'title' is an object"),
        (['{"_id": "a", "text": "t", "title": "x"}', '{"_id": "b", "text": "", "title": [1]}'], 2, "document 'b'"),
        (['{"_id": "a", "text": "t"}', "", '{"_id": "b", "text": "t"}'], 2, "a blank line"),
        (['{"_id": "a", "text": NaN}'], 1, "NaN is not JSON"),
        (['{"_id": "a", "text": "t", "n": 123456789012345678901234567890}'], 1, "the number 1234567890123"),
        (['{"_id": "a", "text": "t"}', '{"_id": "b", "text": "t"'], 2, "invalid JSON"),
        (['{"_id": "a", "text": "t"}', "[1, 2]"], 2, "expected a JSON object, found list"),
        (['{"_id": "a", "x": ' + '{"a": ' * 600 + "1" + "}" * 600 + ', "text": "t"}'], 1, "JSON nested more than"),
        (['{"_id": "a", "text": "t", "x": ' + "[" * 5000 + "]" * 5000 + "}"], 1, "JSON nested more than"),
    ],
)
def test_a_bad_corpus_line_names_file_and_line(tmp_path, lines, line, problem):
    path = write(tmp_path / "corpus.jsonl", "\n".join(lines) + "\n")
    assert error_of(read_corpus, path).startswith(f"{path}:{line}: {problem}")


def test_brackets_inside_strings_are_not_nesting(tmp_path):
    text = "[" * 300 + "{" * 300
    corpus = read_corpus(write(tmp_path / "c.jsonl", json.dumps({"_id": "a", "text": text}) + "\n"))
    assert corpus.to_pydict()["text"] == [text]


def test_json_ids_written_as_integers_or_strings_stay_as_written(tmp_path):
    path = write(
        tmp_path / "q.jsonl", '{"_id": 7, "text": "a"}\n{"_id": "007", "text": "b"}\n{"_id": "3.0", "text": "c"}\n'
    )
    assert read_queries(path).to_pydict()["query_id"] == ["7", "007", "3.0"]


def test_a_missing_or_null_title_is_empty_but_text_is_required(tmp_path):
    lines = (
        '{"_id": "a", "text": "t", "title": "x"}\n{"_id": "b", "text": "t"}\n{"_id": "c", "text": "t", "title": null}\n'
    )
    assert read_corpus(write(tmp_path / "c.jsonl", lines)).to_pydict()["title"] == ["x", "", ""]
    path = write(tmp_path / "d.jsonl", '{"_id": "a", "text": "t"}\n{"_id": "b", "text": null}\n')
    assert error_of(read_corpus, path).startswith(f"{path}:2: document 'b': its text 'text' is null")


def test_parquet_and_tsv_ids(tmp_path):
    pq.write_table(pa.table({"_id": [3.0], "text": ["x"]}), tmp_path / "f.parquet")
    assert "are read as Float64, expected strings or integers" in error_of(read_corpus, str(tmp_path / "f.parquet"))
    pq.write_table(pa.table({"_id": ["a"], "text": [{"x": 1}]}), tmp_path / "s.parquet")
    assert "column 'text' (text) holds Struct" in error_of(read_corpus, str(tmp_path / "s.parquet"))
    tsv = read_corpus(write(tmp_path / "c.tsv", "_id\ttext\n3.0\thello\n007\tx\n1e3\ty\n"))
    assert tsv.to_pydict()["doc_id"] == ["3.0", "007", "1e3"]


# --- gzip ------------------------------------------------------------------------------------------------------


GZ = gzip.compress(RUN.encode() * 50)


@pytest.mark.parametrize(
    "data, problem",
    [
        (GZ[: len(GZ) // 2], "is cut short"),
        (RUN.encode(), "is not gzip data"),
        (GZ + b"\x00\x00\x00", "has bytes that are not gzip data after byte"),
        (GZ + b"garbage", "has bytes that are not gzip data after byte"),
        (b"", "is empty, not gzip data"),
    ],
)
@pytest.mark.parametrize(
    "reader, name", [(read_run, "run.txt.gz"), (read_qrels, "q.txt.gz"), (read_corpus, "c.jsonl.gz")]
)
def test_a_broken_gzip_file_is_an_archive_error_naming_it(tmp_path, data, problem, reader, name):
    path = write(tmp_path / name, data)
    assert error_of(reader, path, kind=ArchiveError).startswith(f"{path}: {problem}")


def test_several_gzip_members_read_as_one_file(tmp_path):
    path = write(tmp_path / "run.txt.gz", gzip.compress(b"q1 Q0 d1 1 2.5 t\n") + gzip.compress(b"q1 Q0 d2 2 1.5 t\n"))
    assert rows(read_run(path)) == [("q1", "d1", 2.5, 1), ("q1", "d2", 1.5, 2)]


# --- streams: stdin, pipes, process substitution, devices ------------------------------------------------------


def python(
    code: str, *args: str, stdin=None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=environment,
        timeout=timeout,
    )


READ = (
    "import sys; from daft_retrieval.load import read_run\n"
    "try:\n    print(sorted(read_run(sys.argv[1]).to_pydict()['doc_id']))\n"
    "except ValueError as e:\n    print('ERROR', type(e).__name__, e)\n"
)


def test_stdin_and_dev_stdin_are_read_once_and_correctly(spool):
    env = {"TMPDIR": str(spool)}
    for path in ("-", "/dev/stdin"):
        out = python(READ, path, stdin=RUN.encode(), env=env)
        assert out.stdout.decode().strip() == "['d1', 'd2']", out.stderr.decode()[-2000:]
    out = python(READ, "-", stdin=gzip.compress(RUN.encode()), env=env)  # gzip data through a pipe
    assert out.stdout.decode().strip() == "['d1', 'd2']"
    twice = "from daft_retrieval.load import read_run\nread_run('-')\n"
    twice += "try:\n    read_run('-')\nexcept ValueError as e:\n    print(e)"
    assert "standard input was already read" in python(twice, stdin=RUN.encode(), env=env).stdout.decode()


def test_process_substitution_scores_what_the_file_scores(tmp_path, spool):
    run, qrels = write(tmp_path / "run.txt", RUN), write(tmp_path / "q.txt", "q1 0 d2 1\n")
    code = (
        "import sys\nfrom daft_retrieval.load import read_run, read_qrels\n"
        "from daft_retrieval.evaluation import evaluate\n"
        "print(evaluate(read_run(sys.argv[1]), read_qrels(sys.argv[2]), ['RR']).aggregate['RR'])"
    )
    script = f'"{sys.executable}" -c "$0" <(cat "$1") <(cat "$2")'
    out = subprocess.run(
        ["bash", "-c", script, code, run, qrels],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "TMPDIR": str(spool)},
        timeout=120,
    )
    assert out.stdout.decode().strip() == "0.5", out.stderr.decode()[-2000:]


def feed_fifo(path: Path, data: bytes | None, forever: bytes | None = None) -> threading.Thread:
    """A thread writing ``data`` (or ``forever`` endlessly, until the reader goes) into the FIFO at ``path``."""

    def writer() -> None:
        try:
            with open(path, "wb") as fh:
                if data is not None:
                    fh.write(data)
                while forever is not None:
                    fh.write(forever)
        except (BrokenPipeError, OSError):
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return thread


def test_a_fifo_is_read_once(tmp_path):
    fifo = tmp_path / "run.fifo"
    os.mkfifo(fifo)
    thread = feed_fifo(fifo, RUN.encode())
    assert rows(read_run(str(fifo))) == [("q1", "d1", 2.5, 1), ("q1", "d2", 1.5, 2)]
    thread.join(timeout=10)


def test_an_endless_stream_stops_in_bounded_time_and_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFT_RETRIEVAL_MAX_STREAM_BYTES", str(20 << 20))
    fifo = tmp_path / "endless.fifo"
    os.mkfifo(fifo)
    thread = feed_fifo(fifo, None, forever=RUN.encode() * 1000)
    message = error_of(read_run, str(fifo))
    assert message.startswith(f"{fifo}: more than 20,971,520 bytes and still going")
    thread.join(timeout=10)
    assert not thread.is_alive()

    os.mkfifo(tmp_path / "one-line.fifo")
    thread = feed_fifo(tmp_path / "one-line.fifo", None, forever=b"q1 Q0 d1 " * 10_000)  # never a line break
    message = error_of(read_run, str(tmp_path / "one-line.fifo"))
    assert message.startswith(f"{tmp_path / 'one-line.fifo'}:1: a line longer than 1,048,576 bytes")
    thread.join(timeout=10)


def test_dev_zero_is_refused_at_its_first_line():
    assert error_of(read_run, "/dev/zero").startswith("/dev/zero:1: a NUL byte")
    with pytest.warns(Warning, match="the run has no lines"):
        assert read_run("/dev/null").count_rows() == 0


def test_stdin_in_process(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(RUN.encode()))))
    assert rows(read_run("-")) == [("q1", "d1", 2.5, 1), ("q1", "d2", 1.5, 2)]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(b"q1 Q0 d1 1 x t\n"))))
    assert error_of(read_run, "-").startswith("<stdin>:1: field 5 must be a number (float), found 'x'")


# --- remote files: the same rules, no scan ---------------------------------------------------------------------


def test_remote_runs_read_as_local_ones_and_name_the_line(tmp_path):
    write(tmp_path / "run.txt", "\ufeff# c\n" + RUN.replace("t\n", "t extra\n"))
    write(tmp_path / "nul.txt", RUN + "q1 Q0 d\x009 3 1.0 t\n")
    write(tmp_path / "bad.txt", RUN + "q1 Q0 d9 1_000 1.0 t\n")
    with http_server(str(tmp_path)) as (base, _):
        assert rows(read_run(f"{base}/run.txt")) == [("q1", "d1", 2.5, 1), ("q1", "d2", 1.5, 2)]
        assert error_of(read_run, f"{base}/nul.txt").startswith(f"{base}/nul.txt:3: a NUL byte")
        assert error_of(read_run, f"{base}/bad.txt").startswith(f"{base}/bad.txt:3: field 4 must be an integer in")
        message = error_of(read_run, f"{base}/nowhere.txt", kind=RemoteError)
        assert message.startswith(f"{base}/nowhere.txt: could not be read")


# --- evaluate(): frames from Python ----------------------------------------------------------------------------


QRELS = daft.from_pydict({"query_id": ["q1"], "doc_id": ["d2"], "relevance": [1]})


def test_evaluate_refuses_a_run_listing_an_unjudged_document_twice():
    run = daft.from_pydict({"query_id": ["q1"] * 3, "doc_id": ["d9", "d2", "d9"], "score": [3.0, 2.0, 1.0]})
    message = error_of(evaluate, run, QRELS, ["RR"])
    assert message.startswith("run: query 'q1' lists doc 'd9' 2 times; judged or not")


def test_evaluate_blames_duplicate_judgements_on_the_qrels():
    run = daft.from_pydict({"query_id": ["q1"], "doc_id": ["d2"], "score": [1.0]})
    qrels = daft.from_pydict({"query_id": ["q1", "q1"], "doc_id": ["d2", "d2"], "relevance": [1, 2]})
    assert error_of(evaluate, run, qrels, ["RR"]).startswith("qrels: query 'q1' judges doc 'd2' 2 times")


def test_evaluate_refuses_a_fractional_relevance_and_reads_whole_floats():
    run = daft.from_pydict({"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"], "score": [2.0, 1.0]})
    floats = daft.from_pydict({"query_id": ["q1"], "doc_id": ["d2"], "relevance": [1.5]})
    assert error_of(evaluate, run, floats, ["RR"]).startswith("qrels: relevance 1.5 is not an integer")
    whole = daft.from_pydict({"query_id": ["q1"], "doc_id": ["d2"], "relevance": [1.0]})
    assert evaluate(run, whole, ["RR"]).aggregate == {"RR": 0.5}


@pytest.mark.parametrize("seed", range(5))
def test_duplicates_agrees_with_counting_in_python(seed):
    import random
    from collections import Counter

    rng = random.Random(seed)
    pairs = [(f"q{rng.randrange(30)}", f"d{rng.randrange(60 if seed else 10_000)}") for _ in range(500)]
    frame = daft.from_pydict({"query_id": [q for q, _ in pairs], "doc_id": [d for _, d in pairs]})
    expected = {k: n for k, n in Counter(pairs).items() if n > 1}
    found = S.duplicates(frame, ["query_id", "doc_id"], limit=10_000)
    assert {(d["query_id"], d["doc_id"]): d["n"] for d in found} == expected


# --- Daft's own failures ---------------------------------------------------------------------------------------


def test_rust_panic_text_never_reaches_the_message():
    panic = RuntimeError("thread '<unnamed>' panicked at src/daft-json/src/read.rs:10:5:\nindex out of bounds")
    assert daft_reason(panic) == "Daft could not read it (an internal error)"
    assert daft_reason(ValueError("JSON deserialization error: Eof at character 0")).startswith("JSON deserial")


def test_the_cli_exits_2_with_one_line_for_a_truncated_gzip_run(tmp_path):
    run = write(tmp_path / "run.txt.gz", GZ[:40])
    qrels = write(tmp_path / "q.txt", "q1 0 d2 1\n")
    env = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0"}
    out = subprocess.run(
        [sys.executable, "-m", "daft_retrieval", "evaluate", qrels, run],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2 and run in out.stderr and "is cut short" in out.stderr
    assert "Traceback" not in out.stderr and "panicked" not in out.stderr
