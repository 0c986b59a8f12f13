"""Progress lines for long work (encoding, search) on stderr: a live line on a terminal, a line every 10 s in logs.

On a terminal each counter redraws its own line; when another counter starts reporting, the previous line is
finished first, and the last one is finished at exit. In logs (stderr not a terminal) a counter writes its first
count and then one line every ``every`` seconds, each marked "so far", and its final count when it is dropped
(a searcher or encoder, after its query) or at exit.
``DAFT_RETRIEVAL_PROGRESS=0`` (the CLI's ``--quiet``) turns every line off.

    >>> p = Progress("encoding documents", total=100); p.add(100); p.close()  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import weakref

__all__ = ["QUIET", "Progress"]

QUIET = "DAFT_RETRIEVAL_PROGRESS"  # "0": no progress lines

_LOCK = threading.RLock()  # one stderr: counters of every thread take turns
_OPEN: weakref.WeakSet[Progress] = weakref.WeakSet()
_LIVE: list[Progress | None] = [None]  # the counter whose unfinished line is on the terminal


class Progress:
    """A thread-safe counter that reports ``label: N (rate/s)`` (``label: N/total`` with a ``total``)."""

    def __init__(self, label: str, total: int | None = None, every: float = 10.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.done = self._shown = 0
        self._start = self._last = time.perf_counter()
        self._tty = sys.stderr.isatty()
        self._quiet = os.environ.get(QUIET) == "0"
        with _LOCK:
            _OPEN.add(self)

    def add(self, n: int) -> None:
        """Count ``n`` more done, and report if it is time to."""
        with _LOCK:
            self.done += n
            if self._quiet:
                return
            now = time.perf_counter()
            if self._tty:
                if _LIVE[0] is not None and _LIVE[0] is not self:
                    sys.stderr.write("\n")  # finish the other counter's line
                _LIVE[0] = self
                self._write("\r", "\x1b[K")
            elif now - self._last >= self.every or self._shown == 0:
                self._last = now
                self._write("", " so far\n")

    def close(self) -> None:
        """Report the final count (once; also done at exit for counters still open)."""
        with _LOCK:
            _OPEN.discard(self)
            if self._quiet or (self.done == self._shown and not (self._tty and _LIVE[0] is self)):
                return
            if self._tty:
                start = "\r" if _LIVE[0] is self else ("\n" if _LIVE[0] is not None else "")
                _LIVE[0] = None
                self._write(start, "\x1b[K\n")
            else:
                self._write("", "\n")

    def __del__(self) -> None:  # a searcher or encoder dropped after its query: its final count, at once
        with contextlib.suppress(Exception):  # at interpreter shutdown stderr may be gone
            self.close()

    def _write(self, start: str, end: str) -> None:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        sys.stderr.write(f"{start}{self.label}: {self.done:,}{of} ({self.done / elapsed:,.0f}/s){end}")
        sys.stderr.flush()
        self._shown = self.done


@atexit.register
def _close_all() -> None:
    for progress in list(_OPEN):
        progress.close()
