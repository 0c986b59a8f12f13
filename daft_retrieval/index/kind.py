"""Which index a search uses, checked before any encoding: ``"exact"`` (brute force; SPLADE's postings),
``"faiss:FACTORY"`` (approximate, dense only: :mod:`daft_retrieval.index.faiss`) or ``"qdrant"`` (a Qdrant
collection, dense or SPLADE: :mod:`daft_retrieval.index.qdrant`).

    >>> index_kind("exact"), index_kind("qdrant"), index_kind("qdrant", retriever="splade")
    ('exact', 'qdrant', 'qdrant')
"""

from __future__ import annotations

from daft_retrieval.errors import DataError

__all__ = ["index_kind"]


def index_kind(index: str, *, retriever: str = "dense") -> str:
    """``"exact"``, ``"faiss"`` (its factory string checked) or ``"qdrant"`` (the client checked installed);
    else a :class:`DataError` naming the forms ``retriever`` takes."""
    if index == "qdrant":
        from daft_retrieval.index.qdrant import import_qdrant

        import_qdrant()
        return "qdrant"
    if retriever != "dense":
        if index == "exact":
            return "exact"
        raise DataError(f"the {retriever} retriever's index must be 'exact' or 'qdrant', not {index!r}")
    from daft_retrieval.index.faiss import parse_index

    return "exact" if parse_index(index) is None else "faiss"
