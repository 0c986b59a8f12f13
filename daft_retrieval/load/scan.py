"""One pass over a local input's bytes before Daft reads it; streams (``-``, pipes, ``<(cmd)``) read exactly once.

Daft reads a regular file itself; first :func:`open_source` reads it once here, in 8 MiB blocks (about a second
per GB), and refuses with a :class:`DataError` naming the line: bytes that are not UTF-8, a NUL byte, a byte-order
mark anywhere but at the very start, a line longer than ``DAFT_RETRIEVAL_MAX_LINE_BYTES`` (default 1 MiB for TREC
files, 64 MiB for JSONL/CSV), JSON nested deeper than :data:`MAX_JSON_DEPTH` (Daft's reader crashes on that). A
``.gz`` file that is not gzip, is cut short or has bytes after its data is an :class:`ArchiveError` naming it.

A stream (stdin as ``-``, ``/dev/stdin``, ``/dev/fd/N``, a FIFO, a device such as ``/dev/zero``) can be read only
once: it is copied with the same checks, and at most ``DAFT_RETRIEVAL_MAX_STREAM_BYTES`` bytes (default 16 GiB),
into a temporary file that Daft then reads and that is removed afterwards. So is a local file that starts with a
byte-order mark (the copy without it), so that every reader sees the same text.

    >>> with open_source("run.txt", kind="trec") as source:  # doctest: +SKIP
    ...     daft.read_text(source.path)
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from daft_retrieval.errors import ArchiveError, DataError

__all__ = ["MAX_JSON_DEPTH", "Source", "gunzip", "is_local", "json_depth", "open_source"]

BLOCK = 1 << 23
BOM_BYTES = b"\xef\xbb\xbf"
MAX_JSON_DEPTH = 100  # Daft 0.7.26's JSON reader segfaults on objects nested some 500 deep
_MAX_LINE = {"trec": 1 << 20, "json": 1 << 26, "csv": 1 << 26}
_MAX_STREAM = 16 << 30
_STDIN = "<stdin>"
_stdin_read: list[object] = []  # the stdin buffer already read: a second "-" would silently read nothing


class Source(NamedTuple):
    """An input as Daft should read it: ``name`` for messages, ``path`` to read (the file, or a temporary copy)."""

    name: str
    path: str
    local: bool
    flagged: bool = False  # open_source's ``needle`` occurs in the file


def is_local(path: str) -> bool:
    """Whether ``path`` is on this machine (no URL scheme, or ``file://``)."""
    return "://" not in path or path.startswith("file://")


def _env_bytes(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise DataError(f"{name}={value!r} must be a number of bytes, e.g. {default}") from None
    if number < 1:
        raise DataError(f"{name}={value!r} must be at least 1")
    return number


def gunzip(raw: BinaryIO, name: str) -> Iterator[bytes]:
    """Yield the decompressed bytes of the gzip stream ``raw`` (all its members) in blocks of at most 8 MiB.

    Strict where Python's ``gzip`` module is lenient and Daft is not: bytes after the last member are an error.
    """
    decomp, seen, offset = None, False, 0
    while chunk := raw.read(BLOCK):
        while chunk:
            if decomp is None:
                decomp = zlib.decompressobj(31)
            try:
                out = decomp.decompress(chunk, BLOCK)
            except zlib.error as exc:
                where = "is not gzip data" if not seen else f"has bytes that are not gzip data after byte {offset:,}"
                raise ArchiveError(f"{name}: {where} ({exc}); check it with gzip -t, or re-download it") from None
            seen = True
            yield out
            if decomp.eof:
                offset += len(chunk) - len(decomp.unused_data)
                chunk, decomp = decomp.unused_data, None
            else:
                offset += len(chunk) - len(decomp.unconsumed_tail)
                chunk = decomp.unconsumed_tail
    if not seen:
        raise ArchiveError(f"{name}: is empty, not gzip data; give the file itself, or gzip it again")
    if decomp is not None:
        raise ArchiveError(f"{name}: is cut short (the gzip data ends early); re-download it, or gzip it again")


def json_depth(line: str) -> int:
    """How deeply the JSON text ``line`` nests arrays and objects (brackets inside strings do not count)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", line)
    depth = deepest = 0
    for ch in re.sub(r"[^\[\]{}]", "", bare):
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


_KINDS = {"trec": "TREC", "json": "JSON Lines", "csv": "CSV"}


def _whole_characters(data: bytes) -> int:
    """The length of the longest prefix of ``data`` that does not end inside a UTF-8 character."""
    i, n = len(data) - 1, len(data)
    while i >= 0 and n - i <= 3 and 0x80 <= data[i] <= 0xBF:
        i -= 1
    if i < 0:
        return n
    lead = data[i]
    need = 2 if 0xC0 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if 0xF0 <= lead < 0xF8 else 1
    return i if n - i < need else n


def _is_utf8(data: bytes, length: int) -> bool:
    """Whether ``data[:length]`` is UTF-8 (Arrow's validator: no copy, some GB/s; as strict as Python's)."""
    import numpy as np
    import pyarrow as pa

    offsets = pa.py_buffer(np.array([0, length], np.int64))
    array = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        array.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _find_bom(data: bytes) -> int:
    """The offset of the first byte-order mark in ``data``, or -1 (numpy: bytes.find is slow on text with many
    0xEF bytes, as CJK punctuation has)."""
    import numpy as np

    bytes_ = np.frombuffer(data, np.uint8)
    starts = np.flatnonzero(bytes_[:-2] == 0xEF)
    hits = starts[(bytes_[starts + 1] == 0xBB) & (bytes_[starts + 2] == 0xBF)]
    return int(hits[0]) if hits.size else -1


class _Scanner:
    """The checks of the module doc, fed the bytes of one input in order.

    ``needle``: a bytes pattern to look for (not an error); ``found_needle`` is then whether it occurs.
    """

    def __init__(
        self, name: str, kind: str, max_line: int, max_bytes: int | None, needle: re.Pattern | None = None
    ) -> None:
        self.name, self.kind, self.max_line, self.max_bytes, self.needle = name, kind, max_line, max_bytes, needle
        self.line, self.line_len, self.total, self.carry, self.tail = 1, 0, 0, b"", b""
        self.openers = 0  # "[" and "{" so far on the current line (json)
        self.deep: list = []  # arrays of the lines with so many openers that they may nest too deep (json)
        self.found_needle = False

    def _line_of(self, block: bytes, offset: int) -> int:
        return self.line + block.count(b"\n", 0, max(offset, 0))

    def feed(self, block: bytes) -> None:
        import numpy as np

        self.total += len(block)
        if self.max_bytes is not None and self.total > self.max_bytes:
            raise DataError(
                f"{self.name}: more than {self.max_bytes:,} bytes and still going (an endless stream?); stopped "
                "reading. Give a file, or raise DAFT_RETRIEVAL_MAX_STREAM_BYTES"
            )
        found: list[tuple[int, str]] = []
        nul = block.find(b"\0")
        if nul >= 0:
            found.append((self._line_of(block, nul), "a NUL byte: this is not a text file (a binary file, /dev/zero?)"))
        carried = len(self.carry)  # the start of a character cut by the last block: no line break in it
        data = self.carry + block if carried else block
        whole = _whole_characters(data)
        if not _is_utf8(data, whole):
            try:
                data[:whole].decode("utf-8")
                at = whole
            except UnicodeDecodeError as exc:
                at = exc.start
            around = data[max(0, at - 20) : at + 10]
            found.append(
                (
                    self._line_of(block, at - carried),
                    f"not UTF-8 (in {around!r}). Save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > "
                    "FILE.utf8",
                )
            )
        self.carry = data[whole:]
        if (bom := _find_bom(data)) >= 0:
            found.append(
                (
                    self._line_of(block, bom - carried),
                    "a byte-order mark (U+FEFF) inside the file, where only its very start may have one (two files "
                    "joined with cat?); remove it",
                )
            )
        bytes_ = np.frombuffer(block, np.uint8)
        newlines = np.flatnonzero(bytes_ == 10)
        lengths = np.diff(newlines, prepend=-1 - self.line_len) - 1 if newlines.size else np.zeros(0, np.int64)
        rest = len(block) - (int(newlines[-1]) + 1 if newlines.size else 0) + (0 if newlines.size else self.line_len)
        too_long = np.flatnonzero(lengths > self.max_line)
        if too_long.size or rest > self.max_line:
            number = self.line + (int(too_long[0]) if too_long.size else int(newlines.size))
            found.append(
                (
                    number,
                    f"a line longer than {self.max_line:,} bytes (no line breaks: not a {_KINDS[self.kind]} file?); "
                    "stopped reading. Set DAFT_RETRIEVAL_MAX_LINE_BYTES to allow longer lines",
                )
            )
        if found:
            number, problem = min(found)
            raise DataError(f"{self.name}:{number}: {problem}")
        if self.kind == "json":
            self._count_openers(bytes_, newlines)
        if self.needle is not None and not self.found_needle:
            self.found_needle = bool(self.needle.search(block) or self.needle.search(self.tail + block[:256]))
            self.tail = block[-256:]
        self.line += int(newlines.size)
        self.line_len = rest

    def _count_openers(self, bytes_, newlines) -> None:
        """Note the lines with more than MAX_JSON_DEPTH "[" or "{" (only those can nest that deep)."""
        import numpy as np

        openers = (bytes_ | 32) == ord("{")  # "[" is 0x5b, "{" 0x7b: the only bytes that | 0x20 make 0x7b
        total = int(np.count_nonzero(openers))
        if self.openers + total <= MAX_JSON_DEPTH:  # no line of the block can be deep: keep the last line's count
            tail = openers[int(newlines[-1]) + 1 :] if newlines.size else openers
            self.openers = int(np.count_nonzero(tail)) + (0 if newlines.size else self.openers)
            return
        per_line = np.bincount(np.searchsorted(newlines, np.flatnonzero(openers)), minlength=newlines.size + 1)
        per_line[0] += self.openers
        deep = np.flatnonzero(per_line[:-1] > MAX_JSON_DEPTH)
        if deep.size:
            self.deep.append(deep + self.line)
        self.openers = int(per_line[-1])

    def finish(self) -> None:
        import numpy as np

        if self.openers > MAX_JSON_DEPTH:  # the last line, without a line break
            self.deep.append(np.array([self.line]))
        if self.carry:
            raise DataError(f"{self.name}:{self.line}: ends inside a UTF-8 character; save the file as UTF-8")


def _blocks(raw: BinaryIO, gz: bool, name: str) -> Iterator[bytes]:
    """Blocks of at least 8 MiB (the last may be shorter) of ``raw``, decompressed when ``gz``."""
    if not gz:  # a buffered reader's read(n) gives n bytes until the end, also from a pipe
        yield from iter(lambda: raw.read(BLOCK), b"")
        return
    buffer = bytearray()
    for piece in gunzip(raw, name):
        buffer += piece
        if len(buffer) >= BLOCK:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _check_deep(name: str, path: str, deep: list) -> None:
    """Raise a :class:`DataError` naming the first of the lines ``deep`` (ascending arrays of line numbers) of the
    JSONL file at ``path`` that nests too deep."""
    import numpy as np

    from daft_retrieval.load.lines import iter_lines

    wanted = np.concatenate(deep).tolist()
    at = 0
    for number, line in iter_lines(path):
        if number < wanted[at]:
            continue
        at += 1
        if json_depth(line) > MAX_JSON_DEPTH:
            raise DataError(
                f"{name}:{number}: JSON nested more than {MAX_JSON_DEPTH} levels deep, which Daft cannot read; a "
                "corpus, query or judgement is flat: fix or remove the line"
            )
        if at == len(wanted):
            return


def _stdin() -> BinaryIO:
    stdin = getattr(sys.stdin, "buffer", None)
    if stdin is None:
        raise DataError(f"{_STDIN}: there is no standard input to read")
    if any(seen is stdin for seen in _stdin_read):
        raise DataError(f"{_STDIN}: standard input was already read by an earlier input; give one input as '-'")
    if sys.stdin.isatty():
        raise DataError(f"{_STDIN}: is a terminal; pipe the file in (... - < run.txt) or give its path")
    _stdin_read.append(stdin)
    return stdin


@contextlib.contextmanager
def open_source(path: str, *, kind: str, needle: re.Pattern | None = None) -> Iterator[Source]:
    """The input at ``path`` checked (see the module doc) and ready for Daft: ``kind`` is ``"trec"``, ``"json"``,
    ``"csv"`` (text, checked) or ``"binary"`` (Parquet: only streams are copied). Remote paths pass through.
    ``needle``: a bytes pattern whose presence :attr:`Source.flagged` tells (remote files: always flagged).

    >>> with open_source("data/demo/qrels/test.tsv", kind="trec") as source:
    ...     source.path
    'data/demo/qrels/test.tsv'
    """
    from daft_retrieval.load.lines import check_file

    if not is_local(path):
        yield Source(path, path, False, needle is not None)
        return
    local = path.removeprefix("file://")
    name = _STDIN if path == "-" else path
    if path != "-":
        check_file(path)
    try:
        regular = path != "-" and stat.S_ISREG(os.stat(local).st_mode)
    except OSError as exc:
        raise DataError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if regular and kind == "binary":
        yield Source(name, local, True)
        return
    copy = None
    try:
        copy, flagged = _check_and_copy(local, name, kind, regular, needle)
        yield Source(name, copy or local, True, flagged)
    finally:
        if copy is not None and os.path.exists(copy):
            os.unlink(copy)


def _check_and_copy(
    local: str, name: str, kind: str, regular: bool, needle: re.Pattern | None
) -> tuple[str | None, bool]:
    """Scan ``local`` (see the module doc); return the temporary copy made of a stream or of a file that starts
    with a byte-order mark (the caller removes it) or None, and whether ``needle`` occurs."""
    max_line = _env_bytes("DAFT_RETRIEVAL_MAX_LINE_BYTES", _MAX_LINE.get(kind, 1 << 26))
    max_bytes = None if regular else _env_bytes("DAFT_RETRIEVAL_MAX_STREAM_BYTES", _MAX_STREAM)
    scanner = _Scanner(name, kind, max_line, max_bytes, needle) if kind != "binary" else None
    copy = None
    try:
        with contextlib.ExitStack() as stack:
            raw = _stdin() if local == "-" else stack.enter_context(open(local, "rb"))
            head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
            gz = local.lower().endswith(".gz") or (not regular and kind != "binary" and head == b"\x1f\x8b")
            sink = None
            if not regular:
                sink, copy = _temporary(stack)
            for i, block in enumerate(_blocks(raw, gz, name)):
                if i == 0 and scanner is not None and block.startswith(BOM_BYTES):
                    block = block[len(BOM_BYTES) :]
                    if sink is None:  # read the copy without the mark
                        sink, copy = _temporary(stack)
                if scanner is not None:
                    scanner.feed(block)
                if sink is not None:
                    sink.write(block)
            if scanner is not None:
                scanner.finish()
        if scanner is not None and scanner.deep:
            _check_deep(name, copy or local, scanner.deep)
    except BaseException as exc:
        if copy is not None and os.path.exists(copy):
            os.unlink(copy)
        if isinstance(exc, OSError):
            raise DataError(f"{name}: cannot be read ({exc.strerror or exc})") from None
        raise
    return copy, scanner is not None and scanner.found_needle


def _temporary(stack: contextlib.ExitStack) -> tuple[BinaryIO, str]:
    fd, copy = tempfile.mkstemp(prefix="daft-retrieval-input-")
    return stack.enter_context(os.fdopen(fd, "wb")), copy
