"""The driver's language and the connectors, through the real window: the language buttons
switch every text at any moment of a session (the price list and the receipt too), the
station's language comes back after each session; with two connectors the driver chooses one
before paying, both sessions run at once and each stays reachable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.session.machine import State
from kiosk.ui.i18n import Figures
from tests.ui.rig import CONFIG, WAIT_MS, Kiosk, build_kiosk, cancel_card_read

TWO_CONNECTORS = CONFIG + """
[[connectors]]
id = 1
label = "A"
[[connectors]]
id = 2
label = "B"
"""


def test_the_language_switches_at_any_moment_and_comes_back_after_the_session(k: Kiosk) -> None:
    pay = k.button("pay_button")
    english = pay.text()
    price_en = k.label("energy_price_label").text()
    assert k.button("lang_button_en").isChecked()
    k.click("lang_button_de")
    assert k.button("lang_button_de").isChecked() and not k.button("lang_button_en").isChecked()
    german = pay.text()
    assert german != english and "Karte" in german
    price_de = k.label("energy_price_label").text()
    assert price_de != price_en and "0,595" in price_de  # the price list follows
    k.click("lang_button_fr")
    assert pay.text() not in (english, german)
    k.click("pay_button")
    k.wait_page("card_page")
    title = k.label("card_title")
    french = title.text()
    k.click("lang_button_nl")  # in the middle of paying
    assert title.text() != french
    assert k.label("card_hold_label").text() == Figures("nl").money(
        k.runtime.machine.policy.hold_minor, k.currency)
    k.click("demo_card_visa_contactless")
    k.wait_page("plug_page")
    k.click("demo_plug_button")
    k.wait_page("charging_page")
    k.qtbot.waitUntil(lambda: k.session().energy_wh > 0, timeout=WAIT_MS)
    k.click("lang_button_de")
    cost = k.label("cost_label")
    k.qtbot.waitUntil(lambda: cost.text() == Figures("de").money(k.session().cost_minor,
                                                                 k.currency), timeout=WAIT_MS)
    k.click("stop_button")
    k.wait_page("receipt_page")
    s = k.session()
    assert k.label("receipt_total_label").text() == Figures("de").money(s.final_minor,
                                                                       k.currency)
    assert k.label("receipt_energy_label").text().endswith(" kWh")
    assert "," in k.label("receipt_energy_label").text()
    invoice = k.runtime.journal.invoice(s.id)
    assert invoice is not None and invoice["language"] == "de"  # its page opens in German
    k.click("done_button")
    k.wait_page("idle_page")
    # the next driver finds the station's language
    assert k.button("lang_button_en").isChecked()
    assert pay.text() == english
    assert k.label("energy_price_label").text() == price_en


def test_every_driver_control_has_an_accessible_name(k: Kiosk) -> None:
    from PySide6.QtWidgets import QPushButton

    k.click("pay_button")
    k.wait_page("card_page")
    for lang in ("en", "de"):
        k.click(f"lang_button_{lang}")
        for btn in k.window.findChildren(QPushButton):
            if btn.isVisible():
                assert btn.accessibleName().strip(), f"{btn.objectName()} has no name ({lang})"
    cancel_card_read(k)


@pytest.fixture
def two(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Kiosk]:
    yield from build_kiosk(qtbot, tmp_path, caplog, config=TWO_CONNECTORS)


def pay_on(k: Kiosk, connector: int) -> None:
    k.wait_page("idle_page")
    k.click(f"connector_button_{connector}")
    k.wait_page("card_page")
    k.click("demo_card_visa_contactless")
    k.wait_page("plug_page")
    assert k.window.plug_page.session is not None
    assert k.window.plug_page.session.connector == connector
    k.click("demo_plug_button")
    k.wait_page("charging_page")


def test_two_connectors_choose_before_paying_and_each_session_stays_reachable(two: Kiosk) -> None:
    k = two
    assert not k.button("pay_button").isVisible()
    a, b = k.button("connector_button_1"), k.button("connector_button_2")
    assert a.isVisible() and b.isVisible() and a.isEnabled() and b.isEnabled()
    assert "A" in a.text() and "B" in b.text()
    pay_on(k, 1)
    # the next driver goes back to the connectors; the first charge runs on
    k.click("home_button")
    k.wait_page("idle_page")
    assert "Charging" in a.text()
    pay_on(k, 2)
    runner = k.runtime.runner
    k.qtbot.waitUntil(lambda: all(s.state is State.CHARGING and s.energy_wh > 0
                                  for s in runner.sessions.values())
                      and len(runner.sessions) == 2, timeout=WAIT_MS)
    assert k.window.charging_page.session is not None
    assert k.window.charging_page.session.connector == 2
    # the first driver comes back: connector A shows that session, Stop ends only it
    k.click("home_button")
    k.wait_page("idle_page")
    k.click("connector_button_1")
    k.wait_page("charging_page")
    first = k.window.charging_page.session
    assert first is not None and first.connector == 1
    k.click("stop_button")
    k.wait_page("receipt_page")
    assert k.window.receipt_page.session is not None
    assert k.window.receipt_page.session.connector == 1
    k.click("done_button")
    k.wait_page("idle_page")
    on_two = runner.session_on(2)
    assert on_two is not None and on_two.state is State.CHARGING
    assert "Charging" in b.text() and "Free" in a.text()
    k.click("connector_button_2")
    k.wait_page("charging_page")
    k.click("stop_button")
    k.wait_page("receipt_page")
    k.click("done_button")
    k.wait_page("idle_page")
