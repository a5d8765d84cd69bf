"""An OpenEVSE controller behind the application's :class:`~drivers.charger.api.Charger`.

One connector per controller. A poll thread asks for the state and the meter every
``poll_interval_s`` (which is also the heartbeat: a controller that stops answering is a lost
link); ``$AT`` lines update the state at once. Events go to subscribers from the driver's threads:
``StateChanged`` (IEC 61851 pilot state, faults override), ``MeterReading`` while a car is
connected, ``ChargerFaulted`` (a controller fault, a meter fault, or a link down for longer than
``link_grace_s``), ``LinkLost`` / ``LinkBack``.

After the controller restarts (``$AB``) the last commanded mode is sent again: a reboot must not
re-enable a charger the kiosk had switched off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from drivers.charger.api import (
    ChargerError,
    ChargerEvent,
    ChargerFaulted,
    ChargerStatus,
    LinkBack,
    LinkLost,
    MeterReading,
    PilotState,
    StateChanged,
)
from drivers.charger.meter import ControllerMeter, Meter, MeterFault, MeterGuard
from drivers.charger.rapi import (
    FAULT_MESSAGES,
    NORMAL_STATES,
    POST_CODES,
    Async,
    RapiError,
    Reply,
    StateReport,
    fault_message,
    hex_int,
    parse_gs,
)
from drivers.charger.transport import SerialLink

log = logging.getLogger(__name__)

PILOTS = {1: PilotState.A, 2: PilotState.B, 3: PilotState.C, 4: PilotState.D}


def pilot_state(report: StateReport) -> tuple[PilotState, str]:
    """The application's view of a controller report: (state, fault message)."""
    if report.evse_state not in NORMAL_STATES:  # every fault code, known or not
        return PilotState.FAULT, fault_message(report.evse_state)
    if report.evse_state == 0x04:
        return PilotState.D, FAULT_MESSAGES[0x04]
    pilot = PILOTS.get(report.pilot_state) or PILOTS.get(report.evse_state)
    if pilot is None:  # sleeping/disabled with no pilot reading
        return (PilotState.SLEEPING if report.evse_state == 0xFE else PilotState.DISABLED), ""
    if pilot in (PilotState.C, PilotState.D) and report.evse_state in (0xFE, 0xFF):
        pilot = PilotState.B  # switched off: the car is connected but not charging
    return pilot, ""


class OpenEvseCharger:
    def __init__(self, port: str, baud: int = 115200, *, poll_interval_s: float = 1.0,
                 command_timeout_s: float = 0.5, link_grace_s: float = 10.0,
                 max_power_w: int = 22_000, meter: Meter | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.link_grace_s = link_grace_s
        self._subscribers: list[Callable[[ChargerEvent], None]] = []
        self._lock = threading.RLock()
        self._state = PilotState.A
        self._fault = ""
        self._energy_wh = 0
        self._power_w = 0
        self._current_ma: int | None = None
        self._voltage_mv: int | None = None
        self._at = clock()
        self._mode = "FS"  # the last mode the kiosk commanded: off until a session enables it
        self._down_since: float | None = None
        self._link_fault_sent = False
        self.firmware = ""
        self.link = SerialLink(port, baud, command_timeout_s=command_timeout_s,
                               on_async=self._on_async, on_link=self._on_link)
        self.meter: Meter = meter or ControllerMeter(self.link)
        self.guard = MeterGuard(max_power_w)
        self._stop = threading.Event()
        self._wake = threading.Event()  # a $AT line: look at the state now
        self._meter_fault_reported = False
        self._poller = threading.Thread(target=self._poll_loop, name="openevse-poll",
                                        daemon=True)
        if self.link.start():
            self._probe()
        self._poller.start()

    # --- Charger ------------------------------------------------------------------------------
    @property
    def connectors(self) -> tuple[int, ...]:
        return (1,)

    def subscribe(self, callback: Callable[[ChargerEvent], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def enable(self, connector: int) -> None:
        self._mode_command(connector, "FE")

    def disable(self, connector: int) -> None:
        """Stop charging and keep the connector off (``$FS`` sleep: the controller stays
        responsive and the car sees a stopped charger)."""
        self._mode_command(connector, "FS")

    def sleep(self, connector: int) -> None:
        self._mode_command(connector, "FS")

    def set_current(self, connector: int, amps: int) -> int:
        self._check(connector)
        reply = self._command("SC", amps, "V")  # volatile: no EEPROM write per session
        if not reply.values:
            raise ChargerError("The charger did not confirm the current.")
        try:
            return int(reply.values[0])
        except ValueError:
            raise ChargerError("The charger answered an invalid current.") from None

    def set_auth_lock(self, connector: int, locked: bool) -> bool:
        """Where the firmware has it: no charging until unlocked. False when it has not."""
        self._check(connector)
        try:
            return self.link.command("S4", int(locked)).ok
        except RapiError as exc:
            raise ChargerError(str(exc)) from None

    def status(self, connector: int) -> ChargerStatus:
        self._check(connector)
        with self._lock:
            return ChargerStatus(1, self._state, self._energy_wh, self._power_w, self._at,
                                 self._fault, self._current_ma, self._voltage_mv)

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)
        self.link.close()
        self.meter.close()

    # --- commands -----------------------------------------------------------------------------
    @staticmethod
    def _check(connector: int) -> None:
        if connector != 1:
            raise ChargerError(f"no connector {connector}")

    def _command(self, cmd: str, *args: str | int) -> Reply:
        try:
            reply = self.link.command(cmd, *args)
        except RapiError as exc:
            raise ChargerError(f"The charger does not answer: {exc}") from None
        return reply

    def _mode_command(self, connector: int, mode: str) -> None:
        self._check(connector)
        self._mode = mode
        try:
            reply = self.link.command(mode)
        except RapiError as exc:
            raise ChargerError(f"The charger does not answer: {exc}") from None
        if not reply.ok:
            raise ChargerError(f"The charger refused ${mode}.")
        self._poll_state()

    # --- polling ------------------------------------------------------------------------------
    def _probe(self) -> None:
        """Firmware version, then switch the connector off (no charging without a payment),
        then the first state and meter reading."""
        try:
            gv = self.link.command("GV")
            if gv.ok and gv.values:
                self.firmware = " ".join(gv.values)
            self.link.command(self._mode)
            self._poll_state()
            self._poll_meter()
        except RapiError as exc:
            log.warning("charger probe failed: %s", exc)

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self.link.up:
                self._check_grace()
                continue
            try:
                self._poll_state()
                self._poll_meter()
            except RapiError as exc:
                log.info("charger poll failed: %s", exc)

    def _poll_state(self) -> None:
        """A state change counts only when two reads in a row agree: one frame that passed
        its checksum by chance (1 in 256 corrupted frames) must not stop a paid charge."""
        reply = self.link.command("GS")
        if not reply.ok:
            return
        first = parse_gs(reply.values)
        with self._lock:
            same = pilot_state(first) == (self._state, self._fault)
        if same:
            return
        again = self.link.command("GS")
        if again.ok and pilot_state(parse_gs(again.values)) == pilot_state(first):
            self._apply(first)

    def _poll_meter(self) -> None:
        with self._lock:
            connected = self._state in (PilotState.B, PilotState.C, PilotState.D)
        try:
            value = self.meter.read()
            at = self.clock()
            energy = self.guard.check(value.energy_wh, at)
        except MeterFault as exc:
            if not self._meter_fault_reported:  # once per episode, not every poll
                self._meter_fault_reported = True
                self._emit([ChargerFaulted(1, str(exc), self.clock())])
            return
        self._meter_fault_reported = False
        with self._lock:
            self._energy_wh = energy
            self._power_w = value.power_w or 0
            self._current_ma, self._voltage_mv = value.current_ma, value.voltage_mv
            self._at = at
        if connected:
            self._emit([MeterReading(1, energy, value.power_w or 0, at, value.current_ma,
                                     value.voltage_mv)])

    def _apply(self, report: StateReport) -> None:
        state, fault = pilot_state(report)
        events: list[ChargerEvent] = []
        with self._lock:
            if state is not self._state:
                self._state = state
                self._at = self.clock()
                events.append(StateChanged(1, state, self._at))
                if state is PilotState.FAULT:
                    events.append(ChargerFaulted(1, fault, self._at))
            self._fault = fault
        self._emit(events)

    def _on_async(self, msg: Async) -> None:
        if msg.kind == "AT":
            self._wake.set()  # a cue only: the poll reads the state (twice) and decides
        elif msg.kind == "AB":
            post = hex_int(msg.values[0], "postcode") if msg.values else 0
            log.warning("charger restarted (post code %02X)", post)
            if POST_CODES.get(post):
                self._emit([ChargerFaulted(1, POST_CODES[post], self.clock())])
            threading.Thread(target=self._restore_mode, daemon=True).start()

    def _restore_mode(self) -> None:
        try:
            self.link.command(self._mode)
        except RapiError as exc:
            log.warning("could not restore the charger mode after a restart: %s", exc)

    def _on_link(self, up: bool) -> None:
        now = self.clock()
        if up:
            self._down_since = None
            self._link_fault_sent = False
            self._emit([LinkBack(now)])
            threading.Thread(target=self._restore_mode, daemon=True).start()
        else:
            self._down_since = time.monotonic()
            self._emit([LinkLost(now)])

    def _check_grace(self) -> None:
        if self._down_since is None or self._link_fault_sent:
            return
        if time.monotonic() - self._down_since >= self.link_grace_s:
            self._link_fault_sent = True
            self._emit([ChargerFaulted(1, "The charger does not answer.", self.clock())])

    def _emit(self, events: list[ChargerEvent]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for e in events:
            for cb in subscribers:
                try:
                    cb(e)
                except Exception:
                    log.exception("charger subscriber failed")
