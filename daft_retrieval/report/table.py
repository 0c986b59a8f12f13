"""Plain-text tables for the terminal: systems x measures, and per-query values."""

from __future__ import annotations

import daft

from daft_retrieval import schema as S

__all__ = ["format_aggregate", "format_per_query"]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def format_aggregate(systems: dict[str, dict[str, float]]) -> str:
    """One row per system, one column per measure, 4 decimals.

    >>> print(format_aggregate({"bm25": {"nDCG@10": 0.66, "R@100": 0.9}}))
    system  nDCG@10   R@100
    ------  -------  ------
    bm25     0.6600  0.9000
    """
    measures = list(dict.fromkeys(m for values in systems.values() for m in values))
    rows = [[name, *(f"{values.get(m, float('nan')):.4f}" for m in measures)] for name, values in systems.items()]
    return _table(["system", *measures], rows)


def format_per_query(per_query: daft.DataFrame) -> str:
    """One row per query, one column per measure (the long ``query_id, measure, value`` frame pivoted)."""
    rows = per_query.to_pylist()
    measures = list(dict.fromkeys(r[S.MEASURE] for r in rows))
    by_query: dict[str, dict[str, float]] = {}
    for r in rows:
        by_query.setdefault(r[S.QUERY_ID], {})[r[S.MEASURE]] = r[S.VALUE]
    body = [[q, *(f"{by_query[q].get(m, 0.0):.4f}" for m in measures)] for q in sorted(by_query)]
    return _table([S.QUERY_ID, *measures], body)
