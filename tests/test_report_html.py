"""The HTML report (daft_retrieval.report.html) in a real headless Chromium: values, marks, the query detail,
sorting, filtering, paging, selectors, and that the page neither logs errors nor makes requests."""

from __future__ import annotations

import json

import pytest

from daft_retrieval.report.html import render_html

from .browser import open_page
from .report_data import HOSTILE, sample_report

By = pytest.importorskip("selenium.webdriver.common.by").By
Select = pytest.importorskip("selenium.webdriver.support.ui").Select


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    data = sample_report(30)
    path = tmp_path_factory.mktemp("report") / "small.html"
    path.write_text(render_html(data), encoding="utf-8")
    return path, data


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    data = sample_report(120, seed=1)
    path = tmp_path_factory.mktemp("report") / "large.html"
    path.write_text(render_html(data), encoding="utf-8")
    return path, data


def load(driver, path):
    driver.get_log("browser")  # drop what earlier pages logged
    open_page(driver, path)


def attr(element, name):
    return element.get_attribute(name)


def diffs(ds, measure, system, baseline):
    """(query id, difference) of every query; None where either value is null."""
    s, b = ds["values"][measure][system], ds["values"][measure][baseline]
    return [(q, None if x is None or y is None else x - y) for q, x, y in zip(ds["queries"], s, b)]


def expected_order(pairs, descending):
    """The page's order: nulls last either way, ties in the dataset's order."""
    kept = [p for p in pairs if p[1] is not None]
    return [q for q, _ in sorted(kept, key=lambda p: p[1], reverse=descending)] + [q for q, d in pairs if d is None]


def shown_queries(driver):
    return [attr(tr, "data-query") for tr in driver.find_elements(By.CSS_SELECTOR, "#queries tbody tr[data-query]")]


def test_summary_values_marks_and_judged(driver, small):
    path, data = small
    load(driver, path)
    ds = data["datasets"][0]
    assert driver.title == data["title"]
    for baseline in ds["baselines"]:
        Select(driver.find_element(By.ID, "baseline")).select_by_value(baseline)
        significant = {
            (t["system"], t["measure"]): t["difference"] > 0
            for t in ds["tests"]
            if t["baseline"] == baseline and t["p_corrected"] is not None and t["p_corrected"] < data["alpha"]
        }
        assert significant, "the sample has significant tests against each baseline"
        cells = driver.find_elements(By.CSS_SELECTOR, "#summary tbody td[data-system][data-measure]")
        assert len(cells) == len(ds["systems"]) * (len(ds["measures"]) + 1)
        for td in cells:
            system, measure = attr(td, "data-system"), attr(td, "data-measure")
            classes = set(attr(td, "class").split())
            if measure == "Judged@10":
                assert json.loads(attr(td, "data-value")) == ds["judged"][system]
                assert td.text == f"{ds['judged'][system]:.4f}"
                continue
            value = ds["table"][system][measure]
            assert json.loads(attr(td, "data-value")) == value
            assert td.text.startswith(f"{value:.4f}")
            if (system, measure) in significant:
                up = significant[(system, measure)]
                assert ("sig-up" if up else "sig-down") in classes
                assert ("▲" if up else "▼") in td.text
                assert "95% CI" in attr(td, "title")
            else:
                assert not classes & {"sig-up", "sig-down"}
                assert "▲" not in td.text and "▼" not in td.text
    tests_rows = driver.find_elements(By.CSS_SELECTOR, "#tests tbody tr")
    assert len(tests_rows) == len(ds["tests"])
    assert "–" in driver.find_element(By.ID, "tests").text  # null p_corrected / effect sizes


def test_query_detail_rankings_linked(driver, small):
    path, data = small
    load(driver, path)
    ds = data["datasets"][0]
    baseline, system = ds["baselines"][0], ds["systems"][1]
    query = "q0"
    driver.find_element(By.CSS_SELECTOR, f'#queries tr[data-query="{query}"]').click()
    assert driver.find_element(By.ID, "detail-query").text == query
    left = ds["rankings"][baseline][query]
    right = ds["rankings"][system][query]
    ranks = {side: {d: i + 1 for i, (d, _, _) in enumerate(rows)} for side, rows in (("left", left), ("right", right))}
    for side, rows, other in (("left", left, "right"), ("right", right, "left")):
        items = driver.find_elements(By.CSS_SELECTOR, f"#ranking-{side} li")
        assert [attr(li, "data-doc") for li in items] == [ds["docs"]["ids"][d] for d, _, _ in rows]
        for i, (li, (doc, score, rel)) in enumerate(zip(items, rows)):
            assert attr(li, "data-rank") == str(i + 1)
            assert attr(li, "data-relevance") == ("unjudged" if rel is None else str(rel))
            badge = li.find_element(By.CSS_SELECTOR, ".badge")
            want = "unjudged" if rel is None else "rel-neg" if rel < 0 else f"rel-{min(3, rel)}"
            assert want in attr(badge, "class").split()
            assert li.find_element(By.CSS_SELECTOR, ".score").text == f"{score:.4f}"
            elsewhere = ranks[other].get(doc)
            move = li.find_element(By.CSS_SELECTOR, ".move").text
            if elsewhere is None:
                assert move == "new"
            elif elsewhere == i + 1:
                assert move == "="
            else:
                assert move == (f"↑{elsewhere - i - 1}" if elsewhere > i + 1 else f"↓{i + 1 - elsewhere}")
    shared = [d for d in ranks["left"] if d in ranks["right"]]
    assert shared, "the sample's systems share documents"
    doc_id = ds["docs"]["ids"][shared[0]]
    driver.find_element(By.CSS_SELECTOR, f'#ranking-left li[data-doc="{doc_id}"]').click()
    linked = driver.find_elements(By.CSS_SELECTOR, "#detail li.linked")
    assert sorted(attr(li, "data-doc") for li in linked) == [doc_id, doc_id]
    # The per-query values of every measure for both systems.
    for tr in driver.find_elements(By.CSS_SELECTOR, "#detail-values tbody tr"):
        measure = attr(tr, "data-measure")
        cells = tr.find_elements(By.CSS_SELECTOR, "td")
        assert [json.loads(attr(td, "data-value")) for td in cells] == [
            ds["values"][measure][baseline][0],
            ds["values"][measure][system][0],
        ]
    # Another system on the right.
    Select(driver.find_element(By.ID, "right-system")).select_by_value(ds["systems"][2])
    items = driver.find_elements(By.CSS_SELECTOR, "#ranking-right li")
    assert [attr(li, "data-doc") for li in items] == [ds["docs"]["ids"][d] for d, _, _ in ds["rankings"]["rrf"][query]]


def test_sort_filter_and_pages(driver, large):
    path, data = large
    load(driver, path)
    ds = data["datasets"][0]
    pairs = diffs(ds, ds["measures"][0], ds["systems"][1], ds["baselines"][0])
    descending = expected_order(pairs, descending=True)
    assert shown_queries(driver) == descending[:50]
    assert driver.find_element(By.ID, "page").text == "page 1 of 3"
    driver.find_element(By.ID, "next").click()
    assert shown_queries(driver) == descending[50:100]
    driver.find_element(By.ID, "next").click()
    assert shown_queries(driver) == descending[100:]
    assert driver.find_element(By.ID, "page").text == "page 3 of 3"
    assert not driver.find_element(By.ID, "next").is_enabled()
    driver.find_element(By.ID, "prev").click()
    assert driver.find_element(By.ID, "page").text == "page 2 of 3"
    driver.find_element(By.CSS_SELECTOR, 'th[data-sort="diff"]').click()  # the second click on diff: ascending
    assert shown_queries(driver) == expected_order(pairs, descending=False)[:50]
    assert driver.find_element(By.ID, "page").text == "page 1 of 3"
    driver.find_element(By.CSS_SELECTOR, 'th[data-sort="id"]').click()
    assert shown_queries(driver) == sorted(ds["queries"])[:50]
    driver.find_element(By.CSS_SELECTOR, 'th[data-sort="id"]').click()
    assert shown_queries(driver) == sorted(ds["queries"], reverse=True)[:50]
    box = driver.find_element(By.ID, "filter")
    box.send_keys("Q11")
    texts = ds["query_text"]
    want = sorted(
        (q for q, t in zip(ds["queries"], texts) if "q11" in q.lower() or "q11" in (t or "").lower()), reverse=True
    )
    assert shown_queries(driver) == want and 0 < len(want) < 50
    assert driver.find_element(By.ID, "page").text == "page 1 of 1"
    box.clear()
    box.send_keys("lexical")
    rows = shown_queries(driver)
    assert rows and all("lexical" in texts[ds["queries"].index(q)] for q in rows)


def test_selectors_change_chart_and_table(driver, large):
    path, data = large
    load(driver, path)
    ds = data["datasets"][0]
    baseline = ds["baselines"][0]
    assert [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "system")).options] == ds["systems"][1:]

    def chart_d():
        return attr(driver.find_element(By.ID, "chart-pos"), "d") + attr(driver.find_element(By.ID, "chart-neg"), "d")

    def check_table(measure, system):
        index = {q: i for i, q in enumerate(ds["queries"])}
        rows = driver.find_elements(By.CSS_SELECTOR, "#queries tbody tr[data-query]")
        assert [attr(tr, "data-query") for tr in rows] == expected_order(diffs(ds, measure, system, baseline), True)[
            :50
        ]
        for tr in rows[:10]:
            i = index[attr(tr, "data-query")]
            tds = tr.find_elements(By.CSS_SELECTOR, "td")
            got = [None if attr(td, "data-value") is None else json.loads(attr(td, "data-value")) for td in tds[2:4]]
            assert got == [ds["values"][measure][baseline][i], ds["values"][measure][system][i]]

    first = chart_d()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#chart path")) == 2
    check_table(ds["measures"][0], ds["systems"][1])
    Select(driver.find_element(By.ID, "measure")).select_by_value(ds["measures"][1])
    second = chart_d()
    assert second != first
    check_table(ds["measures"][1], ds["systems"][1])
    Select(driver.find_element(By.ID, "system")).select_by_value(ds["systems"][2])
    assert chart_d() not in (first, second)
    check_table(ds["measures"][1], ds["systems"][2])
    pairs = [d for _, d in diffs(ds, ds["measures"][1], ds["systems"][2], baseline) if d is not None]
    caption = driver.find_element(By.ID, "chart-caption").text
    helped, hurt = sum(d > 0 for d in pairs), sum(d < 0 for d in pairs)
    assert f"{helped} helped, {hurt} hurt, {len(pairs) - helped - hurt} tied" in caption
    # A click on the chart's left edge opens the most helped query.
    chart = driver.find_element(By.ID, "chart")
    driver.execute_script(
        "const c = arguments[0], r = c.getBoundingClientRect(), m = c.getScreenCTM();"
        "const x = m.a * (Number(c.dataset.left) + 0.01) + m.e;"
        "c.dispatchEvent(new MouseEvent('click', {clientX: x, clientY: r.top + r.height / 2, bubbles: true}));",
        chart,
    )
    assert (
        driver.find_element(By.ID, "detail-query").text
        == expected_order(diffs(ds, ds["measures"][1], ds["systems"][2], baseline), True)[0]
    )


def test_no_errors_no_requests_hostile_text_is_text(driver, small):
    path, data = small
    load(driver, path)
    driver.find_element(By.CSS_SELECTOR, '#queries tr[data-query="q0"]').click()  # the hostile documents
    driver.find_element(By.CSS_SELECTOR, "#provenance summary").click()
    logs = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert logs == []
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    csp = driver.find_element(By.CSS_SELECTOR, 'meta[http-equiv="Content-Security-Policy"]')
    assert "default-src 'none'" in attr(csp, "content")
    assert driver.execute_script("return document.querySelectorAll('script').length") == 2
    assert driver.find_elements(By.ID, "injected") == []
    assert driver.find_elements(By.CSS_SELECTOR, "#app img, #detail b") == []
    detail = driver.find_element(By.ID, "detail").text
    assert HOSTILE[0] in detail and HOSTILE[2] in detail
    assert HOSTILE[0] in driver.find_element(By.ID, "queries").text
    assert HOSTILE[1] in driver.find_element(By.ID, "provenance").text
    assert "timings" in driver.find_element(By.ID, "provenance").text
    assert driver.find_element(By.ID, "title").text == data["title"]
    assert driver.execute_script("return typeof window.alert === 'function' && !document.querySelector('[onerror]')")


def test_single_system_and_several_datasets(driver, tmp_path):
    data = sample_report(12, systems=("bm25",), seed=3)
    second = sample_report(8, seed=4)["datasets"][0]
    second["name"] = "second"
    data["datasets"].append(second)
    data["mean"] = {"bm25": {"nDCG@10": 0.5}, "dense": {"nDCG@10": 0.25}}
    path = tmp_path / "single.html"
    path.write_text(render_html(data), encoding="utf-8")
    load(driver, path)
    assert "nothing to compare" in driver.find_element(By.ID, "chart-caption").text
    assert len(shown_queries(driver)) == 12
    mean = driver.find_elements(By.CSS_SELECTOR, "#mean td[data-value]")
    assert [json.loads(attr(td, "data-value")) for td in mean] == [0.5, 0.25]
    Select(driver.find_element(By.ID, "dataset")).select_by_visible_text("second")
    assert len(shown_queries(driver)) == 8
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []


def test_deterministic_and_10000_queries(driver, tmp_path):
    small = sample_report(30)
    assert render_html(small) == render_html(sample_report(30))
    data = sample_report(10_000, snippet_words=22)
    snippets = [s for s in data["datasets"][0]["docs"]["snippets"] if s]
    assert 130 < sum(map(len, snippets)) / len(snippets) < 170
    page = render_html(data).encode("utf-8")
    assert len(page) < 20_000_000
    path = tmp_path / "big.html"
    path.write_bytes(page)
    load(driver, path)
    assert len(shown_queries(driver)) == 50
    assert driver.find_element(By.ID, "page").text == "page 1 of 200"
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []


@pytest.mark.parametrize("ci", ["", "true"])
def test_missing_chromium_skips_or_fails_on_ci(monkeypatch, ci):
    from . import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="chromium not found"):
        browser.chromium_paths()


def test_overlap_and_the_delta_to_exact_show_only_for_approximate_systems(driver, tmp_path):
    data = sample_report(10)
    ds = data["datasets"][0]
    approx = ds["systems"][1]
    ds["against_exact"] = {approx: {"Overlap@10": 0.75, "delta_to_exact": {ds["measures"][0]: -0.0125}}}
    path = tmp_path / "approx.html"
    path.write_text(render_html(data), encoding="utf-8")
    load(driver, path)
    head = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#summary thead th")]
    assert head[-2:] == ["Overlap@10", f"Δ {ds['measures'][0]} to exact"]
    for tr in driver.find_elements(By.CSS_SELECTOR, "#summary tbody tr"):
        system = tr.find_element(By.CSS_SELECTOR, "th").text
        cells = [td.text for td in tr.find_elements(By.CSS_SELECTOR, "td.exact")]
        assert cells == (["0.7500", "-0.0125"] if system == approx else ["", ""])  # exact systems: nothing
    assert driver.get_log("browser") == []
    del ds["against_exact"]  # no approximate system: no such columns
    path.write_text(render_html(data), encoding="utf-8")
    load(driver, path)
    assert "Overlap@10" not in driver.find_element(By.ID, "summary").text
