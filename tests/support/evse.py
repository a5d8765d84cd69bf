"""A RAPI charger on a real pty with the EVSE simulator behind it, and an event recorder."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.charger.api import ChargerEvent, PilotState, StateChanged
from drivers.charger.openevse import OpenEvseCharger
from drivers.sim.evse import EvseSimulator


@dataclass
class Recorder:
    events: list[ChargerEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, e: ChargerEvent) -> None:
        with self.lock:
            self.events.append(e)

    def of(self, kind: type) -> list:
        with self.lock:
            return [e for e in self.events if isinstance(e, kind)]

    def states(self) -> list[PilotState]:
        return [e.state for e in self.of(StateChanged)]

    def clear(self) -> None:
        with self.lock:
            self.events.clear()


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def open_charger(sim: EvseSimulator, **kw: object) -> tuple[OpenEvseCharger, Recorder]:
    opts: dict = {"poll_interval_s": 0.1, "command_timeout_s": 0.3, "link_grace_s": 1.0,
            "max_power_w": 400_000}  # the simulator runs fast
    opts.update(kw)
    poll = float(opts["poll_interval_s"])  # a slow poll (benchmarks) needs longer watchdogs
    opts.setdefault("reading_timeout_s", max(10.0, 2 * poll))
    opts.setdefault("heartbeat_interval_s", max(10, math.ceil(3 * poll)))
    charger = OpenEvseCharger(str(sim.path), **opts)
    rec = Recorder()
    charger.subscribe(rec)
    return charger, rec
