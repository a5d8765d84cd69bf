"""The driver's window on a real runtime, for the UI tests: :class:`Kiosk` finds widgets by
object name and clicks them; :func:`build_kiosk` builds the runtime (journal in a temp dir,
simulated card terminal and charger, a payment host simulator on loopback), a Bridge and the
MainWindow in demo mode, and checks at the end that no thread was left behind and that nothing
was logged at ERROR level but what the test said it expects (``Kiosk.expect_errors``)."""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QStackedWidget, QWidget
from pytestqt.qtbot import QtBot

from drivers.sim.card_terminal import SimCardTerminal
from kiosk.config import parse_config
from kiosk.runtime import Runtime, build_runtime
from kiosk.session.machine import Session
from kiosk.ui.bridge import Bridge
from kiosk.ui.main_window import MainWindow

CONFIG = """
schema_version = 1
[charger]
sim_speed = 60
[host]
timeout_s = 5
"""
WAIT_MS = 15_000
THREAD_END_S = 20.0  # a stopped worker's last job (a host exchange: timeout_s 5) has ended


@dataclass
class Kiosk:
    qtbot: QtBot
    runtime: Runtime
    window: MainWindow
    expect_errors: list[str] = field(default_factory=list)  # parts of expected ERROR logs

    @property
    def currency(self) -> str:
        return self.runtime.config.station.currency

    def page(self) -> str:
        stack = self.window.findChild(QStackedWidget, "pages")
        assert stack is not None
        page = stack.currentWidget()
        return page.objectName() if page is not None else ""

    def wait_page(self, name: str, timeout: int = WAIT_MS) -> None:
        try:
            self.qtbot.waitUntil(lambda: self.page() == name, timeout=timeout)
        except AssertionError:
            s = self.runtime.active()
            raise AssertionError(f"expected {name}, still on {self.page()} "
                                 f"(session: {s.state if s else None}, "
                                 f"message: {s.message if s else ''!r})") from None

    def button(self, name: str) -> QPushButton:
        btn = self.window.findChild(QPushButton, name)
        assert btn is not None, f"no button {name!r}"
        return btn

    def label(self, name: str) -> QLabel:
        lbl = self.window.findChild(QLabel, name)
        assert lbl is not None, f"no label {name!r}"
        return lbl

    def click(self, name: str) -> None:
        btn = self.button(name)
        self.qtbot.waitUntil(lambda: btn.isVisible() and btn.isEnabled(), timeout=WAIT_MS)
        self.qtbot.mouseClick(btn, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]

    def session(self) -> Session:
        s = self.runtime.active()
        assert s is not None, "no live session"
        return s

    def charge(self) -> None:
        """Pay with the demo's contactless card, plug in: the charging page, energy flowing."""
        self.wait_page("idle_page")
        self.click("pay_button")
        self.wait_page("card_page")
        self.click("demo_card_visa_contactless")
        self.wait_page("plug_page")
        self.click("demo_plug_button")
        self.wait_page("charging_page")
        self.qtbot.waitUntil(lambda: self.session().energy_wh > 0, timeout=WAIT_MS)

    def visible_texts(self) -> list[str]:
        """Every text a driver could read on the window, shown or not."""
        texts = [self.window.windowTitle()]
        texts += [w.text() for w in self.window.findChildren(QLabel)]
        texts += [w.text() for w in self.window.findChildren(QLineEdit)]
        texts += [w.toolTip() for w in self.window.findChildren(QWidget)]
        return texts


def cancel_card_read(k: Kiosk) -> None:
    """Cancel on the card page once the read waits for a card. (Today a cancel that comes
    before the reader waits is lost, and the read waits for its whole timeout: the first read
    of a process imports the EMV kernel first. ``CardDevice.cancel_read`` races the read's
    start; this waits it out, it is not what these tests are about.)"""
    terminal = k.runtime.card_terminal
    assert isinstance(terminal, SimCardTerminal)
    k.qtbot.waitUntil(lambda: terminal.waiting, timeout=WAIT_MS)
    k.click("cancel_button")
    k.wait_page("idle_page")


def build_kiosk(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                *, with_bridge: bool = True, config: str = CONFIG) -> Iterator[Kiosk]:
    caplog.set_level(logging.INFO)
    runtime = build_runtime(parse_config(config, demo=True),
                            journal_path=tmp_path / "j.sqlite")
    kiosk: Kiosk | None = None
    bridge: Bridge | None = None
    window: MainWindow | None = None
    try:
        bridge = Bridge(runtime)
        # startup_child.py makes the Bridge itself and gives the window only the runtime
        window = MainWindow(runtime, demo=True, bridge=bridge if with_bridge else None)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        kiosk = Kiosk(qtbot, runtime, window)
        yield kiosk
    finally:
        if window is not None:
            window.shutdown()
        if bridge is not None:
            bridge.close()
        runtime.close()
    ours = [t for t in threading.enumerate()
            if t.name.startswith("kiosk-") or t.name == "sim-charger"]
    deadline = time.monotonic() + THREAD_END_S  # told to stop: on a loaded machine a worker
    for t in ours:                              # may still finish its last job meanwhile
        t.join(max(0.0, deadline - time.monotonic()))
    leftover = [t for t in ours if t.is_alive()]
    frames = sys._current_frames()
    stacks = {t.name: "".join(traceback.format_stack(frames[t.ident])) for t in leftover
              if t.ident in frames}
    assert not leftover, f"threads left behind: {list(stacks) or leftover}\n" + "\n".join(
        f"--- {name}:\n{stack}" for name, stack in stacks.items())
    expected = kiosk.expect_errors if kiosk is not None else []
    errors = [m for r in caplog.records if r.levelno >= logging.ERROR
              if not any(e in (m := r.getMessage()) for e in expected)]
    assert not errors, f"errors logged: {errors}"
