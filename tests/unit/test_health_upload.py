"""Each change of the terminal's health as a record for the back office: the diff (a part
failing, its detail changing, fine again), planned or not, the state after each change, records
held in memory while the journal refuses writes and written once it takes them, none twice,
from any thread; the records go into the signed batches like every other."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.backoffice.schemas import check_batch
from kiosk.health import CHARGER, HOST, JOURNAL, MSG_CHARGER, MSG_HOST, MSG_JOURNAL, Health
from kiosk.journal.store import Journal, JournalWriteError
from kiosk.maintenance.mode import MAINTENANCE, MSG_MAINTENANCE, MSG_OPERATOR, OPERATOR
from kiosk.records import batch as wire
from kiosk.records.health_upload import MAX_DETAIL_CHARS, HealthUpload, record_id
from kiosk.records.outbox import Outbox
from kiosk.records.record import RECORD_VERSION

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
STATION = "DEMO-0001"


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class Refusing:
    """The journal, refusing writes while ``refuse`` is set (a full disk, as the store says
    it: :class:`JournalWriteError`, nothing written)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.refuse = False
        self.attempts = 0

    def queue_record(self, record_session_id: str, kind: str, payload: dict[str, Any],
                     at: datetime) -> None:
        self.attempts += 1
        if self.refuse:
            raise JournalWriteError(f"journal {self.journal.path}: write failed: database or "
                                    f"disk is full")
        self.journal.queue_record(record_session_id, kind, payload, at)


@pytest.fixture
def journal(tmp_path: Path):
    j = Journal(tmp_path / "journal.sqlite", outbox_key=bytes(range(32)))
    yield j
    j.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def rig(journal: Journal, clock: Clock, **kw: Any) -> tuple[Health, HealthUpload, list[int]]:
    health = Health(clock)
    kicks: list[int] = []
    up = HealthUpload(journal, station_id=STATION, clock=clock,
                      kick=lambda: kicks.append(1), **kw)
    health.listeners.append(up)
    return health, up, kicks


def records(journal: Journal) -> list[dict[str, Any]]:
    rows = journal.outbox()
    assert all(r.kind == "audit" and r.session_id.startswith("health-") for r in rows)
    assert all(r.created_at == r.payload["at"] for r in rows)
    return [r.payload for r in rows]


def brief(payloads: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(p["part"], p["ok"], p["planned"], p["in_service"], p["faulted"]) for p in payloads]


def test_a_part_failing_changing_and_fine_again_is_three_records(journal: Journal,
                                                                 clock: Clock) -> None:
    health, _, kicks = rig(journal, clock)
    health.report(CHARGER, False, MSG_CHARGER, "charger link lost")
    clock.advance(30)
    health.report(CHARGER, False, "The charger is resetting.", "controller restarted")
    clock.advance(30)
    assert not health.report(CHARGER, False, "The charger is resetting.", "again")  # no change
    health.report(CHARGER, True)
    health.report(CHARGER, True)  # no change: nothing
    payloads = records(journal)
    assert payloads[0] == {"record_version": RECORD_VERSION, "event": "health",
                           "station_id": STATION, "at": T0.isoformat(), "part": CHARGER,
                           "ok": False, "planned": False, "in_service": False, "faulted": True,
                           "detail": "charger link lost"}
    assert brief(payloads) == [(CHARGER, False, False, False, True),
                               (CHARGER, False, False, False, True),
                               (CHARGER, True, False, True, False)]
    assert [p["detail"] for p in payloads] == ["charger link lost", "controller restarted", ""]
    assert [p["at"] for p in payloads] == [T0.isoformat(),
                                           (T0 + timedelta(seconds=30)).isoformat(),
                                           (T0 + timedelta(seconds=60)).isoformat()]
    assert len(kicks) == 3  # each record wakes the uploader


def test_planned_outages_are_not_faults_and_their_end_says_so(journal: Journal,
                                                              clock: Clock) -> None:
    health, _, _ = rig(journal, clock)
    health.report(MAINTENANCE, False, MSG_MAINTENANCE, "maintenance by ada", planned=True)
    health.report(HOST, False, MSG_HOST, "echo failing")  # a fault during the maintenance
    health.report(MAINTENANCE, True)
    health.report(OPERATOR, False, MSG_OPERATOR, "switched off by ada: new cable",
                  planned=True)
    health.report(HOST, True)
    health.report(OPERATOR, True)
    assert brief(records(journal)) == [
        (MAINTENANCE, False, True, False, False),
        (HOST, False, False, False, True),
        (MAINTENANCE, True, True, False, True),  # the host still fails: faulted
        (OPERATOR, False, True, False, True),
        (HOST, True, False, False, False),  # only the planned switch stands now
        (OPERATOR, True, True, True, False),
    ]
    assert health.problem(HOST) is None
    health.report(OPERATOR, False, MSG_OPERATOR, "x", planned=True)
    problem = health.problem(OPERATOR)
    assert problem is not None and problem.planned


def test_changes_seen_together_are_recorded_failures_first_each_with_its_state(
        journal: Journal, clock: Clock) -> None:
    """Two threads reported while the first listener call ran: the one call that sees both
    records both, never a moment in service that was not."""
    health = Health(clock)
    up = HealthUpload(journal, station_id=STATION, clock=clock)
    health.report(HOST, False, MSG_HOST, "echo failing")
    up(health)
    health.report(HOST, True)
    health.report(CHARGER, False, MSG_CHARGER, "charger link lost")
    health.report(JOURNAL, False, MSG_JOURNAL, "disk full")
    up(health)
    assert brief(records(journal)) == [(HOST, False, False, False, True),
                                       (JOURNAL, False, False, False, True),
                                       (CHARGER, False, False, False, True),
                                       (HOST, True, False, False, True)]


def test_the_detail_is_one_bounded_line_without_card_data(journal: Journal,
                                                          clock: Clock) -> None:
    health, _, _ = rig(journal, clock)
    health.report("reader", False, "The card reader is not available right now.",
                  "reader said\n4761739001010119\x07 and " + "x" * 1000)
    [p] = records(journal)
    assert "\n" not in p["detail"] and "\x07" not in p["detail"]
    assert "4761739001010119" not in p["detail"] and "476173" in p["detail"]
    assert len(p["detail"]) <= MAX_DETAIL_CHARS


def test_the_record_id_fits_the_outbox_and_the_batch_format() -> None:
    ids = {record_id(T0) for _ in range(1000)}
    assert len(ids) == 1000
    for rid in ids:
        assert rid.startswith("health-20261130T090000000000Z-") and len(rid) <= 64
        assert wire._ID.fullmatch(f"{rid}:audit") and wire._ID.fullmatch(rid)


def test_records_the_journal_refuses_are_held_and_written_with_the_next_change(
        journal: Journal, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    refusing = Refusing(journal)
    health, up, kicks = rig(refusing, clock)  # type: ignore[arg-type]
    refusing.refuse = True
    with caplog.at_level(logging.WARNING, logger="kiosk.records.health_upload"):
        health.report(JOURNAL, False, MSG_JOURNAL, "write failed: database or disk is full")
        health.report(HOST, False, MSG_HOST, "echo failing")
        assert up.pending == 2 and records(journal) == [] and kicks == []
        held = [r for r in caplog.records if "held in memory" in r.getMessage()]
        assert len(held) == 1  # once per outage, not per record
        refusing.refuse = False
        health.report(JOURNAL, True)  # the journal takes writes again: a change too
    assert up.pending == 0
    assert brief(records(journal)) == [(JOURNAL, False, False, False, True),
                                       (HOST, False, False, False, True),
                                       (JOURNAL, True, False, False, True)]
    assert kicks  # the uploader was told
    assert any("in the journal now" in r.getMessage() for r in caplog.records)
    up.flush()  # nothing held: nothing written again
    assert len(records(journal)) == 3


def test_a_record_written_after_all_is_not_queued_twice(journal: Journal,
                                                        clock: Clock) -> None:
    """A write reported as failed that reached the file anyway: the next attempt, under the
    same record id, is refused by the journal, and the list moves on."""
    class WrittenButRefused(Refusing):
        def queue_record(self, record_session_id: str, kind: str, payload: dict[str, Any],
                         at: datetime) -> None:
            self.attempts += 1
            if self.refuse:
                self.journal.queue_record(record_session_id, kind, payload, at)
                raise JournalWriteError("journal: write failed: disk I/O error")
            self.journal.queue_record(record_session_id, kind, payload, at)

    flaky = WrittenButRefused(journal)
    health, up, _ = rig(flaky, clock)  # type: ignore[arg-type]
    flaky.refuse = True
    health.report(HOST, False, MSG_HOST, "echo failing")
    assert up.pending == 1
    flaky.refuse = False
    health.report(HOST, True)
    assert up.pending == 0
    assert brief(records(journal)) == [(HOST, False, False, False, True),
                                       (HOST, True, False, True, False)]


def test_the_held_records_are_bounded_the_oldest_dropped_with_one_error(
        journal: Journal, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    refusing = Refusing(journal)
    health, up, _ = rig(refusing, clock, max_pending=3)  # type: ignore[arg-type]
    refusing.refuse = True
    with caplog.at_level(logging.WARNING, logger="kiosk.records.health_upload"):
        for i in range(6):
            health.report(HOST, False, MSG_HOST if i % 2 else "other", f"echo {i}")
    assert up.pending == 3
    errors = [r for r in caplog.records
              if r.levelno == logging.ERROR and r.name == "kiosk.records.health_upload"]
    assert len(errors) == 1 and "dropped" in errors[0].getMessage()
    refusing.refuse = False
    up.flush()
    assert [p["detail"] for p in records(journal)] == ["echo 3", "echo 4", "echo 5"]


def test_a_listener_that_fails_never_raises_into_health(journal: Journal, clock: Clock,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Refusing):
        def queue_record(self, *args: Any) -> None:
            raise RuntimeError("a bug")

    health, up, _ = rig(Broken(journal), clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        assert health.report(HOST, False, MSG_HOST, "echo failing")
    assert up.pending == 0  # a record that cannot be stored is not retried for ever
    assert not any("listener failed" in r.getMessage() for r in caplog.records)
    assert [r.name for r in caplog.records if "cannot be queued" in r.getMessage()] == [
        "kiosk.records.health_upload"]


def test_many_threads_reporting_at_once_record_each_change_once(journal: Journal,
                                                                clock: Clock) -> None:
    health, up, _ = rig(journal, clock)
    parts = [f"part {i}" for i in range(8)]
    start = threading.Barrier(len(parts))

    def flap(part: str) -> None:
        start.wait()
        for n in range(10):
            health.report(part, False, "down", f"{part} down {n}")
            health.report(part, True)

    threads = [threading.Thread(target=flap, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert up.pending == 0 and health.in_service
    payloads = records(journal)
    for part in parts:
        mine = [(p["ok"], p["detail"]) for p in payloads if p["part"] == part]
        assert mine == [x for n in range(10) for x in ((False, f"{part} down {n}"), (True, ""))]
    assert payloads[-1]["in_service"] and not payloads[-1]["faulted"]
    assert sum(p["in_service"] for p in payloads) >= 1


def test_health_records_go_into_signed_batches_the_back_office_takes(journal: Journal,
                                                                     clock: Clock) -> None:
    health, _, _ = rig(journal, clock)
    health.report(CHARGER, False, MSG_CHARGER, "charger link lost")
    health.report(CHARGER, True)
    key = Ed25519PrivateKey.generate()
    [(sequence, envelope)] = Outbox(journal, STATION, key, clock).seal_all()
    batch = wire.verify(wire.open_envelope(envelope), key.public_key())
    check_batch(batch)  # the back office's per-kind checks
    assert sequence == 1 and [r.kind for r in batch.records] == ["audit", "audit"]
    assert all(r.id == f"{r.session_id}:audit" for r in batch.records)
    assert [r.payload["ok"] for r in batch.records] == [False, True]
