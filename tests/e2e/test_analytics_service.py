"""``/analytics`` on the real service over HTTPS (uvicorn in a thread, SQLite and PostgreSQL):
operators only (HTTP Basic), the filter checked, the same figures as the report, the CSV and
chart routes, the rate limit; then the page in Debian's headless Chromium with an operator's
credentials: the filter form, the charts at their size, the station picked from the form.
Screenshots go to ``$EVKIOSK_ARTIFACTS/analytics-service`` when that is set."""

from __future__ import annotations

import base64
import csv
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kiosk.backoffice.analytics import web
from kiosk.backoffice.operators import add_operator
from kiosk.backoffice.storage import open_db
from tests.e2e.test_invoice_pages import chromium
from tests.support.analytics_fleet import insert_fleet
from tests.support.backoffice import ServiceHandle, running_service

PASSWORD = "correct horse battery"
WEEK = {"from": "2026-11-02", "to": "2026-11-08"}  # the fleet's period: ISO week 2026-W45


def basic(name: str = "ops", password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Site:
    service: ServiceHandle

    def get(self, path: str, params: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        with httpx.Client(verify=self.service.client_context(), timeout=60) as client:
            return client.get(self.service.url + path, params=params, headers=headers)


@pytest.fixture
def site(backoffice_url: str, tmp_path: Path) -> Iterator[Site]:
    db = open_db(backoffice_url)
    try:
        insert_fleet(db)
        add_operator(db, "ops", PASSWORD)
        with running_service(db, tmp_path) as service:
            yield Site(service)
    finally:
        db.close()


def test_operators_only_and_the_filter_checked(site: Site) -> None:
    for headers in (None, basic(password=PASSWORD + "!"), basic("nobody"),
                    {"Authorization": "Bearer x"}):
        r = site.get("/analytics", WEEK, headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith('Basic realm="evkiosk analytics"')
        assert "ST-A" not in r.text
    for query, words in (({"from": "2026-11-08", "to": "2026-11-02"}, "is before from"),
                         ({"from": "yesterday"}, "from: not a date"),
                         ({"from": "2020-01-01", "to": "2026-01-01"}, "longer than 400"),
                         ({**WEEK, "station": "<b>x</b>"}, "station: not a station id")):
        r = site.get("/analytics", query, basic())
        assert r.status_code == 400 and words in r.text, query
        assert "<b>x</b>" not in r.text
    r = site.get("/analytics", {**WEEK, "station": "ST-Z"}, basic())
    assert r.status_code == 404 and "ST-Z" in r.text


def test_the_page_its_tables_and_charts(site: Site) -> None:
    r = site.get("/analytics", WEEK, basic())
    assert r.status_code == 200, r.text[:300]
    assert r.headers["cache-control"] == "private, no-store"
    assert "script-src" not in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert "Charging analytics" in page and 'name="station"' in page
    assert 'href="/analytics/charts/utilization.svg?from=2026-11-02&amp;to=2026-11-08"' in page
    # a table as CSV, the same rows the report writes
    r = site.get("/analytics/usage_stations.csv", WEEK, basic())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["station_id"] for row in rows} >= {"ST-A", "ST-B", "ST-C"}
    r = site.get("/analytics/charts/peak.svg", WEEK, basic())
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    ET.fromstring(r.content)  # well-formed
    for path in ("/analytics/nothing.csv", "/analytics/charts/nothing.svg",
                 "/analytics/charts/..%2Findex.svg"):
        assert site.get(path, WEEK, basic()).status_code == 404, path
    one = site.get("/analytics", {**WEEK, "station": "ST-C"}, basic())
    assert one.status_code == 200 and "Charging analytics: ST-C" in one.text


def test_guessing_is_slowed_by_the_rate_limit(site: Site) -> None:
    codes = [site.get("/analytics", WEEK, basic(password=f"guess number {i:04d}")).status_code
             for i in range(web.BURST + 5)]
    assert codes[:web.BURST] == [401] * web.BURST
    assert 429 in codes[web.BURST:]
    r = site.get("/analytics", WEEK, basic())
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_page_in_chromium(site: Site, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    root = os.environ.get("EVKIOSK_ARTIFACTS")
    folder = Path(root) / "analytics-service" if root else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    driver = chromium(1280, 900)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": basic()})
        ca = site.service.ca_file
        assert ca is not None
        driver.execute_cdp_cmd("Security.setIgnoreCertificateErrors", {"ignore": True})
        driver.get(f"{site.service.url}/analytics?from=2026-11-02&to=2026-11-08")
        assert driver.title.startswith("Charging analytics 2026-11-02 to 2026-11-09 UTC")
        figures = driver.find_elements(By.CSS_SELECTOR, "figure svg")
        assert len(figures) == 7
        assert all(f.size["width"] > 600 for f in figures)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 1280
        driver.save_screenshot(str(folder / "analytics-top.png"))
        Select(driver.find_element(By.NAME, "station")).select_by_value("ST-A")
        driver.find_element(By.CSS_SELECTOR, "form.filter button").click()
        assert driver.find_element(By.TAG_NAME, "h1").text == "Charging analytics: ST-A"
        assert "station=ST-A" in driver.current_url
        driver.save_screenshot(str(folder / "analytics-st-a.png"))
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()
