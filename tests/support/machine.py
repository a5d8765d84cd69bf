"""Helpers for driving the pure session machine in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from kiosk.billing.live import LivePricer
from kiosk.billing.tariff import simple_tariff
from kiosk.session import events as ev
from kiosk.session.machine import Policy, Session, SessionMachine, State

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TARIFF = simple_tariff("EUR", energy_per_kwh=Decimal("0.59"), time_per_hour=Decimal(0),
                       session_fee=Decimal(0), vat=Decimal(19))
PRICER = LivePricer(TARIFF, ZoneInfo("Europe/Berlin"))


def policy(**kw: object) -> Policy:
    base: dict[str, object] = dict(hold_minor=5000, pricer=PRICER.price, tracker=PRICER.track,
                                   increment_minor=2500, max_total_hold_minor=10000,
                                   threshold_percent=90, allow_increments=False)
    base.update(kw)
    return Policy(**base)  # type: ignore[arg-type]


class Driver:
    """Walks one session through the machine, keeping the clock and every effect."""

    def __init__(self, machine: SessionMachine | None = None, connector: int = 1) -> None:
        self.m = machine or SessionMachine(policy())
        self.now = T0
        self.s, self.effects = self.m.start("sess-1", connector, self.now)
        self.all_effects = list(self.effects)

    def send(self, event: ev.Event, after_s: float = 1.0) -> Session:
        self.now += timedelta(seconds=after_s)
        new, effects = self.m.handle(self.s, event, self.now)
        if new is not self.s:
            assert new.seq == self.s.seq + 1
        self.s, self.effects = new, effects
        self.all_effects.extend(effects)
        return new

    def to(self, state: State) -> Driver:
        """Drive the happy path until ``state``."""
        sid, c = self.s.id, self.s.connector
        steps: list[tuple[State, Callable[[], ev.Event]]] = [
            (State.AUTHORIZING, lambda: ev.CardRead(sid, "476173******0010", "tok", "visa")),
            (State.WAIT_PLUG, lambda: ev.HostApproved(sid, "A1B2C3", 5000)),
            (State.CHARGING,
             lambda: ev.ChargingStarted(c, 1000, self.now + timedelta(seconds=1))),
        ]
        for target, make in steps:
            if self.s.state is state:
                return self
            self.send(make())
            assert self.s.state is target
        if state is State.STOPPING:
            self.reading(11_000)
            self.send(ev.StopRequested(sid))
        elif state is State.RECEIPT:
            self.reading(11_000)
            self.send(ev.StopRequested(sid))
            self.send(ev.ChargingStopped(c, 11_000, self.now))
        assert self.s.state is state, self.s.state
        return self

    def reading(self, meter_wh: int, after_s: float = 60.0, power_w: int = 11_000) -> Session:
        at = self.now + timedelta(seconds=after_s)
        return self.send(ev.Reading(self.s.connector, meter_wh, power_w, at), after_s)
