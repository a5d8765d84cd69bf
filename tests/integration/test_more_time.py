"""More time on the assembled runtime (simulated card terminal, host over TCP, real time): the
session's deadline decides when a card read ends, a driver's ``MoreTime`` keeps the read
waiting past the card timeout, and the card device's own wait is only a backstop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.host import HostSimulator
from kiosk.config import parse_config
from kiosk.devices.card import BACKSTOP_MARGIN_S
from kiosk.runtime import Runtime, build_runtime
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, State
from kiosk.session.says import Say

CARD_TIMEOUT_S = 5
TICK_S = 0.1  # the window ticks every second; faster here, so the checks are tight


class Kiosk:
    """The runtime on the real clock, ticking as the window does, recording every step."""

    def __init__(self, rt: Runtime, terminal: SimCardTerminal) -> None:
        self.rt, self.terminal = rt, terminal
        self.seen: list[Session] = []
        rt.runner.listeners.append(self.seen.append)
        self._ticked = 0.0

    def step(self) -> None:
        if time.monotonic() - self._ticked >= TICK_S:
            self._ticked = time.monotonic()
            self.rt.post(ev.Tick(self.rt.clock()))
        self.rt.runner.wait_and_process(0.02)

    def until(self, cond: Callable[[], bool], what: str, timeout: float = 10.0,
              meanwhile: Callable[[], None] | None = None) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                states = [s.state.value for s in self.seen]
                raise AssertionError(f"timed out waiting for {what}; states: {states}")
            if meanwhile is not None:
                meanwhile()
            self.step()

    def elapsed_s(self, s: Session) -> float:
        return (self.rt.clock() - s.created_at).total_seconds()

    def live(self, sid: str) -> Session | None:
        return self.rt.runner.sessions.get(sid)

    def state_of(self, sid: str) -> State | None:
        s = self.live(sid)
        return None if s is None else s.state


@pytest.fixture
def kiosk(host: HostSimulator, tmp_path: Path) -> Iterator[Kiosk]:
    terminal = SimCardTerminal()
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
                       f"[ui]\ncard_timeout_s = {CARD_TIMEOUT_S}\n"
                       "[tariff]\nenergy_price_per_kwh = '0.50'\nvat_percent = '20'\n",
                       demo=True)
    rt = build_runtime(cfg, journal_path=tmp_path / "j.sqlite", card_terminal=terminal,
                       charger=SimCharger((1,), auto=False), watch=False)
    yield Kiosk(rt, terminal)
    rt.close()


def test_the_card_device_waits_longer_than_every_extension(kiosk: Kiosk) -> None:
    policy = kiosk.rt.machine.policy
    assert policy.card_timeout_s == CARD_TIMEOUT_S and policy.max_extensions == 3
    card = kiosk.rt.adapters.card
    assert card.card_timeout_s == CARD_TIMEOUT_S * 4 + BACKSTOP_MARGIN_S
    assert card.pin_timeout_s == policy.pin_timeout_s * 4 + BACKSTOP_MARGIN_S


def test_a_read_given_more_time_waits_past_the_card_timeout_then_takes_the_card(
        kiosk: Kiosk, host: HostSimulator) -> None:
    s = kiosk.rt.start_session(1)
    kiosk.until(lambda: kiosk.terminal.waiting, "the terminal waiting for a card")
    kiosk.until(lambda: kiosk.elapsed_s(s) >= 3, "3 s into the read")
    kiosk.rt.post(ev.MoreTime(s.id))
    kiosk.until(lambda: (a := kiosk.live(s.id)) is not None and a.extensions == 1,
                "the extension")
    extended = kiosk.live(s.id)
    assert extended is not None and extended.deadline is not None
    assert extended.deadline - s.created_at >= timedelta(seconds=3 + CARD_TIMEOUT_S)

    def still_reading() -> None:
        assert kiosk.state_of(s.id) is State.READING_CARD, "the read ended early"

    # past the card timeout (5 s), ticking all along: the read still waits for a card
    kiosk.until(lambda: kiosk.elapsed_s(s) >= 7, "7 s into the read", meanwhile=still_reading)
    still_reading()
    assert kiosk.terminal.waiting
    assert not [x for x in kiosk.seen if x.id == s.id and x.state is not State.READING_CARD]
    kiosk.terminal.present(TEST_CARDS["visa_contactless"])
    kiosk.until(lambda: kiosk.state_of(s.id) is State.WAIT_PLUG, "the authorization")
    held = kiosk.live(s.id)
    assert held is not None and held.masked_pan == "476173******0119"
    assert held.extensions == 0  # a new state, a new count
    assert host.ledger()[s.id].held_minor == 5000
    kiosk.rt.post(ev.Cancelled(s.id))  # no car comes: the hold goes back
    kiosk.until(lambda: kiosk.state_of(s.id) is State.ERROR, "the cancel")
    assert kiosk.rt.settlement.wait_idle(10)
    assert host.ledger()[s.id].reversed and not host.ledger()[s.id].open


def test_a_read_without_more_time_ends_at_the_session_s_deadline_and_frees_the_reader(
        kiosk: Kiosk, host: HostSimulator) -> None:
    s = kiosk.rt.start_session(1)
    kiosk.until(lambda: kiosk.terminal.waiting, "the terminal waiting for a card")
    kiosk.until(lambda: kiosk.live(s.id) is None, "the end of the read", timeout=15)
    took = kiosk.elapsed_s(s)
    # the machine's deadline (5 s, a Tick later), long before the device's backstop (30 s)
    assert CARD_TIMEOUT_S <= took < CARD_TIMEOUT_S + 3
    last = [x for x in kiosk.seen if x.id == s.id][-1]
    assert last.state is State.DONE and last.outcome is Outcome.ABORTED
    assert last.say is Say.NONE  # ended by the timer, not by the device's CardFailed
    steps = [r.to_state for r in kiosk.rt.journal.transitions(s.id)]
    assert steps == ["READING_CARD", "DONE"]
    kiosk.until(lambda: not kiosk.terminal.waiting, "the read cancelled on the terminal")
    # the card worker is free: the next driver's card is read and authorized
    nxt = kiosk.rt.start_session(1)
    kiosk.until(lambda: kiosk.terminal.waiting, "the next read waiting for a card")
    kiosk.terminal.present(TEST_CARDS["visa_contactless"])
    kiosk.until(lambda: kiosk.state_of(nxt.id) is State.WAIT_PLUG, "the next authorization")
    assert host.ledger()[nxt.id].held_minor == 5000
    kiosk.rt.post(ev.Cancelled(nxt.id))
    kiosk.until(lambda: kiosk.state_of(nxt.id) is State.ERROR, "the cancel")
    assert kiosk.rt.settlement.wait_idle(10)
