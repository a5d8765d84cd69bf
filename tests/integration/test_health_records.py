"""The terminal's health changes as records for the back office, on real parts: the journal's
``queue_record`` on a full and on a read-only file system, a demo runtime whose charger link
fails and comes back, a technician's maintenance (planned), the journal's own outage (the
record written once the journal takes writes again), the v3 session record of a whole
simulated session, and a health record uploaded over HTTPS and stored by the back office."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from drivers.charger.api import LinkBack, LinkLost
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.storage import open_db, records
from kiosk.config import KioskConfig, parse_config
from kiosk.health import CHARGER, JOURNAL
from kiosk.journal.store import Journal, JournalWriteError
from kiosk.maintenance.mode import MAINTENANCE
from kiosk.records.batch import public_key_raw
from kiosk.records.record import RECORD_VERSION
from kiosk.runtime import Runtime, build_runtime
from kiosk.security.provisioning import load_terminal_keys
from kiosk.security.technicians import TechnicianStore, code_at
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, State
from kiosk.session.says import Say
from tests.support.backoffice import running_service
from tests.support.fullfs import fill, unfill
from tests.support.rig import Rig

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PIN = "482916"
WAIT_S = 30.0


def demo_config(host: HostSimulator, extra: str = "") -> KioskConfig:
    return parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
                        "[tariff]\nenergy_price_per_kwh = '0.50'\nvat_percent = '20'\n" + extra,
                        demo=True)


@pytest.fixture
def make_rig(host: HostSimulator) -> Iterator[Any]:
    """A demo runtime on the simulators (no background checks), closed afterwards with the
    charger passed in."""
    made: list[tuple[Runtime, SimCharger]] = []

    def make(journal: Path, cfg: KioskConfig | None = None, *, upload: bool = True) -> Rig:
        clock = SimClock(T0)
        charger = SimCharger((1,), auto=False, clock=clock)
        terminal = SimCardTerminal()
        rt = build_runtime(cfg or demo_config(host), clock=clock.now, journal_path=journal,
                           card_terminal=terminal, charger=charger, watch=False, upload=upload)
        made.append((rt, charger))
        return Rig(rt, clock, charger, terminal)

    yield make
    for rt, charger in made:
        rt.close()
        charger.close()


def health_payloads(journal: Journal) -> list[dict[str, Any]]:
    rows = [r for r in journal.outbox() if r.kind == "audit"]
    assert all(r.session_id.startswith("health-") for r in rows)
    assert len({r.session_id for r in rows}) == len(rows)
    return [r.payload for r in rows]


def brief(payloads: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(p["part"], p["ok"], p["planned"], p["in_service"], p["faulted"]) for p in payloads]


# --- queue_record on a file system that refuses writes ----------------------------------------

@pytest.mark.slow
def test_queue_record_on_a_full_disk_is_a_write_error_and_changes_nothing(
        small_fs: Path) -> None:
    j = Journal(small_fs / "journal.sqlite", outbox_key=bytes(range(32)))
    try:
        j.queue_record("health-1", "audit", {"event": "health"}, T0)
        fill(small_fs)
        with pytest.raises(JournalWriteError, match=r"write failed: .*full"):
            for n in range(2, 50):  # the WAL may still have room for the first few
                j.queue_record(f"health-{n}", "audit", {"event": "health", "pad": "x" * 4000},
                               T0)
        written = len(j.outbox())
        unfill(small_fs)
        j.queue_record("health-99", "audit", {"event": "health"}, T0)
        assert len(j.outbox()) == written + 1
    finally:
        j.close()


@pytest.mark.slow
def test_queue_record_on_a_read_only_file_system_is_a_write_error(small_fs: Path) -> None:
    j = Journal(small_fs / "journal.sqlite", outbox_key=bytes(range(32)))
    try:
        j.queue_record("health-1", "audit", {"event": "health"}, T0)
        j.close()  # no file open for writing: the remount needs it
        subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
        try:
            with pytest.raises(JournalWriteError, match="write failed"):
                j.queue_record("health-2", "audit", {"event": "health"}, T0)
        finally:
            j.close()
            subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
        assert [r.session_id for r in j.outbox()] == ["health-1"]
    finally:
        j.close()


# --- the runtime ------------------------------------------------------------------------------

def test_the_charger_link_failing_and_coming_back_is_two_health_records(
        make_rig: Any, tmp_path: Path) -> None:
    rig: Rig = make_rig(tmp_path / "kiosk" / "journal.sqlite")
    rt = rig.rt
    assert health_payloads(rt.journal) == []
    # what the serial driver reports (its reader thread): the link down, then back
    rig.charger._emit([LinkLost(rig.clock.now())])
    assert not rt.health.in_service
    rig.clock.advance(90)
    rig.charger._emit([LinkBack(rig.clock.now())])
    assert rt.health.in_service
    first, second = health_payloads(rt.journal)
    assert first == {"record_version": RECORD_VERSION, "event": "health",
                     "station_id": rt.config.station.id, "at": T0.isoformat(),
                     "part": CHARGER, "ok": False, "planned": False, "in_service": False,
                     "faulted": True, "detail": "charger link lost"}
    assert second == {**first, "at": rig.clock.now().isoformat(), "ok": True,
                      "in_service": True, "faulted": False, "detail": ""}
    rows = [r for r in rt.journal.outbox() if r.kind == "audit"]
    assert [r.created_at for r in rows] == [first["at"], second["at"]]


def test_a_technicians_maintenance_is_a_planned_outage(make_rig: Any, tmp_path: Path) -> None:
    rig: Rig = make_rig(tmp_path / "kiosk" / "journal.sqlite")
    rt = rig.rt
    mode = rt.maintenance
    assert mode is not None
    tech = TechnicianStore(tmp_path / "kiosk").add("alice", "technician", PIN)
    mode.enter()
    mode.login("alice", PIN, code_at(tech.totp_secret, time.time()))
    assert not rt.health.in_service
    mode.close()
    assert rt.health.in_service
    payloads = health_payloads(rt.journal)
    assert brief(payloads) == [(MAINTENANCE, False, True, False, False),
                               (MAINTENANCE, True, True, True, False)]
    assert payloads[0]["detail"] == "maintenance by alice"


@pytest.mark.slow
def test_the_journals_own_outage_is_recorded_once_it_takes_writes_again(
        make_rig: Any, small_fs: Path, host: HostSimulator) -> None:
    rig: Rig = make_rig(small_fs / "journal.sqlite")
    rt = rig.rt
    assert rt.health_upload is not None
    s = rig.charging()
    rig.charger.advance(600)
    rig.until(lambda: rt.runner.active().energy_wh > 0, "a journaled reading")
    fill(small_fs)
    for _ in range(3):  # the readings cannot be journaled
        rig.charger.advance(600)
    rig.until(lambda: rt.runner.journal_error is not None, "the failed commit")
    assert not rt.health.in_service and rt.health.problem(JOURNAL) is not None
    assert rt.health_upload.pending == 1  # the journal's outage, held in memory
    assert health_payloads(rt.journal) == []
    rt.runner.post(ev.Tick(rig.clock.now()))  # still full
    rt.runner.process_pending()
    assert rt.health_upload.pending == 1
    unfill(small_fs)
    rt.runner.post(ev.Tick(rig.clock.now()))  # writable again: resumes, and says so
    rig.until(lambda: rt.health.in_service, "the journal back")
    assert rt.health_upload.pending == 0
    payloads = health_payloads(rt.journal)
    assert brief(payloads) == [(JOURNAL, False, False, False, True),
                               (JOURNAL, True, False, True, False)]
    assert "write failed" in payloads[0]["detail"] and "\n" not in payloads[0]["detail"]
    ended = rig.reach(State.RECEIPT)  # settled from its last journaled step
    assert ended.id == s.id and ended.outcome is Outcome.CAPTURED
    rig.settled()
    rt.runner.post(ev.Dismissed(s.id))
    rig.final()
    assert len(health_payloads(rt.journal)) == 2  # nothing later, nothing twice


def test_the_session_record_says_why_how_when_and_where(make_rig: Any, host: HostSimulator,
                                                        tmp_path: Path) -> None:
    rig: Rig = make_rig(tmp_path / "kiosk" / "journal.sqlite",
                        demo_config(host, "[station]\ntimezone = 'Europe/Paris'\n"))
    s = rig.play("visa_contactless", seconds=900)
    rig.settled()
    ended = rig.final()
    assert ended.outcome is Outcome.CAPTURED
    [record] = [r.payload for r in rig.rt.journal.outbox()
                if r.kind == "session" and r.session_id == s.id]
    assert record["record_version"] == RECORD_VERSION == 3
    assert record["say"] == ended.say.value and isinstance(Say(record["say"]), Say)
    assert record["interface"] == "contactless"
    assert record["timezone"] == "Europe/Paris"
    assert datetime.fromisoformat(record["ended_at"]) >= datetime.fromisoformat(
        record["charge_stopped_at"]) >= datetime.fromisoformat(record["created_at"])
    assert "parking_since" in record


# --- to the back office -----------------------------------------------------------------------

def test_a_health_record_reaches_the_back_office(make_rig: Any, host: HostSimulator,
                                                 tmp_path: Path) -> None:
    db = open_db(f"sqlite:///{tmp_path / 'backoffice.sqlite'}")
    journal = tmp_path / "kiosk" / "journal.sqlite"
    try:
        with running_service(db, tmp_path) as svc:
            assert svc.ca_file is not None
            cfg = demo_config(host, f'[backoffice]\nurl = "{svc.url}"\nca_file = '
                                    f'"{svc.ca_file}"\nupload_retry_s = 0.05\n'
                                    f"upload_retry_max_s = 0.3\n")
            keys = load_terminal_keys(cfg, journal.parent, demo=True)
            assert keys.signing_key is not None
            add_terminal(db, cfg.station.id, public_key_raw(keys.signing_key.public_key()))
            rig: Rig = make_rig(journal, cfg)
            up = rig.rt.uploader
            assert up is not None
            rig.charger._emit([LinkLost(rig.clock.now())])  # kicks the uploader: no wait
            st = up.wait_for(lambda st: st.pending == 0 and st.delivered >= 1, WAIT_S)
            assert st is not None, f"not delivered: {up.status()}"
            rows = [r for r in rig.rt.journal.outbox() if r.kind == "audit"]
            assert [r.payload["part"] for r in rows] == [CHARGER]
            assert all(r.sent_at is not None for r in rows)
            with db.engine.connect() as conn:
                stored = conn.execute(select(records.c.record_id, records.c.session_id,
                                             records.c.kind).order_by(records.c.id)).all()
            assert [tuple(r) for r in stored] == [(f"{r.session_id}:audit", r.session_id,
                                                   "audit") for r in rows]
    finally:
        db.close()


def test_a_restart_after_an_outage_ends_it_in_the_back_offices_timeline(
        make_rig: Any, tmp_path: Path) -> None:
    """The last run ended out of service (its charger link was down): this run knows nothing
    of that part, so it says how it starts (part start, in service); a start after a record in
    service says nothing."""
    journal = tmp_path / "kiosk" / "journal.sqlite"
    rig: Rig = make_rig(journal)
    rig.charger._emit([LinkLost(rig.clock.now())])
    assert brief(health_payloads(rig.rt.journal)) == [(CHARGER, False, False, False, True)]
    again: Rig = make_rig(journal)  # a new run on the journal; its charger answers
    assert again.rt.health.in_service
    assert brief(health_payloads(again.rt.journal)) == [(CHARGER, False, False, False, True),
                                                        ("start", True, False, True, False)]
    third: Rig = make_rig(journal)
    assert len(health_payloads(third.rt.journal)) == 2  # the last record was in service
