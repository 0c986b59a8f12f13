"""This project's error and warning types, so callers (and the CLI) can tell bad input or a failing resource
from a bug in the code.

Every error is a :class:`DataError` (a ``ValueError``): its message names the file, line, URL or id at fault, what
was expected, and the fix. The CLI prints it as one line and exits with status 2.

>>> try:
...     raise RemoteError("https://host/corpus.jsonl: HTTP 500 after 3 retries")
... except DataError as exc:
...     print(type(exc).__name__)
RemoteError
"""

from __future__ import annotations

__all__ = ["ArchiveError", "CacheError", "DataError", "DataWarning", "OutputError", "RemoteError"]


class DataError(ValueError):
    """Bad input: the message names the file, line or id at fault, what was expected, and the fix."""


class RemoteError(DataError):
    """A URL or object store that could not be read: HTTP status after retries, timeout, DNS, credentials."""


class ArchiveError(DataError):
    """A dataset archive that cannot be unpacked safely: corrupt, or past the size/ratio limits."""


class OutputError(DataError):
    """A destination this project will not or cannot write: not ours to replace, read-only, or out of space."""


class CacheError(DataError):
    """The embedding cache cannot be used as asked (a bad location or settings)."""


class DataWarning(UserWarning):
    """Input that is usable but suspicious (unknown ids in qrels, empty texts); the message gives counts."""
