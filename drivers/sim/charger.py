"""A simulated charger (v0) behind the :class:`~drivers.charger.api.Charger` interface.

Each connector follows IEC 61851 pilot states: A (no car) → B (car plugged) → C (charging, once
the connector is enabled and the car asks). Energy grows with the power while in C. With
``auto=True`` a thread advances it once a second (``speed`` seconds of charging per second);
tests call :meth:`advance` themselves. Events go to subscribers on the thread that caused them,
never while the simulator's lock is held.

The faithful EVSE simulator (OpenEVSE RAPI on a pty) comes with the charger link issue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from drivers.charger.api import (
    ChargerError,
    ChargerEvent,
    ChargerFaulted,
    ChargerStatus,
    MeterReading,
    PilotState,
    StateChanged,
)
from drivers.sim.clock import SimClock


@dataclass
class _Connector:
    id: int
    plugged: bool = False
    enabled: bool = False
    wants_charge: bool = True  # the car asks for energy when allowed
    fault: str = ""
    energy_wh: float = 0.0
    state: PilotState = PilotState.A

    def pilot(self) -> PilotState:
        if self.fault:
            return PilotState.FAULT
        if not self.plugged:
            return PilotState.A
        return PilotState.C if self.enabled and self.wants_charge else PilotState.B


class SimCharger:
    def __init__(self, connectors: tuple[int, ...] = (1,), *, auto: bool = True,
                 clock: SimClock | None = None, speed: int = 1, power_w: int = 11_000,
                 start_wh: int = 1_000) -> None:
        if not connectors:
            raise ValueError("a charger needs at least one connector")
        self._connectors = {c: _Connector(c, energy_wh=float(start_wh)) for c in connectors}
        self._clock = clock
        self.speed = speed
        self.power_w = power_w
        self._lock = threading.RLock()
        self._subscribers: list[Callable[[ChargerEvent], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if auto:
            self._thread = threading.Thread(target=self._run, name="sim-charger", daemon=True)
            self._thread.start()

    # --- the Charger interface -------------------------------------------------------------
    @property
    def connectors(self) -> tuple[int, ...]:
        return tuple(self._connectors)

    def subscribe(self, callback: Callable[[ChargerEvent], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def enable(self, connector: int) -> None:
        self._change(connector, enabled=True)

    def disable(self, connector: int) -> None:
        self._change(connector, enabled=False)

    def set_current(self, connector: int, amps: int) -> int:
        self._get(connector)
        return max(6, min(32, amps))

    def status(self, connector: int) -> ChargerStatus:
        with self._lock:
            c = self._get(connector)
            power = self.power_w if c.state is PilotState.C else 0
            return ChargerStatus(connector, c.state, int(c.energy_wh), power, self._now(),
                                 c.fault)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # --- what the car and the test do -------------------------------------------------------
    def plug(self, connector: int) -> None:
        self._change(connector, plugged=True)

    def unplug(self, connector: int) -> None:
        self._change(connector, plugged=False)

    def car_full(self, connector: int) -> None:
        """The car stops asking for energy (C → B)."""
        self._change(connector, wants_charge=False)

    def fault(self, connector: int, message: str) -> None:
        events: list[ChargerEvent] = []
        with self._lock:
            self._get(connector).fault = message
            # the fault first, as a controller reports its error state: it is why charging
            # stops (the session's receipt says so), not a stop the car chose
            events.append(ChargerFaulted(connector, message, self._now()))
            events += self._update(connector)
        self._emit(events)

    def clear_fault(self, connector: int) -> None:
        self._change(connector, fault="")

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of charging pass (moves a :class:`SimClock` too) and report."""
        if self._clock is not None:
            self._clock.advance(seconds)
        events: list[ChargerEvent] = []
        with self._lock:
            now = self._now()
            for c in self._connectors.values():
                if c.state is PilotState.C:
                    c.energy_wh += self.power_w * seconds / 3600
                    events.append(MeterReading(c.id, int(c.energy_wh), self.power_w, now))
        self._emit(events)

    # --- inside -----------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)

    def _get(self, connector: int) -> _Connector:
        try:
            return self._connectors[connector]
        except KeyError:
            raise ChargerError(f"no connector {connector}") from None

    def _change(self, connector: int, **changes: object) -> None:
        with self._lock:
            c = self._get(connector)
            for k, v in changes.items():
                setattr(c, k, v)
            events = self._update(connector)
        self._emit(events)

    def _update(self, connector: int) -> list[ChargerEvent]:
        c = self._connectors[connector]
        new = c.pilot()
        if new is c.state:
            return []
        c.state = new
        return [StateChanged(connector, new, self._now())]

    def _emit(self, events: list[ChargerEvent]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for e in events:
            for cb in subscribers:
                cb(e)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.advance(self.speed)
