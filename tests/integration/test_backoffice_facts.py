"""The analytics' facts on real SQLite and real PostgreSQL: the import writes them in the batch's
own transaction, exactly once (a replay, a record sent again, a batch held and then released),
a record whose fact cannot be made is stored all the same, and a database upgraded from bo0003
gets the facts of the records it holds. The sites of the terminals, by the CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, func, insert, select

from kiosk.backoffice import importer
from kiosk.backoffice.facts import SESSION_COLUMNS, session_fact
from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.registry import (
    RegistryError,
    add_terminal,
    get_terminal,
    list_terminals,
    set_site,
)
from kiosk.backoffice.storage import (
    MIGRATIONS,
    Database,
    batches,
    charging_sessions,
    health_events,
    open_db,
    records,
    terminals,
)
from kiosk.records.batch import Batch, Record, public_key_raw, seal
from kiosk.records.record import health_record, session_record
from kiosk.session import events as ev
from kiosk.session.machine import Session, State
from tests.support.machine import Driver
from tests.support.postgres import backoffice_url, postgres_server  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = "DEMO-0001"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def session(n: int, walk: str = "paid") -> Session:
    d = Driver()
    d.s = replace(d.s, id=f"sess-{n:04d}")
    sid = d.s.id
    if walk == "paid":
        d.send(ev.CardRead(sid, "476173******0010", f"tok{n % 3}", "visa",
                           interface="contactless"))
        d.send(ev.HostApproved(sid, "A1B2C3", 5000))
        d.send(ev.ChargingStarted(1, 1000, d.now + timedelta(seconds=1)))
        d.reading(1000 + 1000 * (n % 7 + 1))
        d.send(ev.StopRequested(sid))
        d.send(ev.ChargingStopped(1, d.s.meter_now_wh, d.now))
        assert d.s.state is State.RECEIPT
    else:
        d.send(ev.CardRead(sid, "476173******0010", "tokD", "visa"))
        d.send(ev.HostDeclined(sid, "51", "no funds"))
    return d.s


def session_rec(s: Session) -> Record:
    payload = session_record(s, station_id=TERMINAL, currency="EUR", timezone="Europe/Berlin")
    return Record(f"{s.id}:session", s.id, "session", s.updated_at.isoformat(), payload)


def health_rec(n: int, ok: bool) -> Record:
    at = T0 + timedelta(minutes=n)
    rid = f"health-{at:%Y%m%dT%H%M%S%fZ}-{n:012x}"
    payload = health_record(station_id=TERMINAL, at=at, part="charger", ok=ok, planned=False,
                            in_service=ok, faulted=not ok, detail="")
    return Record(f"{rid}:audit", rid, "audit", at.isoformat(), payload)


def cdr_rec(n: int) -> Record:
    return Record(f"sess-{n:04d}:cdr", f"sess-{n:04d}", "cdr", T0.isoformat(), {
        "country_code": "DE", "party_id": "EVK", "id": f"sess-{n:04d}", "currency": "EUR",
        "start_date_time": "2026-11-24T12:00:00Z", "end_date_time": "2026-11-24T12:10:00Z",
        "total_cost": {}, "cdr_location": {}, "cdr_token": {}})


def envelope(sequence: int, recs: list[Record]) -> bytes:
    return seal(Batch(TERMINAL, sequence, T0.isoformat(), tuple(recs)), KEY)


@pytest.fixture
def db(backoffice_url: str) -> Any:  # noqa: F811
    database = open_db(backoffice_url)
    add_terminal(database, TERMINAL, public_key_raw(KEY.public_key()))
    yield database
    database.close()


def fact_counts(db: Database) -> tuple[int, int]:
    with db.engine.connect() as conn:
        return (int(conn.execute(select(func.count()).select_from(charging_sessions)).scalar()
                    or 0),
                int(conn.execute(select(func.count()).select_from(health_events)).scalar()
                    or 0))


def stored_facts(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(*(charging_sessions.c[c] for c in SESSION_COLUMNS))
                            .order_by(charging_sessions.c.session_id)).all()
    return [dict(r._mapping) for r in rows]


# --- at import --------------------------------------------------------------------------------

def test_the_import_writes_the_facts_once(db: Database) -> None:
    paid = [session(i) for i in range(3)]
    declined = session(3, "declined")
    first = [session_rec(s) for s in (*paid, declined)] + [health_rec(1, False), cdr_rec(1)]
    data = envelope(1, first)
    assert import_envelope(db, data).status == "stored"
    assert fact_counts(db) == (4, 1)
    facts = stored_facts(db)
    expected = [session_fact(TERMINAL, r.id, r.created_at, r.payload)[0] for r in first[:4]]
    assert facts == sorted(expected, key=lambda f: f["session_id"])  # type: ignore[index]
    assert [f["result"] for f in facts] == ["paid", "paid", "paid", "declined"]

    assert import_envelope(db, data).status == "replay"
    # the same records again in a new batch, with one new: only the new one's fact
    again = envelope(2, [*first, session_rec(session(4)), health_rec(2, True)])
    result = import_envelope(db, again)
    assert (result.status, result.records) == ("stored", 2)
    assert fact_counts(db) == (5, 2)


def test_a_held_batch_gets_its_facts_when_released(db: Database) -> None:
    later = envelope(2, [session_rec(session(2)), health_rec(2, True)])
    assert import_envelope(db, later).status == "held"
    assert fact_counts(db) == (0, 0)
    done = import_envelope(db, envelope(1, [session_rec(session(1)), health_rec(1, False)]))
    assert (done.status, done.released) == ("stored", 1)
    assert fact_counts(db) == (2, 2)
    assert import_envelope(db, later).status == "replay"
    assert fact_counts(db) == (2, 2)


def test_a_record_without_a_fact_is_stored_all_the_same(db: Database,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    bad = session_rec(session(1))
    payload = {**bad.payload, "connector": "one", "created_at": "yesterday"}
    hostile = Record(bad.id, bad.session_id, "session", bad.created_at, payload)
    with caplog.at_level(logging.WARNING, logger="kiosk.backoffice.facts"):
        result = import_envelope(db, envelope(1, [hostile, session_rec(session(2))]))
    assert (result.status, result.records) == ("stored", 2)
    assert fact_counts(db) == (1, 0)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1
    assert "sess-0001:session" in warned[0] and "connector, created_at" in warned[0]
    assert "one" not in warned[0].split("(")[1]  # the fields, not their values


def test_facts_share_the_batchs_transaction(db: Database,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(importer, "_store_facts", failing)
    with pytest.raises(RuntimeError):
        import_envelope(db, envelope(1, [session_rec(session(1))]))
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(batches)).scalar() == 0
    monkeypatch.undo()
    assert import_envelope(db, envelope(1, [session_rec(session(1))])).status == "stored"
    assert fact_counts(db) == (1, 0)


# --- the backfill of a bo0003 database --------------------------------------------------------

def test_a_bo0003_database_gets_the_facts_of_its_records(backoffice_url: str) -> None:  # noqa: F811
    engine = create_engine(backoffice_url)
    paid = session(1)
    v3 = session_rec(paid)
    queued = T0 + timedelta(minutes=5)  # a version 2 record's time: when the session ended
    v2 = Record("sess-0002:session", "sess-0002", "session", queued.isoformat(), {
        **{k: v for k, v in session_rec(session(2)).payload.items()
           if k not in ("say", "interface", "ended_at", "parking_since", "timezone")},
        "record_version": 2, "session_id": "sess-0002"})
    hostile = Record("sess-0003:session", "sess-0003", "session", T0.isoformat(),
                     {**v3.payload, "session_id": "sess-0003", "connector": None})
    many = [Record(f"bulk-{i:05d}:session", f"bulk-{i:05d}", "session", v3.created_at,
                   {**v3.payload, "session_id": f"bulk-{i:05d}"}) for i in range(2100)]
    kept = [v3, v2, hostile, health_rec(1, False), health_rec(2, True), cdr_rec(1),
            Record("a:audit", "a", "audit", T0.isoformat(), {"event": "login"}), *many]
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "bo0003")
        conn.execute(insert(terminals).values(
            id=TERMINAL, public_key=public_key_raw(KEY.public_key()), key_id="0" * 64,
            status="active", added_at=T0.isoformat(), revoked_at=None))
        conn.execute(insert(batches).values(terminal_id=TERMINAL, sequence=1,
                                            received_at=T0.isoformat(), body_sha256="0" * 64,
                                            envelope=b"{}"))
        conn.execute(insert(records), [
            {"terminal_id": TERMINAL, "record_id": r.id, "session_id": r.session_id,
             "kind": r.kind, "created_at": r.created_at, "batch_sequence": 1,
             "payload": json.dumps(r.payload), "stored_at": T0.isoformat()} for r in kept])
    engine.dispose()

    db = open_db(backoffice_url)
    try:
        assert fact_counts(db) == (2 + 2100, 2)  # the hostile one has none
        by_id = {f["session_id"]: f for f in stored_facts(db)}
        assert by_id["sess-0001"] == session_fact(TERMINAL, v3.id, v3.created_at,
                                                  v3.payload)[0]
        assert by_id["sess-0002"]["ended_s"] == int(queued.timestamp())  # the record's time
        assert by_id["sess-0002"]["say"] == "" and by_id["sess-0002"]["result"] == "paid"
        assert get_terminal(db, TERMINAL).site is None  # type: ignore[union-attr]
        # new imports go on from there
        more = import_envelope(db, envelope(2, [session_rec(session(9))]))
        assert more.status == "stored"
        assert fact_counts(db) == (2103, 2)
    finally:
        db.close()


# --- sites --------------------------------------------------------------------------------

def test_sites_in_the_registry(db: Database) -> None:
    assert get_terminal(db, TERMINAL).site is None  # type: ignore[union-attr]
    assert set_site(db, TERMINAL, "  Harbour Offices ").site == "Harbour Offices"
    add_terminal(db, "DEMO-0002", public_key_raw(Ed25519PrivateKey.generate().public_key()),
                 site="Market Square")
    assert [(t.id, t.site) for t in list_terminals(db)] == [
        (TERMINAL, "Harbour Offices"), ("DEMO-0002", "Market Square")]
    assert set_site(db, TERMINAL, "").site is None
    for bad in ("x" * 65, "tab\there", "line\nbreak"):
        with pytest.raises(RegistryError, match="site"):
            set_site(db, TERMINAL, bad)
    with pytest.raises(RegistryError, match="not registered"):
        set_site(db, "DEMO-9999", "Nowhere")


def _cli(*args: str, url: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "kiosk.backoffice.cli", "--db", url, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == rc, (done.stdout, done.stderr)
    return done


@pytest.mark.slow
def test_sites_by_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bo.sqlite'}"
    hex_key = public_key_raw(KEY.public_key()).hex()
    added = _cli("terminal", "add", TERMINAL, "--public-key", hex_key, "--site",
                 "Riverside Offices", url=url)
    assert added.stdout.strip().endswith(", site Riverside Offices")
    assert "\tsite Riverside Offices" in _cli("terminal", "list", url=url).stdout
    assert _cli("terminal", "site", TERMINAL, "Market Square", url=url).stdout == \
        f"{TERMINAL}: site Market Square\n"
    assert _cli("terminal", "site", TERMINAL, "", url=url).stdout == f"{TERMINAL}: no site\n"
    assert "\tsite -" in _cli("terminal", "list", url=url).stdout
    unknown = _cli("terminal", "site", "DEMO-9999", "X", url=url, rc=2)
    assert unknown.stderr == "kiosk-backoffice: terminal DEMO-9999: not registered\n"
    long = _cli("terminal", "site", TERMINAL, "x" * 65, url=url, rc=2)
    assert long.stderr == "kiosk-backoffice: site: 1 to 64 printable characters\n"
    bad = _cli("terminal", "add", "DEMO-0002", "--public-key", hex_key, "--site", "a\tb",
               url=url, rc=2)
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
