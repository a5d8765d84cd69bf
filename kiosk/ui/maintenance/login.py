"""The technician's login: a name from the enrolled ones, the PIN (dots only), the 6-digit code
of the authenticator app, then :meth:`Maintenance.login` with all three.

The screen says only "Not accepted." (never which factor failed); after too many failures
it counts the lockout's wait down and every key is off until it has passed (the wait is read
from :meth:`Access.wait_s` every second, so a lockout left by an earlier attempt, even before
a restart, shows at once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.maintenance.mode import MaintenanceError
from kiosk.security.technicians import PIN_DIGITS, TOTP_DIGITS, AccessError, LockedOut, NotAccepted
from kiosk.ui.maintenance.widgets import Pad, mnt_button, say, scroll_list, show_text
from kiosk.ui.pages import bind, make_label, set_text
from kiosk.ui.style import Metrics

if TYPE_CHECKING:
    from kiosk.security.technicians import Technician
    from kiosk.ui.maintenance.screen import MaintenanceScreen

LTR = QBoxLayout.Direction.LeftToRight
TTB = QBoxLayout.Direction.TopToBottom
ENROL_HINT = ("No technician is enrolled on this terminal. Enrol one from a shell on the "
              "terminal: kiosk technician add NAME --config FILE")


class _Step(QWidget):
    """A pad's step: the prompt and the display beside the pad (below it in portrait, with
    *Another name* under the pad)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(0, 0, 0, 0)
        self.row = QBoxLayout(LTR)
        self.left = QVBoxLayout()
        self.outer.addLayout(self.row, 1)
        self.outer.addStretch(0)
        self.restart: QPushButton | None = None

    def apply_metrics(self, m: Metrics) -> None:
        self.row.setDirection(TTB if m.portrait else LTR)
        self.row.setSpacing(m.px(24) if m.portrait else m.px(32))
        self.left.setSpacing(m.px(12))
        self.outer.setSpacing(m.px(24))
        if self.restart is not None:
            self.left.removeWidget(self.restart)
            self.outer.removeWidget(self.restart)
            if m.portrait:
                self.outer.insertWidget(1, self.restart)
            else:  # under the display, before the stretch: beside the pad it belongs to
                self.left.insertWidget(2, self.restart)
        # portrait: what is left over goes below, not between the display and the pad
        self.outer.setStretch(0, 0 if m.portrait else 1)
        self.outer.setStretch(self.outer.count() - 1, 1 if m.portrait else 0)


class LoginPage(QWidget):
    """``mnt_login_page``: names (``mnt_tech_<name>``), PIN pad (``mnt_pin_*``), code pad
    (``mnt_code_*``); ``mnt_login_message`` says what went wrong."""

    def __init__(self, screen: MaintenanceScreen, on_login: Callable[[Technician], None],
                 on_closed: Callable[[str], None]) -> None:
        super().__init__()
        self.setObjectName("mnt_login_page")
        self.owner = screen
        self.on_login = on_login
        self.on_closed = on_closed
        self._name = ""
        self._pin = ""
        self._locked = False
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.box = box
        self.message = make_label("", "mnt_note", "mnt_login_message", wrap=True)
        self.message.hide()
        box.addWidget(self.message)
        self.steps = QStackedWidget()
        self.steps.setObjectName("mnt_login_steps")
        box.addWidget(self.steps, 1)

        # 1: who
        names = QWidget()
        names.setObjectName("mnt_login_names")
        names_box = QVBoxLayout(names)
        names_box.setContentsMargins(0, 0, 0, 0)
        self.names_box = names_box
        self.names_lead = make_label("Who are you? Tap your name.", "lead", "mnt_login_lead",
                                     wrap=True)
        names_box.addWidget(self.names_lead)
        self.none_label = make_label("", "body", "mnt_login_none", wrap=True)
        show_text(self.none_label, ENROL_HINT)
        self.none_label.hide()
        names_box.addWidget(self.none_label)
        self.name_grid_widget = QWidget()
        self.name_grid = QGridLayout(self.name_grid_widget)
        self.name_grid.setContentsMargins(0, 0, 0, 0)
        self.names_scroll = scroll_list("mnt_login_names_list", self.name_grid_widget)
        self.names_scroll.verticalScrollBar().valueChanged.connect(screen.touch)
        names_box.addWidget(self.names_scroll, 1)
        self.name_buttons: dict[str, QPushButton] = {}
        self.steps.addWidget(names)

        # 2: PIN, 3: code
        low, high = PIN_DIGITS
        self.pin_pad = Pad("mnt_pin", hidden=True, low=low, high=high, on_ok=self._pin_ok,
                           touch=screen.touch)
        self.code_pad = Pad("mnt_code", hidden=False, low=TOTP_DIGITS, high=TOTP_DIGITS,
                            on_ok=self._code_ok, touch=screen.touch)
        self.pin_lead = make_label("", "lead", "mnt_pin_lead", wrap=True)
        self.code_lead = make_label("", "lead", "mnt_code_lead", wrap=True)
        self.pin_step = self._step("mnt_login_pin", self.pin_lead, self.pin_pad,
                                   "mnt_pin_restart")
        self.code_step = self._step("mnt_login_code", self.code_lead, self.code_pad,
                                    "mnt_code_restart")
        self.steps.addWidget(self.pin_step)
        self.steps.addWidget(self.code_step)

    def _step(self, name: str, lead: QLabel, pad: Pad, restart: str) -> _Step:
        step = _Step(name)
        step.row.setContentsMargins(0, 0, 0, 0)
        step.left.addWidget(lead)
        step.left.addWidget(pad.display)
        step.left.addStretch(1)
        step.restart = mnt_button("Another name", restart, "secondary", "act", self.restart)
        step.row.addLayout(step.left, 1)
        step.row.addWidget(pad, 0, Qt.AlignmentFlag.AlignTop)
        return step

    # --- sizes -----------------------------------------------------------------------------
    def apply_metrics(self) -> None:
        m = self.owner.ui.metrics
        self.box.setSpacing(m.px(12))
        self.names_box.setSpacing(m.px(12))
        self.name_grid.setSpacing(m.px(12))
        self.name_grid.setContentsMargins(0, 0, m.px(24), 0)  # clear of the scroll bar
        for step, pad in ((self.pin_step, self.pin_pad), (self.code_step, self.code_pad)):
            step.apply_metrics(m)
            pad.apply_metrics(m)
        self._lay_out_names()

    def _lay_out_names(self) -> None:
        m = self.owner.ui.metrics
        columns = 2 if m.portrait else 3
        for i, btn in enumerate(self.name_buttons.values()):
            self.name_grid.removeWidget(btn)
            self.name_grid.addWidget(btn, i // columns, i % columns)
            btn.show()  # added to a shown widget: not shown by itself until later
        for col in range(3):
            self.name_grid.setColumnStretch(col, 1 if col < columns else 0)
        self.name_grid.setRowStretch(len(self.name_buttons) // columns + 1, 1)

    # --- the steps -------------------------------------------------------------------------
    def start(self) -> None:
        """The login as the gesture opens it: the names, nothing typed."""
        self._name = self._pin = ""
        self.pin_pad.clear()
        self.code_pad.clear()
        say(self.message, "", None)
        self._fill_names()
        self.steps.setCurrentIndex(0)
        self._locked = False
        self.tick()

    def _fill_names(self) -> None:
        try:
            names = self.owner.maintenance.technicians()
        except AccessError as exc:
            names = []
            say(self.message, f"The technician file cannot be read: {exc}", False)
        for name, btn in list(self.name_buttons.items()):
            if name not in names:
                self.name_grid.removeWidget(btn)
                btn.hide()  # deleted when the event loop runs: off screen and nameless now
                btn.setObjectName("")
                btn.deleteLater()
        self.name_buttons = {name: self.name_buttons.get(name) or mnt_button(
            name, f"mnt_tech_{name}", "secondary", "act", bind(self._chose, name))
            for name in names}
        self.none_label.setVisible(not names)
        self.names_lead.setVisible(bool(names))
        self.names_scroll.setVisible(bool(names))
        self._lay_out_names()

    def restart(self) -> None:
        self.owner.touch()
        self._pin = ""
        self.pin_pad.clear()
        self.code_pad.clear()
        if not self._locked:
            say(self.message, "", None)
        self.steps.setCurrentIndex(0)

    def _chose(self, name: str) -> None:
        self.owner.touch()
        self._name = name
        set_text(self.pin_lead, f"{name}: enter your PIN.")
        self.pin_pad.clear()
        if not self._locked:
            say(self.message, "", None)
        self.steps.setCurrentWidget(self.pin_step)

    def _pin_ok(self, pin: str) -> None:
        self._pin = pin
        set_text(self.code_lead, f"{self._name}: enter the {TOTP_DIGITS}-digit code your "
                                 f"authenticator app shows now.")
        self.code_pad.clear()
        self.steps.setCurrentWidget(self.code_step)

    def _code_ok(self, code: str) -> None:
        name, pin, self._pin = self._name, self._pin, ""
        try:
            tech = self.owner.maintenance.login(name, pin, code)
        except LockedOut:
            self._back_to_pin()
            self.tick()
            return
        except NotAccepted:
            self._back_to_pin()
            say(self.message, "Not accepted.", False)
            return
        except MaintenanceError as exc:  # a driver's session began meanwhile: the mode closed
            say(self.message, str(exc), False)
            self.on_closed("driver")
            return
        except AccessError as exc:
            self._back_to_pin()
            say(self.message, f"The login cannot be checked: {exc}", False)
            return
        self.on_login(tech)

    def _back_to_pin(self) -> None:
        self.pin_pad.clear()
        self.code_pad.clear()
        self.steps.setCurrentWidget(self.pin_step)

    def tick(self) -> None:
        """Every second while shown: the lockout's countdown, or the keys on again."""
        try:
            wait = self.owner.maintenance.access.wait_s()
        except AccessError:
            wait = 0.0
        locked = wait > 0
        if locked:
            say(self.message, f"Too many wrong attempts. Try again in {int(wait + 0.999)} s.",
                False)
        elif self._locked:
            say(self.message, "You can try again now.", None)
        if locked != self._locked:
            self._locked = locked
            self.pin_pad.set_locked(locked)
            self.code_pad.set_locked(locked)
            for btn in self.name_buttons.values():
                btn.setEnabled(not locked)
