"""The invoice pages, end to end: real kiosk sessions (simulators, the host over TCP), the signed
batches imported by the back office, the service on real TCP; the receipt's QR link opened in
Debian's headless Chromium (the DOM read, screenshots at phone and desktop size), the PDF
downloaded over HTTP and rendered with pdftoppm; HTTPS verified against the run's CA; every
wrong link the same 404; a burst of requests rate limited.

Screenshots and the rendered PDF go to a folder printed by the test (``-s`` shows it):
``$EVKIOSK_ARTIFACTS/invoice-pages`` when that is set, else pytest's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.service import ServiceSettings
from kiosk.backoffice.storage import Database, open_db
from kiosk.config import parse_config
from kiosk.records.batch import public_key_raw
from kiosk.records.outbox import Outbox
from kiosk.runtime import build_runtime
from kiosk.security.provisioning import load_terminal_keys
from tests.support.backoffice import running_service
from tests.support.rig import Rig

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE, DESKTOP = (390, 844), (1280, 900)
STATION = "MUC-0042"
CONFIG = f"""schema_version = 1
[station]
id = "{STATION}"
name = "Marktplatz Nord – Schnelllader"
operator = "Stadtwerke Musterstadt GmbH"
address = "Hauptstraße 1, 12345 Musterstadt"
languages = ["de", "en", "fr", "nl"]
[[connectors]]
id = 1
label = "Links (Typ 2)"
[tariff]
energy_price_per_kwh = "0.59"
time_price_per_hour = "1.20"
session_fee = "0.99"
vat_percent = "19"
[ui]
language = "de"
"""
SESSIONS = (("visa_contactless", 900), ("mastercard_contactless", 4500))
SAME = ("content-type", "content-length", "content-security-policy", "cache-control",
        "referrer-policy", "x-content-type-options", "x-robots-tag", "x-frame-options")


@dataclass(frozen=True)
class KioskRun:
    public_key: bytes
    envelopes: list[bytes]
    invoices: list[dict[str, Any]]


@pytest.fixture(scope="module")
def kiosk(host: HostSimulator, tmp_path_factory: pytest.TempPathFactory) -> KioskRun:
    """Two real sessions on the kiosk, their records sealed into signed batches."""
    tmp = tmp_path_factory.mktemp("kiosk")
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    cfg = parse_config(CONFIG + f"[host]\nport = {host.port}\ntimeout_s = 2\n", demo=True)
    journal = tmp / "journal.sqlite"
    rt = build_runtime(cfg, clock=clock.now, journal_path=journal, card_terminal=terminal,
                       charger=charger, watch=False)
    try:
        rig = Rig(rt, clock, charger, terminal)
        for card, seconds in SESSIONS:
            rig.play(card, seconds)
        rig.settled()
        keys = load_terminal_keys(cfg, journal.parent, demo=True)
        outbox = Outbox(rt.journal, cfg.station.id, keys.signing_key, clock.now)
        invoices = [r.payload for r in rt.journal.outbox() if r.kind == "invoice"]
        envelopes = [env for _, env in outbox.seal_all(max_records=50)]
        return KioskRun(public_key_raw(keys.signing_key.public_key()), envelopes, invoices)
    finally:
        rt.close()


@pytest.fixture
def back_office(backoffice_url: str, kiosk: KioskRun) -> Iterator[Database]:
    db = open_db(backoffice_url)
    try:
        add_terminal(db, STATION, kiosk.public_key)
        assert {import_envelope(db, env).status for env in kiosk.envelopes} == {"stored"}
        yield db
    finally:
        db.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("EVKIOSK_ARTIFACTS")
    folder = (Path(root) / "invoice-pages") if root else tmp_path_factory.mktemp("invoice-pages")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\ninvoice page screenshots and PDF renders: {folder}")
    return folder


def qr_path(invoice: dict[str, Any]) -> str:
    """The QR code's link without its base (the test service stands in for it)."""
    parts = urlsplit(invoice["url"])
    return f"{parts.path}?{parts.query}"


def plain(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def de_money(amount: str) -> str:
    """A plain decimal text as the German page writes it (amounts below 1000 here)."""
    assert "." in amount and float(amount) < 1000
    return amount.replace("-", "−").replace(".", ",") + " €"


def same_answer(r: httpx.Response) -> tuple[int, bytes, tuple[tuple[str, str | None], ...]]:
    """What must not differ between two 404s (Date and X-Request-ID differ for every answer;
    the header names and their order are compared too)."""
    names = tuple(k for k in r.headers if k not in ("date", "x-request-id"))
    return r.status_code, r.content, (("names", ",".join(names)),
                                      *((k, r.headers.get(k)) for k in SAME))


def test_the_invoices_as_the_kiosk_made_them(kiosk: KioskRun) -> None:
    """What the pages are checked against: two invoices, several lines each, in German."""
    assert len(kiosk.invoices) == len(SESSIONS)
    for inv in kiosk.invoices:
        assert inv["language"] == "de" and inv["station_id"] == STATION
        assert {ln["component"] for ln in inv["lines"]} == {"ENERGY", "TIME", "FLAT"}
        assert inv["total_minor"] > 0 and inv["masked_pan"].count("*") == 6


# --- the browser ----------------------------------------------------------------------------
def chromium(width: int, height: int) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--window-size={width},{height}", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--lang=de-DE"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    return driver


def screenshots(driver: Any, folder: Path, name: str, size: tuple[int, int]) -> list[Path]:
    """The viewport at ``size`` and the whole page at that width."""
    driver.set_window_size(*size)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(size[0] + size[0] - inner[0], size[1] + size[1] - inner[1])
    assert driver.execute_script("return window.innerWidth") == size[0]
    view = folder / f"{name}-{size[0]}x{size[1]}.png"
    driver.save_screenshot(str(view))
    full_height = driver.execute_script("return document.documentElement.scrollHeight")
    extra = driver.execute_script("return window.outerHeight - window.innerHeight")
    driver.set_window_size(size[0] + size[0] - inner[0], full_height + extra)
    full = folder / f"{name}-{size[0]}-full.png"
    driver.save_screenshot(str(full))
    # nothing sticks out sideways (a clipped or cramped layout would)
    assert driver.execute_script(
        "return document.documentElement.scrollWidth") <= size[0], f"{name}: wider than the screen"
    return [view, full]


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("backoffice_url", ["sqlite"], indirect=True)
def test_the_qr_link_opens_the_invoice_in_chromium(back_office: Database, kiosk: KioskRun,
                                                   tmp_path: Path, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By

    inv = kiosk.invoices[-1]  # the longer session
    with running_service(back_office, tmp_path, tls=False) as svc:
        driver = chromium(*PHONE)
        try:
            driver.get(svc.url + qr_path(inv))
            assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
            assert driver.title.startswith(f"Rechnung {inv['number']}")

            def text(element_id: str) -> str:
                return plain(driver.find_element(By.ID, element_id).text)

            assert text("total") == de_money(inv["total"])
            assert text("grand-total") == de_money(inv["total"])
            assert text("number") == inv["number"]
            assert text("station-name") == "Marktplatz Nord – Schnelllader"
            assert text("station-id") == STATION and text("connector") == "Links (Typ 2)"
            assert text("operator") == "Stadtwerke Musterstadt GmbH"
            masked = inv["masked_pan"]
            assert text("masked-pan") == plain(
                " ".join((masked[:4], masked[4:6] + "••", "••••", masked[-4:])))
            assert text("scheme") == "Mastercard" and text("auth-code") == inv["auth_code"]
            assert text("held") == de_money(inv["held"])
            assert text("released") == de_money(inv["hold_released"])
            kwh = f"{inv['energy_wh'] // 1000},{inv['energy_wh'] % 1000:03d} kWh"
            assert text("energy") == kwh

            rows = driver.find_elements(By.CSS_SELECTOR, "table.lines tr.line")
            assert [r.get_attribute("data-component") for r in rows] == [
                ln["component"] for ln in inv["lines"]]
            assert [plain(r.find_element(By.CSS_SELECTOR, "td.gross").text) for r in rows] == [
                de_money(ln["amount_incl"]) for ln in inv["lines"]]
            assert [plain(r.find_element(By.CSS_SELECTOR, ".what").text) for r in rows] == [
                {"ENERGY": "Energie", "TIME": "Ladezeit", "FLAT": "Startgebühr"}[ln["component"]]
                for ln in inv["lines"]]
            vat_rows = driver.find_elements(By.CSS_SELECTOR, "tr.vat-row")
            assert [[plain(td.text) for td in r.find_elements(By.TAG_NAME, "td")]
                    for r in vat_rows] == [
                [f"{v['vat_percent']} %", de_money(v["net"]), de_money(v["vat"]),
                 de_money(v["gross"])] for v in inv["vat_summary"]]
            if inv["rounding"] is not None:
                assert text("rounding") == de_money(inv["rounding"])
            else:
                assert driver.find_elements(By.ID, "rounding") == []

            source = driver.page_source
            card_pan = TEST_CARDS["mastercard_contactless"].pan
            assert card_pan not in source and card_pan[6:12] not in plain(source)
            # the stylesheet applied under the CSP (by its hash), no violation reported
            weight = driver.execute_script(
                "return getComputedStyle(document.getElementById('total')).fontWeight")
            assert weight == "800"
            logs = [e["message"] for e in driver.get_log("browser")]
            assert not [m for m in logs if "Content Security Policy" in m], logs

            shots = screenshots(driver, artifacts, "invoice-de-phone", PHONE)
            shots += screenshots(driver, artifacts, "invoice-de-desktop", DESKTOP)

            # the language switcher: plain links, the same invoice in English
            driver.find_element(By.CSS_SELECTOR, 'nav.langs a[hreflang="en"]').click()
            assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
            assert text("total") == f"€{inv['total']}"
            assert text("title") == "Invoice"
            shots += screenshots(driver, artifacts, "invoice-en-phone", PHONE)
            pdf_href = driver.find_element(By.ID, "pdf-link").get_attribute("href")

            # a link with one character changed: the 404 page, styled under the same CSP
            driver.get(svc.url + qr_path(inv)[:-1] + ("A" if inv["token"][-1] != "A" else "B"))
            assert text("title").startswith("Invoice not found")
            assert inv["number"] not in driver.page_source
            shots += screenshots(driver, artifacts, "not-found-phone", PHONE)
            logs = [e["message"] for e in driver.get_log("browser")]
            assert not [m for m in logs if "Content Security Policy" in m], logs
        finally:
            driver.quit()

        # the PDF the page links to, over HTTP, rendered to PNG
        assert pdf_href.startswith(f"{svc.url}/i/{STATION}/{inv['number']}/invoice.pdf?t=")
        r = httpx.get(pdf_href, timeout=20)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF-")
        assert r.headers["cache-control"] == "private, no-store"
        pdf = artifacts / "pdf-en.pdf"
        pdf.write_bytes(r.content)
        for old in artifacts.glob("pdf-en-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(artifacts / "pdf-en")],
                       check=True, timeout=30)
        pages = sorted(artifacts.glob("pdf-en-*.png"))
        assert [p.name for p in pages] == ["pdf-en-1.png"], "one A4 page"
        if shutil.which("pdftotext"):
            words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                   text=True, check=True, timeout=30).stdout
            assert "Invoice" in words and f"€{inv['total']}" in plain(words)
            assert masked[-4:] in words and card_pan not in words
    for path in [*shots, *pages]:
        assert path.stat().st_size > 5000, path
        print(f"  {path}")


# --- HTTP: TLS, headers, the one 404, the rate limit ------------------------------------------
def test_over_https_every_wrong_link_is_the_same_404(back_office: Database, kiosk: KioskRun,
                                                     tmp_path: Path) -> None:
    first, second = kiosk.invoices
    settings = ServiceSettings(invoice_burst=100)  # the limit is the next test's
    with running_service(back_office, tmp_path, tls=True, settings=settings) as svc:
        assert svc.ca_file is not None
        with httpx.Client(base_url=svc.url, verify=svc.client_context(), timeout=20) as http:
            ok = http.get(qr_path(first))
            assert ok.status_code == 200
            assert ok.headers["content-type"] == "text/html; charset=utf-8"
            assert ok.headers["referrer-policy"] == "no-referrer"
            assert ok.headers["x-content-type-options"] == "nosniff"
            assert ok.headers["cache-control"] == "private, no-store"
            assert ok.headers["x-robots-tag"].startswith("noindex")
            csp = ok.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "style-src 'sha256-" in csp
            assert "script" not in csp and "unsafe" not in csp
            assert de_money(first["total"]).replace(" ", "\u00a0") in ok.text
            assert "?t=" in ok.text  # the switcher keeps the token; the page names no origin
            assert "backoffice.invalid" not in ok.text
            assert http.get(qr_path(first) + "&lang=nl").text.count('lang="nl"') >= 1

            path, token = qr_path(first).split("?t=")
            number = first["number"]
            forged = token[:-1] + ("A" if token[-1] != "A" else "B")
            wrong = [
                f"{path}?t={forged}",  # a forged token
                f"/i/{STATION}/{second['number']}?t={token}",  # another number, this token
                f"/i/{STATION}/{number[:-1]}9?t={token}",  # a number that does not exist
                f"/i/XYZ-0001/{number}?t={token}",  # an unknown station
                f"{path}",  # no token
                f"{path}?t=",  # an empty one
                f"{path}?t={token}&t={token}",  # twice
                f"{path}?t={token[:8]}",  # too short
                f"{path}?t={token}%00",  # odd characters
                f"{path}?t={token}%C3%A9",
                f"{path}?t={'A' * 300}",  # too long
                f"{path}?t={token}&lang=d%27e",  # a malformed language
                f"{path}?t={token}&x={'y' * 400}",  # an oversized query
                f"/i/{STATION}/..?t={token}",
                f"/i/{STATION}/{number}/other?t={token}",
                f"/i/{STATION}?t={token}",
                f"/i?t={token}",
                f"/i/?t={token}",
                f"/i/{STATION}/{'9' * 70}?t={token}",
                f"{path}/invoice.pdf?t={forged}",  # the PDF of a forged link
            ]
            answers = [http.get(url) for url in wrong]
            assert [a.status_code for a in answers] == [404] * len(wrong)
            assert len({same_answer(a) for a in answers}) == 1, "every 404 the same"
            assert "Invoice not found" in answers[0].text
            assert number not in answers[0].text

            pdf = http.get(f"{path}/invoice.pdf?t={token}&lang=fr")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
            assert pdf.headers["content-disposition"] == (
                f'inline; filename="invoice-{number}.pdf"')
            assert pdf.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("backoffice_url", ["sqlite"], indirect=True)
def test_a_burst_is_rate_limited_per_client(back_office: Database, kiosk: KioskRun,
                                            tmp_path: Path) -> None:
    inv = kiosk.invoices[0]
    settings = ServiceSettings(invoice_rate=0.01, invoice_burst=8)  # one back per 100 s
    with running_service(back_office, tmp_path, tls=False, settings=settings) as svc, \
            httpx.Client(base_url=svc.url, timeout=20) as http:
        path = qr_path(inv)
        pdf = path.replace("?t=", "/invoice.pdf?t=")
        assert http.get(path).status_code == 200  # 1
        assert http.get(pdf).status_code == 200  # + 4 (a PDF costs more)
        codes = [http.get(path if i % 2 else path.replace(inv["number"], "X-1")).status_code
                 for i in range(6)]
        assert codes == [404, 200, 404] + [429] * 3  # 404s count too: no free guessing
        limited = http.get(path)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["referrer-policy"] == "no-referrer"
        assert "Too many requests" in limited.text
        assert http.get("/healthz").status_code == 200  # the rest of the service is not limited
