"""Journal commit latency and crash-recovery time (figures, not pass/fail).

Targets on the 2-core machine: commit median ≤ 5 ms; recovery ≤ 1 s with 1,000 finished and
10 unfinished sessions in the journal.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.journal.runner import Runner
from kiosk.journal.store import Journal
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import SessionMachine, State
from tests.bench.stats import median_p99
from tests.support.machine import T0, Driver, policy


def journal_session(j: Journal, sid: str, *, finish: bool, start: int) -> None:
    """Write one realistic session (card, auth, 10 readings, stop, capture …) step by step."""
    d = Driver()
    d.s = d.s.__class__(**{**d.s.__dict__, "id": sid})
    d.now = T0 + timedelta(minutes=start)
    prev = None
    events: list[ev.Event] = [
        ev.CardRead(sid, "476173******0010", "tok", "visa"), ev.HostApproved(sid, "A1", 5000),
        ev.ChargingStarted(1, 1000, d.now)]
    j.commit(prev, d.s, ev.Started(1), d.effects, d.now)
    prev = d.s
    for e in events:
        d.send(e)
        j.commit(prev, d.s, e, d.effects, d.now)
        prev = d.s
    for i in range(10):
        e = ev.Reading(1, 1000 + 500 * (i + 1), 11000, d.now + timedelta(seconds=60))
        d.send(e, 60)
        j.commit(prev, d.s, e, d.effects, d.now)
        prev = d.s
    if not finish:
        return
    for e in (ev.StopRequested(sid), ev.ChargingStopped(1, 6000, d.now), ev.Dismissed(sid)):
        d.send(e)
        j.commit(prev, d.s, e, d.effects, d.now,
                 [("session", {"id": sid})] if d.s.state is State.RECEIPT else [],
                 settle=[x for x in d.effects if isinstance(x, fx.Settle)])
        prev = d.s


def test_bench_journal_commit(benchmark, tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    d = Driver().to(State.CHARGING)
    j.commit(None, d.s, ev.Started(1), [], d.now)
    state = {"s": d.s, "meter": 1000}

    def one_reading() -> None:
        old = state["s"]
        state["meter"] += 10
        new, effects = d.m.handle(old, ev.Reading(1, state["meter"], 11000, d.now), d.now)
        j.commit(old, new, ev.Reading(1, state["meter"], 11000, d.now), effects, d.now)
        state["s"] = new

    benchmark.pedantic(one_reading, rounds=500, iterations=1, warmup_rounds=20)
    j.close()
    if benchmark.stats is not None:  # None under --benchmark-disable
        p50, p99 = median_p99(list(benchmark.stats.stats.data))
        benchmark.extra_info.update(median_ms=p50 * 1e3, p99_ms=p99 * 1e3)
        print(f"\njournal commit: median {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms")


@pytest.fixture(scope="module")
def big_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recovery") / "j.sqlite"
    j = Journal(path)
    for i in range(1000):
        journal_session(j, f"done-{i:04d}", finish=True, start=i * 30)
    for i in range(10):
        journal_session(j, f"open-{i:02d}", finish=False, start=40_000 + i)
    j.close()
    return path


def test_bench_recovery_1000_finished_10_unfinished(benchmark, big_journal: Path,
                                                    tmp_path: Path) -> None:
    import shutil

    counter = {"n": 0}

    def setup():
        counter["n"] += 1
        copy = tmp_path / f"copy-{counter['n']}.sqlite"
        shutil.copy(big_journal, copy)
        return (copy,), {}

    def recover(path: Path) -> None:
        j = Journal(path)
        runner = Runner(SessionMachine(policy()), j, clock=lambda: T0 + timedelta(days=2),
                        record_builder=lambda s: {"id": s.id})
        effects = []
        runner.executor = effects.append
        found = runner.recover(lambda c: (False, None))
        assert len(found) == 10 and len(effects) == 20  # disable + capture each
        j.close()

    benchmark.pedantic(recover, setup=setup, rounds=5, iterations=1)
