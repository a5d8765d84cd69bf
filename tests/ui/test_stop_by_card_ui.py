"""The charging page and a card tapped while charging: the hint says the same card stops the
charge; another card gets a notice beside the title (no card data), the same card the receipt."""

from __future__ import annotations

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from kiosk.session.machine import Outcome, State
from kiosk.ui.pages import not_the_same_card
from tests.ui.rig import WAIT_MS, Kiosk


def test_another_card_is_told_and_the_same_card_stops(kiosk: Kiosk) -> None:
    k = kiosk
    k.charge()
    hint, notice = k.label("charging_stop_hint"), k.label("charging_notice")
    assert hint.isVisible()
    assert hint.text() == "To stop, tap the same card again or press Stop charging"
    assert not notice.isVisible()
    terminal = k.runtime.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    other = TEST_CARDS["mastercard_contactless"]
    terminal.present(other)
    k.qtbot.waitUntil(notice.isVisible, timeout=WAIT_MS)
    assert notice.text() == not_the_same_card()
    assert k.session().state is State.CHARGING and k.page() == "charging_page"
    assert not any(other.pan in t or other.pan[:6] in t for t in k.visible_texts())
    k.window.charging_page.show_card_notice(False)  # as its timer does
    assert not notice.isVisible()

    terminal.present(TEST_CARDS["visa_contactless"])
    k.wait_page("receipt_page")
    assert k.session().outcome is Outcome.CAPTURED and k.session().final_minor > 0
