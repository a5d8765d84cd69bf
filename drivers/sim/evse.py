"""An OpenEVSE-like controller on a pseudo-terminal, for the RAPI driver's tests and the demo.

The driver opens :attr:`EvseSimulator.path` (a symlink to the pty's slave, like
``/dev/serial/by-id/...``), so "unplugging the USB cable" (:meth:`unplug_port`: the pty goes
away and the link disappears) and plugging it back (:meth:`replug_port`: a new pty behind the
same path) work as on a real terminal.

It answers like firmware 7.x (RAPI 5): ``$GS $GG $GU $GV $GC $GF $FE $FD $FS $FR $SC $SK $SY
$GY $S4 $G4 $SH $S3``, ``$NK`` on an unknown command or a bad checksum, echoes sequence ids,
sends ``$AT`` on every change of state, pilot or offered current and ``$AB`` after a restart.
Energy grows with current x voltage while the car charges (``speed`` seconds of charging per
second), whether or not anybody listens on the port.

States as the firmware reports them: the EVSE state says whether the controller charges (03 C
only with the relay closed: enabled, no fault, no auth lock, and the car asking); the pilot
state is the car's side (03 when the car asks for current, even while the controller holds it
in B).

Heartbeat supervision (``$SY``) as in open_evse's ``J1772EVSEController``: ``$SY interval amps``
arms it (trigger cleared), ``$SY`` is a pulse, ``$SY 165`` acknowledges a missed pulse (the
offered current goes back to the configured maximum), ``$SY 0 x`` disarms; every answer is
``interval amps trigger``. With no pulse for ``interval`` seconds the offered current drops to
``amps`` (clamped up to 6 A, as the firmware's ``SetCurrentCapacity`` does), the trigger becomes
2 and pulses are answered ``$NK`` until acknowledged. The supervision runs on the simulator's own
clock (``time.monotonic``), not on ``speed``.

Energy as the firmware's ``EnergyMeter`` counts it (``$GU``: session Ws, lifetime Wh): a car
that connects starts a new session (session Ws to 0); when it leaves, the session's whole Wh are
added to the lifetime Wh but the session Ws stay until the next car, so in between "lifetime +
session" counts the session twice (read them with ``drivers.charger.rapi.energy_counters``).

Debug text, as firmware built with ``RELAY_PWM`` (8.x on OpenEVSE v6 boards) prints it on the
same line: with ``debug_output`` it prints ``\nrelayCloseMs: 100\r\nrelayHoldPwm: 75\r\n``
at start (a restart: ``$FR``, a re-plugged port) and every time the relay closes (before the
``$AT`` of state C, so after ``$FE`` it comes between the command and its ``$OK``); with
``serial_debug`` also the POST's lines at start (``POST start...`` with no newline, ``Pilot:``,
``RelayOff:``..., ``POST result:``, ``SetSvcLevel:``). :meth:`say` prints text on demand;
``reply_chatter`` (text before, text after) goes around every answer, glued to it.

Test knobs: ``silent`` (answer nothing: a hung controller), ``unanswered`` (commands it ignores),
``replies`` (a fixed answer for a command: garbage, ``$NK``), ``meter_frozen`` (the energy counter
stands still while the car draws current).
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import threading
import time
import tty
from pathlib import Path

from drivers.charger.rapi import (
    EvseState,
    LineSplitter,
    RapiFrameError,
    encode,
    parse_frame,
    xor_checksum,
)

FAULTS = {"gfi": EvseState.GFI_FAULT, "no_ground": EvseState.NO_GROUND,
          "stuck_relay": EvseState.STUCK_RELAY, "over_temperature": EvseState.OVER_TEMPERATURE,
          "over_current": EvseState.OVER_CURRENT}
PILOT_A, PILOT_B, PILOT_C = 1, 2, 3
FLAG_CHARGING, FLAG_CONNECTED, FLAG_AUTH_LOCKED = 0x0040, 0x0100, 0x0008
MIN_CURRENT_A = 6  # the firmware's MIN_CURRENT_CAPACITY_J1772
HS_ACK_COOKIE = 0xA5
HS_MISSEDPULSE, HS_MISSEDPULSE_NOACK = 0x01, 0x02


def reply(ok: bool, *values: str | int, seq: int | None = None) -> bytes:
    parts = ["$OK" if ok else "$NK", *(str(v) for v in values)]
    if seq is not None:
        parts.append(f":{seq:02X}")
    body = " ".join(parts).encode()
    return body + f"^{xor_checksum(body):02X}".encode() + b"\r"


class EvseSimulator:
    def __init__(self, directory: Path, *, speed: float = 1.0, voltage_v: int = 230,
                 max_current_a: int = 32, firmware: str = "7.1.3", protocol: str = "5.0.1",
                 start_wh: int = 1000, debug_output: bool = False,
                 serial_debug: bool = False) -> None:
        self.path = Path(directory) / "ttyEVSE0"
        self.speed = speed
        self.voltage_v = voltage_v
        self.max_current_a = max_current_a
        self.firmware = firmware
        self.protocol = protocol
        self.debug_output = debug_output  # relayCloseMs/relayHoldPwm at start and relay close
        self.serial_debug = serial_debug  # the POST's lines at start
        self.relay_close_ms, self.relay_hold_pwm = 100, 75
        self.reply_chatter: tuple[bytes, bytes] = (b"", b"")  # around every answer
        self.current_a = max_current_a
        self.plugged = False
        self.wants_charge = True
        self.mode = "enabled"  # enabled | sleeping | disabled
        self.fault: EvseState | None = None
        self.auth_locked = False
        self.session_ws = 0.0
        self.total_wh = start_wh  # accumulated at the end of each session, as the firmware does
        self.delivered_ws = start_wh * 3600.0  # the truth, for tests
        self.elapsed_s = 0.0
        self.commands: list[str] = []  # every command received, for tests
        self.silent = False  # answer nothing (a hung controller)
        self.unanswered: set[str] = set()  # commands it ignores (a half-hung controller)
        self.replies: dict[str, tuple[bool, tuple[str, ...]]] = {}  # fixed answers, for tests
        self.meter_frozen = False  # $GU stands still while the car draws current
        # heartbeat supervision (kept over a restart, like the firmware's EEPROM)
        self.hs_interval_s = 0
        self.hs_current_a = 0
        self.hs_trigger = 0
        self.hs_pulses = 0
        self._hs_last_pulse = time.monotonic()
        self._hs_armed_at: float | None = None
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._relay_closed = False
        self._last_state = self._at_fields()
        self._open_pty()
        with self._lock:
            self._boot_chatter()  # into the pty's buffer: a driver that opens later drops it
        self._thread = threading.Thread(target=self._run, name="sim-evse", daemon=True)
        self._thread.start()

    # --- the port ---------------------------------------------------------------------------
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave
        tmp = self.path.with_suffix(".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.path)

    def unplug_port(self) -> None:
        """The USB cable is pulled: the device node disappears, the driver's reads fail."""
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None

    def replug_port(self, *, reboot: bool = True) -> None:
        with self._lock:
            if self._master is None:
                self._open_pty()
            if reboot:
                self._boot_chatter()
                self._write(encode_async("AB", "00", self.firmware))

    @property
    def port_present(self) -> bool:
        return self._master is not None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.unplug_port()

    # --- what the car and the technician do --------------------------------------------------
    def plug(self) -> None:
        """A car connects: the firmware starts a new session counter now."""
        with self._lock:
            self.plugged, self.wants_charge = True, True
            self.session_ws, self.elapsed_s = 0.0, 0.0
            self._changed()

    def unplug(self) -> None:
        """The car leaves: the firmware adds the session to the lifetime total but keeps the
        session counter until the next car (so lifetime + session counts it twice)."""
        with self._lock:
            self.plugged = False
            self.total_wh += int(self.session_ws // 3600)
            self._changed()

    def car_full(self) -> None:
        with self._lock:
            self.wants_charge = False
            self._changed()

    def trip(self, fault: str) -> None:
        """A fault the firmware detects: gfi, no_ground, stuck_relay, over_temperature,
        over_current."""
        with self._lock:
            self.fault = FAULTS[fault]
            self._changed()

    def clear_fault(self) -> None:
        with self._lock:
            self.fault = None
            self._changed()

    def say(self, text: str | bytes, *, end: bytes = b"\r\n") -> None:
        """Print free text on the line, as the firmware's ``Serial.println`` does (``end``
        b"" for its ``Serial.print``)."""
        data = text.encode("ascii") if isinstance(text, str) else text
        with self._lock:
            self._write(data + end)

    def _relay_chatter(self) -> bytes:
        return (f"\nrelayCloseMs: {self.relay_close_ms}\r\n"
                f"relayHoldPwm: {self.relay_hold_pwm}\r\n").encode()

    def _boot_chatter(self) -> None:
        """Under the lock: what the firmware prints while it starts, before its ``$AB``."""
        if self.debug_output:
            self._write(self._relay_chatter())
        if self.serial_debug:
            self._write(b"POST start...Pilot: 1023\r\nRelayOff: 0\r\nRelay1: 3\r\n"
                        b"Relay2: 3\r\nSvcState: 2\r\nPOST result: 2\r\nSetSvcLevel: 2\r\n")

    def noise(self, n: int = 64, seed: int | None = None) -> None:
        """Line noise: random bytes on the wire (a bad cable, a ground loop)."""
        rng = random.Random(seed)  # noqa: S311 - noise, not a secret
        with self._lock:
            self._write(bytes(rng.randrange(256) for _ in range(n)))

    # --- state -------------------------------------------------------------------------------
    def _charging(self) -> bool:
        return (self.fault is None and self.mode == "enabled" and self.plugged
                and self.wants_charge and not self.auth_locked)

    def _pilot(self) -> int:
        """The car's side of the pilot: C when it asks for current and the EVSE offers it."""
        if not self.plugged:
            return PILOT_A
        asking = self.wants_charge and self.fault is None and self.mode == "enabled"
        return PILOT_C if asking else PILOT_B

    def _evse_state(self) -> int:
        if self.fault is not None:
            return int(self.fault)
        if self.mode == "disabled":
            return int(EvseState.DISABLED)
        if self.mode == "sleeping":
            return int(EvseState.SLEEPING)
        if not self.plugged:
            return int(EvseState.A)
        return int(EvseState.C) if self._charging() else int(EvseState.B)

    def _flags(self) -> int:
        flags = 0
        if self._charging():
            flags |= FLAG_CHARGING
        if self.plugged:
            flags |= FLAG_CONNECTED
        if self.auth_locked:
            flags |= FLAG_AUTH_LOCKED
        return flags

    def _at_fields(self) -> tuple[int, int, int, int]:
        return self._evse_state(), self._pilot(), self.current_a, self._flags()

    def _changed(self) -> None:
        closed = self._charging()
        if closed and not self._relay_closed and self.debug_output:
            self._write(self._relay_chatter())  # chargingOn(), before the state goes out
        self._relay_closed = closed
        fields = self._at_fields()
        if fields != self._last_state:
            self._last_state = fields
            evse, pilot, amps, flags = fields
            self._write(encode_async("AT", f"{evse:02X}", f"{pilot:02X}", amps, f"{flags:04X}"))

    def energy_wh(self) -> int:
        """The energy really delivered since the simulator started (plus ``start_wh``): what a
        correct meter built from the controller's numbers must follow."""
        with self._lock:
            return int(self.delivered_ws // 3600)

    @property
    def charging(self) -> bool:
        """The relay is closed and the car draws current."""
        with self._lock:
            return self._charging()

    @property
    def drawn_current_a(self) -> int:
        """What the car draws now: the offered current while charging, else 0."""
        with self._lock:
            return self.current_a if self._charging() else 0

    def hs_armed_for(self) -> float:
        """Seconds since the supervision was last armed (0 when it is not armed)."""
        with self._lock:
            if not self.hs_interval_s or self._hs_armed_at is None:
                return 0.0
            return time.monotonic() - self._hs_armed_at

    def _advance(self, now: float, last: float) -> None:
        """Under the lock: the world moves on by ``now - last`` seconds."""
        if self._charging():
            dt = (now - last) * self.speed
            ws = self.current_a * self.voltage_v * dt
            self.delivered_ws += ws
            if not self.meter_frozen:
                self.session_ws += ws
        if self.plugged:
            self.elapsed_s += (now - last) * self.speed
        self._hs_check(now)

    def _hs_check(self, now: float) -> None:
        """``HsExpirationCheck``: no pulse within the interval → the fallback current."""
        if self.hs_interval_s and now - self._hs_last_pulse > self.hs_interval_s:
            if self.hs_current_a < self.current_a:
                self.current_a = max(MIN_CURRENT_A, self.hs_current_a)
            self.hs_trigger = HS_MISSEDPULSE_NOACK
            self._hs_last_pulse = now
            self._changed()

    def _hs_restore(self) -> None:
        """``HsRestoreAmpacity``: back to the configured maximum after a missed pulse."""
        if self.hs_trigger:
            self.current_a = self.max_current_a
            self._changed()

    def _heartbeat(self, args: tuple[str, ...], seq: int | None) -> bytes:
        ok = True
        try:
            numbers = [int(a, 10) for a in args]
        except ValueError:
            numbers, ok = [], False
        now = time.monotonic()
        if ok and not numbers:  # a pulse
            ok = self.hs_trigger != HS_MISSEDPULSE_NOACK
            self._hs_last_pulse = now
            self.hs_pulses += 1
        elif ok and len(numbers) == 2:  # arm (interval 0: disarm)
            interval, amps = numbers[0] & 0xFFFF, numbers[1] & 0xFF
            if interval == 0:
                self._hs_restore()
            self.hs_interval_s, self.hs_current_a, self.hs_trigger = interval, amps, 0
            self._hs_last_pulse = now
            self._hs_armed_at = now if interval else None
        elif ok and len(numbers) == 1:  # acknowledge a missed pulse
            ok = (numbers[0] & 0xFF) == HS_ACK_COOKIE
            if ok and self.hs_trigger == HS_MISSEDPULSE_NOACK:
                self._hs_restore()
                self.hs_trigger = HS_MISSEDPULSE
        else:
            ok = False
        return reply(ok, self.hs_interval_s, self.hs_current_a, self.hs_trigger, seq=seq)

    # --- the line ----------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.write(self._master, data)

    def _run(self) -> None:
        splitter = LineSplitter()
        last = time.monotonic()
        while not self._stop.is_set():
            fd = self._master
            data = b""
            if fd is None:
                time.sleep(0.02)
            else:
                try:
                    ready, _, _ = select.select([fd], [], [], 0.02)
                    data = os.read(fd, 4096) if ready else b""
                except (OSError, ValueError):
                    time.sleep(0.02)
            now = time.monotonic()
            with self._lock:
                self._advance(now, last)
                last = now
                for line in splitter.feed(data):
                    answer = self._handle(line)
                    if answer and not self.silent:
                        before, after = self.reply_chatter
                        self._write(before + answer + after)

    def _handle(self, line: bytes) -> bytes:
        try:
            f = parse_frame(line)
        except RapiFrameError:
            return reply(False)  # bad checksum or garbage: NK, as the firmware does
        self.commands.append(f.command)
        seq, a = f.seq, f.args
        c = f.command
        if c in self.unanswered:
            return b""
        fixed = self.replies.get(c)  # one look: tests change it from their thread
        if fixed is not None:
            return reply(fixed[0], *fixed[1], seq=seq)
        if c == "GS":
            return reply(True, f"{self._evse_state():02X}", int(self.elapsed_s),
                         f"{self._pilot():02X}", f"{self._flags():04X}", seq=seq)
        if c == "GG":
            ma = self.drawn_current_a * 1000
            return reply(True, ma, self.voltage_v * 1000, seq=seq)
        if c == "GU":
            return reply(True, int(self.session_ws), self.total_wh, seq=seq)
        if c == "GV":
            return reply(True, self.firmware, self.protocol, seq=seq)
        if c == "GC":
            return reply(True, 6, 80, self.current_a, self.max_current_a, seq=seq)
        if c == "GF":
            return reply(True, 0, 0, 0, seq=seq)
        if c in ("FE", "FD", "FS"):
            self.mode = {"FE": "enabled", "FD": "disabled", "FS": "sleeping"}[c]
            self._changed()
            return reply(True, seq=seq)
        if c == "FR":  # a restart: volatile settings go, the EEPROM's stay
            self.mode = "enabled"
            self.current_a = self.max_current_a
            self.hs_trigger = 0
            self._hs_last_pulse = time.monotonic()
            self._write(reply(True, seq=seq))
            self._last_state = (-1, -1, -1, -1)
            self._relay_closed = False  # a restart opens the relay
            self._boot_chatter()
            self._write(encode_async("AB", "00", self.firmware))
            self._changed()
            return b""
        if c == "SC" and a:
            try:
                amps = int(a[0])
            except ValueError:
                return reply(False, seq=seq)
            clamped = max(MIN_CURRENT_A, min(self.max_current_a, amps))
            self.current_a = clamped
            self._changed()
            return reply(clamped == amps, clamped, seq=seq)
        if c == "SK" and a:  # as the firmware: set the lifetime energy total (Wh)
            try:
                self.total_wh = int(a[0])
            except ValueError:
                return reply(False, seq=seq)
            return reply(True, seq=seq)
        if c == "S4" and a:
            self.auth_locked = a[0] == "1"
            self._changed()
            return reply(True, seq=seq)
        if c == "G4":
            return reply(True, int(self.auth_locked), seq=seq)
        if c == "SY":
            return self._heartbeat(a, seq)
        if c == "GY":
            return reply(True, self.hs_interval_s, self.hs_current_a, self.hs_trigger, seq=seq)
        if c in ("SH", "S3"):
            return reply(True, seq=seq)
        return reply(False, seq=seq)


def encode_async(kind: str, *values: str | int) -> bytes:
    body = " ".join([f"${kind}", *(str(v) for v in values)]).encode()
    return body + f"^{xor_checksum(body):02X}".encode() + b"\r"


__all__ = ["FAULTS", "EvseSimulator", "encode", "encode_async", "reply"]
