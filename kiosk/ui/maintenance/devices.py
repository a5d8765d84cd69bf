"""The device tests: ``mnt_card_page`` (identify a presented card, masked) and
``mnt_charger_page`` (enable, disable and set the current of each connector, with its live
status). Both are refused while a driver's session runs (the message says so), and every
action goes to the audit log first (:meth:`Maintenance.act`).

The card test blocks on the reader, so it runs on a thread of its own (``kiosk-mnt-card-test``)
and its result comes back to the GUI thread through a queued signal; Cancel sets its event
and wakes the reader; the mode closing cancels it and joins the thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QSizePolicy,
    QSpacerItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.maintenance import actions
from kiosk.maintenance.actions import CardTest
from kiosk.maintenance.mode import MaintenanceError
from kiosk.security.audit import AuditError
from kiosk.ui.maintenance.base import MntPage
from kiosk.ui.maintenance.widgets import mnt_button, say, scroll_list, show_text
from kiosk.ui.pages import bind, make_card, make_label, set_text

if TYPE_CHECKING:
    from drivers.charger.api import ChargerStatus
    from kiosk.config import ConnectorConfig
    from kiosk.ui.maintenance.screen import MaintenanceScreen

log = logging.getLogger(__name__)
LTR = QBoxLayout.Direction.LeftToRight
TTB = QBoxLayout.Direction.TopToBottom
CARD_JOIN_S = 10.0
MIN_CURRENT_A = 6
PILOT = {"A": "no car", "B": "car connected, not charging", "C": "charging",
         "D": "charging, ventilation", "E": "pilot error", "F": "not available",
         "FAULT": "fault", "SLEEPING": "sleeping", "DISABLED": "disabled"}


class CardTestPage(MntPage):
    title = "Card reader test"
    _done = Signal(int, object)  # (run, CardTest) from the test's thread, queued

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_card_page")
        self._lock = threading.Lock()
        self._gone = False
        self._run = 0
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._done.connect(self._finished, Qt.ConnectionType.QueuedConnection)
        self.lead = make_label("", "body", "mnt_card_lead", wrap=True)
        show_text(self.lead, "Tests the card reader: tap Start, then present a card. It is "
                             "read as kiosk card-info reads it: no payment, no PIN, and its "
                             "number is shown masked.")
        self.box.addWidget(self.lead)
        buttons = QHBoxLayout()
        self.buttons = buttons
        self.start_button = mnt_button("Start the card test", "mnt_card_start", "primary",
                                       "act", self.start)
        self.cancel_button = mnt_button("Cancel the test", "mnt_card_cancel", "secondary", "act",
                                        self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.box.addLayout(buttons)
        self.result = make_label("", "mnt_note", "mnt_card_result", wrap=True)
        self.result.hide()
        self.box.addWidget(self.result)
        self.box.addStretch(1)
        self._buttons()

    def apply_metrics(self) -> None:
        super().apply_metrics()
        self.buttons.setSpacing(self.m.px(16))

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _buttons(self) -> None:
        self.start_button.setEnabled(not self.running)
        self.cancel_button.setEnabled(self.running)

    def start(self) -> None:
        self.owner.touch()
        if self.running:
            return
        try:
            self.mnt.act("card test")
        except (MaintenanceError, AuditError) as exc:
            say(self.result, f"Not done: {exc}", False)
            return
        self._run += 1
        self._cancel = threading.Event()
        run, cancel = self._run, self._cancel
        self._thread = threading.Thread(target=self._test, args=(run, cancel),
                                        name="kiosk-mnt-card-test", daemon=True)
        say(self.result, "Present a card\u2026", None)
        self._thread.start()
        self._buttons()

    def _test(self, run: int, cancel: threading.Event) -> None:
        """The test's thread: blocks until a card, the timeout or the cancel."""
        try:
            result = actions.card_test(self.rt, cancel)
        except MaintenanceError as exc:
            result = CardTest(False, problem=str(exc))
        except Exception as exc:  # the reader failed in a way the test does not know
            log.exception("card test failed")
            result = CardTest(False, problem=f"{type(exc).__name__}: {exc}")
        with self._lock:
            if not self._gone:
                with contextlib.suppress(RuntimeError):  # the page is being destroyed
                    self._done.emit(run, result)

    @Slot(int, object)
    def _finished(self, run: int, result: CardTest) -> None:
        if run != self._run:
            return  # a test cancelled by the mode closing: nothing to show
        self._join()
        if result.ok:
            say(self.result, "\n".join([
                "Done: card read.", f"Scheme: {result.scheme}",
                f"Interface: {result.interface}", f"Number: {result.masked_pan}",
                *result.lines()]), True)
        else:
            say(self.result, f"Not read: {result.problem}", False)
        self._buttons()

    def cancel(self) -> None:
        self.owner.touch()
        self._stop()

    def _stop(self) -> None:
        self._cancel.set()
        with contextlib.suppress(Exception):  # wake a waiting identification at once
            self.rt.card_terminal.cancel()

    def _join(self, timeout_s: float = CARD_JOIN_S) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("the card test's thread did not end within %.0f s", timeout_s)

    def closing(self) -> None:
        if self.running:
            self._run += 1  # its result is not shown
            self._stop()
            self._join()
        say(self.result, "", None)
        self._buttons()

    def shutdown(self) -> None:
        """The screen goes away: no signal from the thread after this."""
        self.closing()
        with self._lock:
            self._gone = True


class _Connector:
    """One connector's controls and status (``mnt_charger_*_<id>``, ``mnt_current_*_<id>``)."""

    def __init__(self, page: ChargerTestPage, c: ConnectorConfig) -> None:
        self.id = c.id
        self.label = str(c.label)
        self.max_a = c.max_current_a
        self.amps = min(16, c.max_current_a)
        box = QVBoxLayout()
        self.box = box
        head = QBoxLayout(LTR)  # the status beside the name; under it in a narrow card
        self.head = head
        self.name = make_label(f"Connector {c.label}", "mnt_big", f"mnt_charger_name_{c.id}")
        head.addWidget(self.name, 0, Qt.AlignmentFlag.AlignTop)
        self.status = make_label("", "mnt_value", f"mnt_charger_status_{c.id}", wrap=True)
        head.addWidget(self.status, 1)
        box.addLayout(head)
        controls = QBoxLayout(LTR)
        self.controls = controls
        switch = QHBoxLayout()
        self.switch = switch
        self.enable = mnt_button("Enable", f"mnt_charger_enable_{c.id}", "secondary", "act",
                                 bind(page.enable, c.id))
        self.disable = mnt_button("Disable", f"mnt_charger_disable_{c.id}", "secondary", "act",
                                  bind(page.disable, c.id))
        switch.addWidget(self.enable)
        switch.addWidget(self.disable)
        controls.addLayout(switch)
        controls.setAlignment(switch, Qt.AlignmentFlag.AlignLeft)
        current = QHBoxLayout()
        self.current = current
        self.down = mnt_button("\u2212", f"mnt_current_down_{c.id}", "secondary", "step",
                               bind(page.step, (c.id, -1)))
        self.down.setAccessibleName(f"Connector {c.label}: less current")
        self.value = make_label("", "mnt_big", f"mnt_current_{c.id}",
                                align=Qt.AlignmentFlag.AlignCenter)
        self.up = mnt_button("+", f"mnt_current_up_{c.id}", "secondary", "step",
                             bind(page.step, (c.id, 1)))
        self.up.setAccessibleName(f"Connector {c.label}: more current")
        self.set = mnt_button("Set current", f"mnt_current_set_{c.id}", "secondary", "act",
                              bind(page.set_current, c.id))
        for w in (self.down, self.value, self.up, self.set):
            current.addWidget(w)
        controls.addLayout(current)
        controls.setAlignment(current, Qt.AlignmentFlag.AlignLeft)
        # the rest of a landscape row; nothing in portrait (the groups one above the other)
        controls.addItem(QSpacerItem(0, 0, QSizePolicy.Policy.Expanding,
                                     QSizePolicy.Policy.Minimum))
        box.addLayout(controls)
        self.card = make_card(box, f"mnt_charger_card_{c.id}")
        self.show_amps()

    def show_amps(self) -> None:
        set_text(self.value, f"{self.amps} A", f"{self.amps} amperes")
        self.down.setEnabled(self.amps > MIN_CURRENT_A)
        self.up.setEnabled(self.amps < self.max_a)

    def show_status(self, st: ChargerStatus | None, problem: str = "") -> None:
        if st is None:
            show_text(self.status, f"no status: {problem}")
            return
        state = str(st.state.value)
        text = (f"State {state} ({PILOT.get(state, 'unknown')}), meter {st.energy_wh:,} Wh, "
                f"{st.power_w:,} W" + (f", fault: {st.fault}" if st.fault else ""))
        show_text(self.status, text)


class ChargerTestPage(MntPage):
    title = "Charger test"

    def __init__(self, screen: MaintenanceScreen) -> None:
        super().__init__(screen, "mnt_charger_page")
        self.lead = make_label("", "body", "mnt_charger_lead", wrap=True)
        show_text(self.lead, "Each connector is off while maintenance is open; what you "
                             "enable here is switched off again when you log out.")
        self.box.addWidget(self.lead)
        self.message = make_label("", "mnt_note", "mnt_charger_message", wrap=True)
        self.message.hide()
        self.box.addWidget(self.message)
        inner = QWidget()
        inner.setObjectName("mnt_charger_connectors")
        # one card per connector: one column, two on a large landscape screen with more than
        # two connectors (apply_metrics lays them out), so four fit without scrolling
        self.list_box = QGridLayout(inner)
        self.connectors: dict[int, _Connector] = {}
        for c in self.rt.config.connectors:
            self.connectors[c.id] = _Connector(self, c)
        self.columns = 0
        self.list = scroll_list("mnt_charger_list", inner)
        self.list.verticalScrollBar().valueChanged.connect(screen.touch)
        self.box.addWidget(self.list, 1)

    def apply_metrics(self) -> None:
        super().apply_metrics()
        m = self.m
        self.list_box.setContentsMargins(0, 0, m.px(24) if len(self.connectors) > 1 else 0, 0)
        self.list_box.setSpacing(m.px(12))
        columns = 2 if not m.portrait and not m.compact and len(self.connectors) > 2 else 1
        if columns != self.columns:
            self._lay_out(columns)
        for row in self.connectors.values():
            v = m.px(8 if m.compact else 14)
            row.box.setContentsMargins(m.px(20), v, m.px(20), v)
            row.box.setSpacing(m.px(8))
            row.head.setDirection(TTB if columns > 1 else LTR)
            row.head.setSpacing(m.px(4) if columns > 1 else m.px(20))
            row.controls.setDirection(TTB if m.portrait or columns > 1 else LTR)
            row.controls.setSpacing(m.px(12) if m.portrait or columns > 1 else m.px(40))
            row.switch.setSpacing(m.px(12))
            row.current.setSpacing(m.px(12))
            row.value.setMinimumWidth(m.px(90))

    def _lay_out(self, columns: int) -> None:
        grid = self.list_box
        for row in self.connectors.values():
            grid.removeWidget(row.card)
        for r in range(grid.rowCount()):
            grid.setRowStretch(r, 0)
        for n, row in enumerate(self.connectors.values()):
            grid.addWidget(row.card, n // columns, n % columns, Qt.AlignmentFlag.AlignTop)
        for c in range(2):
            grid.setColumnStretch(c, 1 if c < columns else 0)
        grid.setRowStretch((len(self.connectors) + columns - 1) // columns, 1)  # the rest
        self.columns = columns

    def shown(self) -> None:
        self.tick()

    def tick(self) -> None:
        for cid, row in self.connectors.items():
            try:
                row.show_status(actions.charger_status(self.rt, cid))
            except Exception as exc:  # a controller that cannot say: the row says why
                row.show_status(None, f"{type(exc).__name__}: {exc}")

    def _do(self, action: str, cid: int, details: dict[str, int], do: Callable[[], str]) -> None:
        self.owner.attempt(self.message, action, {"connector": cid, **details}, do)
        self.tick()

    def enable(self, cid: int) -> None:
        def do() -> str:
            actions.charger_enable(self.rt, cid)
            return f"Done: connector {self.connectors[cid].label} enabled."
        self._do("charger enable", cid, {}, do)

    def disable(self, cid: int) -> None:
        def do() -> str:
            actions.charger_disable(self.rt, cid)
            return f"Done: connector {self.connectors[cid].label} disabled."
        self._do("charger disable", cid, {}, do)

    def step(self, arg: tuple[int, int]) -> None:
        self.owner.touch()
        cid, delta = arg
        row = self.connectors[cid]
        row.amps = max(MIN_CURRENT_A, min(row.max_a, row.amps + delta))
        row.show_amps()

    def set_current(self, cid: int) -> None:
        amps = self.connectors[cid].amps

        def do() -> str:
            got = actions.charger_set_current(self.rt, cid, amps)
            return f"Done: connector {self.connectors[cid].label} offers {got} A."
        self._do("charger current", cid, {"amps": amps}, do)

    def closing(self) -> None:
        say(self.message, "", None)
        for row in self.connectors.values():
            row.amps = min(16, row.max_a)
            row.show_amps()

