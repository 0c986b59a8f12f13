"""Progress lines for long work (encoding, search) on stderr: a live line on a terminal, a line every 10 s in logs.

On a terminal each counter redraws its own line; when another counter starts reporting, the previous line is
finished first. In logs (stderr not a terminal) a counter writes one line every ``every`` seconds while it runs,
each marked "so far", and its final count once: when it reaches its ``total``, when its step ends
(:func:`finish_all`, which the CLI calls after each system and before it prints results), when it is dropped, or
at exit. A step that takes less than ``every`` seconds writes one line, its final count.

Inside :func:`sharing` (the CLI's commands), counters of one label open at the same time (one per worker of a
step) share one line and one count. A :func:`step` is the one line of a piece of work made of smaller ones
(encoding the cache's misses, chunk by chunk): counters that count while it is open, in the same process, write
nothing (no second line at another rate).
``DAFT_RETRIEVAL_PROGRESS=0`` (the CLI's ``--quiet``) turns every line off.

    >>> p = Progress("encoding documents", total=100); p.add(100); p.close()  # doctest: +SKIP
    >>> with step("encoding documents with all-MiniLM-L6-v2 (12 cached)", total=88) as p:  # doctest: +SKIP
    ...     p.add(88)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterator

__all__ = ["QUIET", "Progress", "finish_all", "sharing", "step"]

QUIET = "DAFT_RETRIEVAL_PROGRESS"  # "0": no progress lines

_LOCK = threading.RLock()  # one stderr: counters of every thread take turns
_OPEN: weakref.WeakSet[Progress] = weakref.WeakSet()
_LIVE: list[Progress | None] = [None]  # the counter whose unfinished line is on the terminal
_STEP: list[Progress | None] = [None]  # the open step: other counters are silent while it is
_LEADERS: weakref.WeakValueDictionary[str, Progress] = weakref.WeakValueDictionary()  # label -> its one line
_SHARE = [0]  # > 0 inside sharing(): counters of one label share a line


class Progress:
    """A thread-safe counter that reports ``label: N (rate/s)`` (``label: N/total`` with a ``total``)."""

    def __init__(self, label: str, total: int | None = None, every: float = 10.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.done = 0
        self._final = True  # nothing new to report
        self._muted = False  # counted inside another counter's step: that step reports this work
        self._start = self._last = self._counted = time.perf_counter()
        self._tty = sys.stderr.isatty()
        self._quiet = os.environ.get(QUIET) == "0"
        with _LOCK:  # another counter of this label still open (a second worker of the same step): count on its line
            self._leader = _LEADERS.get(label) if _SHARE[0] else None
            if self._leader is None and _SHARE[0]:
                _LEADERS[label] = self

    def add(self, n: int) -> None:
        """Count ``n`` more done, and report if it is time to."""
        if self._leader is not None:
            self._leader.add(n)
            return
        with _LOCK:
            self.done += n
            self._final = False
            self._counted = time.perf_counter()  # the rate is over the time spent counting, not idle after
            _OPEN.add(self)
            if _STEP[0] is not None and _STEP[0] is not self:
                self._muted = True
            if self._quiet or self._muted:
                return
            now = self._counted
            if self._tty:
                if _LIVE[0] is not None and _LIVE[0] is not self:
                    sys.stderr.write("\n")  # finish the other counter's line
                _LIVE[0] = self
                self._write("\r", "\x1b[K")
            elif self.total is not None and self.done >= self.total:
                self.close()  # all of it: the final count now, not a partial one first
            elif now - self._last >= self.every:
                self._last = now
                self._write("", " so far\n")

    def close(self) -> None:
        """Report the final count (once, until more is counted; also done at exit for counters still open)."""
        if self._leader is not None:  # its counts are on the leader's line
            return
        with _LOCK:
            _OPEN.discard(self)
            if _LEADERS.get(self.label) is self:
                del _LEADERS[self.label]  # the step is over: a later counter of this label starts a new line
            if self._final or self._quiet or self._muted:
                self._final, self._muted = True, False  # a muted counter used again later reports again
                return
            self._final = True
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
        elapsed = max(self._counted - self._start, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        sys.stderr.write(f"{start}{self.label}: {self.done:,}{of} ({self.done / elapsed:,.0f}/s){end}")
        sys.stderr.flush()


@contextlib.contextmanager
def step(label: str, total: int | None = None, every: float = 10.0) -> Iterator[Progress]:
    """A counter that is the only line of its work: counters of this process that count while it is open (the
    encoder under a cache, say) write nothing. Its final count is written when the block ends.

    >>> with step("encoding queries with all-MiniLM-L6-v2 (0 cached)", total=44) as p:  # doctest: +SKIP
    ...     p.add(44)
    """
    progress = Progress(label, total=total, every=every)
    with _LOCK:
        outer, _STEP[0] = _STEP[0], progress
    try:
        yield progress
    finally:
        with _LOCK:
            _STEP[0] = outer
        progress.close()


@contextlib.contextmanager
def sharing() -> Iterator[None]:
    """Inside the block, counters of one label open at the same time (one per worker of a step) share one line;
    the caller ends each step with :func:`finish_all` (the CLI does, after each system), so the next step of the
    same label starts a line of its own. Every counter still open is finished when the block ends.

    >>> with sharing():  # doctest: +SKIP
    ...     run = materialize(rerank(...)); finish_all()
    """
    with _LOCK:
        _SHARE[0] += 1
    try:
        yield
    finally:
        finish_all()
        with _LOCK:
            _SHARE[0] -= 1
            if not _SHARE[0]:
                _LEADERS.clear()


def finish_all() -> None:
    """Write the final count of every counter still open (each once), so they come before what follows.

    >>> finish_all()  # the CLI: after each system's run, before the results
    """
    with _LOCK:
        for progress in list(_OPEN):
            progress.close()


atexit.register(finish_all)
