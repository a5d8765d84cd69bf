"""Accessibility through the real window (EN 301 549 for self-service terminals): the mode
comes on by its button or by the documented gesture (a long press on the header) without
needing it first; it gives high contrast, large text and spoken prompts and goes back after the
session; a timeout is announced in two senses (seen and heard) and the driver can extend it,
or let it run out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from kiosk.session.machine import State
from kiosk.ui.style import HIGH_CONTRAST, STANDARD
from tests.ui.rig import CONFIG, WAIT_MS, Kiosk, build_kiosk, cancel_card_read

SHORT_CARD_TIMEOUT = CONFIG + """
[ui]
card_timeout_s = 9
"""


def body_size(k: Kiosk) -> int:
    return k.label("hold_label").fontInfo().pixelSize()


def test_the_button_turns_on_contrast_large_text_and_speech_until_the_session_ends(
        k: Kiosk) -> None:
    before = body_size(k)
    btn = k.button("a11y_button")
    assert btn.accessibleName() and btn.width() >= k.window.ui.metrics.touch
    k.click("a11y_button")
    assert k.window.accessible and btn.isChecked()
    assert k.window.ui.palette is HIGH_CONTRAST
    assert body_size(k) > before
    heard = list(k.window.voice.heard)
    assert ("cue", "attention") in heard
    assert any(lang == "en" and "Accessibility mode on" in text for lang, text in heard)
    # each step is said: the card page's title in the driver's language
    k.click("lang_button_de")
    k.click("pay_button")
    k.wait_page("card_page")
    title = k.label("card_title").text()
    k.qtbot.waitUntil(lambda: any(lang == "de" and title in text
                                  for lang, text in k.window.voice.heard), timeout=WAIT_MS)
    cancel_card_read(k)
    # the session is over: the next driver finds the station's look and language
    assert not k.window.accessible and not btn.isChecked()
    assert k.window.ui.palette is STANDARD and body_size(k) == before
    assert k.button("lang_button_en").isChecked()


def test_a_long_press_on_the_header_is_the_gesture(k: Kiosk) -> None:
    header = k.window.findChild(QWidget, "header")
    station = k.window.findChild(QLabel, "station_label")
    assert header is not None and station is not None
    k.qtbot.mousePress(station, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    k.qtbot.waitUntil(lambda: k.window.accessible, timeout=WAIT_MS)  # after 2 s held
    k.qtbot.mouseRelease(station, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    # a short tap does nothing
    k.qtbot.mouseClick(station, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    k.qtbot.wait(100)
    assert k.window.accessible
    k.click("a11y_button")
    assert not k.window.accessible


@pytest.fixture
def short(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Kiosk]:
    yield from build_kiosk(qtbot, tmp_path, caplog, config=SHORT_CARD_TIMEOUT)


def test_a_timeout_is_seen_and_heard_and_the_driver_can_extend_it(short: Kiosk) -> None:
    k = short
    k.click("pay_button")
    k.wait_page("card_page")
    bar = k.window.findChild(QWidget, "timeout_bar")
    assert bar is not None and not bar.isVisible()
    k.qtbot.waitUntil(bar.isVisible, timeout=WAIT_MS)  # 5 s before the 9 s deadline
    assert "0:0" in k.label("timeout_warning_label").text()
    assert ("cue", "attention") in k.window.voice.heard
    first = k.session().deadline
    k.click("more_time_button")
    k.qtbot.waitUntil(lambda: k.session().extensions == 1, timeout=WAIT_MS)
    assert first is not None and k.session().deadline is not None
    assert k.session().deadline > first
    k.qtbot.waitUntil(lambda: not bar.isVisible(), timeout=WAIT_MS)
    assert k.session().state is State.READING_CARD
    # the second time the driver lets it run out: the read ends, the idle page is back
    k.qtbot.waitUntil(bar.isVisible, timeout=WAIT_MS)
    k.wait_page("idle_page", timeout=15_000)
    assert k.runtime.active() is None or k.runtime.active().state is State.DONE  # type: ignore[union-attr]
    assert not bar.isVisible()


def test_the_pin_pad_can_be_used_without_seeing_it_and_never_says_a_digit(k: Kiosk) -> None:
    k.click("a11y_button")
    k.click("pay_button")
    k.wait_page("card_page")
    terminal = k.runtime.card_terminal
    from drivers.sim.card_terminal import SimCardTerminal
    from drivers.sim.cards import TEST_CARDS

    assert isinstance(terminal, SimCardTerminal)
    terminal.present(TEST_CARDS["mastercard_pin"])
    k.wait_page("pin_page")
    k.window.voice.heard.clear()
    for digit in "9876":
        k.click(f"pin_key_{digit}")
    heard = list(k.window.voice.heard)
    assert heard.count(("cue", "card")) == 4
    spoken = [text for lang, text in heard if lang != "cue"]
    assert spoken == [f"PIN digits entered: {n}" for n in range(1, 5)]  # the count, no digit
    k.click("pin_cancel")
    k.wait_page("idle_page")
