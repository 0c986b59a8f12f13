"""The one exception type for bad input, so callers and the CLI can tell it from a bug."""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """Bad input: the message names the file, line or id at fault, what was expected, and the fix."""
