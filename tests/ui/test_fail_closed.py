"""The driver's screens when the terminal fails closed (issue 10): the out-of-service page, the
lab host warning, a receipt whose payment is still pending, and the charger that stops
answering while a car charges.

Health changes are reported from worker threads, as the device workers and the health watch
do: the window must hop to the GUI thread by itself (the tests stop its twice-a-second refresh
timer first, so only that hop can change the page).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.host import HostSimulator
from kiosk.config import parse_config
from kiosk.health import CHARGER, JOURNAL, MSG_CHARGER, MSG_JOURNAL, MSG_READER
from kiosk.journal.store import JournalWriteError
from kiosk.security.provisioning import DEMO_PIN_KEY, load_terminal_keys
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, State
from kiosk.session.says import Say
from kiosk.ui import driver_texts
from kiosk.ui.i18n import Figures
from tests.ui.rig import CONFIG, WAIT_MS, Kiosk, build_kiosk, cancel_card_read

PHONE = "+49 30 1234 5678"
OUT_OF_SERVICE = "terminal out of service"  # the health's ERROR log line, expected here
LAB_TEXT = "LAB MODE: payment data is not encrypted"
LONG_NAME = "Ladepark Musterstadt Hauptbahnhof Parkhaus Nord, Ebene 3, Platz 17"[:64]

EN = Figures("en")  # the figures as the English screens write them


def report(k: Kiosk, part: str, ok: bool, reason: str = "") -> None:
    """Report ``part`` from a worker thread, as the device workers do, and wait for it."""
    worker = threading.Thread(target=k.runtime.health.report, args=(part, ok, reason),
                              name="test-health-worker")
    worker.start()
    worker.join(5)
    assert not worker.is_alive()


def stop_refresh(k: Kiosk) -> None:
    """Stop the window's periodic refresh: from now on only a signal changes the page."""
    timer = k.window.findChild(QTimer, "refresh_timer")
    assert timer is not None
    timer.stop()


def page_widget(k: Kiosk, name: str) -> QWidget:
    page = k.window.findChild(QWidget, name)
    assert page is not None, name
    return page


def inside_page(k: Kiosk, widget: QWidget, page_name: str) -> bool:
    """``widget`` lies wholly inside its page (nothing pushed below the screen)."""
    page = page_widget(k, page_name)
    top_left = widget.mapTo(page, widget.rect().topLeft())
    bottom_right = widget.mapTo(page, widget.rect().bottomRight())
    return page.rect().contains(top_left) and page.rect().contains(bottom_right)


# --- out of service -----------------------------------------------------------------------------
def test_out_of_service_shows_every_reason_and_the_phone_and_no_start(k: Kiosk) -> None:
    k.expect_errors.append(OUT_OF_SERVICE)
    k.runtime.health.phone = PHONE
    k.wait_page("idle_page")
    stop_refresh(k)
    shown_on: set[int] = set()
    oos = k.window.out_of_service_page
    show_health = oos.show_health

    def spy(parts: list[str], phone: str) -> None:
        shown_on.add(threading.get_ident())
        show_health(parts, phone)

    oos.show_health = spy  # type: ignore[method-assign]

    report(k, CHARGER, False, MSG_CHARGER)
    report(k, JOURNAL, False, MSG_JOURNAL)
    k.wait_page("out_of_service_page")
    assert shown_on == {threading.get_ident()}  # drawn on the GUI thread, never the worker's
    assert k.label("out_of_service_title").text() == "Out of service"
    # every reason, the most serious first (the journal before the charger)
    k.qtbot.waitUntil(lambda: oos.reasons() == [MSG_JOURNAL, MSG_CHARGER], timeout=WAIT_MS)
    assert [k.label(f"out_of_service_reason_{i}").isVisible() for i in range(3)] == [
        True, True, False]
    phone = k.label("out_of_service_phone")
    assert phone.isVisible() and phone.text() == f"Questions? Call {PHONE}"
    assert k.runtime.config.station.id in k.label("out_of_service_footer").text()

    # no way to start: no button on the page, the idle page's Start off, a stale press refused
    page = page_widget(k, "out_of_service_page")
    assert page.findChildren(QPushButton) == []
    pay = k.button("pay_button")
    assert not pay.isVisible() and not pay.isEnabled()
    k.window.start_session()
    assert k.runtime.active() is None
    assert k.page() == "out_of_service_page"

    report(k, JOURNAL, True)
    k.qtbot.waitUntil(lambda: oos.reasons() == [MSG_CHARGER], timeout=WAIT_MS)
    assert k.page() == "out_of_service_page"  # one problem left
    report(k, CHARGER, True)
    k.wait_page("idle_page")  # back by itself
    assert shown_on == {threading.get_ident()}
    assert pay.isVisible() and pay.isEnabled()


def test_out_of_service_without_a_phone_number_shows_none(k: Kiosk) -> None:
    k.expect_errors.append(OUT_OF_SERVICE)
    assert k.runtime.health.phone == ""
    report(k, JOURNAL, False, MSG_JOURNAL)
    k.wait_page("out_of_service_page")
    assert k.window.out_of_service_page.reasons() == [MSG_JOURNAL]
    assert not k.label("out_of_service_phone").isVisible()
    report(k, JOURNAL, True)
    k.wait_page("idle_page")


def test_a_missing_reader_puts_the_terminal_out_of_service(
        k: Kiosk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The health watch (its own thread) notices the reader is gone, and that it is back."""
    k.expect_errors.append(OUT_OF_SERVICE)
    k.wait_page("idle_page")
    stop_refresh(k)
    monkeypatch.setattr(SimCardTerminal, "available", property(lambda self: False))
    k.wait_page("out_of_service_page")
    assert k.window.out_of_service_page.reasons() == [MSG_READER]
    assert "card reader" in k.label("out_of_service_reason_0").text()
    assert not k.button("pay_button").isEnabled()
    monkeypatch.undo()
    k.wait_page("idle_page")
    assert k.button("pay_button").isEnabled()


def test_start_refused_at_the_last_moment_shows_out_of_service(k: Kiosk) -> None:
    """The health changes between the drawing of Start and the press: the runtime refuses
    (``OutOfService``) and the window shows why, before its refresh would have."""
    k.expect_errors.append(OUT_OF_SERVICE)
    k.runtime.health.phone = PHONE
    k.wait_page("idle_page")
    stop_refresh(k)
    pay = k.button("pay_button")
    assert pay.isVisible() and pay.isEnabled()
    k.runtime.health.report(JOURNAL, False, MSG_JOURNAL)  # here: the refresh is still queued
    assert k.page() == "idle_page"
    pay.click()
    assert k.page() == "out_of_service_page"
    assert k.runtime.active() is None
    assert k.window.out_of_service_page.reasons() == [MSG_JOURNAL]
    k.runtime.health.report(JOURNAL, True)
    k.wait_page("idle_page")


def test_a_journal_that_refuses_the_start_shows_out_of_service(
        k: Kiosk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Start's first journal write fails: no session, the out-of-service page with the
    journal's reason; once writes work again (the runner finds out on its next tick) the
    idle page is back by itself."""
    k.expect_errors.append(OUT_OF_SERVICE)
    k.wait_page("idle_page")
    stop_refresh(k)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise JournalWriteError("j.sqlite: database or disk is full")

    monkeypatch.setattr(k.runtime.journal, "commit", refuse)
    k.click("pay_button")
    k.wait_page("out_of_service_page")
    assert k.window.out_of_service_page.reasons() == [MSG_JOURNAL]
    assert k.runtime.active() is None
    assert not k.button("pay_button").isEnabled()
    monkeypatch.undo()
    k.wait_page("idle_page")
    assert k.runtime.health.in_service
    k.click("pay_button")  # and a driver can start again
    k.wait_page("card_page")
    cancel_card_read(k)


def test_a_charging_driver_keeps_the_charging_page_while_out_of_service(k: Kiosk) -> None:
    """The charge controller stops answering: the health says out of service and the session
    gets its notice at once; the driver keeps the charging page and can still stop; after the
    receipt the out-of-service page follows, and the idle page when the charger is back."""
    k.expect_errors.append(OUT_OF_SERVICE)
    k.charge()
    notice = k.label("charging_notice")
    assert not notice.isVisible()
    sid = k.session().id
    report(k, CHARGER, False, MSG_CHARGER)
    k.runtime.post(ev.ChargerLinkLost(1, k.runtime.clock()))
    k.qtbot.waitUntil(notice.isVisible, timeout=WAIT_MS)
    assert k.session().notice is Say.CHARGER_NOT_ANSWERING
    assert notice.text() == driver_texts.text(Say.CHARGER_NOT_ANSWERING)
    assert notice.property("role") == "warning"
    assert k.page() == "charging_page"
    stop = k.button("stop_button")
    assert stop.isVisible() and stop.isEnabled()
    assert inside_page(k, stop, "charging_page")  # the notice pushes nothing off the screen
    assert k.window.minimumSizeHint().height() <= 800

    k.runtime.post(ev.ChargerLinkBack(1, k.runtime.clock()))
    k.qtbot.waitUntil(lambda: not notice.isVisible(), timeout=WAIT_MS)
    assert k.session().notice is Say.NONE
    assert not k.runtime.health.in_service  # the charger's health is its own business

    k.click("stop_button")
    k.wait_page("receipt_page")
    assert k.session().id == sid and k.session().outcome is Outcome.CAPTURED
    k.click("done_button")
    k.wait_page("out_of_service_page")
    assert k.window.out_of_service_page.reasons() == [MSG_CHARGER]
    report(k, CHARGER, True)
    k.wait_page("idle_page")


def test_the_plug_page_shows_the_link_lost_notice(k: Kiosk) -> None:
    k.click("pay_button")
    k.wait_page("card_page")
    k.click("demo_card_visa_contactless")
    k.wait_page("plug_page")
    notice = k.label("plug_notice")
    assert not notice.isVisible()
    k.runtime.post(ev.ChargerLinkLost(1, k.runtime.clock()))
    k.qtbot.waitUntil(notice.isVisible, timeout=WAIT_MS)
    assert notice.text() == driver_texts.text(Say.CHARGER_NOT_ANSWERING)
    assert inside_page(k, k.button("plug_cancel_button"), "plug_page")
    k.runtime.post(ev.ChargerLinkBack(1, k.runtime.clock()))
    k.qtbot.waitUntil(lambda: not notice.isVisible(), timeout=WAIT_MS)
    k.click("plug_cancel_button")
    k.wait_page("message_page")
    k.click("message_ok_button")
    k.wait_page("idle_page")


def test_the_window_lets_go_of_the_health_when_shut_down(k: Kiosk) -> None:
    listeners = k.runtime.health.listeners
    mine = [f for f in listeners if getattr(f, "__self__", None) is k.window]
    assert len(mine) == 1
    k.window.shutdown()
    assert not [f for f in listeners if getattr(f, "__self__", None) is k.window]
    k.runtime.health.report(JOURNAL, True)  # nothing to hear it: no error
    k.window.shutdown()  # twice is fine


# --- the receipt while the payment is pending ---------------------------------------------------
@pytest.fixture
def hk(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture,
       host: HostSimulator) -> Iterator[Kiosk]:
    """A kiosk on the module's host simulator, which a test can make refuse."""
    yield from build_kiosk(qtbot, tmp_path, caplog,
                           config=CONFIG.replace("[host]\n", f"[host]\nport = {host.port}\n"))


def test_the_receipt_says_payment_pending_until_the_bank_confirms(
        hk: Kiosk, host: HostSimulator) -> None:
    k = hk
    k.runtime.settlement.retry_s = 0.3  # the refused capture is sent again soon
    k.charge()
    host.inject("refuse", "refuse")  # the host takes no capture for a while
    k.click("stop_button")
    k.wait_page("receipt_page")
    s = k.session()
    assert s.state is State.RECEIPT and s.outcome is Outcome.CAPTURED
    amount = EN.money(s.final_minor, k.currency)
    status = k.label("payment_status_label")
    # the first drawing of the receipt already knows (no "Paid" flash before "pending")
    assert status.text() == (f"Payment pending: your card will be charged {amount} once "
                             "your bank confirms.")
    assert status.isVisible() and status.property("role") == "status_pending"
    assert k.label("receipt_total_caption").text() == "Total"
    assert k.label("receipt_total_label").text() == amount
    assert k.runtime.settlement_pending(s.id)
    assert host.ledger()[s.id].captured_minor is None
    assert inside_page(k, k.button("done_button"), "receipt_page")
    assert k.window.minimumSizeHint().height() <= 800

    paid = f"Paid: your card has been charged {amount}."
    k.qtbot.waitUntil(lambda: status.text() == paid, timeout=WAIT_MS)  # on the refresh
    assert status.property("role") == "status_paid"
    assert k.label("receipt_total_caption").text() == "Total paid"
    assert not k.runtime.settlement_pending(s.id)
    assert host.ledger()[s.id].captured_minor == s.final_minor
    k.click("done_button")
    k.wait_page("idle_page")


def test_a_capture_the_host_takes_at_once_shows_paid(hk: Kiosk, host: HostSimulator) -> None:
    k = hk
    k.charge()
    k.click("stop_button")
    k.wait_page("receipt_page")
    s = k.session()
    status = k.label("payment_status_label")
    paid = f"Paid: your card has been charged {EN.money(s.final_minor, k.currency)}."
    k.qtbot.waitUntil(lambda: status.text() == paid, timeout=WAIT_MS)
    assert host.ledger()[s.id].captured_minor == s.final_minor


# --- the lab host warning -------------------------------------------------------------------
def test_no_lab_warning_on_a_simulated_or_tls_host(k: Kiosk) -> None:
    assert not k.runtime.config.plaintext_lab_host()
    assert k.window.findChild(QWidget, "lab_warning") is None
    assert not any("LAB MODE" in t for t in k.visible_texts())


def lab_config(tmp_path: Path, host: HostSimulator, *, station_name: str = "") -> str:
    """ISO 8583 in clear to the host simulator, under the lab switch; the PIN key is the
    demo's TEST key (made here as the demo makes it)."""
    keys = tmp_path / "keys"
    load_terminal_keys(parse_config(CONFIG, demo=True), keys, demo=True)
    station = f'[station]\nname = "{station_name}"\n' if station_name else ""
    return CONFIG.replace("[host]\n", f'''{station}[host]
kind = "iso8583"
port = {host.port}
tls = false
allow_plaintext_lab = true
pin_key_file = "{keys / DEMO_PIN_KEY}"
''')


@pytest.fixture
def lab(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        host: HostSimulator) -> Iterator[Kiosk]:
    yield from build_kiosk(qtbot, tmp_path, caplog,
                           config=lab_config(tmp_path, host, station_name=LONG_NAME))


def test_a_lab_host_in_clear_shows_a_warning_on_every_page(lab: Kiosk) -> None:
    k = lab
    assert k.runtime.config.plaintext_lab_host()
    banner = k.label("lab_warning")
    assert LAB_TEXT in banner.text()
    header = k.window.findChild(QWidget, "header")
    stack = k.window.findChild(QWidget, "pages")
    assert header is not None and stack is not None
    # a strip of its own between the header and the pages: on every page, never cut
    assert banner.parent() is k.window and not stack.isAncestorOf(banner)
    assert k.window.width() == 1280
    assert banner.geometry().top() >= header.geometry().bottom()
    assert banner.geometry().bottom() <= stack.geometry().top()
    assert banner.width() == k.window.width()
    assert banner.heightForWidth(banner.width()) <= banner.height()
    # the long station name gives way in the header (elided), the clock stays
    station = k.label("station_label")
    assert station.text() == k.runtime.config.station.name
    clock = k.label("clock_label")
    assert station.geometry().right() < clock.geometry().left()
    assert clock.geometry().right() <= header.width()
    # it stays through a session: idle, card, and back
    k.wait_page("idle_page")
    assert banner.isVisible()
    k.click("pay_button")
    k.wait_page("card_page")
    assert banner.isVisible()
    cancel_card_read(k)
    assert banner.isVisible()
