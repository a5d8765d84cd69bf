"""The analytics report opened in Debian's headless Chromium (file://, as an operator opens the
folder): every chart shown at its size, no console message, nothing wider than the window,
the definitions on the page; a screenshot of the top and of the whole page, and one chart as
PNG, go to ``$EVKIOSK_ARTIFACTS/analytics-report`` when that is set (``-s`` prints where).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.backoffice.analytics import Period, compute
from kiosk.backoffice.analytics.charts import to_png, utilization_chart
from kiosk.backoffice.analytics.report import write_report
from kiosk.backoffice.storage import Database
from tests.e2e.test_invoice_pages import chromium
from tests.support.analytics_fleet import PERIOD, fleet_db

DESKTOP = (1280, 900)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with fleet_db(f"sqlite:///{tmp_path / 'backoffice.sqlite'}") as database:
        yield database


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = os.environ.get("EVKIOSK_ARTIFACTS")
    folder = (Path(root) / "analytics-report") if root else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nanalytics report screenshots: {folder}")
    return folder


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_report_in_chromium(db: Database, tmp_path: Path, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By

    done = write_report(db, tmp_path / "report", Period(*PERIOD))
    a = compute(db, Period(*PERIOD))
    (artifacts / "utilization.png").write_bytes(
        to_png(utilization_chart(a.usage, a.period, a.thresholds)))
    driver = chromium(*DESKTOP)
    try:
        driver.get(done.index.as_uri())
        assert driver.title.startswith("Charging analytics 2026-11-02 to 2026-11-09 UTC")
        charts = driver.find_elements(By.CSS_SELECTOR, "figure svg")
        assert len(charts) == 7
        for svg in charts:
            size = svg.size
            assert size["width"] > 600 and size["height"] > 150, size
        headings = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
        assert headings[:3] == ["Period and definitions", "Utilization", "Availability"]
        assert len(driver.find_elements(By.CSS_SELECTOR, "p.definition")) == len(headings)
        assert driver.execute_script(
            "return document.documentElement.scrollWidth") <= DESKTOP[0]
        driver.save_screenshot(str(artifacts / "report-top.png"))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(DESKTOP[0], height + 150)
        driver.save_screenshot(str(artifacts / "report-full.png"))
        assert driver.get_log("browser") == []
    finally:
        driver.quit()
