"""TREC run files (``qid Q0 docid rank score tag``) and qrels (TREC ``qid 0 docid rel`` or BEIR TSV), both ways.

Files are split on whitespace by Daft (``read_text`` + ``regexp_split``); a malformed line is a :class:`DataError`
naming the file and line. Writes are atomic (a temporary file renamed over the target), so a failed write never
leaves half a file where a good one was.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from typing import Any

import daft
import pyarrow as pa
from daft import DataType, col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.load.dataset import DataWarning
from daft_retrieval.load.fields import Layout, first_fields, looks_like_number, parse
from daft_retrieval.load.scan import open_source
from daft_retrieval.runner import persist

__all__ = ["provenance_lines", "read_provenance", "read_qrels", "read_run", "write_qrels", "write_run"]


RUN_LAYOUT = Layout(
    ("str", "str", "str", "int", "float", "str"),
    (S.QUERY_ID, None, S.DOC_ID, S.RANK, S.SCORE, None),
    "TREC run (qid Q0 docid rank score tag)",
    more=True,
)
TREC_QRELS = Layout(("str", "str", "str", "int"), (S.QUERY_ID, None, S.DOC_ID, S.RELEVANCE), "TREC qrels")
BEIR_QRELS = Layout(
    ("str", "str", "int"),
    (S.QUERY_ID, S.DOC_ID, S.RELEVANCE),
    "BEIR qrels TSV (query-id corpus-id score) or TREC qrels (qid 0 docid rel)",
)


def read_run(path: str, *, io_config: daft.io.IOConfig | None = None) -> daft.DataFrame:
    """Read a TREC run file into the run frame ``query_id, doc_id, score, rank`` (the file's ranks kept).

    Read as trec_eval 10.0 reads it (see :mod:`~daft_retrieval.load.fields`): ``#`` comment lines are skipped,
    fields after the tag ignored, ids kept as written. ``path`` may be ``-`` (stdin), a pipe or ``<(cmd)``: read
    once (see :mod:`~daft_retrieval.load.scan`). A (query, doc) pair listed twice is a :class:`DataError`
    (trec_eval refuses such runs too).

    >>> write_run(daft.from_pydict({"query_id": ["q1"], "doc_id": ["d1"], "score": [2.0], "rank": [1]}), "/tmp/r")
    >>> read_run("/tmp/r").to_pydict()["score"]
    [2.0]
    """
    with open_source(path, kind="trec") as source:
        run = parse(source, RUN_LAYOUT, io_config)
        if not run.count_rows():
            warnings.warn(f"{source.name}: the run has no lines: every query scores 0", DataWarning, stacklevel=2)
        fix = "a run ranks each document once per query: keep one line per (query, doc)"
        S.require_unique_pairs(run, source.name, "lists", fix)
        return persist(run.select(*S.RUN))


def _is_header(fields: list[str]) -> bool:
    """A BEIR header has three fields and ends in a word (``score``); a judgement line ends in a number (``1``, or
    a ``1.5`` that is then refused as a relevance, never dropped as a header).

    A four-field first line is TREC qrels, never a header: a bad relevance there is reported as line 1. Nor is a
    three-field line whose middle field is an integer: TREC qrels missing its relevance (``qid 0 docid``).
    """
    return len(fields) == 3 and not fields[1].lstrip("+-").isdigit() and not looks_like_number(fields[-1])


def read_qrels(path: str, *, format: str | None = None, io_config: daft.io.IOConfig | None = None) -> daft.DataFrame:
    """Read relevance judgements into ``query_id, doc_id, relevance``.

    Accepts TREC qrels (``qid 0 docid rel``), BEIR TSV (``query-id corpus-id score``, its first line a header when
    its last field is not a number), or a JSONL/Parquet table with those columns. ``#`` lines are comments; a
    relevance must be an integer in every format; ids are kept as written. A (query, doc) pair judged twice is a
    :class:`DataError`.

    >>> read_qrels("data/demo/qrels/test.tsv").column_names
    ['query_id', 'doc_id', 'relevance']
    """
    lower = path.lower()
    if format in ("json", "parquet") or lower.endswith((".jsonl", ".parquet", ".jsonl.gz")):
        from daft_retrieval.load.tables import read_qrels_table

        return read_qrels_table(path, format=format, io_config=io_config)
    with open_source(path, kind="trec") as source:
        first = first_fields(source, io_config)
        header = first if _is_header(first) else None
        layout = TREC_QRELS if header is None and len(first) >= 4 else BEIR_QRELS
        qrels = parse(source, layout, io_config, header)
        return check_qrels(qrels, source.name)


def check_qrels(qrels: daft.DataFrame, name: str) -> daft.DataFrame:
    """``qrels`` (parsed from the file ``name``) held in memory, or a :class:`DataError` when it holds no
    judgement or judges a (query, doc) twice."""
    if not qrels.count_rows():
        raise DataError(f"{name}: no judgements. Qrels need one line per judged (query, doc): qid 0 docid rel.")
    S.require_unique_pairs(qrels, name, "judges", "keep one judgement")
    return persist(qrels.select(*S.QRELS))


_LINES_PER_WRITE = 1 << 20
_EMPTY, _NEWLINE = pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string())


def _write_lines(lines: pa.ChunkedArray, path: str, header: bytes = b"") -> None:
    """Write ``header`` then one string per line to ``path`` (:func:`daft_retrieval.outputs.output_file`: atomically
    for a file, in place for a pipe or device). The bytes go out as Arrow holds them, whatever characters the
    lines hold."""
    import numpy as np
    import pyarrow.compute as pc

    from daft_retrieval.outputs import output_file

    with output_file(path) as fh:
        fh.write(header)
        for chunk in lines.chunks:
            for start in range(0, len(chunk), _LINES_PER_WRITE):
                piece = chunk.slice(start, _LINES_PER_WRITE).cast(pa.large_string())
                piece = pc.binary_join_element_wise(piece, _EMPTY, _NEWLINE)  # each line + "\n"
                ends = np.frombuffer(piece.buffers()[1], dtype=np.int64)[piece.offset : piece.offset + len(piece) + 1]
                if len(piece):
                    fh.write(memoryview(piece.buffers()[2])[ends[0] : ends[-1]])


def _check_no_whitespace(df: daft.DataFrame, columns: list[str], what: str) -> None:
    for c in columns:
        bad = df.where(col(c).regexp(r"\s") | (col(c) == "")).select(c).limit(1).to_pydict()[c]
        if bad:
            raise DataError(f"{what}: id {bad[0]!r} is empty or has whitespace, which TREC files cannot hold.")


def provenance_lines(provenance: Mapping[str, Any]) -> bytes:
    r"""``# key: value`` lines (value as compact JSON unless a one-line string), trec_eval 10.0 skips them.

    >>> provenance_lines({"system": {"retriever": "bm25"}, "package": "daft_retrieval 0.1.0"})
    b'# system: {"retriever":"bm25"}\n# package: daft_retrieval 0.1.0\n'
    """
    lines = []
    for key, value in provenance.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
        if not re.fullmatch(r"[\w.\-]+", str(key)) or "\n" in text or "\r" in text:
            raise DataError(f"provenance {key!r}: a key is one word and a value one line, not {text!r}")
        lines.append(f"# {key}: {text}\n")
    return "".join(lines).encode("utf-8")


def read_provenance(path: str) -> dict[str, Any]:
    """The ``# key: value`` lines at the top of a run file written with ``provenance`` (JSON values decoded).

    >>> write_run(run, "runs/bm25.txt", provenance={"system": {"retriever": "bm25"}})  # doctest: +SKIP
    >>> read_provenance("runs/bm25.txt")["system"]  # doctest: +SKIP
    {'retriever': 'bm25'}
    """
    out: dict[str, Any] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.startswith("# "):
                break
            key, _, text = line[2:].rstrip("\n").partition(": ")
            try:
                out[key] = json.loads(text)
            except ValueError:
                out[key] = text
    return out


def write_run(
    run: daft.DataFrame, path: str, *, tag: str = "daft_retrieval", provenance: Mapping[str, Any] | None = None
) -> None:
    """Write a run frame as a TREC run file, ordered by query id then rank; scores keep full precision.
    ``provenance``: ``# key: value`` lines first (what made the run; :func:`read_provenance` reads them back).

    A symbolic link's target is written, a FIFO or device (``/dev/stdout``) in place; a folder that is not
    writable, a full disk or a read-only file is an :class:`~daft_retrieval.errors.OutputError` naming ``path``.

    >>> run = daft.from_pydict({"query_id": ["q1"], "doc_id": ["d1"], "score": [0.5], "rank": [1]})
    >>> write_run(run, "runs/demo.txt")  # doctest: +SKIP
    """
    from daft_retrieval.outputs import check_output_file

    S.require_columns(run, S.RUN, "run")
    check_output_file(path)  # before the run is computed
    if not tag or any(ch.isspace() for ch in tag):
        raise DataError(f"run tag {tag!r} must be one word without whitespace")
    run = persist(run.select(*S.RUN))  # run the plan once: the checks and the write all read this
    S.require_values(run, S.RUN, f"run for {path}")  # a null would silently drop a field from its line
    _check_no_whitespace(run, [S.QUERY_ID, S.DOC_ID], f"run for {path}")
    line = daft.functions.concat_ws(
        " ",
        col(S.QUERY_ID),
        lit("Q0"),
        col(S.DOC_ID),
        col(S.RANK).cast(DataType.string()),
        col(S.SCORE).cast(DataType.float64()).cast(DataType.string()),
        lit(tag),
    )
    table = run.sort([S.QUERY_ID, S.RANK]).select(line.alias("line")).to_arrow()
    _write_lines(table.column("line"), path, provenance_lines(provenance or {}))


def write_qrels(qrels: daft.DataFrame, path: str) -> None:
    """Write qrels as a TREC qrels file (``qid 0 docid rel``)."""
    from daft_retrieval.outputs import check_output_file

    S.require_columns(qrels, S.QRELS, "qrels")
    check_output_file(path)
    qrels = persist(qrels.select(*S.QRELS))  # run the plan once: the checks and the write all read this
    S.require_values(qrels, S.QRELS, f"qrels for {path}")
    _check_no_whitespace(qrels, [S.QUERY_ID, S.DOC_ID], f"qrels for {path}")
    line = daft.functions.concat_ws(
        " ", col(S.QUERY_ID), lit("0"), col(S.DOC_ID), col(S.RELEVANCE).cast(DataType.string())
    )
    table = qrels.sort([S.QUERY_ID, S.DOC_ID]).select(line.alias("line")).to_arrow()
    _write_lines(table.column("line"), path)
