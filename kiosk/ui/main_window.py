"""The driver's window: a header and a stack of pages that follows the live session's state.

The window observes; it never decides. It shows the newest live session
(``Runner.active()``), or the idle page when there is none, and refreshes on every session
step (a runner listener, on the GUI thread) and twice a second for the clock and countdowns.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from datetime import tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.session.machine import Session, State
from kiosk.session.runner import Busy
from kiosk.ui.bridge import Bridge
from kiosk.ui.pages import (
    AuthorizingPage,
    CardPage,
    ChargingPage,
    IdlePage,
    MessagePage,
    Page,
    PinPage,
    PlugPage,
    ReceiptPage,
)
from kiosk.ui.style import STYLESHEET

if TYPE_CHECKING:
    from kiosk.runtime import Runtime

log = logging.getLogger(__name__)

REFRESH_MS = 500
HEADER_HEIGHT = 88
MSG_ALL_BUSY = "All charging points are in use right now. Please try again in a moment."
MSG_READER_BUSY = "The card reader is busy with another driver. Please try again in a moment."


class MainWindow(QWidget):
    def __init__(self, runtime: Runtime, *, demo: bool, bridge: Bridge | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.demo = demo
        self.bridge = bridge
        self.setObjectName("main_window")
        self.setWindowTitle(f"{runtime.config.station.name} \u2014 EV charging")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLESHEET)
        self._tz = _zone(str(runtime.config.station.timezone))

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(self._header())

        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        self.idle_page = IdlePage(runtime, self.start_session)
        self.card_page = CardPage(runtime, demo=demo)
        self.pin_page = PinPage(runtime)
        self.authorizing_page = AuthorizingPage(runtime)
        self.plug_page = PlugPage(runtime, demo=demo)
        self.charging_page = ChargingPage(runtime)
        self.receipt_page = ReceiptPage(runtime)
        self.message_page = MessagePage(runtime)
        self.pages: dict[State, Page] = {
            State.READING_CARD: self.card_page,
            State.PIN_ENTRY: self.pin_page,
            State.AUTHORIZING: self.authorizing_page,
            State.WAIT_PLUG: self.plug_page,
            State.CHARGING: self.charging_page,
            State.STOPPING: self.charging_page,
            State.CAPTURING: self.charging_page,
            State.RECEIPT: self.receipt_page,
            State.DECLINED: self.message_page,
            State.ERROR: self.message_page,
            State.REVERSING: self.message_page,
        }
        for page in (self.idle_page, *dict.fromkeys(self.pages.values())):
            self.stack.addWidget(page)
        root.addWidget(self.stack, 1)

        # Session steps arrive through the bridge's signal when there is one, otherwise
        # through our own runner listener (both run on the GUI thread).
        self._listening = False
        if bridge is not None:
            bridge.session_changed.connect(self._on_session)
        else:
            runtime.runner.listeners.append(self._on_session)
            self._listening = True
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def _header(self) -> QFrame:
        header = QFrame()
        header.setObjectName("header")
        header.setFixedHeight(HEADER_HEIGHT)
        row = QHBoxLayout(header)
        row.setContentsMargins(40, 0, 40, 0)
        row.setSpacing(24)
        station = self.runtime.config.station
        self.station_label = QLabel(str(station.name))
        self.station_label.setObjectName("station_label")
        row.addWidget(self.station_label)
        if self.demo:
            badge = QLabel("DEMO")
            badge.setObjectName("demo_badge")
            row.addWidget(badge, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addStretch(1)
        self.clock_label = QLabel("")
        self.clock_label.setObjectName("clock_label")
        row.addWidget(self.clock_label)
        return header

    # --- observing ----------------------------------------------------------------------
    def _on_session(self, _session: Session) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.clock_label.setText(self.runtime.clock().astimezone(self._tz).strftime("%H:%M"))
        self.show_session(self.runtime.runner.active())

    def show_session(self, session: Session | None) -> None:
        """Show the page for ``session`` (the idle page for none or a finished one)."""
        if session is None or session.state is State.DONE:
            page: Page = self.idle_page
            session = None
        else:
            page = self.pages[session.state]
            self.idle_page.set_notice("")
        if page is not self.pin_page:
            self.pin_page.show_session(None)  # forget a half-typed PIN
        page.show_session(session)
        if self.stack.currentWidget() is not page:
            self.stack.setCurrentWidget(page)

    def current_page(self) -> str:
        page = self.stack.currentWidget()
        return page.objectName() if page is not None else ""

    # --- driver actions -------------------------------------------------------------------
    def start_session(self) -> None:
        runner = self.runtime.runner
        free = [c.id for c in self.runtime.config.connectors if runner.session_on(c.id) is None]
        if not free:
            self.idle_page.set_notice(MSG_ALL_BUSY)
            return
        try:
            runner.start_session(free[0])
        except Busy as exc:
            log.info("start refused: %s", exc)
            self.idle_page.set_notice(MSG_READER_BUSY)
            return
        self.refresh()

    # --- closing ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop refreshing and unhook from the runner (and the bridge). Safe to call twice."""
        self._timer.stop()
        if self._listening and self._on_session in self.runtime.runner.listeners:
            self.runtime.runner.listeners.remove(self._on_session)
        self._listening = False
        if self.bridge is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                self.bridge.session_changed.disconnect(self._on_session)
            self.bridge = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; showing local time", name)
        return None


def run_window(runtime: Runtime, *, demo: bool, quit_after: float = 0.0) -> int:
    """Show the kiosk window on ``runtime`` and run the Qt event loop until it quits."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    bridge = Bridge(runtime)
    window = MainWindow(runtime, demo=demo, bridge=bridge)
    try:
        if runtime.config.ui.fullscreen:
            window.showFullScreen()
        else:
            window.resize(1280, 800)
            window.show()
        if quit_after > 0:
            QTimer.singleShot(int(quit_after * 1000), app.quit)
        return app.exec()
    finally:
        window.shutdown()
        bridge.close()
        window.deleteLater()
