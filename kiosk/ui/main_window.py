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
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import QEvent, QObject, QSize, QSocketNotifier, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QIcon, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.devices.card import CardNotice
from kiosk.health import Health
from kiosk.maintenance.mode import DriverBusy
from kiosk.runtime import RESTART_EXIT_CODE, Busy, OutOfService
from kiosk.session import events as ev
from kiosk.session.machine import Session, State
from kiosk.ui.assets import icon, icon_pixmap, load_fonts
from kiosk.ui.audio import Voice
from kiosk.ui.bridge import Bridge
from kiosk.ui.i18n import LANGUAGE_NAMES, Translations, translate
from kiosk.ui.pages import (
    AuthorizingPage,
    CardPage,
    ChargingPage,
    IconLabel,
    IdlePage,
    MessagePage,
    OutOfServicePage,
    Page,
    PinPage,
    PlugPage,
    ReceiptPage,
    Screen,
    bind,
    countdown,
    make_button,
    make_label,
    set_text,
)
from kiosk.ui.style import (
    DESIGN_LANDSCAPE,
    HIGH_CONTRAST,
    LARGE_TEXT,
    STANDARD,
    Metrics,
    stylesheet,
)

if TYPE_CHECKING:
    from kiosk.runtime import Runtime
    from kiosk.ui.maintenance import MaintenanceScreen

log = logging.getLogger(__name__)

REFRESH_MS = 500
LONG_PRESS_MS = 2000  # the accessibility mode's gesture: press the header this long
MAINTENANCE_HOLD_MS = 5000  # the technicians' gesture: hold the bottom-left corner this long
CORNER_PX = 44  # design px: the corner that gesture is held in (inside every page's margin)
HEADER_HEIGHT = 80
CARD_STATES = (State.READING_CARD, State.PIN_ENTRY, State.AUTHORIZING)  # the reader in use
# a session reaching one of these turns the screen to it (several connectors)
RESULT_STATES = (State.WAIT_PLUG, State.STOPPING, State.RECEIPT, State.DECLINED, State.ERROR)


class MainWindow(QWidget):
    _changed = Signal()  # any thread: a session step or a health change; refreshes queued
    _not_the_same_card = Signal()  # the card worker: a card that started no charging session

    def __init__(self, runtime: Runtime, *, demo: bool, bridge: Bridge | None = None,
                 config_path: Path | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.config_path = config_path  # for the maintenance mode's updates (None: none)
        self.demo = demo
        self.bridge = bridge
        self._restarting = False  # quitting to take an update (refresh -> _restart)
        # how the window quits to restart when an update asks for it (run_window: the event
        # loop's exit); None: it does not (tests, screenshots, unless they say how)
        self.quit_to_restart: Callable[[int], object] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._refresh_queued = False
        self._changed.connect(self._refresh_now, Qt.ConnectionType.QueuedConnection)
        self._not_the_same_card.connect(self._show_card_notice,
                                        Qt.ConnectionType.QueuedConnection)
        self.setObjectName("main_window")
        self.setWindowTitle(f"{runtime.config.station.name} \u2014 EV charging")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._tz = _zone(str(runtime.config.station.timezone))
        ui_config = runtime.config.ui
        self.default_language = str(ui_config.language)
        self.translations = Translations([str(x) for x in runtime.config.station.languages])
        self.translations.use(self.default_language)
        self.family = load_fonts()  # the bundled font; missing, the kiosk does not start
        self.ui = Screen(runtime, self._metrics_for(QSize(*DESIGN_LANDSCAPE)),
                         self.default_language)
        self._focus: str | None = None  # the session the driver chose to see (several connectors)
        self._shown_id: str | None = None  # the session on screen
        self._states: dict[str, State] = {}  # each live session's state at the last refresh
        self.reset_language = True  # back to the station's language after each session
        self.accessible = False  # the accessibility mode: high contrast, large text, speech
        self.voice = Voice(sound=bool(ui_config.sound))
        self._heard: tuple[str, State] | None = None  # the session step last announced
        self._warned: tuple[str, datetime] | None = None  # the timeout warning last sounded

        root = QVBoxLayout(self)
        # the window is the screen: content that does not fit is a bug the layout test finds,
        # never a window larger than the screen
        root.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(self._header())
        self.lab_warning: QLabel | None = None
        if runtime.config.plaintext_lab_host():  # a strip below the header on every page
            self.lab_warning = QLabel()
            self.lab_warning.setObjectName("lab_warning")
            self.lab_warning.setTextFormat(Qt.TextFormat.PlainText)
            self.lab_warning.setWordWrap(True)
            root.addWidget(self.lab_warning)
        root.addWidget(self._timeout_bar())

        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        ui = self.ui
        self.idle_page = IdlePage(ui, self.start_session, self.view_connector)
        self.out_of_service_page = OutOfServicePage(ui)
        self.card_page = CardPage(ui, demo=demo)
        self.pin_page = PinPage(ui)
        self.pin_page.on_key = self._pin_key
        self.authorizing_page = AuthorizingPage(ui)
        self.plug_page = PlugPage(ui, demo=demo)
        self.charging_page = ChargingPage(ui, demo=demo)
        self.receipt_page = ReceiptPage(ui)
        self.message_page = MessagePage(ui)
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
        for page in self.all_pages():
            self.stack.addWidget(page)
        root.addWidget(self.stack, 1)
        # the technicians' gesture: a hold on the bottom-left corner (MaintenanceScreen)
        self.maintenance_hold_ms = MAINTENANCE_HOLD_MS
        self.maintenance_screen: MaintenanceScreen | None = None
        self.corner = CornerHold(self, self.open_maintenance)
        self._apply_metrics()
        self.retranslate()

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

    def all_pages(self) -> list[Page]:
        return [self.idle_page, self.out_of_service_page, *dict.fromkeys(self.pages.values())]

    def _header(self) -> QFrame:
        header = QFrame()
        header.setObjectName("header")
        self.header = header
        row = QHBoxLayout(header)
        self.header_row = row
        station = self.runtime.config.station
        self.station_label = ElidedLabel(str(station.name))
        self.station_label.setObjectName("station_label")
        row.addWidget(self.station_label, 1)
        if self.demo:
            badge = QLabel("DEMO")
            badge.setObjectName("demo_badge")
            row.addWidget(badge, 0, Qt.AlignmentFlag.AlignVCenter)
        self.home_button = make_button("", "home_button", "lang", self.go_home)
        self.home_button.setVisible(False)
        row.addWidget(self.home_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.a11y_button = make_button("", "a11y_button", "lang", self.toggle_accessible)
        self.a11y_button.setCheckable(True)
        row.addWidget(self.a11y_button, 0, Qt.AlignmentFlag.AlignVCenter)
        # the documented gesture: a long press anywhere on the header
        self._long_press = QTimer(self)
        self._long_press.setSingleShot(True)
        self._long_press.setInterval(LONG_PRESS_MS)
        self._long_press.timeout.connect(self.toggle_accessible)
        header.installEventFilter(self)
        self.station_label.installEventFilter(self)
        self.language_buttons: dict[str, QPushButton] = {}
        if len(self.translations.offered) > 1:
            for lang in self.translations.offered:
                btn = make_button(lang.upper(), f"lang_button_{lang}", "lang",
                                  bind(self.set_language, lang))
                btn.setCheckable(True)
                btn.setAccessibleName(LANGUAGE_NAMES[lang])
                self.language_buttons[lang] = btn
                row.addWidget(btn, 0, Qt.AlignmentFlag.AlignVCenter)
        self.clock_label = QLabel("")
        self.clock_label.setObjectName("clock_label")
        row.addWidget(self.clock_label)
        return header

    def _timeout_bar(self) -> QFrame:
        """Above the page when a timeout is near: how long is left and *More time*."""
        bar = QFrame()
        bar.setObjectName("timeout_bar")
        bar.setProperty("role", "timeout_bar")
        row = QHBoxLayout(bar)
        self.timeout_row = row
        self.timeout_icon = IconLabel("clock", "amber_ink", 40, "timeout_icon")
        row.addWidget(self.timeout_icon, 0, Qt.AlignmentFlag.AlignVCenter)
        self.timeout_label = make_label("", "timeout", "timeout_warning_label", wrap=True)
        row.addWidget(self.timeout_label, 1)
        self.more_time_button = make_button("", "more_time_button", "primary", self.more_time)
        row.addWidget(self.more_time_button, 0, Qt.AlignmentFlag.AlignVCenter)
        bar.hide()
        self.timeout_bar = bar
        return bar

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress:
            self._long_press.start()
        elif event.type() == QEvent.Type.MouseButtonRelease:
            self._long_press.stop()
        return False

    def toggle_accessible(self) -> None:
        self.set_accessible(not self.accessible)

    def set_accessible(self, on: bool) -> None:
        """The accessibility mode: high contrast, large text and spoken prompts at once (and
        back); a driver's choice, undone after the session like the language."""
        self._long_press.stop()
        self.a11y_button.setChecked(on)
        if on == self.accessible:
            return
        self.accessible = on
        self.voice.speech = on
        self.ui.palette = HIGH_CONTRAST if on else STANDARD
        self.ui.metrics = self.ui.metrics.with_text(LARGE_TEXT if on else 1.0)
        self._apply_metrics()
        self._heard = None
        if on:
            self.voice.cue("attention")
            self.voice.say(translate("MainWindow", "Accessibility mode on.") + " "
                           + self.current_page_words(), self.ui.lang)

    def current_page_words(self) -> str:
        page = self.stack.currentWidget()
        return page.spoken() if isinstance(page, Page) else ""

    def _pin_key(self, entered: int) -> None:
        """A PIN key was pressed: a tick, and in the accessibility mode how many digits are
        in (the PIN can be typed without seeing the screen; the digits are never said)."""
        self.voice.cue("card")
        self.voice.say(translate("PinPage", "PIN digits entered: {n}").format(n=entered),
                       self.ui.lang)

    def more_time(self) -> None:
        shown = self._current_session()
        if shown is not None:
            self.runtime.post(ev.MoreTime(shown.id))
        self._warned = None

    def _show_timeout(self, session: Session | None) -> None:
        warning = (self.runtime.machine.timeout_warning(session)
                   if session is not None and session.state is not State.DONE else None)
        now = self.runtime.clock()
        if warning is None or now < warning.warn_at:
            self.timeout_bar.hide()
            return
        clock = countdown(warning.deadline, now)
        text = (translate("MainWindow", "This screen ends in {left}. Do you need more time?")
                if warning.more_time else
                translate("MainWindow", "This screen ends in {left}.")).format(left=clock)
        set_text(self.timeout_label, text)
        self.more_time_button.setVisible(warning.more_time)
        self.timeout_bar.show()
        key = (session.id, warning.deadline) if session is not None else None
        if key is not None and self._warned != key:  # once per deadline: heard as well as seen
            self._warned = key
            self.voice.cue("attention")
            self.voice.say(text, self.ui.lang)

    def _announce(self, session: Session | None, page: Page) -> None:
        """A cue and the page's words when the shown session takes a step."""
        key = (session.id, session.state) if session is not None else None
        if key == self._heard:
            return
        before, self._heard = self._heard, key
        if session is not None:
            cue = {State.WAIT_PLUG: "success", State.RECEIPT: "success",
                   State.DECLINED: "failure", State.ERROR: "failure"}.get(session.state)
            read = (before is not None and before[0] == session.id  # the card was just read
                    and before[1] in CARD_STATES and session.state not in CARD_STATES)
            if cue is None and read:
                cue = "card"
            if cue is not None:
                self.voice.cue(cue)
        self.voice.say(page.spoken(), self.ui.lang)

    # --- size and language ----------------------------------------------------------------
    def _metrics_for(self, size: QSize, text: float = 1.0) -> Metrics:
        dpi = float(self.runtime.config.ui.dpi)
        if dpi <= 0:
            screen = self.screen() if self.isVisible() else QApplication.primaryScreen()
            dpi = screen.physicalDotsPerInch() if screen is not None else 96.0
            dpi = min(max(dpi, 72.0), 400.0)  # a screen that reports nonsense
        return Metrics(size.width(), size.height(), dpi=dpi, family=self.family, text=text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        size = event.size()
        m = self.ui.metrics
        if (size.width(), size.height()) != (m.width, m.height) and size.width() > 0:
            self.ui.metrics = self._metrics_for(size, m.text)
            self._apply_metrics()
        super().resizeEvent(event)
        self._place_corner()

    def _place_corner(self) -> None:
        side = self.ui.metrics.px(CORNER_PX)
        self.corner.setGeometry(0, self.height() - side, side, side)
        self.corner.raise_()

    def _apply_metrics(self) -> None:
        m = self.ui.metrics
        self.setStyleSheet(stylesheet(m, self.ui.palette))
        self.header.setFixedHeight(m.target(HEADER_HEIGHT))
        side = m.px(24) if m.portrait else m.px(40)  # portrait: room for the station's name
        self.header_row.setContentsMargins(side, 0, side, 0)
        self.header_row.setSpacing(m.px(10) if m.portrait else m.px(16))
        glyph = m.header_font(30)
        a11y = icon("accessibility", self.ui.palette.on_header, sizes=[glyph])
        a11y.addPixmap(icon_pixmap("accessibility", self.ui.palette.navy, glyph),  # checked
                       QIcon.Mode.Normal, QIcon.State.On)
        self.a11y_button.setIcon(a11y)
        self.a11y_button.setIconSize(QSize(glyph, glyph))
        self.timeout_row.setContentsMargins(m.px(40), m.px(8), m.px(40), m.px(8))
        self.timeout_row.setSpacing(m.px(16))
        self.timeout_icon.redraw(self.ui)
        for page in self.all_pages():
            page.apply_metrics()
        if self.maintenance_screen is not None:
            self.maintenance_screen.apply_metrics()
        self._place_corner()
        self.show_session(self._current_session())

    def set_language(self, lang: str) -> None:
        """Every text of the window in ``lang`` at once (the driver's choice, any moment)."""
        if lang == self.ui.lang:
            self._check_language_buttons()
            return
        self.translations.use(lang)
        self.ui.lang = lang
        self.retranslate()
        shown = self._current_session()
        if shown is not None and shown.state is not State.DONE:
            self.runtime.post(ev.LanguageChosen(shown.id, lang))  # its invoice follows
        self.refresh()

    def retranslate(self) -> None:
        if self.lab_warning is not None:
            self.lab_warning.setText(translate(
                "MainWindow", "\u26a0 LAB MODE: payment data is not encrypted"))
        set_text(self.a11y_button, "", translate(
            "MainWindow", "Accessibility: high contrast, large text and spoken prompts"))
        set_text(self.more_time_button, translate("MainWindow", "More time"))
        self.home_button.setText(translate("MainWindow", "All connectors"))
        self.home_button.setAccessibleName(self.home_button.text())
        self._check_language_buttons()
        for page in self.all_pages():
            page.retranslate()
        self.idle_page.set_notice("")

    def _check_language_buttons(self) -> None:
        for code, btn in self.language_buttons.items():
            btn.setChecked(code == self.ui.lang)

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
            self.charging_page.show_card_notice(True)

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
        if self.quit_to_restart is not None and self.runtime.may_restart():  # nobody uses it
            self._restart()
            return
        self.clock_label.setText(self.ui.fig.time(self.runtime.clock().astimezone(self._tz)))
        self.show_session(self._current_session())

    def _restart(self) -> None:
        """Quit the event loop with :data:`~kiosk.runtime.RESTART_EXIT_CODE` (the service
        starts the kiosk again, which then runs with the update)."""
        if self._restarting:
            return
        self._restarting = True
        log.warning("restarting: %s", self.runtime.restart_reason)
        self._timer.stop()
        if self.quit_to_restart is not None:
            self.quit_to_restart(RESTART_EXIT_CODE)

    def _current_session(self) -> Session | None:
        """The session this screen is for. One connector: the live one. Several: the one at
        the card reader (one driver pays at a time), else one that just reached a result the
        driver must see (receipt, declined, failed, finishing) or that the driver chose
        (``view_connector``), else none: the idle page lists the connectors."""
        runner = self.runtime.runner
        if len(self.runtime.config.connectors) <= 1:
            return runner.active()
        live = sorted(runner.sessions.values(), key=lambda s: s.created_at)
        states, self._states = self._states, {s.id: s.state for s in live}
        paying = [s for s in live if s.state in CARD_STATES]
        if paying:
            return paying[-1]
        for s in live:  # a result to see: the screen turns to it once, when it comes
            if s.state in RESULT_STATES and states.get(s.id) is not s.state:
                self._focus = s.id
        focus = runner.sessions.get(self._focus) if self._focus else None
        if focus is None:
            self._focus = None
        return focus

    def view_connector(self, connector: int) -> None:
        """Show the session on ``connector`` (the idle page's connector buttons)."""
        s = self.runtime.runner.session_on(connector)
        self._focus = s.id if s is not None else None
        self.refresh()

    def go_home(self) -> None:
        """Back to the connectors (a running session goes on; its connector shows it)."""
        self._focus = None
        self.show_session(None)

    def show_session(self, session: Session | None, *, refused: bool = False) -> None:
        """Show the page for ``session``; for none (or a finished one) the idle page, or the
        out-of-service page while the terminal is out of service (``refused``: Start was just
        refused for that). Nothing while the maintenance screen is up."""
        if self.in_maintenance:
            return
        if session is None or session.state is State.DONE:
            session = None
            health = self.runtime.health
            if refused or not health.in_service:
                self.out_of_service_page.show_health([p.part for p in health.problems()],
                                                     health.phone)
                page: Page = self.out_of_service_page
                self.idle_page.set_notice("")
                self.idle_page.refresh_prices()  # its Start button off as well
            else:
                page = self.idle_page
            if self._shown_id is not None:  # a driver's session ended: the station's language
                self._shown_id = None
                if self.reset_language and self.accessible:
                    self.set_accessible(False)
                if self.reset_language and self.ui.lang != self.default_language:
                    self.set_language(self.default_language)
                    return
        else:
            page = self.pages[session.state]
            self.idle_page.set_notice("")
            self._shown_id = session.id
        several = len(self.runtime.config.connectors) > 1
        self.home_button.setVisible(several and session is not None
                                    and session.state not in CARD_STATES)
        if page is not self.pin_page:
            self.pin_page.show_session(None)  # forget a half-typed PIN
        page.show_session(session)
        if self.stack.currentWidget() is not page:
            self.stack.setCurrentWidget(page)
        self._show_timeout(session)
        page.timeout_bar_shown(self.timeout_bar.isVisibleTo(self))
        self._announce(session, page)

    # --- the technicians' mode ------------------------------------------------------------
    @property
    def in_maintenance(self) -> bool:
        return (self.maintenance_screen is not None
                and self.stack.currentWidget() is self.maintenance_screen)

    def open_maintenance(self) -> bool:
        """The gesture: the maintenance login, unless a driver's session runs (then nothing
        changes for the driver; the technician hears the failure cue). True when it opened."""
        mode = self.runtime.maintenance
        if mode is None or self.in_maintenance:
            return self.in_maintenance
        try:
            mode.enter()
        except DriverBusy as exc:
            log.info("maintenance not opened: %s", exc)
            self.voice.cue("failure")
            return False
        if self.maintenance_screen is None:
            from kiosk.ui.maintenance import MaintenanceScreen

            screen = MaintenanceScreen(self.ui, mode, config_path=self.config_path)
            screen.closed.connect(self._maintenance_closed)
            self.stack.addWidget(screen)
            self.maintenance_screen = screen
            screen.apply_metrics()
        self.timeout_bar.hide()
        self.home_button.hide()
        self._driver_header(False)  # the staff's screens are English only, not for drivers
        self.stack.setCurrentWidget(self.maintenance_screen)
        self.maintenance_screen.open_login()
        return True

    def _driver_header(self, shown: bool) -> None:
        """The header's language and accessibility buttons (off while maintenance is up)."""
        for btn in (self.a11y_button, *self.language_buttons.values()):
            btn.setVisible(shown)

    @Slot()
    def _maintenance_closed(self) -> None:
        if self.maintenance_screen is not None and self.in_maintenance:
            self.stack.setCurrentWidget(self.idle_page)
        self._driver_header(True)
        self.refresh()

    def current_page(self) -> str:
        page = self.stack.currentWidget()
        return page.objectName() if page is not None else ""

    # --- driver actions -------------------------------------------------------------------
    def start_session(self, connector: int | None = None) -> None:
        """Start on ``connector``, or on the first free one (the runtime says which are
        busy)."""
        refused: Busy | None = None
        ids = [c.id for c in self.runtime.config.connectors]
        for cid in ids if connector is None else [connector]:
            try:
                started = self.runtime.start_session(cid)
            except OutOfService as exc:  # the health changed since the screen was drawn
                log.warning("start refused, out of service: %s", exc)
                self.show_session(None, refused=True)
                return
            except Busy as exc:  # this connector is in use, or the reader is
                refused = exc
                continue
            self._focus = started.id
            if self.ui.lang != self.default_language:  # chosen before Start
                self.runtime.post(ev.LanguageChosen(started.id, self.ui.lang))
            self.refresh()
            return
        log.info("start refused: %s", refused)
        live = self.runtime.active()
        reader = live is not None and live.state in CARD_STATES
        self.idle_page.set_notice(
            translate("MainWindow", "The card reader is busy with another driver. Please "
                      "try again in a moment.") if reader else
            translate("MainWindow", "All charging points are in use right now. Please try "
                      "again in a moment."))

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
        self.translations.close()
        self.voice.close()
        if self.maintenance_screen is not None:
            self.maintenance_screen.shutdown()  # its card test's thread too

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        self.receipt_page.close_qr()  # after shutdown() the screens may still be drawn
        super().closeEvent(event)


class CornerHold(QWidget):
    """The invisible corner the technicians' gesture is held in: pressed for the window's
    ``maintenance_hold_ms``, it calls ``on_hold``; released or left earlier, nothing."""

    def __init__(self, window: MainWindow, on_hold: Callable[[], object]) -> None:
        super().__init__(window)
        self.setObjectName("maintenance_corner")
        self.setAccessibleName("Maintenance: hold for 5 seconds")
        self._window = window
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(on_hold)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._timer.start(self._window.maintenance_hold_ms)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._timer.stop()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self.rect().contains(event.position().toPoint()):
            self._timer.stop()
        event.accept()


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


def run_window(runtime: Runtime, *, demo: bool, quit_after: float = 0.0,
               config_path: Path | None = None) -> int:
    """Show the kiosk window on ``runtime`` and run the Qt event loop until it quits (a
    SIGTERM or SIGINT quits it too)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    bridge = Bridge(runtime)
    window = MainWindow(runtime, demo=demo, bridge=bridge, config_path=config_path)
    window.quit_to_restart = app.exit
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
