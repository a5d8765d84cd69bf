"""Energy meters: the controller's own counter, or a MID meter on Modbus RTU for billing.

Both give a monotonic energy counter in Wh. :class:`MeterGuard` checks every reading: a counter
that goes backwards or jumps further than the charger's power could have moved it is a
:class:`MeterFault`, never a price.

The controller's ``$GU`` energy comes from its current sensor and a measured or assumed voltage:
it is not a certified meter. Where billing must be legal for trade, read an Eastron SDM630-style
meter (input registers 30073 import kWh and 30053 total power, IEEE 754 32-bit floats) and keep
RAPI for control.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from drivers.charger.rapi import (
    EnergyCounters,
    RapiError,
    energy_counters,
    ev_connected,
    parse_gg,
    parse_gs,
    parse_gu,
)
from drivers.charger.transport import SerialLink


class MeterFault(Exception):
    """The meter cannot be read or reported an impossible value. Safe to show."""


@dataclass(frozen=True)
class MeterValue:
    energy_wh: int  # monotonic counter
    power_w: int | None = None
    current_ma: int | None = None
    voltage_mv: int | None = None


class Meter(Protocol):
    def read(self) -> MeterValue: ...

    def close(self) -> None: ...


class MeterGuard:
    """Accepts a reading only if it is possible after the last one: a counter that goes
    backwards, jumps further than ``max_power_w`` could have moved it, or stands still while
    the charger reports at least ``stuck_power_w`` for long enough that the counter must have
    moved by ``stuck_wh`` (integrated from the reported power) is a :class:`MeterFault`."""

    def __init__(self, max_power_w: int, slack_wh: int = 50, *, stuck_power_w: int = 500,
                 stuck_wh: int = 20) -> None:
        self.max_power_w = max_power_w
        self.slack_wh = slack_wh
        self.stuck_power_w = stuck_power_w
        self.stuck_wh = stuck_wh
        self.last: tuple[datetime, int] | None = None
        self._last_power: int | None = None
        self._owed_wh = 0.0  # what the reported power should have added since the counter moved

    def check(self, energy_wh: int, at: datetime, power_w: int | None = None) -> int:
        if self.last is not None:
            then, before = self.last
            if energy_wh < before:
                raise MeterFault(f"The energy meter went backwards ({before} → {energy_wh} Wh).")
            seconds = max(0.0, (at - then).total_seconds())
            possible = self.max_power_w * seconds * 1.5 / 3600 + self.slack_wh
            if energy_wh - before > possible:
                raise MeterFault(f"The energy meter jumped by {energy_wh - before} Wh in "
                                 f"{seconds:.0f} s.")
            owed = self._owed(energy_wh, before, seconds, power_w)
            self.last, self._last_power, self._owed_wh = (at, energy_wh), power_w, owed
            if owed >= self.stuck_wh:  # plausible, but the counter stopped: every poll says so
                raise MeterFault(f"The energy meter does not count: the charger reports "
                                 f"{power_w} W but the counter stays at {energy_wh} Wh.")
            return energy_wh
        self.last, self._last_power = (at, energy_wh), power_w
        return energy_wh

    def _owed(self, energy_wh: int, before: int, seconds: float, power_w: int | None) -> float:
        """The energy the reported power should have added since the counter last moved."""
        if energy_wh != before or power_w is None or self._last_power is None:
            return 0.0
        power = min(power_w, self._last_power)
        if power < self.stuck_power_w:
            return 0.0
        return self._owed_wh + power * seconds / 3600

    def reset(self) -> None:
        self.last = None
        self._last_power = None
        self._owed_wh = 0.0


SNAPSHOT_TRIES = 3


class EnergyRefused(RapiError):
    """The controller answered ``$NK`` to a question about its energy."""


def query_energy(link: SerialLink, before: EnergyCounters | None = None) -> EnergyCounters:
    """Ask the controller for its energy counters and read them with
    :func:`~drivers.charger.rapi.energy_counters`.

    A first reading (no ``before``) needs to know whether a car is connected at the moment of
    the ``$GU``: it asks ``$GS``, ``$GU``, ``$GS`` and keeps the ``$GU`` only when both states
    agree (a car that came or went in between would turn it into a double count or a missing
    session), up to :data:`SNAPSHOT_TRIES` times. Later readings need only ``$GU``. Raises
    :class:`EnergyRefused` on a ``$NK``, :class:`~drivers.charger.rapi.RapiFrameError` on an
    answer that is not one, :class:`~drivers.charger.rapi.RapiError` when a car would not stay
    put or the link fails."""
    if before is not None:
        ws, wh = parse_gu(_values(link, "GU"))
        return energy_counters(ws, wh, None, before)
    connected = ev_connected(parse_gs(_values(link, "GS")))
    for _ in range(SNAPSHOT_TRIES):
        ws, wh = parse_gu(_values(link, "GU"))
        again = ev_connected(parse_gs(_values(link, "GS")))
        if again == connected:
            return energy_counters(ws, wh, connected)
        connected = again
    raise RapiError("a car kept coming and going while the energy was read")


def _values(link: SerialLink, cmd: str) -> tuple[str, ...]:
    reply = link.command(cmd)
    if not reply.ok:
        raise EnergyRefused(f"the charger refused ${cmd}")
    return reply.values


class ControllerMeter:
    """A monotonic counter built from the controller's own energy counters (``$GU``), read with
    :func:`query_energy` (the reading ``kiosk charger-probe`` shares): the first reading starts
    at the controller's lifetime total (the session included only while a car is connected:
    the firmware adds it at the unplug), later ones follow the session counter, so a session
    is never counted twice, not even in the window between an unplug and the next car."""

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self._counters: EnergyCounters | None = None

    def read(self) -> MeterValue:
        try:
            counters = query_energy(self.link, self._counters)
        except EnergyRefused:
            raise MeterFault("The charger refused to report its energy.") from None
        gg = self.link.command("GG")
        if not gg.ok:
            raise MeterFault("The charger refused to report its energy.")
        ma, mv = parse_gg(gg.values)
        self._counters = counters
        power = ma * mv // 1_000_000 if ma >= 0 and mv >= 0 else None
        return MeterValue(counters.total_wh, power, ma if ma >= 0 else None,
                          mv if mv >= 0 else None)

    def close(self) -> None:
        pass


IMPORT_KWH_REGISTER = 72  # 30073: input register 73, zero-based 72
TOTAL_POWER_REGISTER = 52  # 30053


def float_from_registers(hi: int, lo: int) -> float:
    value: float = struct.unpack(">f", struct.pack(">HH", hi, lo))[0]
    return value


class ModbusMeter:
    """An SDM630-style meter over Modbus RTU (pymodbus)."""

    def __init__(self, port: str, *, address: int = 1, baud: int = 9600,
                 timeout_s: float = 0.5) -> None:
        from pymodbus.client import ModbusSerialClient

        self.address = address
        self.client = ModbusSerialClient(port, baudrate=baud, timeout=timeout_s, retries=1)

    def _registers(self, register: int) -> float:
        from pymodbus.exceptions import ModbusException

        try:
            if not self.client.connected and not self.client.connect():
                raise MeterFault("The energy meter cannot be reached.")
            rr = self.client.read_input_registers(register, count=2, device_id=self.address)
        except (ModbusException, OSError) as exc:
            raise MeterFault(f"The energy meter did not answer: {exc}") from None
        if rr.isError() or len(rr.registers) != 2:
            raise MeterFault("The energy meter answered with an error.")
        value = float_from_registers(rr.registers[0], rr.registers[1])
        if not math.isfinite(value):
            raise MeterFault("The energy meter sent a value that is not a number.")
        return value

    def read(self) -> MeterValue:
        kwh = self._registers(IMPORT_KWH_REGISTER)
        watts = self._registers(TOTAL_POWER_REGISTER)
        if kwh < 0:
            raise MeterFault("The energy meter reported negative energy.")
        return MeterValue(round(kwh * 1000), max(0, round(watts)))

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
