"""What one CLI run sets around its command, and how it reports failures: the environment settings it needs
(restored afterwards), and the one line each expected failure becomes.

Kept light (no Daft import): ``daft-retrieval --help`` stays fast.

    >>> with cli_environment({"DAFT_RETRIEVAL_PROGRESS": "0"}):  # doctest: +SKIP
    ...     status = run_the_command()
    >>> failure(FileNotFoundError(2, "No such file or directory", "runs/bm25.txt"))
    ('runs/bm25.txt: No such file or directory', 2)
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping

__all__ = ["DEFAULTS", "cli_environment", "failure"]

# the CLI prints its own progress lines (counts and rates): no Daft, hub or "Loading weights" bars among them, no
# "Daft Query ID: ..." line per query (Daft reads it when each query runs), and transformers' errors only (not its
# multi-line load reports; sentence-transformers' own warnings still show). A user's own setting wins.
DEFAULTS = {
    "DAFT_PROGRESS_BAR": "0",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "DAFT_SHOW_QUERY_ID": "0",
    "TRANSFORMERS_VERBOSITY": "error",
}


@contextlib.contextmanager
def cli_environment(settings: Mapping[str, str], defaults: Mapping[str, str] = DEFAULTS) -> Iterator[None]:
    """Set ``settings`` (and each of ``defaults`` the user has not set) in ``os.environ`` for the block, then put
    back what was there: the keys it set only, so a key the command itself changes is left as the command left it.

    Settings go through the environment because Daft, the hub client and Ray's workers (started by this process)
    read them there.
    """
    wanted = {**{k: v for k, v in defaults.items() if k not in os.environ}, **settings}
    before = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in before.items():
            if os.environ.get(key) != wanted[key]:
                continue  # changed inside the block: not ours to undo
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_OURS = r"(?:DataError|RemoteError|ArchiveError|OutputError|CacheError|ImportError|ModuleNotFoundError)"
_INNER = re.compile(rf"(?:^|[\s:]){_OURS}: (.+)")  # our error, wrapped by a Daft UDF or a Ray task
_DAFT_PREFIX = re.compile(r"DaftError::\w+\s*")
_PANIC = re.compile(r"(thread '[^']*' )?panicked at .*", re.DOTALL)


def _flat(text: str) -> str:
    """``text`` on one line: its lines joined by "; "."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _one_line(text: str) -> str:
    """The message part of a wrapper's ``text`` (Daft's): our own error inside it, else its first non-empty line,
    without Daft's error-kind prefixes or Rust panic text."""
    found = _INNER.findall(text)
    if found:
        return found[-1].strip()
    text = _PANIC.sub("", _DAFT_PREFIX.sub("", text))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].rstrip(":") if lines else ""


def _os_error(exc: OSError) -> str:
    """``PATH: No such file or directory`` (the path and the system's reason), else the reason alone."""
    reason = exc.strerror or _one_line(str(exc)) or type(exc).__name__
    if exc.filename is not None:
        target = f" -> {exc.filename2}" if getattr(exc, "filename2", None) else ""
        return f"{exc.filename}{target}: {reason}"
    return reason


def failure(exc: BaseException) -> tuple[str, int] | None:
    """(one line for stderr, exit status) for an expected failure, or None for a bug (which keeps its traceback).

    Expected: this project's errors (status 2), a missing package, a file the system refuses (``PATH: reason``),
    an error Daft raises about the data (its message without Rust's panic text), memory running out, and
    Ctrl-C (status 130). A Ray task's error is reported as the error it wraps.
    """
    from daft_retrieval.errors import DataError

    cause = getattr(exc, "cause", None)  # ray.exceptions.RayTaskError: the task's own exception
    if isinstance(cause, BaseException) and cause is not exc:
        found = failure(cause)
        if found is not None:
            return found
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130
    if isinstance(exc, (DataError, ImportError)):
        return _flat(str(exc)) or type(exc).__name__, 2
    if isinstance(exc, OSError):
        return _os_error(exc), 2
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
        detail = _one_line(str(exc))
        return f"out of memory{f' ({detail})' if detail else ''}; lower --batch-size or --k, or use a larger machine", 2
    text = str(exc)
    daft_error = type(exc).__module__.startswith("daft") or type(exc).__name__ == "PanicException"
    if daft_error or "panicked at" in text or "DaftError::" in text:
        line = _one_line(text) or type(exc).__name__
        if _INNER.search(text):
            return line, 2
        return f"Daft could not run the query: {line} (DAFT_RETRIEVAL_DEBUG=1 shows the traceback)", 2
    return None
