"""The LaTeX table: shape, bold maxima, significance letters, escaping and a balanced environment."""

from __future__ import annotations

import math
import re

import pytest

from daft_retrieval.report.latex import latex_table

NAN = math.nan


def _test(system: str, baseline: str, measure: str, difference: float, p: float) -> dict:
    return {"system": system, "baseline": baseline, "measure": measure, "difference": difference, "p_corrected": p}


def _rows(latex: str) -> list[str]:
    """The tabular's data rows (between \\midrule and \\bottomrule)."""
    lines = latex.splitlines()
    return lines[lines.index(r"\midrule") + 1 : lines.index(r"\bottomrule")]


def _cells(latex: str) -> dict[str, list[str]]:
    """Row name -> its cells (the `\\\\` dropped)."""
    cells = {}
    for row in _rows(latex):
        assert row.endswith(r" \\")
        name, *values = [c.strip() for c in row.removesuffix(r" \\").split(" & ")]
        cells[name] = values
    return cells


TABLE = {
    "bm25": {"nDCG@10": 0.50, "R@100": 0.80, "MRR": 0.40},
    "dense": {"nDCG@10": 0.60, "R@100": 0.70, "MRR": 0.45},
    "hybrid": {"nDCG@10": 0.60, "R@100": 0.75, "MRR": 0.30},
}


def test_one_row_per_system_and_one_column_per_measure() -> None:
    latex = latex_table(TABLE, [], baselines=["bm25"])
    rows = _rows(latex)
    assert len(rows) == len(TABLE)
    for row in [*rows, next(line for line in latex.splitlines() if line.startswith("System"))]:
        assert row.count("&") == len(TABLE["bm25"])  # name column + 3 measures
        assert row.count(r"\\") == 1
    assert latex.count(r"\\") == len(TABLE) + 1  # header + one line per system, nothing else
    assert [r.split(" & ")[0] for r in rows] == ["bm25 (a)", "dense", "hybrid"]


def test_header_keeps_measure_order_and_booktabs_rules() -> None:
    latex = latex_table(TABLE, [], baselines=["bm25"])
    assert r"System & nDCG@10 & R@100 & MRR \\" in latex.splitlines()
    lines = latex.splitlines()
    assert lines.index(r"\toprule") < lines.index(r"\midrule") < lines.index(r"\bottomrule")


def test_environment_balanced_and_column_spec() -> None:
    latex = latex_table(TABLE, [], baselines=["bm25"], caption="Main", label="tab:main")
    for env in ("table", "tabular"):
        assert latex.count(rf"\begin{{{env}}}") == 1
        assert latex.count(rf"\end{{{env}}}") == 1
        assert latex.index(rf"\begin{{{env}}}") < latex.index(rf"\end{{{env}}}")
    assert latex.index(r"\begin{table}") < latex.index(r"\begin{tabular}")
    assert latex.index(r"\end{tabular}") < latex.index(r"\end{table}")
    spec = re.search(r"\\begin\{tabular\}\{([^}]*)\}", latex).group(1)
    assert spec == "lrrr"
    assert len(spec) == len(TABLE["bm25"]) + 1
    assert latex.count("{") == latex.count("}")
    assert r"\label{tab:main}" in latex


def test_bold_on_column_maximum_and_on_ties() -> None:
    cells = _cells(latex_table(TABLE, [], baselines=["bm25"]))
    # nDCG@10: dense and hybrid tie at 0.6
    assert cells["dense"][0] == r"\textbf{0.6000}"
    assert cells["hybrid"][0] == r"\textbf{0.6000}"
    assert cells["bm25 (a)"][0] == "0.5000"
    # R@100: bm25 alone
    assert cells["bm25 (a)"][1] == r"\textbf{0.8000}"
    assert r"\textbf" not in cells["dense"][1] + cells["hybrid"][1]
    # MRR: dense alone
    assert cells["dense"][2] == r"\textbf{0.4500}"
    assert sum(r"\textbf" in c for row in cells.values() for c in row) == 4


def test_nan_prints_dash_and_is_never_bold() -> None:
    table = {"bm25": {"MAP": NAN, "R@10": 0.1}, "dense": {"MAP": 0.2}}
    cells = _cells(latex_table(table, [], baselines=["bm25"]))
    assert cells["bm25 (a)"] == ["--", r"\textbf{0.1000}"]
    assert cells["dense"] == [r"\textbf{0.2000}", "--"]  # a missing measure is NaN too


def test_superscript_only_where_significantly_better() -> None:
    tests = [
        _test("dense", "bm25", "nDCG@10", 0.10, 0.01),  # better -> a
        _test("dense", "bm25", "R@100", -0.10, 0.01),  # worse -> subscript a
        _test("dense", "bm25", "MRR", 0.05, 0.05),  # p == alpha -> nothing
        _test("hybrid", "bm25", "nDCG@10", 0.10, NAN),  # no test -> nothing
        _test("hybrid", "bm25", "R@100", -0.05, 0.2),  # not significant -> nothing
        _test("hybrid", "bm25", "MRR", -0.10, 0.049),  # worse -> subscript a
    ]
    cells = _cells(latex_table(TABLE, tests, baselines=["bm25"]))
    assert cells["dense"] == [r"\textbf{0.6000}$^{a}$", "0.7000$_{a}$", r"\textbf{0.4500}"]
    assert cells["hybrid"] == [r"\textbf{0.6000}", "0.7500", "0.3000$_{a}$"]
    assert cells["bm25 (a)"] == ["0.5000", r"\textbf{0.8000}", "0.4000"]


def test_alpha_is_respected() -> None:
    tests = [_test("dense", "bm25", "nDCG@10", 0.10, 0.03)]
    assert "$^{a}$" in latex_table(TABLE, tests, baselines=["bm25"], alpha=0.05)
    assert "$^{a}$" not in latex_table(TABLE, tests, baselines=["bm25"], alpha=0.01)
    assert "$p < 0.01$" in latex_table(TABLE, tests, baselines=["bm25"], alpha=0.01)


def test_two_baselines_get_letters_a_and_b() -> None:
    tests = [
        _test("hybrid", "dense", "nDCG@10", 0.01, 0.001),
        _test("hybrid", "bm25", "nDCG@10", 0.10, 0.001),
        _test("hybrid", "bm25", "R@100", -0.05, 0.001),
        _test("hybrid", "dense", "R@100", 0.05, 0.001),
        _test("dense", "bm25", "MRR", 0.05, 0.001),
    ]
    cells = _cells(latex_table(TABLE, tests, baselines=["bm25", "dense"]))
    assert list(cells) == ["bm25 (a)", "dense (b)", "hybrid"]
    assert cells["hybrid"][0] == r"\textbf{0.6000}$^{ab}$"  # in baseline order, whatever the order of tests
    assert cells["hybrid"][1] == "0.7500$^{b}_{a}$"  # one math group, not $$
    assert cells["dense (b)"][2] == r"\textbf{0.4500}$^{a}$"


def test_letters_follow_baselines_order() -> None:
    tests = [_test("hybrid", "bm25", "nDCG@10", 0.10, 0.001)]
    cells = _cells(latex_table(TABLE, tests, baselines=["dense", "bm25"]))
    assert list(cells) == ["bm25 (b)", "dense (a)", "hybrid"]
    assert cells["hybrid"][0] == r"\textbf{0.6000}$^{b}$"


def test_tests_against_a_non_baseline_are_ignored() -> None:
    tests = [_test("hybrid", "dense", "nDCG@10", 0.10, 0.001)]
    cells = _cells(latex_table(TABLE, tests, baselines=["bm25"]))
    assert cells["hybrid"][0] == r"\textbf{0.6000}"


def test_escaping_of_names_caption_and_label() -> None:
    table = {"bm_25 & co": {"P_5%": 0.1, "n#1": 0.2}, "a{b}~^\\$": {"P_5%": 0.3, "n#1": 0.1}}
    latex = latex_table(table, [], baselines=["bm_25 & co"], caption="50% of #runs_x", label="tab:a_b")
    cells = _cells(latex)
    assert list(cells) == [r"bm\_25 \& co (a)", r"a\{b\}\textasciitilde{}\textasciicircum{}\textbackslash{}\$"]
    assert r"System & P\_5\% & n\#1 \\" in latex.splitlines()
    assert r"\caption{50\% of \#runs\_x Superscript x:" in latex
    assert r"\label{tab:a_b}" in latex  # as \ref{tab:a_b} names it
    with pytest.raises(ValueError, match="plain key"):
        latex_table(table, [], baselines=["bm_25 & co"], label="tab:{x}")
    assert all(row.count(" & ") == 2 for row in _rows(latex))  # the escaped & splits no cell


def test_at_sign_in_measure_is_not_escaped() -> None:
    latex = latex_table({"bm25": {"nDCG@10": 0.5}}, [], baselines=["bm25"])
    assert r"System & nDCG@10 \\" in latex.splitlines()


def test_caption_explains_markers_and_label_is_optional() -> None:
    latex = latex_table(TABLE, [], baselines=["bm25"])
    caption = next(line for line in latex.splitlines() if line.startswith(r"\caption{"))
    assert "Superscript x: significantly better than baseline x" in caption
    assert "subscript x: significantly worse" in caption
    assert "$p < 0.05$" in caption
    assert r"\label" not in latex


@pytest.mark.parametrize(
    ("baselines", "message"),
    [(["bm25", "bm25"], "repeat"), (["nope"], "not in the table")],
)
def test_bad_baselines_raise(baselines: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        latex_table(TABLE, [], baselines=baselines)


def test_empty_table_raises() -> None:
    with pytest.raises(ValueError, match="no systems"):
        latex_table({}, [], baselines=[])
