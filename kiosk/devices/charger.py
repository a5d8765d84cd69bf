"""The charger's worker: enable and disable connectors, and turn the driver's news into
session events and the terminal's health.

* Before a connector is enabled, the connector's configured maximum current goes to the
  controller (``$SC``); the value it accepted is logged. A controller that refuses fails the
  enable: the session voids its hold.
* A disable that the controller cannot confirm (link down) still ends the charging for the
  session: ``ChargingStopped`` with the last reading, so the session settles at once instead of
  waiting for its stop timer (the controller's heartbeat supervision stops the energy by itself).
* ``LinkLost`` / ``LinkBack`` reach every connector's session at once (``ChargerLinkLost``:
  the charging screen says so) and the terminal's health (out of service while it lasts).
* :meth:`ChargerDevice.all_off` switches every connector off directly, on the caller's thread,
  without waiting for the worker or the journal: for a journal that cannot be written.
* A fault reaches the session as ``ChargerFault`` (what the driver is told follows from the
  event's type); its text is the technician's detail and is logged here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from drivers.charger.api import (
    Charger,
    ChargerError,
    ChargerEvent,
    ChargerFaulted,
    LinkBack,
    LinkLost,
    MeterReading,
    PilotState,
    StateChanged,
)
from kiosk.devices.worker import Worker
from kiosk.health import CHARGER, MSG_CHARGER, Health
from kiosk.session import events as ev

log = logging.getLogger(__name__)

CHARGING_STATES = (PilotState.C, PilotState.D)
MSG_CHARGER_FAULT = "The charger reports a fault."


class ChargerDevice:
    def __init__(self, charger: Charger, *, post: Callable[[ev.Event], None],
                 clock: Callable[[], datetime], max_current_a: dict[int, int] | None = None,
                 health: Health | None = None) -> None:
        self.charger = charger
        self.post = post
        self.clock = clock
        self.max_current_a = max_current_a or {}
        self.health = health
        self._last_state: dict[int, PilotState] = {}
        self._lock = threading.Lock()
        self.worker = Worker("kiosk-charger")
        for c in charger.connectors:
            self._last_state[c] = charger.status(c).state
        charger.subscribe(self._on_event)

    def close(self) -> None:
        self.worker.stop()

    # --- effects ---------------------------------------------------------------------------
    def enable(self, connector: int) -> None:
        self.worker.submit(lambda: self._enable(connector))

    def disable(self, connector: int) -> None:
        self.worker.submit(lambda: self._disable(connector))

    def all_off(self) -> None:
        """Every connector off now, from this thread (the worker may be busy)."""
        for c in self.charger.connectors:
            try:
                self.charger.disable(c)
            except Exception as exc:  # the journal has failed: nothing may stop us here
                log.error("emergency off of connector %s failed: %s", c, exc)

    def probe(self, connector: int) -> tuple[bool, int | None]:
        """For recovery: is the connector charging now, and what does its meter say?"""
        status = self.charger.status(connector)
        return status.state in CHARGING_STATES, status.energy_wh

    # --- on the worker ---------------------------------------------------------------------
    def _enable(self, connector: int) -> None:
        try:
            amps = self.max_current_a.get(connector)
            if amps is not None:
                accepted = self.charger.set_current(connector, amps)
                if accepted != amps:
                    log.warning("connector %s: the controller accepted %s A of %s A",
                                connector, accepted, amps)
                if not 6 <= accepted <= amps:
                    raise ChargerError(f"The charger set {accepted} A, not up to {amps} A.")
            self.charger.enable(connector)
        except ChargerError as exc:
            log.error("enabling connector %s failed: %s", connector, exc)
            self.post(ev.ChargerFault(connector, f"enable failed: {exc}", self.clock()))

    def _disable(self, connector: int) -> None:
        try:
            self.charger.disable(connector)
        except ChargerError as exc:  # a link down is already out of service (LinkLost)
            log.error("disable failed on connector %s: %s", connector, exc)
        try:
            status = self.charger.status(connector)
        except ChargerError as exc:
            log.error("no status of connector %s after the stop: %s", connector, exc)
            return  # the machine's stop timer settles on the last reading
        self.post(ev.ChargingStopped(connector, status.energy_wh, status.at))

    # --- from the driver's threads ---------------------------------------------------------
    def _on_event(self, e: ChargerEvent) -> None:
        """Translate, never block."""
        if isinstance(e, MeterReading):
            self.post(ev.Reading(e.connector, e.energy_wh, e.power_w, e.at))
        elif isinstance(e, ChargerFaulted):
            log.warning("connector %s reports a fault: %s", e.connector, e.message)
            self.post(ev.ChargerFault(e.connector, e.message, e.at))
        elif isinstance(e, LinkLost | LinkBack):
            lost = isinstance(e, LinkLost)
            if self.health is not None:
                self.health.report(CHARGER, not lost, MSG_CHARGER, "charger link lost")
            for c in self.charger.connectors:
                self.post(ev.ChargerLinkLost(c, e.at) if lost else ev.ChargerLinkBack(c, e.at))
        elif isinstance(e, StateChanged):
            with self._lock:
                before = self._last_state.get(e.connector)
                self._last_state[e.connector] = e.state
            if self.health is not None:
                self.health.report(f"{CHARGER} {e.connector}", e.state is not PilotState.FAULT,
                                   MSG_CHARGER_FAULT, f"connector {e.connector} faulted")
            if e.state is PilotState.A:  # first: the reason the charging ends
                self.post(ev.CarUnplugged(e.connector, e.at))
            if e.state in CHARGING_STATES and before not in CHARGING_STATES:
                meter = self.charger.status(e.connector).energy_wh
                self.post(ev.ChargingStarted(e.connector, meter, e.at))
            elif before in CHARGING_STATES and e.state not in CHARGING_STATES:
                meter = self.charger.status(e.connector).energy_wh
                self.post(ev.ChargingStopped(e.connector, meter, e.at))
