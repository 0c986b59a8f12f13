"""Two runs side by side in the terminal: the queries a measure changes most, each with both top-k lists.

Reads one dataset of the report's data (:func:`~daft_retrieval.report.page.page_data`), so the terminal and the
HTML page show the same lists. Relevance: the grade, ``.`` for unjudged; a document in both lists shows its rank
movement against the other (``↑3``: three ranks higher on this side, ``↓2`` lower, ``=`` the same, ``new``: not
in the other's top k), as the HTML page marks it.

    >>> print(side_by_side(data["datasets"][0], "nDCG@10", "bm25", "dense", queries=5))  # doctest: +SKIP
"""

from __future__ import annotations

import math

__all__ = ["side_by_side"]


def _value(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def _movement(rank: int, other: int | None) -> str:
    if other is None:
        return "new"
    return "=" if other == rank else (f"↑{other - rank}" if other > rank else f"↓{rank - other}")


def _column(dataset: dict, system: str, query: str, other: str, k: int, width: int) -> list[str]:
    docs = dataset["docs"]
    mine = dataset["rankings"].get(system, {}).get(query, [])[:k]
    theirs = {d[0]: i + 1 for i, d in enumerate(dataset["rankings"].get(other, {}).get(query, [])[:k])}
    lines = []
    for i, (doc, _score, relevance) in enumerate(mine, start=1):
        grade = "." if relevance is None else str(relevance)
        title = docs["titles"][doc] or docs["snippets"][doc] or ""
        text = f"{i:>3} {grade:>2} {_movement(i, theirs.get(doc)):>4} {docs['ids'][doc]} {title}"
        lines.append(text[:width].ljust(width))
    return lines or ["(nothing retrieved)".ljust(width)]


def side_by_side(
    dataset: dict, measure: str, a: str, b: str, *, queries: int = 10, k: int = 10, width: int = 160
) -> str:
    """The ``queries`` queries where ``measure`` differs most between systems ``a`` and ``b`` (by |b - a|, ties
    by query id), each with its text, both values and both top ``k`` lists side by side in ``width`` columns;
    first a line counting the queries b helps, hurts and leaves alone."""
    values = dataset["values"][measure]
    pairs = [(q, x, y) for q, x, y in zip(dataset["queries"], values[a], values[b]) if x is not None and y is not None]
    diffs = [(y - x, q, x, y) for q, x, y in pairs]
    better = sum(d > 0 for d, *_ in diffs)
    worse = sum(d < 0 for d, *_ in diffs)
    mean = math.fsum(d for d, *_ in diffs) / len(diffs) if diffs else math.nan
    lines = [
        f"{dataset['name']}: {measure}, {b} - {a} over {len(diffs)} queries: {better} better, {worse} worse, "
        f"{len(diffs) - better - worse} tied; mean {mean:+.4f}"
    ]
    texts = dict(zip(dataset["queries"], dataset["query_text"]))
    half = max(20, (width - 3) // 2)
    for d, q, x, y in sorted(diffs, key=lambda t: (-abs(t[0]), t[1]))[:queries]:
        lines += ["", f"query {q}  {d:+.4f}  ({a} {_value(x)} -> {b} {_value(y)})  {texts.get(q) or ''}"[:width]]
        lines.append(f"{a[:half]:<{half}} | {b[:half]}")
        left, right = _column(dataset, a, q, b, k, half), _column(dataset, b, q, a, k, half)
        for i in range(max(len(left), len(right))):
            lines.append(f"{left[i] if i < len(left) else ' ' * half} | {right[i] if i < len(right) else ''}".rstrip())
    return "\n".join(lines) + "\n"
