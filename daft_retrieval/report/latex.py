r"""A LaTeX (booktabs) table of systems x measures with ranx-style significance markers, for papers.

Each baseline gets a letter (``a``, ``b``, ``c``, ... in the order of ``baselines``), shown as `` (a)`` after the
baseline's name. A system's cell gets the superscript ``$^{a}$`` when its test against baseline ``a`` on that
measure has ``p_corrected < alpha`` and a positive difference (significantly better), and the subscript ``$_{a}$``
when the difference is negative (significantly worse); several baselines combine (``$^{ab}$``, ``$^{b}_{a}$``).
No marker where ``p_corrected`` is NaN (no test) or ``>= alpha``. The best value of each column (higher is better,
compared as printed, 4 decimals) is bold, ties all bold; a NaN (or missing) value prints as ``--``. The output
needs ``\usepackage{booktabs}``.

>>> table = {"bm25": {"nDCG@10": 0.5}, "dense": {"nDCG@10": 0.6}}
>>> tests = [{"system": "dense", "baseline": "bm25", "measure": "nDCG@10", "difference": 0.1, "p_corrected": 0.01}]
>>> print(latex_table(table, tests, baselines=["bm25"], label="tab:main"))
\begin{table}[t]
\centering
\begin{tabular}{lr}
\toprule
System & nDCG@10 \\
\midrule
bm25 (a) & 0.5000 \\
dense & \textbf{0.6000}$^{a}$ \\
\bottomrule
\end{tabular}
\caption{Superscript x: significantly better than baseline x, subscript x: significantly worse (corrected $p < 0.05$).}
\label{tab:main}
\end{table}
"""

from __future__ import annotations

import math
import string

__all__ = ["latex_table"]

_ESCAPES = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (one character at a time, so nothing is escaped twice)."""
    return "".join(_ESCAPES.get(c, c) for c in text)


def _letters(baselines: list[str], table: dict[str, dict[str, float]]) -> dict[str, str]:
    """Baseline -> its letter; every baseline must be a row of ``table``, once."""
    if len(set(baselines)) != len(baselines):
        raise ValueError(f"baselines repeat a name: {baselines}")
    if len(baselines) > len(string.ascii_lowercase):
        raise ValueError(f"at most {len(string.ascii_lowercase)} baselines, got {len(baselines)}")
    unknown = [b for b in baselines if b not in table]
    if unknown:
        raise ValueError(f"baselines not in the table: {unknown}")
    return dict(zip(baselines, string.ascii_lowercase))


def _is_nan(value: float | None) -> bool:
    return value is None or math.isnan(value)


def _markers(tests: list[dict], letters: dict[str, str], alpha: float) -> dict[tuple[str, str], tuple[str, str]]:
    """(system, measure) -> (superscript letters, subscript letters), each in baseline order."""
    better: dict[tuple[str, str], set[str]] = {}
    worse: dict[tuple[str, str], set[str]] = {}
    for t in tests:
        letter = letters.get(t["baseline"])
        p = t["p_corrected"]
        if letter is None or _is_nan(p) or p >= alpha or _is_nan(t["difference"]) or t["difference"] == 0:
            continue
        side = better if t["difference"] > 0 else worse
        side.setdefault((t["system"], t["measure"]), set()).add(letter)
    order = "".join(letters.values())

    def ordered(found: set[str]) -> str:
        return "".join(c for c in order if c in found)

    keys = better.keys() | worse.keys()
    return {key: (ordered(better.get(key, set())), ordered(worse.get(key, set()))) for key in keys}


def _best(table: dict[str, dict[str, float]], measures: list[str]) -> dict[str, float]:
    """Measure -> its column's maximum as printed (rounded to 4 decimals); NaN where the column has no value."""
    best = {}
    for m in measures:
        values = [round(v[m], 4) for v in table.values() if not _is_nan(v.get(m))]
        best[m] = max(values) if values else math.nan
    return best


def _cell(value: float | None, best: float, marks: tuple[str, str]) -> str:
    """One value: 4 decimals, bold when it is the column's best, then its superscript / subscript letters."""
    if _is_nan(value):
        return "--"
    text = f"{value:.4f}"
    if round(value, 4) == best:
        text = rf"\textbf{{{text}}}"
    up, down = marks
    script = (f"^{{{up}}}" if up else "") + (f"_{{{down}}}" if down else "")
    return text + (f"${script}$" if script else "")


def _rows(
    table: dict[str, dict[str, float]], measures: list[str], letters: dict[str, str], tests: list[dict], alpha: float
) -> list[str]:
    """The tabular's body: one ``name & value & ... \\\\`` line per system."""
    best = _best(table, measures)
    markers = _markers(tests, letters, alpha)
    rows = []
    for system, values in table.items():
        name = _escape(system) + (f" ({letters[system]})" if system in letters else "")
        cells = [_cell(values.get(m), best[m], markers.get((system, m), ("", ""))) for m in measures]
        rows.append(" & ".join([name, *cells]) + r" \\")
    return rows


def _caption(caption: str, alpha: float) -> str:
    """The escaped caption followed by the sentence explaining the markers."""
    note = (
        "Superscript x: significantly better than baseline x, subscript x: significantly worse "
        f"(corrected $p < {alpha:g}$)."
    )
    return f"{_escape(caption).rstrip()} {note}".lstrip()


def latex_table(
    table: dict[str, dict[str, float]],
    tests: list[dict],
    *,
    baselines: list[str],
    alpha: float = 0.05,
    caption: str = "",
    label: str = "",
) -> str:
    r"""A complete ``table`` environment: one row per system of ``table`` (``{system: {measure: mean}}``, in its
    order), one column per measure (in the order of the first system's dict), with the significance markers of
    ``tests`` (dicts with ``system, baseline, measure, difference, p_corrected``) against ``baselines`` (see the
    module's docstring). Tests against a system that is not in ``baselines`` are ignored. ``caption`` is escaped;
    ``label`` is kept as given (it must match its ``\ref``: a plain key); no ``\label`` line when it is empty."""
    if not table:
        raise ValueError("the table has no systems")
    letters = _letters(baselines, table)
    measures = list(next(iter(table.values())))
    header = " & ".join(["System", *(_escape(m) for m in measures)]) + r" \\"
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\begin{{tabular}}{{l{'r' * len(measures)}}}",
        r"\toprule",
        header,
        r"\midrule",
        *_rows(table, measures, letters, tests, alpha),
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{_caption(caption, alpha)}}}",
    ]
    if label:
        if any(ch in label for ch in "{}\\%#$&~^ "):
            raise ValueError(f"label {label!r} must be a plain key such as tab:main (it is what \\ref names)")
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines)
