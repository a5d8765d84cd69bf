"""An OpenEVSE-like controller on a pseudo-terminal, for the RAPI driver's tests and the demo.

The driver opens :attr:`EvseSimulator.path` (a symlink to the pty's slave, like
``/dev/serial/by-id/...``), so "unplugging the USB cable" (:meth:`unplug_port`: the pty goes
away and the link disappears) and plugging it back (:meth:`replug_port`: a new pty behind the
same path) work as on a real terminal.

It answers like firmware 7.x (RAPI 5): ``$GS $GG $GU $GV $GC $GF $FE $FD $FS $FR $SC $SK $SY
$S4 $G4 $SH $S3``, ``$NK`` on an unknown command or a bad checksum, echoes sequence ids, sends
``$AT`` on every state change and ``$AB`` after a restart. Energy grows with current x voltage
while the car charges (``speed`` seconds of charging per second).
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


def reply(ok: bool, *values: str | int, seq: int | None = None) -> bytes:
    parts = ["$OK" if ok else "$NK", *(str(v) for v in values)]
    if seq is not None:
        parts.append(f":{seq:02X}")
    body = " ".join(parts).encode()
    return body + f"^{xor_checksum(body):02X}".encode() + b"\r"


class EvseSimulator:
    def __init__(self, directory: Path, *, speed: float = 1.0, voltage_v: int = 230,
                 max_current_a: int = 32, firmware: str = "7.1.3", start_wh: int = 1000) -> None:
        self.path = Path(directory) / "ttyEVSE0"
        self.speed = speed
        self.voltage_v = voltage_v
        self.max_current_a = max_current_a
        self.firmware = firmware
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
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._last_state = (self._evse_state(), self._pilot())
        self._open_pty()
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
        if not self.plugged:
            return PILOT_A
        return PILOT_C if self._charging() else PILOT_B

    def _evse_state(self) -> int:
        if self.fault is not None:
            return int(self.fault)
        if self.mode == "disabled":
            return int(EvseState.DISABLED)
        if self.mode == "sleeping":
            return int(EvseState.SLEEPING)
        return self._pilot()

    def _flags(self) -> int:
        flags = 0
        if self._charging():
            flags |= FLAG_CHARGING
        if self.plugged:
            flags |= FLAG_CONNECTED
        if self.auth_locked:
            flags |= FLAG_AUTH_LOCKED
        return flags

    def _changed(self) -> None:
        state = (self._evse_state(), self._pilot())
        if state != self._last_state:
            self._last_state = state
            amps = self.current_a if self._charging() else 0
            self._write(encode_async("AT", f"{state[0]:02X}", f"{state[1]:02X}", amps,
                                     f"{self._flags():04X}"))

    def energy_wh(self) -> int:
        """The energy really delivered since the simulator started (plus ``start_wh``): what a
        correct meter built from the controller's numbers must follow."""
        with self._lock:
            return int(self.delivered_ws // 3600)

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
            if fd is None:
                time.sleep(0.02)
                last = time.monotonic()
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.02)
                data = os.read(fd, 4096) if ready else b""
            except (OSError, ValueError):
                time.sleep(0.02)
                continue
            now = time.monotonic()
            with self._lock:
                if self._charging():
                    dt = (now - last) * self.speed
                    self.session_ws += self.current_a * self.voltage_v * dt
                    self.delivered_ws += self.current_a * self.voltage_v * dt
                if self.plugged:
                    self.elapsed_s += (now - last) * self.speed
                last = now
                for line in splitter.feed(data):
                    answer = self._handle(line)
                    if answer and not self.silent:
                        self._write(answer)

    def _handle(self, line: bytes) -> bytes:
        try:
            f = parse_frame(line)
        except RapiFrameError:
            return reply(False)  # bad checksum or garbage: NK, as the firmware does
        self.commands.append(f.command)
        seq, a = f.seq, f.args
        c = f.command
        if c == "GS":
            return reply(True, f"{self._evse_state():02X}", int(self.elapsed_s),
                         f"{self._pilot():02X}", f"{self._flags():04X}", seq=seq)
        if c == "GG":
            ma = int(self.current_a * 1000) if self._charging() else 0
            return reply(True, ma, self.voltage_v * 1000, seq=seq)
        if c == "GU":
            return reply(True, int(self.session_ws), self.total_wh, seq=seq)
        if c == "GV":
            return reply(True, self.firmware, "5.0.1", seq=seq)
        if c == "GC":
            return reply(True, 6, 80, self.current_a, self.max_current_a, seq=seq)
        if c == "GF":
            return reply(True, 0, 0, 0, seq=seq)
        if c in ("FE", "FD", "FS"):
            self.mode = {"FE": "enabled", "FD": "disabled", "FS": "sleeping"}[c]
            self._changed()
            return reply(True, seq=seq)
        if c == "FR":
            self.mode = "enabled"
            self._write(reply(True, seq=seq))
            self._last_state = (-1, -1)
            self._write(encode_async("AB", "00", self.firmware))
            self._changed()
            return b""
        if c == "SC" and a:
            try:
                amps = int(a[0])
            except ValueError:
                return reply(False, seq=seq)
            clamped = max(6, min(self.max_current_a, amps))
            self.current_a = clamped
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
        if c in ("SY", "SH", "S3"):
            return reply(True, seq=seq)
        return reply(False, seq=seq)


def encode_async(kind: str, *values: str | int) -> bytes:
    body = " ".join([f"${kind}", *(str(v) for v in values)]).encode()
    return body + f"^{xor_checksum(body):02X}".encode() + b"\r"


__all__ = ["FAULTS", "EvseSimulator", "encode", "encode_async", "reply"]
