"""TREC run and qrels files: exact round trips, both qrels layouts, errors naming file:line, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import daft
import pytest

from daft_retrieval.errors import DataError
from daft_retrieval.load import read_qrels, read_run, write_qrels, write_run


def write_text(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def run_frame(rows: list[tuple[str, str, float, int]]) -> daft.DataFrame:
    q, d, s, r = (list(c) for c in zip(*rows))
    return daft.from_pydict({"query_id": q, "doc_id": d, "score": s, "rank": r})


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    return str(info.value)


# --- runs: happy paths ---------------------------------------------------------------------------------------


def test_run_round_trip_keeps_full_precision_and_the_files_ranks(tmp_path):
    scores = [0.1 + 0.2, 1e-300, 123456789.123456789, -2.5, 5e-324, 1.7976931348623157e308]
    # ranks on purpose disagree with the scores: read_run keeps the file's ranks
    rows = [("q1", f"d{i}", s, i + 1) for i, s in enumerate(scores)]
    path = str(tmp_path / "run.txt")
    write_run(run_frame(rows), path)

    back = read_run(path)
    assert back.column_names == ["query_id", "doc_id", "score", "rank"]
    got = {(r["query_id"], r["doc_id"]): (r["score"], r["rank"]) for r in back.to_pylist()}
    assert got == {(q, d): (s, r) for q, d, s, r in rows}  # == on floats: bit-exact
    assert got[("q1", "d0")][0] == 0.30000000000000004
    assert "0.30000000000000004" in Path(path).read_text()  # shortest repr that round-trips, not "0.3"


def test_write_run_orders_by_query_then_rank(tmp_path):
    rows = [
        ("q2", "a", 1.0, 1),
        ("q10", "b", 3.0, 10),
        ("q1", "c", 0.5, 2),
        ("q10", "c", 7.0, 2),
        ("q1", "d", 0.9, 1),
        ("q10", "a", 9.0, 1),
    ]
    path = str(tmp_path / "run.txt")
    write_run(run_frame(rows), path, tag="bm25")
    # query ids sort as strings (q1 < q10 < q2); ranks as numbers (2 < 10)
    assert Path(path).read_text().splitlines() == [
        "q1 Q0 d 1 0.9 bm25",
        "q1 Q0 c 2 0.5 bm25",
        "q10 Q0 a 1 9.0 bm25",
        "q10 Q0 c 2 7.0 bm25",
        "q10 Q0 b 10 3.0 bm25",
        "q2 Q0 a 1 1.0 bm25",
    ]


def test_read_run_accepts_tabs_crlf_and_blank_lines(tmp_path):
    path = write_text(tmp_path / "run.txt", "q1\tQ0\td1\t1\t2.5\tx\r\n\n  \nq1 Q0  d2 2 -1 x\r\n")
    assert read_run(path).to_pydict() == {
        "query_id": ["q1", "q1"],
        "doc_id": ["d1", "d2"],
        "score": [2.5, -1.0],
        "rank": [1, 2],
    }


def test_write_run_rejects_a_tag_with_whitespace(tmp_path):
    message = error_of(write_run, run_frame([("q1", "d1", 1.0, 1)]), str(tmp_path / "r"), tag="my run")
    assert "'my run'" in message


# --- runs: bad input -----------------------------------------------------------------------------------------


def test_run_line_with_five_fields_names_file_and_line(tmp_path):
    path = write_text(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.5 t\n\nq1 Q0 d3 3 1.0\n")
    message = error_of(read_run, path)
    assert f"{path}:4:" in message
    assert "expected 6 fields, found 5" in message


def test_run_line_with_non_numeric_score_names_file_line_and_field(tmp_path):
    path = write_text(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 abc t\n")
    message = error_of(read_run, path)
    assert f"{path}:2:" in message
    assert "field 5" in message and "'abc'" in message


def test_run_line_with_non_integer_rank_names_file_and_line(tmp_path):
    path = write_text(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 t\nq1 Q0 d2 second 1.0 t\n")
    message = error_of(read_run, path)
    assert f"{path}:2:" in message and "field 4" in message


def test_run_listing_a_document_twice_for_a_query_names_both_ids(tmp_path):
    path = write_text(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 t\nq2 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n")
    message = error_of(read_run, path)
    assert path in message and "'q1'" in message and "'d1'" in message


# --- qrels ---------------------------------------------------------------------------------------------------


QRELS = {"query_id": ["007", "q1", "q1", "q2"], "doc_id": ["d1", "d1", "d2", "d9"], "relevance": [1, 2, 0, -1]}


def as_set(df: daft.DataFrame) -> set[tuple[str, str, int]]:
    return {(r["query_id"], r["doc_id"], r["relevance"]) for r in df.to_pylist()}


def test_trec_qrels_and_beir_tsv_read_the_same(tmp_path):
    trec = write_text(tmp_path / "qrels.txt", "007 0 d1 1\nq1 0 d1 2\nq1 0 d2 0\nq2 0 d9 -1\n")
    beir = write_text(
        tmp_path / "test.tsv", "query-id\tcorpus-id\tscore\n007\td1\t1\nq1\td1\t2\nq1\td2\t0\nq2\td9\t-1\n"
    )
    for path in (trec, beir):
        qrels = read_qrels(path)
        assert qrels.column_names == ["query_id", "doc_id", "relevance"]
        assert as_set(qrels) == set(zip(*QRELS.values()))  # "007" keeps its zeros


def test_write_qrels_round_trip(tmp_path):
    path = str(tmp_path / "out" / "qrels.txt")  # the folder is created
    write_qrels(daft.from_pydict(QRELS), path)
    assert Path(path).read_text().splitlines() == ["007 0 d1 1", "q1 0 d1 2", "q1 0 d2 0", "q2 0 d9 -1"]
    assert as_set(read_qrels(path)) == set(zip(*QRELS.values()))


def test_qrels_line_with_non_integer_relevance_names_file_and_line(tmp_path):
    path = write_text(tmp_path / "qrels.txt", "q1 0 d1 1\nq1 0 d2 high\n")
    message = error_of(read_qrels, path)
    assert f"{path}:2:" in message and "'high'" in message


def test_bad_relevance_on_the_first_trec_line_is_not_taken_for_a_header(tmp_path):
    path = write_text(tmp_path / "qrels.txt", "q1 0 d1 high\nq1 0 d2 1\n")
    message = error_of(read_qrels, path)
    assert f"{path}:1:" in message and "'high'" in message


def test_beir_tsv_with_non_integer_relevance_names_file_and_line(tmp_path):
    path = write_text(tmp_path / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t1.5\n")
    message = error_of(read_qrels, path)
    assert f"{path}:3:" in message and "'1.5'" in message


def test_duplicate_judgement_names_query_and_doc(tmp_path):
    path = write_text(tmp_path / "qrels.txt", "q1 0 d1 1\nq2 0 d1 1\nq1 0 d1 2\n")
    message = error_of(read_qrels, path)
    assert path in message and "'q1'" in message and "'d1'" in message


# --- atomic writes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        [("q1", "d 1", 1.0, 1)],  # whitespace in an id cannot be written
        [("q1", "", 1.0, 1)],  # nor an empty id
        [("q1", "d1", 1.0, 1), ("q1", None, 0.5, 2)],  # a null would drop a field from its line
        [("q1", "d1", 1.0, 1), ("q1", "d2", None, 2)],
        [("q1", "d1", 1.0, 1), ("q1", "d2", 0.5, None)],
    ],
)
def test_failed_write_run_leaves_the_old_file_untouched(tmp_path, bad):
    path = str(tmp_path / "run.txt")
    write_run(run_frame([("q1", "d1", 1.0, 1), ("q1", "d2", 0.5, 2)]), path)
    before = Path(path).read_bytes()

    with pytest.raises(DataError):
        write_run(run_frame(bad), path)

    assert Path(path).read_bytes() == before
    assert os.listdir(tmp_path) == ["run.txt"]  # no temporary file left behind


def test_failed_write_qrels_leaves_the_old_file_untouched(tmp_path):
    path = str(tmp_path / "qrels.txt")
    write_qrels(daft.from_pydict(QRELS), path)
    before = Path(path).read_bytes()
    bad = {"query_id": ["q1", "q1"], "doc_id": ["d1", "d 2"], "relevance": [1, 1]}
    assert "'d 2'" in error_of(write_qrels, daft.from_pydict(bad), path)
    assert Path(path).read_bytes() == before
    assert os.listdir(tmp_path) == ["qrels.txt"]


def test_written_files_get_the_mode_open_would_give(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    path = str(tmp_path / "run.txt")
    write_run(run_frame([("q1", "d1", 1.0, 1)]), path)
    assert os.stat(path).st_mode == os.stat(plain).st_mode  # not mkstemp's 0600
    os.chmod(path, 0o640)
    write_run(run_frame([("q1", "d2", 1.0, 1)]), path)  # replacing a file keeps its mode
    assert os.stat(path).st_mode & 0o777 == 0o640


# --- encodings, empty and odd files ---------------------------------------------------------------------------

RUN = "".join(f"q1 Q0 d{i} {i} {10 - i}.5 t\n" for i in range(1, 6))


def test_a_run_that_is_not_utf8_names_the_line_every_time(tmp_path):
    # Daft's read_text alone sometimes returns no rows for such a file: the check must fail on every read
    path = tmp_path / "run.txt"
    path.write_bytes(RUN.encode() + "q2 Q0 caf\u00e9 1 1.0 t\n".encode("latin-1"))
    for _ in range(3):
        message = error_of(read_run, str(path))
        assert f"{path}:6: not UTF-8" in message and "iconv" in message


def test_qrels_not_utf8_far_down_names_the_line(tmp_path):
    lines = "".join(f"q{i} 0 d{i} 1\n" for i in range(2000)).encode()
    path = tmp_path / "qrels.txt"
    path.write_bytes(lines + b"q9 0 d\xe9 1\n")
    assert f"{path}:2001: not UTF-8" in error_of(read_qrels, str(path))


def test_a_byte_order_mark_does_not_stick_to_the_first_id(tmp_path):
    run = read_run(write_text(tmp_path / "run.txt", "\ufeff" + RUN))
    assert set(run.to_pydict()["query_id"]) == {"q1"}
    qrels = read_qrels(write_text(tmp_path / "qrels.txt", "\ufeffq1 0 d1 1\nq1 0 d2 0\n"))
    assert qrels.to_pydict()["query_id"] == ["q1", "q1"]
    beir = read_qrels(write_text(tmp_path / "q.tsv", "\ufeffquery-id\tcorpus-id\tscore\nq1\td1\t1\n"))
    assert beir.to_pydict() == {"query_id": ["q1"], "doc_id": ["d1"], "relevance": [1]}


def test_gzipped_qrels_and_runs_read_like_plain_ones(tmp_path):
    import gzip

    (tmp_path / "qrels.txt.gz").write_bytes(gzip.compress(b"q1 0 d1 1\nq1 0 d2 0\n"))
    (tmp_path / "run.txt.gz").write_bytes(gzip.compress(RUN.encode()))
    assert as_set(read_qrels(str(tmp_path / "qrels.txt.gz"))) == {("q1", "d1", 1), ("q1", "d2", 0)}
    assert read_run(str(tmp_path / "run.txt.gz")).count_rows() == 5


def test_a_nan_score_names_the_line(tmp_path):
    path = write_text(tmp_path / "run.txt", RUN + "q1 Q0 d9 9 nan t\n")
    message = error_of(read_run, path)
    assert f"{path}:6: field 5 is NaN" in message


def test_empty_qrels_are_an_error_and_an_empty_run_a_warning(tmp_path):
    from daft_retrieval.load import DataWarning

    assert "no judgements" in error_of(read_qrels, write_text(tmp_path / "empty.txt", ""))
    assert "no judgements" in error_of(read_qrels, write_text(tmp_path / "h.tsv", "query-id\tcorpus-id\tscore\n"))
    with pytest.warns(DataWarning, match="the run has no lines"):
        assert read_run(write_text(tmp_path / "run.txt", "\n")).count_rows() == 0


def test_trec_qrels_missing_relevance_is_not_taken_for_a_header(tmp_path):
    path = write_text(tmp_path / "qrels.txt", "q1 0 d1\nq1 0 d2\n")
    message = error_of(read_qrels, path)
    assert f"{path}:1:" in message and "TREC qrels (qid 0 docid rel)" in message


def test_a_folder_or_a_missing_file_is_named(tmp_path):
    assert f"{tmp_path}: is a directory" in error_of(read_run, str(tmp_path))
    assert "nowhere.txt: no such file" in error_of(read_qrels, str(tmp_path / "nowhere.txt"))
    assert f"{tmp_path}: is a directory" in error_of(write_run, run_frame([("q", "d", 1.0, 1)]), str(tmp_path))
