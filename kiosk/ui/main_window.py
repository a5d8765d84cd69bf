"""The driver's window: a header and a stack of pages that follows the live session's state.

The window observes; it never decides. It shows the newest live session
(``Runtime.active()``); when there is none, the idle page, or the out-of-service page while the
terminal's health says it cannot take a payment (a live session keeps its own page: a driver
who is charging keeps seeing the charging screen). It refreshes on every session step, on every
change of the health, and twice a second for the clock and countdowns.

Both session steps and health changes arrive through :attr:`MainWindow._changed`, a signal with
a queued connection: health listeners run on any worker thread, and a session step is shown
only after the runner has run its effects (the receipt then already knows that its payment is
pending in the settlement queue). Several changes before the next turn of the event loop make
one refresh.

A card presented while charging that started none of the charging sessions
(:attr:`Runtime.card_notices`, from the card worker) reaches the charging page through
:attr:`MainWindow._not_the_same_card`, queued as well.

With a lab host link in clear (``host.allow_plaintext_lab``) the header carries a red banner
on every page.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import QSize, QSocketNotifier, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.devices.card import CardNotice
from kiosk.health import Health
from kiosk.runtime import Busy, OutOfService
from kiosk.session.machine import Session, State
from kiosk.ui.bridge import Bridge
from kiosk.ui.pages import (
    MSG_NOT_THE_SAME_CARD,
    AuthorizingPage,
    CardPage,
    ChargingPage,
    IdlePage,
    MessagePage,
    OutOfServicePage,
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
MSG_LAB_WARNING = "\u26a0 LAB MODE: payment data is not encrypted"
CARD_STATES = (State.READING_CARD, State.PIN_ENTRY, State.AUTHORIZING)  # the reader in use


class MainWindow(QWidget):
    _changed = Signal()  # any thread: a session step or a health change; refreshes queued
    _not_the_same_card = Signal()  # the card worker: a card that started no charging session

    def __init__(self, runtime: Runtime, *, demo: bool, bridge: Bridge | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.demo = demo
        self.bridge = bridge
        self._lock = threading.Lock()
        self._closed = False
        self._refresh_queued = False
        self._changed.connect(self._refresh_now, Qt.ConnectionType.QueuedConnection)
        self._not_the_same_card.connect(self._show_card_notice,
                                        Qt.ConnectionType.QueuedConnection)
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
        self.out_of_service_page = OutOfServicePage(runtime)
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
            State.RECEIPT: self.receipt_page,
            State.DECLINED: self.message_page,
            State.ERROR: self.message_page,
        }
        for page in (self.idle_page, self.out_of_service_page,
                     *dict.fromkeys(self.pages.values())):
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
        runtime.health.listeners.append(self._on_health)
        runtime.card_notices.append(self._on_card_notice)
        self._timer = QTimer(self)
        self._timer.setObjectName("refresh_timer")
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
        self.station_label = ElidedLabel(str(station.name))
        self.station_label.setObjectName("station_label")
        row.addWidget(self.station_label)
        if self.demo:
            badge = QLabel("DEMO")
            badge.setObjectName("demo_badge")
            row.addWidget(badge, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addStretch(1)
        self.lab_warning: QLabel | None = None
        if self.runtime.config.plaintext_lab_host():  # on every page, never hidden
            self.lab_warning = QLabel(MSG_LAB_WARNING)
            self.lab_warning.setObjectName("lab_warning")
            self.lab_warning.setTextFormat(Qt.TextFormat.PlainText)
            self.lab_warning.setSizePolicy(QSizePolicy.Policy.Fixed,  # never cut
                                           QSizePolicy.Policy.Fixed)
            row.addWidget(self.lab_warning, 0, Qt.AlignmentFlag.AlignVCenter)
        self.clock_label = QLabel("")
        self.clock_label.setObjectName("clock_label")
        row.addWidget(self.clock_label)
        return header

    # --- observing ----------------------------------------------------------------------
    def _on_session(self, _session: Session) -> None:
        self._changed_soon()

    def _on_health(self, _health: Health) -> None:
        self._changed_soon()  # any thread: the refresh runs on the GUI thread

    def _on_card_notice(self, _notice: CardNotice) -> None:
        with self._lock:  # the card worker's thread: shown on the GUI thread
            if self._closed:
                return
            with contextlib.suppress(RuntimeError):  # the window is being destroyed
                self._not_the_same_card.emit()

    @Slot()
    def _show_card_notice(self) -> None:
        if not self._closed:
            self.charging_page.show_card_notice(MSG_NOT_THE_SAME_CARD)

    def _changed_soon(self) -> None:
        with self._lock:
            if self._closed or self._refresh_queued:
                return
            self._refresh_queued = True
            with contextlib.suppress(RuntimeError):  # the window is being destroyed
                self._changed.emit()

    @Slot()
    def _refresh_now(self) -> None:
        with self._lock:
            self._refresh_queued = False
            if self._closed:
                return
        self.refresh()

    def refresh(self) -> None:
        self.clock_label.setText(self.runtime.clock().astimezone(self._tz).strftime("%H:%M"))
        self.show_session(self.runtime.active())

    def show_session(self, session: Session | None, *, refused: bool = False) -> None:
        """Show the page for ``session``; for none (or a finished one) the idle page, or the
        out-of-service page while the terminal is out of service (``refused``: Start was just
        refused for that)."""
        if session is None or session.state is State.DONE:
            session = None
            health = self.runtime.health
            if refused or not health.in_service:
                self.out_of_service_page.show_health(health.reasons(), health.phone)
                page: Page = self.out_of_service_page
                self.idle_page.set_notice("")
                self.idle_page.refresh_prices()  # its Start button off as well
            else:
                page = self.idle_page
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
        """Start on the first free connector (the runtime says which are busy)."""
        refused: Busy | None = None
        for connector in self.runtime.config.connectors:
            try:
                self.runtime.start_session(connector.id)
            except OutOfService as exc:  # the health changed since the screen was drawn
                log.warning("start refused, out of service: %s", exc)
                self.show_session(None, refused=True)
                return
            except Busy as exc:  # this connector is in use, or the reader is
                refused = exc
                continue
            self.refresh()
            return
        log.info("start refused: %s", refused)
        live = self.runtime.active()
        reader = live is not None and live.state in CARD_STATES
        self.idle_page.set_notice(MSG_READER_BUSY if reader else MSG_ALL_BUSY)

    # --- closing ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop refreshing and unhook from the runner (and the bridge). Safe to call twice."""
        with self._lock:
            self._closed = True
        self._timer.stop()
        with contextlib.suppress(ValueError):
            self.runtime.health.listeners.remove(self._on_health)
        with contextlib.suppress(ValueError):
            self.runtime.card_notices.remove(self._on_card_notice)
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


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when its room is short (a long station name beside
    the header's badges) instead of pushing the window wider. ``text()`` is the full text."""

    MIN_WIDTH = 160

    def __init__(self, text: str) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._full = text
        super().setText(text)

    def text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        self.ensurePolished()  # the stylesheet's font
        hint = super().sizeHint()
        m = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self._full) + m.left() + m.right() + 2
        return QSize(width, hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(self.MIN_WIDTH, self.sizeHint().width()),
                     super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        if shown != super().text():
            super().setText(shown)


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; showing local time", name)
        return None


def quit_on_signals(app: QApplication) -> Callable[[], None]:
    """SIGTERM (systemd stops the service) and SIGINT (Ctrl-C) quit the event loop, so the
    window, the devices and the journal close cleanly. Python runs its signal handlers only
    when the interpreter runs: the C signal handler writes to a socket (``set_wakeup_fd``) that
    Qt watches, and the notifier's slot lets the Python handler run. Returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread can take signals
    r, w = socket.socketpair()
    r.setblocking(False)
    w.setblocking(False)
    previous_fd = signal.set_wakeup_fd(w.fileno())

    def stop(signum: int, _frame: object) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        app.quit()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    notifier = QSocketNotifier(r.fileno(), QSocketNotifier.Type.Read)

    def drain() -> None:
        with contextlib.suppress(OSError):
            r.recv(64)

    notifier.activated.connect(drain)

    def undo() -> None:
        notifier.setEnabled(False)
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        r.close()
        w.close()

    return undo


def run_window(runtime: Runtime, *, demo: bool, quit_after: float = 0.0) -> int:
    """Show the kiosk window on ``runtime`` and run the Qt event loop until it quits (a
    SIGTERM or SIGINT quits it too)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    bridge = Bridge(runtime)
    window = MainWindow(runtime, demo=demo, bridge=bridge)
    undo_signals = quit_on_signals(app)
    try:
        if runtime.config.ui.fullscreen:
            window.showFullScreen()
        else:
            window.resize(1280, 800)
            window.show()
        if quit_after > 0:
            QTimer.singleShot(int(quit_after * 1000), app.quit)
        code = app.exec()
        log.info("window closed")
        return code
    finally:
        undo_signals()
        window.shutdown()
        bridge.close()
        window.deleteLater()
