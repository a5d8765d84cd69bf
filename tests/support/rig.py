"""A headless kiosk runtime on the simulators, driven the way the tests need it: wait for a
state, tap a card, plug a car, wait for the settlement queue."""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from kiosk.runtime import Runtime
from kiosk.session import events as ev
from kiosk.session.machine import Session, State


class Rig:
    def __init__(self, rt: Runtime, clock: SimClock, charger: SimCharger,
                 terminal: SimCardTerminal) -> None:
        self.rt, self.clock, self.charger, self.terminal = rt, clock, charger, terminal
        self.seen: list[Session] = []
        rt.runner.listeners.append(self.seen.append)

    def until(self, cond: Callable[[], bool], what: str, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                states = [s.state.value for s in self.seen]
                raise AssertionError(f"timed out waiting for {what}; states: {states}")
            self.rt.runner.wait_and_process(0.02)

    def state(self) -> State | None:
        s = self.rt.runner.active()
        return s.state if s else None

    def reach(self, state: State) -> Session:
        self.until(lambda: self.state() is state, state.value)
        s = self.rt.runner.active()
        assert s is not None
        return s

    def charging(self, card: str = "visa_contactless") -> Session:
        """Start a session, tap ``card``, plug the car in: the session is charging."""
        s = self.rt.runner.start_session(1)
        self.terminal.present(TEST_CARDS[card])
        self.reach(State.WAIT_PLUG)
        self.charger.plug(1)
        self.reach(State.CHARGING)
        return s

    def play(self, card: str = "visa_contactless", seconds: float = 900) -> Session:
        """One whole paid session on connector 1: charge ``seconds``, stop, dismiss the
        receipt, unplug (its settlement may still be running: :meth:`settled`)."""
        s = self.charging(card)
        self.charger.advance(seconds)
        self.until(lambda: (a := self.rt.runner.active()) is not None and a.energy_wh > 0,
                   "energy")
        self.rt.runner.post(ev.StopRequested(s.id))
        self.reach(State.RECEIPT)
        self.rt.runner.post(ev.Dismissed(s.id))
        self.final()
        self.charger.unplug(1)
        return s

    def settled(self, timeout: float = 10) -> None:
        """Wait until the settlement queue has nothing left to send (the session's capture or
        reversal runs in the background, after the receipt)."""
        assert self.rt.settlement.wait_idle(timeout), "the settlement queue did not finish"

    def final(self) -> Session:
        self.until(lambda: self.rt.runner.active() is None, "the end")
        return self.seen[-1]


def drive(rt: Runtime, cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Run the runtime's loop until ``cond`` holds (or fail naming ``what``)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            s = rt.runner.active()
            raise AssertionError(f"timed out waiting for {what}; now {s and s.state}")
        rt.runner.wait_and_process(0.02)
