"""The technicians' gesture on the driver's window: a hold on the bottom-left corner opens the
maintenance login; a short press, or a driver's session, does not; while the mode is up the
driver's pages never come back by themselves; closing it brings back the idle page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from kiosk.runtime import RESTART_EXIT_CODE
from kiosk.security.technicians import TechnicianStore, code_at
from kiosk.session import events as ev
from tests.ui.rig import WAIT_MS, Kiosk, build_kiosk

PIN = "482916"
HOLD_MS = 300  # the test's hold (the kiosk's is 5 s)


@pytest.fixture
def k(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Kiosk]:
    yield from build_kiosk(qtbot, tmp_path, caplog)


def hold_corner(k: Kiosk, ms: int) -> None:
    corner = k.window.corner
    assert corner.isVisible() and corner.geometry().bottomLeft().y() == k.window.height() - 1
    QTest.mousePress(corner, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    k.qtbot.wait(ms)
    QTest.mouseRelease(corner, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))


def test_a_hold_on_the_corner_opens_the_login_and_closing_brings_the_driver_back(
        k: Kiosk) -> None:
    k.window.maintenance_hold_ms = HOLD_MS
    k.wait_page("idle_page")
    hold_corner(k, 100)  # a short press: nothing
    assert k.page() == "idle_page"
    hold_corner(k, HOLD_MS + 200)
    k.qtbot.waitUntil(lambda: k.window.in_maintenance, timeout=WAIT_MS)
    mode = k.runtime.maintenance
    assert mode is not None and mode.state == "login"
    k.window.refresh()  # the driver's refresh never takes the screen back
    assert k.window.in_maintenance
    mode.close("cancel")
    k.qtbot.waitUntil(lambda: not k.window.in_maintenance, timeout=WAIT_MS)
    k.qtbot.waitUntil(lambda: k.page() == "idle_page", timeout=WAIT_MS)


def test_not_while_a_driver_pays(k: Kiosk) -> None:
    k.window.maintenance_hold_ms = HOLD_MS
    k.click("pay_button")
    k.wait_page("card_page")
    hold_corner(k, HOLD_MS + 200)
    k.qtbot.wait(100)
    assert not k.window.in_maintenance and k.page() == "card_page"
    s = k.session()
    assert s is not None
    k.runtime.post(ev.Cancelled(s.id))
    k.wait_page("idle_page")


def test_a_technicians_login_takes_the_terminal_out_of_service_for_drivers(k: Kiosk) -> None:
    folder = k.runtime.journal.path.parent
    tech = TechnicianStore(folder).add("alice", "technician", PIN)
    assert k.window.open_maintenance()
    mode = k.runtime.maintenance
    assert mode is not None
    mode.login("alice", PIN, code_at(tech.totp_secret, time.time()))
    assert not k.runtime.health.in_service
    mode.close("logout")
    k.qtbot.waitUntil(lambda: not k.window.in_maintenance, timeout=WAIT_MS)
    k.qtbot.waitUntil(lambda: k.runtime.health.in_service, timeout=WAIT_MS)
    k.qtbot.waitUntil(lambda: k.page() == "idle_page", timeout=WAIT_MS)


def test_an_update_restarts_the_kiosk_only_when_nobody_uses_it(k: Kiosk) -> None:
    """An applied update asks for a restart: not while a driver's session runs, not while the
    maintenance mode is open; then the window quits its event loop with the restart status
    (the service starts the kiosk again)."""
    rt = k.runtime
    k.wait_page("idle_page")
    k.window.start_session(1)
    s = rt.runner.active()
    assert s is not None
    rt.request_restart("the tariff update 3 from the back office")
    rt.request_restart("another")  # the first reason stays
    assert rt.restart_reason == "the tariff update 3 from the back office"
    assert not rt.may_restart()  # the driver first
    rt.post(ev.Cancelled(s.id))
    k.qtbot.waitUntil(lambda: rt.runner.active() is None, timeout=WAIT_MS)
    assert rt.may_restart()
    mode = rt.maintenance
    assert mode is not None
    mode.enter()
    assert not rt.may_restart()  # the technician's mode is up
    mode.close("cancel")
    assert rt.may_restart()
    audit = mode.audit
    assert [e.details for e in audit.entries() if e.action == "restart asked"] == [
        {"reason": "the tariff update 3 from the back office"}]
    loop = QEventLoop()
    # the loop's own exit, not the application's: QCoreApplication.exit() would end every
    # later event loop of the test process at once
    QTimer.singleShot(0, lambda: setattr(k.window, "quit_to_restart", loop.exit))
    QTimer.singleShot(WAIT_MS, lambda: loop.exit(1))  # a deadline, never reached
    assert loop.exec() == RESTART_EXIT_CODE
