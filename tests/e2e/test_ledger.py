"""The ledger test: 500 randomized sessions over the ISO 8583 link, with host faults (dropped,
late, garbled, doubled and stale answers, refused connections), drivers who cancel, cars that
leave, chargers that fault, wrong PINs, and kiosk restarts in the middle of sessions.
Afterwards the host's ledger equals the kiosk's records to the cent and no hold is left open."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.config import parse_config
from kiosk.journal.store import Journal
from kiosk.runtime import Runtime, build_runtime
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, State
from tests.support.ledger import check_settled

pytestmark = pytest.mark.slow
SESSIONS = 500
CARDS = ["visa_contactless"] * 6 + ["debit_contactless"] * 2 + ["mastercard_pin"] * 3 + [
    "declined_funds", "declined_honour", "issuer_down", "removed_card", "garbage_card"]
FAULTS = ["drop", "delay", "garbage", "twice", "stale", "refuse"]


class Kiosk:
    def __init__(self, path: Path, port: int, clock: SimClock) -> None:
        cfg = parse_config(f"schema_version = 1\n[host]\nport = {port}\ntimeout_s = 0.25\n"
                           "[payment]\nhold_amount = '20.00'\nincrement_amount = '10.00'\n"
                           "max_total_hold = '40.00'\n", demo=True)
        self.clock = clock
        self.charger = SimCharger((1,), auto=False, clock=clock)
        self.terminal = SimCardTerminal()
        self.rt: Runtime = build_runtime(cfg, clock=clock.now, journal_path=path,
                                         card_terminal=self.terminal, charger=self.charger,
                                         watch=False)
        self.rt.recover()

    def close(self) -> None:
        self.rt.close()


def play(k: Kiosk, host: HostSimulator, rng: random.Random, restart_at: int) -> bool:
    """Drive the live session (started or recovered) to its end. Returns False when it stopped
    at ``restart_at`` steps to simulate a restart."""
    runner = k.rt.runner
    steps, readings, seen, changed = 0, 0, None, time.monotonic()
    plan_readings = rng.randint(1, 12)
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        runner.wait_and_process(0.005)
        s = runner.active()
        if s is None:
            return True
        if (s.id, s.seq) == seen:
            # nothing moved for a while: let the session's timer fire (retries, timeouts)
            if s.deadline is not None and time.monotonic() - changed > 0.3:
                k.clock.advance(max(0.0, (s.deadline - k.clock.now()).total_seconds()) + 1)
                runner.post(ev.Tick(k.clock.now()))
                changed = time.monotonic()
            continue
        seen, changed = (s.id, s.seq), time.monotonic()
        steps += 1
        if steps == restart_at:
            return False
        if rng.random() < 0.08:
            host.inject(rng.choice(FAULTS))
        if s.state is State.READING_CARD and rng.random() < 0.05:
            runner.post(ev.Cancelled(s.id))
        elif s.state is State.PIN_ENTRY:
            k.rt.adapters.submit_pin(s.id, "1234" if rng.random() < 0.85 else "0000")
        elif s.state is State.WAIT_PLUG:
            if rng.random() < 0.1:
                runner.post(ev.Cancelled(s.id))
            else:
                k.charger.plug(1)
        elif s.state is State.CHARGING:
            roll = rng.random()
            if readings >= plan_readings or roll < 0.03:
                runner.post(ev.StopRequested(s.id))
            elif roll < 0.06:
                k.charger.unplug(1)
            elif roll < 0.08:
                k.charger.fault(1, "Ground fault")
            else:
                readings += 1
                k.charger.advance(rng.choice([60, 300, 900]))
        elif s.state in (State.RECEIPT, State.DECLINED, State.ERROR):
            runner.post(ev.Dismissed(s.id))
    raise AssertionError(f"session stuck in {runner.active()}")


def drain(k: Kiosk) -> None:
    """Let the settlement queue finish: move the clock to each job's retry time."""
    give_up = time.monotonic() + 60
    while not k.rt.settlement.wait_idle(0.05):
        assert time.monotonic() < give_up, "the settlement queue did not finish"
        due = k.rt.settlement.next_due()
        if due is not None and due > k.clock.now():
            k.clock.advance((due - k.clock.now()).total_seconds() + 1)
        k.rt.settlement.kick()


def test_500_randomized_sessions_settle_to_the_cent(host: HostSimulator,
                                                    tmp_path: Path) -> None:
    rng = random.Random(20261125)
    path = tmp_path / "journal.sqlite"
    clock = SimClock(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    k = Kiosk(path, host.port, clock)
    restarts = 0
    try:
        for _ in range(SESSIONS):
            clock.advance(rng.randint(60, 3600))
            k.charger.unplug(1)
            k.charger.clear_fault(1)
            k.rt.runner.start_session(1)
            k.terminal.present(TEST_CARDS[rng.choice(CARDS)])
            restart_at = rng.randint(2, 12) if rng.random() < 0.12 else -1
            if not play(k, host, rng, restart_at):
                restarts += 1
                k.close()
                clock.advance(rng.choice([1, 30, 600]))
                k = Kiosk(path, host.port, clock)  # recovery finishes the session
                assert play(k, host, rng, -1)
        drain(k)  # the captures and reversals still waiting for the host, with its faults
    finally:
        k.close()
    check_settled(path, host)
    j = Journal(path)
    try:
        sessions = j.all_sessions()
        captured = [s for s in sessions if s.outcome is Outcome.CAPTURED]
        outcomes = {s.outcome for s in sessions}
    finally:
        j.close()
    ledger = host.ledger()
    assert len(sessions) == SESSIONS and restarts >= 10, restarts
    assert {Outcome.CAPTURED, Outcome.REVERSED, Outcome.DECLINED, Outcome.ABORTED} <= outcomes
    assert sum(s.final_minor for s in captured) == sum(
        e.captured_minor or 0 for e in ledger.values() if e.ref in {s.id for s in sessions})
    assert host.open_holds() == []
    counts = {o.value: sum(1 for s in sessions if s.outcome is o) for o in outcomes}
    print(f"\n{SESSIONS} sessions, {restarts} restarts: {counts}; "
          f"{sum(s.final_minor for s in captured) / 100:.2f} EUR captured")
    assert timedelta(0) < clock.now() - datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
