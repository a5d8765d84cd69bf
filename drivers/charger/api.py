"""The charger as the application sees it: connectors, IEC 61851 states, readings, commands.

The RAPI driver (OpenEVSE over serial) and the simulator both implement :class:`Charger`.
Events are delivered to subscribed callbacks from the charger's own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class PilotState(StrEnum):
    """IEC 61851-1 control pilot states, plus the controller's own."""

    A = "A"  # no vehicle
    B = "B"  # vehicle connected, not charging
    C = "C"  # charging
    D = "D"  # charging, ventilation required
    E = "E"  # pilot short / no power on the pilot (an error)
    F = "F"  # EVSE not available
    FAULT = "FAULT"
    SLEEPING = "SLEEPING"
    DISABLED = "DISABLED"


@dataclass(frozen=True)
class ChargerStatus:
    connector: int
    state: PilotState
    energy_wh: int  # the connector's meter counter (monotonic)
    power_w: int
    at: datetime
    fault: str = ""
    current_ma: int | None = None
    voltage_mv: int | None = None


@dataclass(frozen=True)
class StateChanged:
    connector: int
    state: PilotState
    at: datetime


@dataclass(frozen=True)
class MeterReading:
    connector: int
    energy_wh: int  # meter counter, monotonic over the connector's life
    power_w: int
    at: datetime
    current_ma: int | None = None  # when the source measures it
    voltage_mv: int | None = None


@dataclass(frozen=True)
class ChargerFaulted:
    connector: int
    message: str  # human readable, safe to show
    at: datetime


@dataclass(frozen=True)
class LinkLost:
    at: datetime


@dataclass(frozen=True)
class LinkBack:
    at: datetime


ChargerEvent = StateChanged | MeterReading | ChargerFaulted | LinkLost | LinkBack


class ChargerError(Exception):
    """The controller refused a command or cannot be reached."""


class Charger(Protocol):
    @property
    def connectors(self) -> tuple[int, ...]: ...

    def subscribe(self, callback: Callable[[ChargerEvent], None]) -> None: ...

    def enable(self, connector: int) -> None:
        """Allow charging on the connector (the car starts when it asks)."""
        ...

    def disable(self, connector: int) -> None:
        """Stop charging and keep the connector off."""
        ...

    def set_current(self, connector: int, amps: int) -> int:
        """Set the offered current; returns the value the controller accepted."""
        ...

    def status(self, connector: int) -> ChargerStatus: ...

    def close(self) -> None: ...
