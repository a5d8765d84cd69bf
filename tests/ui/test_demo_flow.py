"""The driver's window on the simulators, driven through its buttons as a driver would.

Every test builds a real runtime (journal in a temp dir, simulated card terminal, charger and
payment host on loopback), a Bridge and the MainWindow in demo mode, finds widgets by object
name and clicks them. The session machine, the journal and the adapters are the real ones, so
a flow that breaks anywhere between the button and the host fails here.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from PySide6.QtWidgets import QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from drivers.emv.api import Cvm
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from kiosk.billing.money import round_to_minor
from kiosk.config import parse_config
from kiosk.runtime import build_runtime
from kiosk.security.invoice_token import verify
from kiosk.security.keys import load_or_create_key
from kiosk.session.machine import Outcome, State
from kiosk.session.says import Say
from kiosk.ui import driver_texts
from kiosk.ui.bridge import Bridge
from kiosk.ui.i18n import Figures
from kiosk.ui.main_window import MainWindow
from tests.ui.rig import WAIT_MS, Kiosk

PIN_CARD = "mastercard_pin"
OFFLINE_PIN_CARD = "visa_contact_sda_pin"

EN = Figures("en")  # the figures as the English screens write them


def _pay_with(k: Kiosk, card: str) -> None:
    k.wait_page("idle_page")
    k.click("pay_button")
    k.wait_page("card_page")
    k.click(f"demo_card_{card}")


# --- the paid session ------------------------------------------------------------------------
def test_paid_session_from_idle_to_receipt_and_back(kiosk: Kiosk) -> None:
    k = kiosk
    _pay_with(k, "visa_contactless")
    k.wait_page("plug_page")
    assert k.session().state is State.WAIT_PLUG

    k.click("demo_plug_button")
    k.wait_page("charging_page")
    cost = k.label("cost_label")
    zero = EN.money(0, k.currency)
    k.qtbot.waitUntil(lambda: cost.text() not in ("", zero), timeout=WAIT_MS)
    live = k.session()
    assert live.state is State.CHARGING
    # the screen shows the session's own numbers (listeners run on the GUI thread)
    assert cost.text() == EN.money(live.cost_minor, k.currency)
    assert k.label("energy_label").text() == EN.kwh(live.energy_wh)
    # the flat config tariff: energy only, so the cost is the energy at the gross price
    assert live.cost_minor == k.runtime.tariffs.price(live)
    gross = Decimal(k.runtime.config.tariff.energy_price_per_kwh) * (
        1 + k.runtime.config.tariff.vat_percent / 100)
    assert live.cost_minor == round_to_minor(gross * live.energy_wh / 1000, k.currency)

    k.click("stop_button")
    k.wait_page("receipt_page")
    s = k.session()
    assert s.state is State.RECEIPT
    assert s.outcome is Outcome.CAPTURED
    assert s.final_minor > 0
    assert k.label("receipt_total_label").text() == EN.money(s.final_minor, k.currency)
    assert k.label("receipt_energy_label").text() == EN.kwh(s.energy_wh)
    assert k.label("receipt_card_label").text() == s.masked_pan
    assert k.label("receipt_auth_code_label").text() == s.auth_code
    record = [r for r in k.runtime.journal.outbox() if r.kind == "session"][-1]
    assert record.session_id == s.id
    assert record.payload["amount_minor"] == s.final_minor
    invoice = k.runtime.journal.invoice(s.id)
    assert invoice is not None and invoice["total_minor"] == s.final_minor
    assert record.payload["invoice_number"] == invoice["number"]
    assert k.label("receipt_invoice_label").text() == invoice["number"]

    k.click("done_button")
    k.wait_page("idle_page")
    assert k.runtime.runner.active() is None
    stored = k.runtime.journal.session(s.id)
    assert stored is not None and stored.state is State.DONE


def test_stop_shows_finishing_and_disables_stop(k: Kiosk) -> None:
    _pay_with(k, "visa_contactless")
    k.wait_page("plug_page")
    k.click("demo_plug_button")
    k.wait_page("charging_page")
    k.qtbot.waitUntil(lambda: k.session().energy_wh > 0, timeout=WAIT_MS)
    stopping = k.session()
    k.window.show_session(replace(stopping, state=State.STOPPING))
    assert k.page() == "charging_page"
    assert not k.button("stop_button").isVisible()
    assert not k.button("stop_button").isEnabled()
    assert k.label("finishing_label").isVisible()
    k.window.refresh()
    assert k.button("stop_button").isVisible()
    k.click("stop_button")
    k.wait_page("receipt_page")


def test_receipt_qr_decodes_to_the_signed_invoice_url(k: Kiosk, tmp_path: Path) -> None:
    """The QR code as rendered on screen, read back by zbar: the URL opens this invoice and
    its token verifies with the terminal's key; an altered number or amount does not."""
    _pay_with(k, "visa_contactless")
    k.wait_page("plug_page")
    k.click("demo_plug_button")
    k.wait_page("charging_page")
    k.qtbot.waitUntil(lambda: k.session().energy_wh > 0, timeout=WAIT_MS)
    k.click("stop_button")
    k.wait_page("receipt_page")
    k.qtbot.waitUntil(k.window.receipt_page.qr_drawn, timeout=WAIT_MS)  # on its own thread
    s = k.session()
    png = tmp_path / "receipt.png"
    assert k.window.grab().save(str(png))
    out = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    invoice = k.runtime.journal.invoice(s.id)
    assert invoice is not None and url == invoice["url"]
    parsed = urlparse(url)
    assert parsed.path == f"/i/{k.runtime.config.station.id}/{invoice['number']}"
    token = parse_qs(parsed.query)["t"][0]
    key = load_or_create_key(k.runtime.journal.path.parent / "invoice-token.key")
    station, cur = k.runtime.config.station.id, k.currency
    assert verify(key, token, station, invoice["number"], s.id, s.final_minor, cur)
    assert not verify(key, token, station, invoice["number"], s.id, s.final_minor + 1, cur)
    assert not verify(key, token, station, "DEMO-0001-00000002", s.id, s.final_minor, cur)
    assert not verify(bytes(32), token, station, invoice["number"], s.id, s.final_minor, cur)


# --- declined ----------------------------------------------------------------------------------
def test_declined_card_shows_the_host_message_then_idle(k: Kiosk) -> None:
    name = next(n for n in TEST_CARDS if n.startswith("declined"))
    _pay_with(k, name)
    k.wait_page("message_page")
    s = k.session()
    assert s.state is State.DECLINED
    assert s.say is Say.INSUFFICIENT_FUNDS  # the host's code 51, not its wording
    assert k.label("message_label").text() == driver_texts.text(s.say)
    assert s.message not in k.label("message_label").text()  # the detail is not for drivers
    assert k.button("message_ok_button").isVisible()
    record = k.runtime.journal.outbox()[-1]
    assert record.session_id == s.id and record.kind == "session"
    assert k.runtime.journal.invoice(s.id) is None  # nothing paid, no invoice
    assert record.payload["outcome"] == "declined"
    assert record.payload["amount_minor"] == 0

    k.click("message_ok_button")
    k.wait_page("idle_page")
    assert k.runtime.runner.active() is None


def test_cancel_on_the_card_page_returns_to_idle(k: Kiosk) -> None:
    k.click("pay_button")
    k.wait_page("card_page")
    sid = k.session().id
    k.click("cancel_button")
    k.wait_page("idle_page")
    stored = k.runtime.journal.session(sid)
    assert stored is not None and stored.outcome is Outcome.ABORTED


# --- PIN ---------------------------------------------------------------------------------------
def test_pin_card_asks_for_the_pin_then_waits_for_the_car(k: Kiosk) -> None:
    pin = TEST_CARDS[PIN_CARD].pin
    _pay_with(k, PIN_CARD)
    k.wait_page("pin_page")
    assert k.session().state is State.PIN_ENTRY
    for i in range(10):
        key = k.button(f"pin_key_{i}")
        assert key.width() >= 96 and key.height() >= 96, f"pin_key_{i} is {key.size()}"
    ok = k.button("pin_ok")
    assert not ok.isEnabled()

    k.click("pin_key_9")
    k.click("pin_clear")
    assert k.label("pin_display").text() == ""
    for digit in pin:
        k.click(f"pin_key_{digit}")
    assert k.label("pin_display").text() == "\u25cf" * len(pin)
    k.click("pin_ok")
    k.wait_page("plug_page")
    assert k.session().state is State.WAIT_PLUG

    k.click("plug_cancel_button")
    k.wait_page("message_page")
    k.qtbot.waitUntil(lambda: k.session().state is State.ERROR, timeout=WAIT_MS)
    assert "not been charged" in k.label("message_label").text()
    k.click("message_ok_button")
    k.wait_page("idle_page")


def test_the_pin_is_never_shown(k: Kiosk) -> None:
    pin = TEST_CARDS[PIN_CARD].pin
    _pay_with(k, PIN_CARD)
    k.wait_page("pin_page")
    # texts there before the first digit (a price, the date) and the header clock (it turns
    # to 12:xx or xx:12 by itself) say nothing of what is typed
    before = set(k.visible_texts())
    for i, digit in enumerate(pin, start=1):
        k.click(f"pin_key_{digit}")
        typed = pin[:i]
        clock = k.label("clock_label").text()
        shown = [t for t in k.visible_texts() if t not in before and t != clock]
        assert not any(typed in t for t in shown if len(typed) > 1), shown
        assert k.label("pin_display").text() == "\u25cf" * i
    k.click("pin_ok")
    k.wait_page("plug_page")
    assert not any(pin in t for t in k.visible_texts())


def test_a_wrong_pin_is_declined(k: Kiosk) -> None:
    pin = TEST_CARDS[PIN_CARD].pin
    wrong = "".join(str((int(d) + 1) % 10) for d in pin)
    _pay_with(k, PIN_CARD)
    k.wait_page("pin_page")
    for digit in wrong:
        k.click(f"pin_key_{digit}")
    k.click("pin_ok")
    k.wait_page("message_page")
    assert k.session().state is State.DECLINED
    k.click("message_ok_button")
    k.wait_page("idle_page")


def _type_pin(k: Kiosk, digits: str) -> None:
    for digit in digits:
        k.click(f"pin_key_{digit}")
    k.click("pin_ok")


def test_offline_pin_shows_what_the_card_says_in_large_text(k: Kiosk) -> None:
    card = TEST_CARDS[OFFLINE_PIN_CARD]
    assert card.cvm is Cvm.OFFLINE_PIN
    _pay_with(k, OFFLINE_PIN_CARD)  # a button below the fold of the demo card grid
    k.wait_page("pin_page")
    s = k.session()
    assert s.state is State.PIN_ENTRY and s.pin_offline
    notice = k.label("pin_notice_label")
    assert not notice.isVisible()  # nothing to say at the first request
    assert not k.label("pin_card_label").isVisible()  # no card number before the read ends

    wrong = "".join(str((int(d) + 1) % 10) for d in card.offline_pin)
    _type_pin(k, wrong)
    k.qtbot.waitUntil(notice.isVisible, timeout=WAIT_MS)
    s = k.session()
    assert s.say is Say.PIN_WRONG and s.pin_tries_left == 2
    assert notice.text() == driver_texts.text(Say.PIN_WRONG, tries_left=2)
    assert "2" in notice.text()
    assert k.label("pin_display").text() == ""  # the pad starts again
    assert notice.fontInfo().pixelSize() >= 28  # large: read at arm's length
    _type_pin(k, wrong)
    k.qtbot.waitUntil(lambda: k.session().pin_tries_left == 1, timeout=WAIT_MS)
    k.qtbot.waitUntil(lambda: notice.text() == driver_texts.text(
        Say.PIN_WRONG, tries_left=1), timeout=WAIT_MS)
    # the whole message is readable: the label is as tall as its wrapped text needs
    k.qtbot.waitUntil(lambda: notice.height() >= notice.heightForWidth(notice.width()),
                      timeout=WAIT_MS)
    page = k.window.findChild(QWidget, "pin_page")
    assert page is not None
    assert page.rect().contains(notice.geometry())

    _type_pin(k, card.offline_pin)
    k.wait_page("plug_page")
    assert k.session().state is State.WAIT_PLUG
    assert not any(card.offline_pin in t or wrong in t for t in k.visible_texts())
    k.click("plug_cancel_button")
    k.wait_page("message_page")
    k.qtbot.waitUntil(lambda: k.session().state is State.ERROR, timeout=WAIT_MS)
    k.click("message_ok_button")
    k.wait_page("idle_page")


def test_cancel_at_the_offline_pin_pad_returns_to_idle(k: Kiosk) -> None:
    _pay_with(k, OFFLINE_PIN_CARD)
    k.wait_page("pin_page")
    sid = k.session().id
    k.click("pin_cancel")
    k.wait_page("idle_page")
    stored = k.runtime.journal.session(sid)
    assert stored is not None and stored.outcome is Outcome.ABORTED
    terminal = k.runtime.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    k.qtbot.waitUntil(lambda: not terminal.waiting, timeout=WAIT_MS)


def test_a_card_declining_after_approval_shows_a_decline(k: Kiosk) -> None:
    card = TEST_CARDS["visa_declines_at_end"]
    k.click("pay_button")
    k.wait_page("card_page")
    terminal = k.runtime.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    terminal.present(card)
    k.wait_page("message_page")
    k.qtbot.waitUntil(lambda: k.session().state is State.DECLINED, timeout=WAIT_MS)
    assert k.label("message_title").text() == "Payment declined"
    assert k.session().say is Say.DECLINED_BY_CARD
    assert k.label("message_label").text() == driver_texts.text(Say.DECLINED_BY_CARD)
    assert "not been charged" in k.label("message_label").text()
    assert k.session().outcome is Outcome.REVERSED
    k.click("message_ok_button")
    k.wait_page("idle_page")


# --- the window itself -------------------------------------------------------------------------
def test_every_page_fits_the_kiosk_screen(k: Kiosk) -> None:
    hint = k.window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 800, hint
    assert k.window.width() == 1280 and k.window.height() == 800


def test_idle_page_shows_prices_and_the_hold(k: Kiosk) -> None:
    t = k.runtime.config.tariff
    assert "/ kWh" in k.label("energy_price_label").text()
    assert f"{t.vat_percent.normalize():f}\u00a0% VAT" in k.label("vat_label").text()
    hold = EN.money(k.runtime.machine.policy.hold_minor, k.currency)
    assert hold in k.label("hold_label").text()
    assert k.label("station_label").text() == k.runtime.config.station.name
    pay = k.button("pay_button")
    assert pay.height() >= 80


def test_bridge_close_unhooks_from_the_runner(k: Kiosk, qtbot: QtBot) -> None:
    runner = k.runtime.runner
    assert runner.threaded  # the kiosk's own bridge started the runner's thread
    extra = Bridge(k.runtime)
    assert len([f for f in runner.listeners if getattr(f, "__self__", None) is extra]) == 1
    extra.close()
    assert not [f for f in runner.listeners if getattr(f, "__self__", None) is extra]
    assert runner.threaded  # the thread is the first bridge's: it runs on
    extra.close()  # twice is fine
    own = k.window.bridge
    assert own is not None
    k.window.shutdown()
    own.close()
    assert not runner.threaded
    assert not [t for t in threading.enumerate() if t.name == "kiosk-runner"]


def test_no_valid_tariff_disables_start(qtbot: QtBot, tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text(
        '{"currency": "EUR", "end_date_time": "2020-01-01T00:00:00Z", "elements": '
        '[{"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]}]}')
    cfg = parse_config('schema_version = 1\n[tariff]\nfile = "t.json"\n', "k.toml", tmp_path,
                       demo=True)
    runtime = build_runtime(cfg, journal_path=tmp_path / "j.sqlite")
    try:
        window = MainWindow(runtime, demo=True)
        qtbot.addWidget(window)
        label = window.findChild(QLabel, "energy_price_label")
        assert label is not None and label.text() == "No price is set for this time."
        pay = window.findChild(QPushButton, "pay_button")
        assert pay is not None and not pay.isEnabled()
        window.shutdown()
    finally:
        runtime.close()
