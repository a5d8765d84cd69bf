"""The maintenance screen: a bar (the page's title, who is logged in, how long until the mode
closes by itself, Back, Log out) above a stack of pages. The main window shows it after
:meth:`Maintenance.enter` succeeded and calls :meth:`MaintenanceScreen.open_login`; the screen
emits :attr:`MaintenanceScreen.closed` when the mode has closed (logout, Cancel on the login,
left untouched), after it switched every idle connector off and stopped the card test."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from kiosk.maintenance import actions
from kiosk.maintenance.mode import MaintenanceError
from kiosk.security.audit import AuditError
from kiosk.ui.maintenance.base import MntPage
from kiosk.ui.maintenance.devices import CardTestPage, ChargerTestPage
from kiosk.ui.maintenance.info import ConfigPage, ProvisioningPage
from kiosk.ui.maintenance.login import LoginPage
from kiosk.ui.maintenance.operator import RecordsPage, ServicePage, UpdatesPage
from kiosk.ui.maintenance.status import StatusPage
from kiosk.ui.maintenance.widgets import maintenance_stylesheet, mnt_button, say
from kiosk.ui.pages import Screen, make_label, set_text

if TYPE_CHECKING:
    from kiosk.maintenance.mode import Maintenance
    from kiosk.security.technicians import Technician

log = logging.getLogger(__name__)
LTR = QBoxLayout.Direction.LeftToRight
TTB = QBoxLayout.Direction.TopToBottom
TICK_MS = 1000
ROLE_NAMES = {"technician": "technician", "admin": "operator's admin"}


class MaintenanceScreen(QWidget):
    """The technician's screens for one terminal (see the package). ``ui``: the window's
    sizes and runtime; ``maintenance``: the mode (this screen never opens it, it logs in and
    closes); ``config_path``: the running config file (None: updates are not available)."""

    closed = Signal()  # the mode has closed; close_reason says why

    def __init__(self, ui: Screen, maintenance: Maintenance, *,
                 config_path: Path | None = None) -> None:
        super().__init__()
        self.setObjectName("maintenance_screen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.ui = ui
        self.maintenance = maintenance
        self.config_path = Path(config_path) if config_path is not None else None
        self.close_reason = ""
        self._active = False
        root = QVBoxLayout(self)
        self.root = root

        top = QBoxLayout(LTR)
        self.top = top
        self.title_label = make_label("", "title", "mnt_title")
        top.addWidget(self.title_label, 1)
        bar = QHBoxLayout()
        self.bar = bar
        info = QVBoxLayout()
        info.setSpacing(0)
        self.who_label = make_label("", "muted", "mnt_who")
        self.idle_label = make_label("", "muted", "mnt_idle_label")
        info.addWidget(self.who_label)
        info.addWidget(self.idle_label)
        bar.addLayout(info, 1)
        self.back_button = mnt_button("Back", "mnt_nav_status", "secondary", "bar",
                                      self._back)
        self.back_button.setAccessibleName("Back to the status")
        self.logout_button = mnt_button("Log out", "mnt_logout", "secondary", "bar",
                                        self.logout)
        self.cancel_button = mnt_button("Cancel", "mnt_cancel", "secondary", "bar",
                                        self.cancel)
        for btn in (self.back_button, self.logout_button, self.cancel_button):
            bar.addWidget(btn, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addLayout(bar)
        root.addLayout(top)

        self.stack = QStackedWidget()
        self.stack.setObjectName("mnt_pages")
        self.login_page = LoginPage(self, self._logged_in, self._finish)
        self.status_page = StatusPage(self)
        self.card_page = CardTestPage(self)
        self.pages: dict[str, MntPage] = {
            "status": self.status_page,
            "card": self.card_page,
            "charger": ChargerTestPage(self),
            "config": ConfigPage(self),
            "updates": UpdatesPage(self),
            "records": RecordsPage(self),
            "service": ServicePage(self),
            "provisioning": ProvisioningPage(self),
        }
        self.stack.addWidget(self.login_page)
        for page in self.pages.values():
            self.stack.addWidget(page)
        root.addWidget(self.stack, 1)

        self._timer = QTimer(self)
        self._timer.setObjectName("mnt_tick_timer")
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.tick)
        self.apply_metrics()
        self._show_bar()

    # --- what the main window calls ----------------------------------------------------------
    def apply_metrics(self) -> None:
        """Sizes for ``ui.metrics`` (after the window was resized, or its look changed)."""
        m = self.ui.metrics
        self.setStyleSheet(maintenance_stylesheet(m, self.ui.palette))
        h, v = (m.px(24), m.px(16)) if m.portrait else (m.px(32), m.px(14))
        self.root.setContentsMargins(h, v, h, v)
        self.root.setSpacing(m.px(12))
        self.top.setDirection(TTB if m.portrait else LTR)
        self.top.setSpacing(m.px(6) if m.portrait else m.px(20))
        self.bar.setSpacing(m.px(12))
        self.login_page.apply_metrics()
        for page in self.pages.values():
            page.apply_metrics()

    def open_login(self) -> None:
        """The mode is in its login (:meth:`Maintenance.enter` succeeded): show the names."""
        self._active = True
        self.close_reason = ""
        self.maintenance.touch()
        self.login_page.start()
        self.stack.setCurrentWidget(self.login_page)
        self._show_bar()
        self._timer.start()

    def shutdown(self) -> None:
        """The window closes: the mode closes too, the card test's thread is joined, no
        signal comes from it afterwards. Safe to call twice."""
        self._finish("shutdown")
        self._timer.stop()
        self.card_page.shutdown()

    def current_page(self) -> str:
        page = self.stack.currentWidget()
        return page.objectName() if page is not None else ""

    # --- for the pages -----------------------------------------------------------------------
    def touch(self, *_: object) -> None:
        """The technician did something: the mode's inactivity timer starts again."""
        self.maintenance.touch()

    def show_page(self, key: str) -> None:
        self.touch()
        if self.maintenance.technician is None:
            return  # not logged in (any more)
        page = self.pages[key]
        self.stack.setCurrentWidget(page)
        self._show_bar()
        page.shown()

    def attempt(self, out: QLabel, action: str, details: Mapping[str, Any],
                do: Callable[[], str], *, role: str = "technician") -> bool:
        """Audit ``action`` (:meth:`Maintenance.act`), then ``do()``; its text, or why it was
        not done (not allowed, or refused by the terminal: audited as refused too), on
        ``out``."""
        self.touch()
        try:
            self.maintenance.act(action, details, role=role)
        except (MaintenanceError, AuditError) as exc:
            say(out, f"Not done: {exc}", False)
            return False
        try:
            text = do()
        except MaintenanceError as exc:
            try:
                self.maintenance.act(f"{action} refused", {**details,
                                                           "reason": str(exc)[:300]}, role=role)
            except (MaintenanceError, AuditError):
                log.warning("%s refused (%s), and the refusal was not audited", action, exc)
            say(out, f"Not done: {exc}", False)
            return False
        except Exception as exc:  # a fault of the terminal's: shown, logged, not a crash
            log.exception("maintenance: %s failed", action)
            say(out, f"Not done: {type(exc).__name__}: {exc}", False)
            return False
        say(out, text, True)
        return True

    # --- inside ------------------------------------------------------------------------------
    def _back(self) -> None:
        self.show_page("status")

    def _logged_in(self, _tech: Technician) -> None:
        self.show_page("status")

    def logout(self) -> None:
        self._finish("logout")

    def cancel(self) -> None:
        self._finish("cancel")

    def tick(self) -> None:
        if not self._active:
            return
        if self.maintenance.check_idle():
            self._finish("idle")
            return
        if self.maintenance.state == "closed":  # closed elsewhere (a driver's session began)
            self._finish("closed")
            return
        self._show_idle()
        page = self.stack.currentWidget()
        if page is self.login_page:
            self.login_page.tick()
        elif isinstance(page, MntPage):
            page.tick()

    def _finish(self, why: str) -> None:
        if not self._active:
            return
        self._active = False
        self._timer.stop()
        self.maintenance.close(why)
        self.close_reason = why
        for page in self.pages.values():
            page.closing()
        try:
            actions.chargers_off(self.ui.runtime)
        except Exception:
            log.exception("maintenance closed: the connectors were not switched off")
        self.login_page.start()
        self.stack.setCurrentWidget(self.login_page)
        self._show_bar()
        self.closed.emit()

    def _show_bar(self) -> None:
        page = self.stack.currentWidget()
        login = page is self.login_page
        title = "Maintenance login" if login else (page.title if isinstance(page, MntPage)
                                                    else "")
        set_text(self.title_label, title)
        tech = self.maintenance.technician
        set_text(self.who_label, f"{tech.name}, {ROLE_NAMES.get(tech.role, tech.role)}"
                 if tech is not None and not login else "Technicians only")
        self.back_button.setVisible(not login and page is not self.status_page)
        self.logout_button.setVisible(not login)
        self.cancel_button.setVisible(login)
        self._show_idle()

    def _show_idle(self) -> None:
        if not self._active:
            set_text(self.idle_label, "")
            return
        left = int(self.maintenance.idle_left_s() + 0.999)
        set_text(self.idle_label, f"Closes in {left // 60}:{left % 60:02d} if untouched")
