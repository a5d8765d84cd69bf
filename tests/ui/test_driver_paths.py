"""The failure paths a driver meets, through the real window: each ends on a screen in plain
words chosen from a typed Say (never the technical detail), with what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.host import HostSimulator
from kiosk.session.machine import Outcome, State
from kiosk.session.says import Say
from kiosk.ui import driver_texts
from tests.ui.rig import CONFIG, WAIT_MS, Kiosk, build_kiosk


def present(k: Kiosk, name: str) -> None:
    k.click("pay_button")
    k.wait_page("card_page")
    terminal = k.runtime.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    terminal.present(TEST_CARDS[name])


def assert_plain(k: Kiosk, say: Say) -> None:
    """The message page says ``say`` in the driver's words, not the session's detail."""
    s = k.session()
    assert s.say is say, (s.say, s.message)
    shown = k.label("message_label").text()
    assert shown == driver_texts.text(say) and shown
    assert k.label("message_title").text() == driver_texts.title(say)
    if s.message:
        assert s.message not in shown


def test_a_card_pulled_out_too_early_says_so(k: Kiosk) -> None:
    present(k, "removed_card")
    k.wait_page("message_page")
    assert_plain(k, Say.CARD_REMOVED)
    assert "not been charged" in k.label("message_label").text()
    k.click("message_ok_button")
    k.wait_page("idle_page")


def test_a_card_that_answers_garbage_gets_plain_words(k: Kiosk) -> None:
    present(k, "garbage_card")
    k.wait_page("message_page")
    assert_plain(k, Say.CARD_UNREADABLE)
    assert "(" not in k.label("message_label").text()  # no "(tag 2F: ...)" any more
    k.click("message_ok_button")
    k.wait_page("idle_page")


@pytest.fixture
def slow_host(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture,
              host: HostSimulator) -> Iterator[Kiosk]:
    host.delay_s = 8.0  # past the kiosk's host timeout (5 s in the rig)
    yield from build_kiosk(qtbot, tmp_path, caplog,
                           config=CONFIG.replace("[host]\n", f"[host]\nport = {host.port}\n"))
    host.delay_s = 0.0


def test_a_host_that_does_not_answer_in_time_cancels_without_charging(slow_host: Kiosk) -> None:
    k = slow_host
    present(k, "visa_contactless")
    k.wait_page("authorizing_page")
    k.wait_page("message_page", timeout=WAIT_MS)
    assert_plain(k, Say.SERVICE_TIMEOUT)
    assert "not been charged" in k.label("message_label").text()
    k.click("message_ok_button")
    k.wait_page("idle_page")


def test_a_charger_fault_mid_session_ends_on_the_receipt_with_the_reason(k: Kiosk) -> None:
    k.charge()
    charger = k.runtime.charger
    assert isinstance(charger, SimCharger)
    charger.fault(1, "ground fault (simulated)")
    k.wait_page("receipt_page")
    s = k.session()
    assert s.outcome is Outcome.CAPTURED and s.say is Say.CHARGER_FAULT_STOPPED
    reason = k.label("receipt_reason_label")
    assert reason.isVisible() and reason.text() == driver_texts.text(Say.CHARGER_FAULT_STOPPED)
    assert "ground fault" not in reason.text()
    charger.clear_fault(1)
    k.click("done_button")
    k.wait_page("idle_page")
    assert k.runtime.active() is None or k.session().state is State.DONE
