"""Progress lines for long work (encoding, search) on stderr: a live line on a terminal, a line every 10 s in logs."""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["Progress"]


class Progress:
    """A thread-safe counter that reports ``label: N done (rate/s)``.

    >>> p = Progress("encoding documents", total=100); p.add(100); p.close()  # doctest: +SKIP
    """

    def __init__(self, label: str, total: int | None = None, every: float = 10.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.done = 0
        self._start = self._last = time.perf_counter()
        self._lock = threading.Lock()
        self._tty = sys.stderr.isatty()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.perf_counter()
            if self._tty or now - self._last >= self.every or self.done == n:
                self._last = now
                self._write("\r" if self._tty else "", "" if self._tty else "\n")

    def close(self) -> None:
        with self._lock:
            if self.done:
                self._write("\r" if self._tty else "", "\n")

    def _write(self, start: str, end: str) -> None:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        sys.stderr.write(f"{start}{self.label}: {self.done:,}{of} ({self.done / elapsed:,.0f}/s){end}")
        sys.stderr.flush()
