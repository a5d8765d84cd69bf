"""The runner on a thread of its own (the app's): steps run there, in the order they were
posted, one at a time whoever else calls in; ``sessions`` can be read from any thread while
steps run; stopping ends the thread. And the journal's plain-SQL commit statements fit the
tables the migrations build."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.journal import store
from kiosk.journal.runner import Runner
from kiosk.journal.store import Journal
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import Session, SessionMachine, State
from tests.support.machine import T0, policy

WAIT_S = 10.0


def until(predicate: Callable[[], bool]) -> bool:
    end = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


@pytest.fixture
def runner(tmp_path: Path):
    j = Journal(tmp_path / "j.sqlite")
    now = [T0]
    r = Runner(SessionMachine(policy()), j, clock=lambda: now[0],
               record_builder=lambda s: {"id": s.id})
    effects: list[fx.Effect] = []
    r.executor = effects.append
    yield r
    r.stop_thread()
    j.close()


def charging(r: Runner, connector: int = 1) -> Session:
    s = r.start_session(connector)
    for e in (ev.CardRead(s.id, "476173******0010", f"tok{connector}", "visa"),
              ev.HostApproved(s.id, "A1", 5000), ev.ChargingStarted(connector, 1000, T0)):
        r.dispatch(e)
    assert r.sessions[s.id].state is State.CHARGING
    return r.sessions[s.id]


def test_steps_run_on_the_runners_thread_in_the_order_posted(runner: Runner) -> None:
    s = charging(runner)
    seen: list[tuple[str, int]] = []
    runner.listeners.append(lambda new: seen.append((threading.current_thread().name,
                                                     new.meter_now_wh)))
    assert runner.start_thread() and not runner.start_thread()  # the second: already runs
    assert runner.threaded
    for i in range(1, 51):
        runner.post(ev.Reading(1, 1000 + 10 * i, 11000, T0 + timedelta(seconds=i)))
    assert until(lambda: len(seen) == 50)
    assert {name for name, _ in seen} == {"kiosk-runner"}
    assert [wh for _, wh in seen] == [1000 + 10 * i for i in range(1, 51)]
    assert runner.sessions[s.id].meter_now_wh == 1500
    runner.stop_thread()
    assert not runner.threaded
    assert not [t for t in threading.enumerate() if t.name == "kiosk-runner"]
    runner.post(ev.Reading(1, 2000, 11000, T0 + timedelta(seconds=99)))  # queued, not run
    assert runner.sessions[s.id].meter_now_wh == 1500
    assert runner.process_pending() == 1 and runner.sessions[s.id].meter_now_wh == 2000


def test_a_start_from_another_thread_waits_for_the_running_step(runner: Runner) -> None:
    charging(runner, 1)
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_listener(new: Session) -> None:
        if new.connector == 1 and new.meter_now_wh == 1010:
            inside.set()
            release.wait(WAIT_S)
            order.append("reading step ends")

    runner.listeners.append(slow_listener)
    runner.start_thread()
    runner.post(ev.Reading(1, 1010, 11000, T0 + timedelta(seconds=1)))
    assert inside.wait(WAIT_S)
    started: list[Session] = []
    starter = threading.Thread(target=lambda: (started.append(runner.start_session(2)),
                                               order.append("start")))
    starter.start()
    time.sleep(0.05)  # a chance to overtake, which the lock must refuse
    assert not started
    release.set()
    starter.join(WAIT_S)
    assert order == ["reading step ends", "start"]
    assert started[0].id in runner.sessions


def test_sessions_read_from_another_thread_is_always_a_whole_picture(runner: Runner) -> None:
    runner.start_thread()
    stop = threading.Event()
    problems: list[BaseException] = []
    looks = [0]

    def reader() -> None:
        while not stop.is_set():
            try:
                live = runner.sessions
                for sid, s in live.items():  # never "changed size during iteration"
                    assert s.id == sid
                looks[0] += 1
            except BaseException as exc:  # reported below
                problems.append(exc)
                return

    t = threading.Thread(target=reader)
    t.start()
    try:
        for round_ in range(30):  # sessions come and go while the reader looks
            s = runner.start_session(1 + round_ % 2)
            runner.post(ev.Cancelled(s.id))
            assert until(lambda s=s: s.id not in runner.sessions)
    finally:
        stop.set()
        t.join(WAIT_S)
    assert not problems and looks[0] > 0


def test_a_failing_step_does_not_end_the_thread(runner: Runner,
                                                caplog: pytest.LogCaptureFixture) -> None:
    s = charging(runner)
    calls = [0]

    def fragile(new: Session) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("a listener broke")

    runner.listeners.append(fragile)
    runner.start_thread()
    runner.post(ev.Reading(1, 1010, 11000, T0 + timedelta(seconds=1)))
    runner.post(ev.Reading(1, 1020, 11000, T0 + timedelta(seconds=2)))
    assert until(lambda: runner.sessions[s.id].meter_now_wh == 1020)
    assert runner.threaded and calls[0] == 2
    assert "processing session events failed" in caplog.text


@pytest.mark.parametrize("name", [n for n in dir(store) if n.startswith(("_INSERT", "_UPDATE",
                                                                          "_INVOICE", "_LAST"))])
def test_each_commit_statement_compiles_against_the_migrated_tables(tmp_path: Path,
                                                                    name: str) -> None:
    Journal(tmp_path / "j.sqlite").close()
    sql = getattr(store, name)
    con = sqlite3.connect(tmp_path / "j.sqlite")
    try:
        con.execute("EXPLAIN " + sql, (None,) * sql.count("?"))  # unknown names fail here
    finally:
        con.close()
