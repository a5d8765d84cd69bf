"""An OpenEVSE controller behind the application's :class:`~drivers.charger.api.Charger`.

One connector per controller. A poll thread pulses the heartbeat, asks for the state and reads
the meter every ``poll_interval_s``; ``$AT`` lines make it look at once. Events go to
subscribers from the driver's threads (the poll thread, the serial reader thread, or the caller
of :meth:`OpenEvseCharger.disable`):

* ``StateChanged``: the controller's own EVSE state (03/04 is charging; the pilot only says
  whether a car is there while the controller sleeps), faults override;
* ``MeterReading`` while a car is connected, and the first reading after it left; at a state
  change the meter is read *before* the ``StateChanged`` goes out, so the reading that ends a
  charge is never the previous poll's;
* ``ChargerFaulted``: a controller fault; a meter fault (backwards, a jump, a counter that
  stands still while the charger reports power: once per episode); no valid meter reading for
  ``reading_timeout_s`` while charging; a controller that has not answered for
  ``link_grace_s`` (port gone or controller hung: once per episode);
* ``LinkLost`` as soon as the port fails or a command goes unanswered after its retries,
  ``LinkBack`` when the controller answers again.

Fail-safes on the controller's side: :meth:`OpenEvseCharger.enable` arms the firmware's
heartbeat supervision (``$SY heartbeat_interval_s heartbeat_current_a``) before ``$FE``; the
poll pulses it (``$SY``). When the kiosk dies or the serial line breaks, the controller lowers
the offered current by itself after ``heartbeat_interval_s``: to ``heartbeat_current_a``, but
OpenEVSE firmware never goes below 6 A (its ``SetCurrentCapacity`` clamps), so supervision
limits a charge, it does not end it. After the link comes back or the controller restarts
(``$AB``) the driver restores, in this order, supervision (acknowledging a missed pulse), the
last current set with :meth:`set_current`, and the last commanded mode: a reboot never
re-enables a charger the kiosk had switched off.
"""

from __future__ import annotations

import contextlib
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
from drivers.charger.meter import ControllerMeter, Meter, MeterFault, MeterGuard, MeterValue
from drivers.charger.rapi import (
    FAULT_MESSAGES,
    HS_ACK_COOKIE,
    MAX_CURRENT_A,
    MIN_CURRENT_A,
    NORMAL_STATES,
    POST_CODES,
    Async,
    RapiError,
    RapiFrameError,
    Reply,
    StateReport,
    fault_message,
    hex_int,
    parse_amps,
    parse_gs,
    parse_sy,
)
from drivers.charger.transport import SerialLink

log = logging.getLogger(__name__)

EVSE_STATES = {0x01: PilotState.A, 0x02: PilotState.B, 0x03: PilotState.C}
CHARGING = (PilotState.C, PilotState.D)
CONNECTED = (PilotState.B, PilotState.C, PilotState.D)
NOMINAL_VOLTAGE_V = 230  # for a controller that measures current but not voltage

LINK_FAULT = "The charger does not answer."
READING_FAULT = "The charger stopped reporting the meter."
SUPERVISION_FAULT = "The charger refused heartbeat supervision."


def pilot_state(report: StateReport) -> tuple[PilotState, str]:
    """The application's view of a controller report: (state, fault message).

    Charging is what the controller says it does (EVSE state 03, or 04 which this kiosk treats
    as a fault-like state): a car that asks for current (pilot C) while the controller holds it
    in B (auth lock, no PWM) is not charging. Only while the controller sleeps or is disabled
    does the pilot say anything: whether a car is connected."""
    evse = report.evse_state
    if evse not in NORMAL_STATES:  # every fault code, known or not
        return PilotState.FAULT, fault_message(evse)
    if evse == 0x04:
        return PilotState.D, FAULT_MESSAGES[0x04]
    if evse in EVSE_STATES:
        return EVSE_STATES[evse], ""
    if report.pilot_state == 0x01:
        return PilotState.A, ""
    if report.pilot_state in (0x02, 0x03, 0x04):
        return PilotState.B, ""  # switched off: the car is connected but not charging
    return (PilotState.SLEEPING if evse == 0xFE else PilotState.DISABLED), ""


def _power_w(value: MeterValue) -> int | None:
    if value.power_w is not None:
        return value.power_w
    if value.current_ma is not None:
        return value.current_ma * NOMINAL_VOLTAGE_V // 1000
    return None


class OpenEvseCharger:
    def __init__(self, port: str, baud: int = 115200, *, poll_interval_s: float = 1.0,
                 command_timeout_s: float = 0.5, link_grace_s: float = 10.0,
                 reading_timeout_s: float = 10.0, max_power_w: int = 22_000,
                 meter_stuck_wh: int = 20, heartbeat_interval_s: int = 10,
                 heartbeat_current_a: int = 0, meter: Meter | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if poll_interval_s <= 0 or link_grace_s <= 0:
            raise ValueError("poll_interval_s and link_grace_s must be positive")
        if reading_timeout_s < 2 * poll_interval_s:
            raise ValueError(f"reading_timeout_s ({reading_timeout_s}) must be at least two "
                             f"polls ({2 * poll_interval_s} s)")
        if isinstance(heartbeat_interval_s, bool) or not isinstance(heartbeat_interval_s, int) \
                or not 0 <= heartbeat_interval_s <= 0xFFFF:
            raise ValueError("heartbeat_interval_s must be whole seconds, 0..65535 (0: none)")
        if heartbeat_interval_s and heartbeat_interval_s < 3 * poll_interval_s:
            raise ValueError(f"heartbeat_interval_s ({heartbeat_interval_s}) must be at least "
                             f"three polls ({3 * poll_interval_s} s): every poll is a pulse")
        if isinstance(heartbeat_current_a, bool) or not isinstance(heartbeat_current_a, int) \
                or not 0 <= heartbeat_current_a <= MAX_CURRENT_A:
            raise ValueError(f"heartbeat_current_a must be 0..{MAX_CURRENT_A} A")
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.link_grace_s = link_grace_s
        self.reading_timeout_s = reading_timeout_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_current_a = heartbeat_current_a
        self._subscribers: list[Callable[[ChargerEvent], None]] = []
        self._lock = threading.RLock()  # the fields below
        self._state_lock = threading.RLock()  # one state read-compare-apply at a time
        self._meter_lock = threading.RLock()  # one meter read-check-apply at a time
        self._mode_lock = threading.RLock()  # a mode change and its command go together
        self._state = PilotState.A
        self._fault = ""
        self._energy_wh = 0
        self._power_w = 0
        self._current_ma: int | None = None
        self._voltage_mv: int | None = None
        self._at = clock()
        self._mode = "FS"  # the last mode the kiosk commanded: off until a session enables it
        self._current_a: int | None = None  # the last current the controller accepted
        self._hs_armed = False
        self._down_since: float | None = time.monotonic()  # not up until it answers
        self._link_fault_sent = False
        self._last_reading = time.monotonic()
        self._charging_since = time.monotonic()
        self._reading_fault_sent = False
        self._meter_fault_reported = False
        self._last_emitted_wh: int | None = None
        self.firmware = ""
        self._stop = threading.Event()
        self._wake = threading.Event()  # look now: a $AT line, a link change, a restart
        self._restore_needed = threading.Event()
        self.link = SerialLink(port, baud, command_timeout_s=command_timeout_s,
                               on_async=self._on_async, on_link=self._on_link)
        self.meter: Meter = meter or ControllerMeter(self.link)
        self.guard = MeterGuard(max_power_w, stuck_wh=meter_stuck_wh)
        self._poller = threading.Thread(target=self._poll_loop, name="openevse-poll",
                                        daemon=True)
        if self.link.start() and self._restore_needed.is_set():
            self._restore_needed.clear()
            self._restore()  # firmware, the connector off, the first state and reading
        self._poller.start()

    # --- Charger ------------------------------------------------------------------------------
    @property
    def connectors(self) -> tuple[int, ...]:
        return (1,)

    def subscribe(self, callback: Callable[[ChargerEvent], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def enable(self, connector: int) -> None:
        """Arm the heartbeat supervision, then allow charging (``$FE``)."""
        self._check(connector)
        try:
            if self.heartbeat_interval_s:
                self._arm()
            with self._mode_lock:
                with self._lock:
                    self._mode = "FE"
                reply = self.link.command("FE")
        except RapiError as exc:
            raise ChargerError(f"The charger does not answer: {exc}") from None
        if not reply.ok:
            raise ChargerError("The charger refused $FE.")
        try:
            self._poll_state()
        except RapiError as exc:  # enabled; the poll will see the state
            log.info("no state after enabling: %s", exc)

    def disable(self, connector: int) -> None:
        """Stop charging and keep the connector off (``$FS`` sleep: the controller stays
        responsive and the car sees a stopped charger). Once the controller confirmed, the
        meter is read again: :meth:`status` then holds the energy at the stop, and that
        reading goes out as a ``MeterReading`` (before the ``StateChanged``)."""
        self._check(connector)
        with self._mode_lock:
            with self._lock:
                self._mode = "FS"
            reply = self._command("FS")
        if not reply.ok:
            raise ChargerError("The charger refused $FS.")
        try:
            if not self._poll_state():  # a state change reads the meter itself
                self._poll_meter()
        except RapiError as exc:  # the charger is off; only the last reading is older
            log.warning("no meter reading after the stop: %s", exc)

    def sleep(self, connector: int) -> None:
        self.disable(connector)

    def set_current(self, connector: int, amps: int) -> int:
        """Offer ``amps`` (``$SC amps V``: volatile, no EEPROM write); returns what the
        controller accepted (it clamps to its own limits and says ``$NK`` with the value).
        An answer above ``amps``, or one that is not a current, is a :class:`ChargerError`.
        The accepted value is sent again after a restart or a missed heartbeat."""
        self._check(connector)
        if isinstance(amps, bool) or not isinstance(amps, int) or not MIN_CURRENT_A <= amps <= 255:
            # below 6 A the controller would offer 6 A: more than asked; above 255 its
            # one-byte field wraps
            raise ChargerError(f"{amps!r} A cannot be asked of a charger "
                               f"({MIN_CURRENT_A}..255 A; it clamps to its own limits).")
        try:
            accepted = self._send_current(amps)
        except RapiError as exc:
            raise ChargerError(f"The charger does not answer: {exc}") from None
        with self._lock:
            self._current_a = accepted
        return accepted

    def set_auth_lock(self, connector: int, locked: bool) -> bool:
        """Where the firmware has it: no charging until unlocked. False when it has not."""
        self._check(connector)
        try:
            return self.link.command("S4", int(locked)).ok
        except RapiError as exc:
            raise ChargerError(str(exc)) from None

    def status(self, connector: int) -> ChargerStatus:
        self._check(connector)
        with self._lock:  # a link fault stays visible here (it may precede a subscriber)
            fault = self._fault or (LINK_FAULT if self._link_fault_sent else "")
            return ChargerStatus(1, self._state, self._energy_wh, self._power_w, self._at,
                                 fault, self._current_ma, self._voltage_mv)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._poller.is_alive():
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
            return self.link.command(cmd, *args)
        except RapiError as exc:
            raise ChargerError(f"The charger does not answer: {exc}") from None

    def _send_current(self, amps: int) -> int:
        reply = self.link.command("SC", amps, "V")
        if not reply.values:
            raise ChargerError("The charger did not confirm the current.")
        try:
            accepted = parse_amps(reply.values)
        except RapiFrameError:
            raise ChargerError("The charger answered an invalid current.") from None
        if accepted > amps:
            raise ChargerError(f"The charger offers {accepted} A, more than the {amps} A "
                               "asked.")
        return accepted

    def _arm(self) -> None:
        """Acknowledge a missed pulse (the firmware then goes back to its configured current),
        arm the supervision, and offer the kiosk's current again. Raises
        :class:`ChargerError` when the controller refuses supervision."""
        self.link.command("SY", HS_ACK_COOKIE)  # $OK when nothing was missed
        reply = self.link.command("SY", self.heartbeat_interval_s, self.heartbeat_current_a)
        try:
            hb = parse_sy(reply.values)
        except RapiFrameError:
            raise ChargerError(SUPERVISION_FAULT) from None
        if not reply.ok or hb.interval_s != self.heartbeat_interval_s:
            raise ChargerError(SUPERVISION_FAULT)
        with self._lock:
            self._hs_armed = True
            amps = self._current_a
        if amps is not None:
            self._send_current(amps)

    def _pulse(self) -> None:
        with self._lock:
            armed = self._hs_armed
        if not armed:
            return
        reply = self.link.command("SY")
        if reply.ok:
            return
        log.warning("the charger missed the kiosk's heartbeat and lowered its current "
                    "(answer %s): supervision armed again", " ".join(reply.values))
        self._arm()

    def _send_mode(self, *, enabled: bool) -> None:
        """Send the mode the kiosk commanded last if it is on (``enabled``) or off (not):
        read and sent under the mode lock, so a stale mode never follows a newer one."""
        with self._mode_lock:
            with self._lock:
                mode = self._mode
            if (mode == "FE") == enabled:
                self.link.command(mode)

    def _restore(self) -> None:
        """After the link came (back) up or the controller restarted: what the kiosk last
        commanded. Off goes first; on goes last, after supervision and the current."""
        try:
            self._send_mode(enabled=False)
            gv = self.link.command("GV")
            if gv.ok and gv.values:
                self.firmware = " ".join(gv.values)
            with self._lock:
                armed, mode, amps = self._hs_armed, self._mode, self._current_a
            if self.heartbeat_interval_s and (armed or mode == "FE"):
                self._arm()  # with the current
            elif amps is not None:
                self._send_current(amps)
            self._send_mode(enabled=True)
            self._poll_state()
            self._poll_meter()
        except ChargerError as exc:
            self._supervision_failed(exc)
        except RapiError as exc:
            log.warning("could not restore the charger after a restart or link loss: %s", exc)

    def _supervision_failed(self, exc: ChargerError) -> None:
        """The controller no longer takes supervision (or the kiosk's current): charging is
        not safe any more; switch it off and say so."""
        log.error("charger: %s; switching it off", exc)
        with self._mode_lock:
            with self._lock:
                self._mode = "FS"
            with contextlib.suppress(RapiError):
                self.link.command("FS")
        self._emit([ChargerFaulted(1, str(exc), self.clock())])

    # --- polling ------------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self.link.up:
                self._check_grace()
                continue
            if self._restore_needed.is_set():
                self._restore_needed.clear()
                self._restore()
                continue
            try:
                self._pulse()
                self._poll_state()
                self._poll_meter()
            except ChargerError as exc:  # from re-arming after a missed pulse
                self._supervision_failed(exc)
            except RapiError as exc:
                log.info("charger poll failed: %s", exc)
            self._check_readings()

    def _next_wait(self) -> float:
        """The poll interval, or less when a deadline (link grace, reading watchdog) is
        nearer: a fault comes when it is due, not at the next poll."""
        wait = self.poll_interval_s
        now = time.monotonic()
        with self._lock:
            if self._down_since is not None and not self._link_fault_sent:
                wait = min(wait, self._down_since + self.link_grace_s - now)
            if self._state in CHARGING and not self._reading_fault_sent:
                since = max(self._last_reading, self._charging_since)
                wait = min(wait, since + self.reading_timeout_s - now)
        return max(0.0, wait)

    def _poll_state(self) -> bool:
        """A state change counts only when two reads in a row agree: one frame that passed
        its checksum by chance (1 in 256 corrupted frames) must not stop a paid charge. The
        meter is read before a change is applied. True when a change was applied."""
        with self._state_lock:
            reply = self.link.command("GS")
            if not reply.ok:
                return False
            first = parse_gs(reply.values)
            with self._lock:
                same = pilot_state(first) == (self._state, self._fault)
            if same:
                return False
            again = self.link.command("GS")
            if not (again.ok and pilot_state(parse_gs(again.values)) == pilot_state(first)):
                return False
            try:
                self._poll_meter()  # the energy at the change, before anyone hears of it
            except RapiError as exc:
                log.info("no meter reading at a state change: %s", exc)
            self._apply(first)
            return True

    def _poll_meter(self) -> None:
        with self._meter_lock:
            with self._lock:
                connected = self._state in CONNECTED
            try:
                value = self.meter.read()
                at = self.clock()
                energy = self.guard.check(value.energy_wh, at, _power_w(value))
            except MeterFault as exc:
                if not self._meter_fault_reported:  # once per episode, not every poll
                    self._meter_fault_reported = True
                    self._emit([ChargerFaulted(1, str(exc), self.clock())])
                return
            self._meter_fault_reported = False
            power = value.power_w or 0
            with self._lock:
                self._energy_wh = energy
                self._power_w = power
                self._current_ma, self._voltage_mv = value.current_ma, value.voltage_mv
                self._at = at
                self._last_reading = time.monotonic()
                self._reading_fault_sent = False
                emit = connected or energy != self._last_emitted_wh
                if emit:
                    self._last_emitted_wh = energy
            if emit:  # under the meter lock: readings go out in the order they were taken
                self._emit([MeterReading(1, energy, power, at, value.current_ma,
                                         value.voltage_mv)])

    def _check_readings(self) -> None:
        """The reading watchdog: charging, the link up, and no valid reading for
        ``reading_timeout_s`` (a meter fault already reported counts as said)."""
        with self._lock:
            if (self._state not in CHARGING or self._reading_fault_sent
                    or self._meter_fault_reported):
                return
            since = max(self._last_reading, self._charging_since)
            if time.monotonic() - since < self.reading_timeout_s:
                return
            self._reading_fault_sent = True
        self._emit([ChargerFaulted(1, READING_FAULT, self.clock())])

    def _apply(self, report: StateReport) -> None:
        state, fault = pilot_state(report)
        events: list[ChargerEvent] = []
        with self._lock:
            if state is not self._state:
                if state in CHARGING and self._state not in CHARGING:
                    self._charging_since = time.monotonic()
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
            try:
                post = hex_int(msg.values[0], "postcode") if msg.values else 0
            except RapiFrameError:
                post = 0
            log.warning("charger restarted (post code %02X)", post)
            if POST_CODES.get(post):
                self._emit([ChargerFaulted(1, POST_CODES[post], self.clock())])
            self._restore_needed.set()
            self._wake.set()

    def _on_link(self, up: bool) -> None:
        now = self.clock()
        if up:
            with self._lock:
                self._down_since = None
                self._link_fault_sent = False
            self._restore_needed.set()
            self._wake.set()
            self._emit([LinkBack(now)])
        else:
            with self._lock:  # the grace runs from the controller's last answer
                self._down_since = self.link.last_answer
            self._wake.set()
            self._emit([LinkLost(now)])

    def _check_grace(self) -> None:
        with self._lock:
            if self._down_since is None or self._link_fault_sent:
                return
            if time.monotonic() - self._down_since < self.link_grace_s:
                return
            self._link_fault_sent = True
        self._emit([ChargerFaulted(1, LINK_FAULT, self.clock())])

    def _emit(self, events: list[ChargerEvent]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for e in events:
            for cb in subscribers:
                try:
                    cb(e)
                except Exception:
                    log.exception("charger subscriber failed")
