"""Where the project keeps what it downloads or computes for a user: one cache home."""

from __future__ import annotations

import os

__all__ = ["cache_home"]


def cache_home(*parts: str) -> str:
    """``$DAFT_RETRIEVAL_CACHE``, else ``$XDG_CACHE_HOME/daft_retrieval`` (default ``~/.cache/daft_retrieval``),
    joined with ``parts``: ``embeddings``, ``datasets``, ``models``."""
    base = os.environ.get("DAFT_RETRIEVAL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "daft_retrieval"
    )
    return os.path.join(base, *parts)
