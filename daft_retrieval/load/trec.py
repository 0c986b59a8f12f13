"""TREC run files (``qid Q0 docid rank score tag``) and qrels (TREC ``qid 0 docid rel`` or BEIR TSV), both ways.

Files are split on whitespace by Daft (``read_text`` + ``regexp_split``); a malformed line is a :class:`DataError`
naming the file and line. Writes are atomic (a temporary file renamed over the target), so a failed write never
leaves half a file where a good one was.
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
import warnings

import daft
import pyarrow as pa
from daft import DataType, col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.load.dataset import DataWarning
from daft_retrieval.load.lines import BOM, check_file, check_utf8, first_bad_line, first_line
from daft_retrieval.runner import persist

__all__ = ["read_qrels", "read_run", "write_qrels", "write_run"]


def _split(path: str, io_config) -> daft.DataFrame:
    check_file(path)
    check_utf8(path)  # Daft's read_text may return no rows for a file that is not UTF-8, instead of failing
    text = col("text").regexp_replace(f"^{BOM}", "").strip()  # a byte-order mark would stick to the first id
    return daft.read_text(path, io_config=io_config).select(text.regexp_split(r"\s+").alias("f"))


def _field_problem(kinds: list[str]):
    """A line checker: ``kinds`` holds one of "str", "int", "float" per field."""

    def problem(line: str) -> str | None:
        if not line.strip():
            return None
        parts = line.removeprefix(BOM).split()
        if len(parts) != len(kinds):
            return f"expected {len(kinds)} fields, found {len(parts)}"
        for i, (part, kind) in enumerate(zip(parts, kinds), start=1):
            try:
                if kind == "int":
                    int(part)
                elif kind == "float" and math.isnan(float(part)):
                    return f"field {i} is NaN, which has no place in a ranking"
            except ValueError:
                return f"field {i} must be a number ({kind}), found {part!r}"
        return None

    return problem


def _parse(
    path: str, kinds: list[str], names: list[str | None], fmt: str, io_config, header: str | None = None
) -> daft.DataFrame:
    """Parse a whitespace-separated file with one field per ``kinds``; ``None`` names are dropped.

    ``header``: the file's first non-blank line, skipped (BEIR TSV has ``query-id corpus-id score``).
    """
    dtypes = {"str": DataType.string(), "int": DataType.int64(), "float": DataType.float64()}
    f = _split(path, io_config)
    if header is not None:
        f = f.where(col("f") != lit(header.split()))
    exprs = [col("f").get(i).try_cast(dtypes[k]).alias(n) for i, (k, n) in enumerate(zip(kinds, names)) if n]
    parsed = persist(f.select(col("f").length().alias("_n"), *exprs))
    ok = col("_n") == len(kinds)
    for kind, n in zip(kinds, names):
        if n:
            ok = ok & col(n).not_null()
            if kind == "float":
                ok = ok & ~col(n).is_nan()
    if parsed.where(~ok).count_rows():
        checker = _field_problem(kinds)
        seen = [header is None]

        def problem(line: str) -> str | None:
            if not seen[0] and line.strip():
                seen[0] = True
                return None
            return checker(line)

        bad = first_bad_line(path, problem, io_config)
        where = f"{path}:{bad[0]}: {bad[2]}: {bad[1][:120]!r}" if bad else f"{path}: malformed line"
        raise DataError(f"{where}. Expected the {fmt} format.")
    return parsed.exclude("_n")


def read_run(path: str, *, io_config: daft.io.IOConfig | None = None) -> daft.DataFrame:
    """Read a TREC run file into the run frame ``query_id, doc_id, score, rank`` (the file's ranks kept).

    A (query, doc) pair listed twice is a :class:`DataError` (trec_eval refuses such runs too).

    >>> write_run(daft.from_pydict({"query_id": ["q1"], "doc_id": ["d1"], "score": [2.0], "rank": [1]}), "/tmp/r")
    >>> read_run("/tmp/r").to_pydict()["score"]
    [2.0]
    """
    fmt = "TREC run (qid Q0 docid rank score tag)"
    kinds = ["str", "str", "str", "int", "float", "str"]
    run = _parse(path, kinds, [S.QUERY_ID, None, S.DOC_ID, S.RANK, S.SCORE, None], fmt, io_config)
    if not run.count_rows():
        warnings.warn(f"{path}: the run has no lines: every query scores 0", DataWarning, stacklevel=2)
    dupes = S.duplicates(run, [S.QUERY_ID, S.DOC_ID], limit=1)
    if dupes:
        d = dupes[0]
        raise DataError(
            f"{path}: query {d[S.QUERY_ID]!r} lists doc {d[S.DOC_ID]!r} {d['n']} times. "
            "A run ranks each document once per query; keep one line per (query, doc)."
        )
    return persist(run.select(*S.RUN))


def _is_header(line: str) -> bool:
    """A BEIR header has three fields and ends in a word (``score``); a judgement line ends in an integer.

    A four-field first line is TREC qrels, never a header: a bad relevance there is reported as line 1. Nor is a
    three-field line whose middle field is an integer: TREC qrels missing its relevance (``qid 0 docid``).
    """
    parts = line.split()
    if len(parts) != 3 or parts[1].lstrip("-").isdigit():
        return False
    try:
        int(parts[-1])
        return False
    except ValueError:
        return True


def read_qrels(path: str, *, format: str | None = None, io_config: daft.io.IOConfig | None = None) -> daft.DataFrame:
    """Read relevance judgements into ``query_id, doc_id, relevance``.

    Accepts TREC qrels (``qid 0 docid rel``), BEIR TSV (``query-id corpus-id score`` with a header), or a
    JSONL/Parquet table with those columns. A (query, doc) pair judged twice is a :class:`DataError`.

    >>> read_qrels("data/demo/qrels/test.tsv").column_names
    ['query_id', 'doc_id', 'relevance']
    """
    lower = path.lower()
    if format in ("json", "parquet") or lower.endswith((".jsonl", ".parquet")):
        from daft_retrieval.load.tables import read_table

        raw = read_table(path, format=format, io_config=io_config)
        mapping = {"query-id": S.QUERY_ID, "corpus-id": S.DOC_ID, "score": S.RELEVANCE}
        raw = raw.select(*[col(c).alias(mapping.get(c, c)) for c in raw.column_names])
        qrels = persist(S.conform(raw, S.QRELS, path))
    else:
        check_file(path)
        first = first_line(path, io_config)
        header = first if _is_header(first) else None
        n_fields = 3 if header is not None else len(first.split())
        if n_fields == 4:
            kinds, names, fmt = (
                ["str", "str", "str", "int"],
                [S.QUERY_ID, None, S.DOC_ID, S.RELEVANCE],
                "TREC qrels",
            )
        else:
            kinds, names = ["str", "str", "int"], [S.QUERY_ID, S.DOC_ID, S.RELEVANCE]
            fmt = "BEIR qrels TSV (query-id corpus-id score) or TREC qrels (qid 0 docid rel)"
        qrels = _parse(path, kinds, names, fmt, io_config, header)
    if not qrels.count_rows():
        raise DataError(f"{path}: no judgements. Qrels need one line per judged (query, doc): qid 0 docid rel.")
    dupes = S.duplicates(qrels, [S.QUERY_ID, S.DOC_ID], limit=1)
    if dupes:
        d = dupes[0]
        raise DataError(
            f"{path}: query {d[S.QUERY_ID]!r} judges doc {d[S.DOC_ID]!r} {d['n']} times; keep one judgement."
        )
    return persist(qrels.select(*S.QRELS))


def _new_file_mode(path: str) -> int:
    """The mode of the file being replaced, or what ``open(path, "w")`` would give a new file (0666 less umask)."""
    if os.path.exists(path):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write_lines(lines: pa.ChunkedArray, path: str) -> None:
    """Write one string per line to ``path`` through a temporary file renamed into place."""
    import pyarrow.csv as pacsv

    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory; give a file path to write")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:  # a file where a folder should be, no permission, ...
        raise DataError(f"{path}: cannot make its folder {directory} ({exc.strerror or exc})") from exc
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    os.close(fd)
    try:
        os.chmod(tmp, _new_file_mode(path))  # mkstemp makes 0600 files; give the run the mode open() would
        options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
        try:
            pacsv.write_csv(pa.table({"line": lines}), tmp, write_options=options)
        except pa.ArrowInvalid:  # a value with a quote: pyarrow refuses to leave it unquoted
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.writelines(f"{v}\n" for v in lines.to_pylist())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_no_whitespace(df: daft.DataFrame, columns: list[str], what: str) -> None:
    for c in columns:
        bad = df.where(col(c).regexp(r"\s") | (col(c) == "")).select(c).limit(1).to_pydict()[c]
        if bad:
            raise DataError(f"{what}: id {bad[0]!r} is empty or has whitespace, which TREC files cannot hold.")


def write_run(run: daft.DataFrame, path: str, *, tag: str = "daft_retrieval") -> None:
    """Write a run frame as a TREC run file, ordered by query id then rank; scores keep full precision.

    >>> write_run(daft.from_pydict({"query_id": ["q1"], "doc_id": ["d1"], "score": [0.5], "rank": [1]}), "/tmp/r")
    """
    S.require_columns(run, S.RUN, "run")
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
    _atomic_write_lines(table.column("line"), path)


def write_qrels(qrels: daft.DataFrame, path: str) -> None:
    """Write qrels as a TREC qrels file (``qid 0 docid rel``)."""
    S.require_columns(qrels, S.QRELS, "qrels")
    qrels = persist(qrels.select(*S.QRELS))  # run the plan once: the checks and the write all read this
    S.require_values(qrels, S.QRELS, f"qrels for {path}")
    _check_no_whitespace(qrels, [S.QUERY_ID, S.DOC_ID], f"qrels for {path}")
    line = daft.functions.concat_ws(
        " ", col(S.QUERY_ID), lit("0"), col(S.DOC_ID), col(S.RELEVANCE).cast(DataType.string())
    )
    table = qrels.sort([S.QUERY_ID, S.DOC_ID]).select(line.alias("line")).to_arrow()
    _atomic_write_lines(table.column("line"), path)
