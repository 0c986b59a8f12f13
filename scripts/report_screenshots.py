"""The README's screenshots of the demo report: compare BM25, MiniLM and their RRF on data/demo, open report.html
in headless Chromium, and save the overview and the most helped query's rankings to data/screenshots/.

    python scripts/report_screenshots.py      # needs chromium, chromium-driver and selenium (the dev set-up)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")


def main() -> None:
    from selenium.webdriver.common.by import By

    from daft_retrieval.cli.main import main as cli
    from tests.browser import open_page, start_driver

    folder = Path(tempfile.mkdtemp(prefix="demo-report-"))
    argv = ["compare", "--bm25", "--model", "all-MiniLM-L6-v2", "--fuse", "rrf", "--no-plot"]
    assert cli([*argv, "-m", "nDCG@10", "R@100", "RR@10", "--output-dir", str(folder)]) == 0
    out = ROOT / "data" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    driver = start_driver()
    try:
        driver.set_window_size(1200, 1000)
        open_page(driver, folder / "report.html")
        driver.save_screenshot(str(out / "report-overview.png"))
        driver.find_element(By.CSS_SELECTOR, "#queries tbody tr[data-query]").click()  # the most helped query
        driver.save_screenshot(str(out / "report-query.png"))
    finally:
        driver.quit()
    print(f"wrote {out / 'report-overview.png'} and {out / 'report-query.png'}")


if __name__ == "__main__":
    main()
