"""The journal: migrations, atomic steps, conflicts, outbox idempotency, durability settings."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from kiosk.journal.store import (
    MIGRATIONS,
    SCHEMA_REVISION,
    Journal,
    JournalConflict,
    JournalError,
    metadata,
)
from kiosk.session import events as ev
from tests.support.machine import T0, Driver


@pytest.fixture
def journal(tmp_path: Path):
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def test_schema_revision_is_the_alembic_head() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_REVISION


def test_migrations_build_exactly_the_declared_tables(journal: Journal) -> None:
    with journal.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_durability_settings(journal: Journal) -> None:
    with journal.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_steps_round_trip_and_unfinished_sessions_are_found(journal: Journal) -> None:
    d = Driver()
    journal.commit(None, d.s, ev.Started(1), d.effects, d.now)
    old = d.s
    d.send(ev.CardRead(d.s.id, "476173******0010", "tok", "visa"))
    journal.commit(old, d.s, ev.CardRead(d.s.id, "476173******0010", "tok", "visa"),
                   d.effects, d.now)
    assert journal.unfinished() == [d.s]
    rows = journal.transitions(d.s.id)
    assert [r.seq for r in rows] == [1, 2]
    assert rows[1].event == ev.CardRead(d.s.id, "476173******0010", "tok", "visa")
    assert rows[1].effects == d.effects


def test_a_replayed_or_skipped_step_is_refused(journal: Journal) -> None:
    d = Driver()
    journal.commit(None, d.s, ev.Started(1), d.effects, d.now)
    first = d.s
    with pytest.raises(JournalConflict):
        journal.commit(None, first, ev.Started(1), d.effects, d.now)
    d.send(ev.CardRead(d.s.id, "m", "t", "visa"))
    journal.commit(first, d.s, ev.Dismissed(d.s.id), [], d.now)
    with pytest.raises(JournalConflict):  # the same step again, from the stale snapshot
        journal.commit(first, d.s, ev.Dismissed(d.s.id), [], d.now)
    assert [r.seq for r in journal.transitions()] == [1, 2]


def test_outbox_records_are_written_once_per_session_and_kind(journal: Journal) -> None:
    d = Driver()
    journal.commit(None, d.s, ev.Started(1), [], d.now, [("session", {"amount_minor": 1})])
    old = d.s
    d.send(ev.Cancelled(d.s.id))
    journal.commit(old, d.s, ev.Cancelled(d.s.id), [], d.now, [("session", {"amount_minor": 2})])
    rows = journal.outbox()
    assert len(rows) == 1 and rows[0].payload == {"amount_minor": 1}
    journal.mark_sent([rows[0].id], T0)
    assert journal.outbox(pending_only=True) == []


def test_a_failed_step_leaves_nothing_half_written(journal: Journal) -> None:
    d = Driver()
    journal.commit(None, d.s, ev.Started(1), [], d.now)
    old = d.s
    d.send(ev.Cancelled(d.s.id))
    with pytest.raises(JournalConflict):
        journal.commit(d.s, d.s, ev.Cancelled(d.s.id), [], d.now, [("session", {"x": 1})])
    assert journal.outbox() == [] and len(journal.transitions()) == 1
    assert journal.session(old.id) == old


def test_reopening_skips_migrations_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    d = Driver()
    j = Journal(path)
    j.commit(None, d.s, ev.Started(1), d.effects, d.now)
    j.close()
    j = Journal(path)
    assert j.unfinished() == [d.s]
    j.close()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match=r"j\.sqlite"):
        Journal(path)


def test_an_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="cannot open"):
        Journal(blocker / "sub" / "j.sqlite")


def test_the_journal_is_a_plain_sqlite_file(journal: Journal) -> None:
    con = sqlite3.connect(journal.path)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert {"sessions", "transitions", "outbox", "alembic_version"} <= tables


def test_the_journal_files_are_the_owners_only_whatever_the_umask(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        j = Journal(tmp_path / "j.sqlite")
        d = Driver()
        j.commit(None, d.s, ev.Started(1), d.effects, d.now)
    finally:
        os.umask(old)
    try:
        files = [tmp_path / n for n in ("j.sqlite", "j.sqlite-wal", "j.sqlite-shm")]
        assert files[0].exists() and files[1].exists()
        for f in files:
            if f.exists():
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    finally:
        j.close()


def test_a_settlement_is_stored_once_with_its_step_and_finished_with_its_record(
        journal: Journal) -> None:
    from kiosk.session import effects as fx

    d = Driver()
    journal.commit(None, d.s, ev.Started(1), d.effects, d.now)
    old = d.s
    d.send(ev.CardRead(d.s.id, "476173******0010", "tok", "visa"))
    d.send(ev.HostTimedOut(d.s.id))
    job = fx.Settle(d.s.id, d.s.ref, fx.SettleKind.ADVICE, 5000)
    journal.commit(old, d.s, ev.HostTimedOut(d.s.id), d.effects, d.now, settle=[job, job])
    [row] = journal.pending_settlements()
    assert (row.kind, row.amount_minor, row.status, row.attempts) == ("advice", 5000,
                                                                       "pending", 0)
    journal.settlement_retry(row.id, attempts=1, next_at=d.now, error="HostTimeout")
    journal.settlement_finished(row.id, status="done", at=d.now, response_code="00",
                                error="", record={"session_id": d.s.id, "status": "done"})
    journal.settlement_finished(row.id, status="done", at=d.now, response_code="00",
                                error="", record={"session_id": d.s.id, "status": "again"})
    assert journal.pending_settlements() == []
    done = journal.settlement(d.s.id)
    assert done is not None and done.status == "done" and done.attempts == 1
    assert [r.payload["status"] for r in journal.outbox() if r.kind == "settlement"] == ["done"]


# --- quiet migrations ---------------------------------------------------------------------------

def test_the_known_revisions_are_the_migrations_in_order() -> None:
    from kiosk.journal.store import KNOWN_REVISIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    walked = [s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()]
    assert tuple(reversed(walked)) == KNOWN_REVISIONS
    assert KNOWN_REVISIONS[-1] == SCHEMA_REVISION


def _migration_records(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    alembic = [r.getMessage() for r in caplog.records
               if r.name.startswith("alembic") and r.levelno < logging.WARNING]
    ours = [r.getMessage() for r in caplog.records if r.name == "kiosk.journal.store"]
    return alembic, ours


def test_a_new_journal_says_in_one_line_which_migrations_ran(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    level = logging.getLogger("alembic").level
    Journal(tmp_path / "j.sqlite").close()
    alembic, ours = _migration_records(caplog)
    assert alembic == []  # not "Context impl SQLiteImpl.", not "Running upgrade -> 0001" ...
    assert ours == [f"journal {tmp_path / 'j.sqlite'}: schema migrated from nothing (a new "
                    f"journal) to 0005 (ran 0001, 0002, 0003, 0004, 0005)"]
    assert [r.levelname for r in caplog.records if r.name == "kiosk.journal.store"] == ["INFO"]
    assert logging.getLogger("alembic").level == level  # put back
    caplog.clear()
    Journal(tmp_path / "j.sqlite").close()  # up to date: nothing runs, nothing is said
    assert _migration_records(caplog) == ([], [])


def test_an_older_journal_says_which_migrations_ran(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    path = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    engine.dispose()
    caplog.set_level(logging.DEBUG)
    Journal(path).close()
    assert _migration_records(caplog) == (
        [], [f"journal {path}: schema migrated from 0001 to 0005 (ran 0002, 0003, 0004, "
             f"0005)"])


def test_a_fifo_is_never_opened_as_the_journal(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    fifo = tmp_path / "j.sqlite"
    os.mkfifo(fifo)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom kiosk.journal.store import Journal, "
         "JournalError\ntry:\n    Journal(sys.argv[1])\nexcept JournalError as e:\n"
         "    print(e)", str(fifo)], capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(root)}, check=False)
    assert "a named pipe (FIFO), not a regular file" in proc.stdout, proc.stderr


def test_open_readonly_reads_and_never_writes(journal: Journal) -> None:
    from kiosk.journal.store import JournalWriteError

    d = Driver()
    journal.commit(None, d.s, ev.Started(1), [], d.now, [("session", {"amount_minor": 1})])
    journal.close()
    before = journal.path.read_bytes()
    ro = Journal.open_readonly(journal.path)
    try:
        assert ro.readonly and ro.revision == SCHEMA_REVISION
        assert [r.payload for r in ro.outbox()] == [{"amount_minor": 1}]
        assert ro.session(d.s.id) == d.s
        with pytest.raises(JournalWriteError, match="opened read-only"):
            ro.mark_sent([1], T0)
    finally:
        ro.close()
    assert journal.path.read_bytes() == before
    assert sorted(p.name for p in journal.path.parent.iterdir()) == ["journal.sqlite"]


def test_open_readonly_refuses_what_is_not_a_journal(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(JournalError, match=r"empty\.sqlite: an empty file, not a journal"):
        Journal.open_readonly(empty)
    con = sqlite3.connect(tmp_path / "other.db")
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(JournalError, match=r"other\.db: not a kiosk journal"):
        Journal.open_readonly(tmp_path / "other.db")
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite", "other.db"]


def test_a_0003_journal_reads_read_only_and_migrates_with_its_plain_rows(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    path = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.exec_driver_sql("INSERT INTO sessions VALUES ('s1', 1, 'IDLE', 1, 1, 'x', 'x', "
                             "'{}')")
        conn.exec_driver_sql("INSERT INTO outbox (session_id, kind, payload, created_at) "
                             "VALUES ('s1', 'session', '{\"old\":1}', '2026-01-01T00:00:00+00:00')")
    engine.dispose()
    ro = Journal.open_readonly(path)
    try:
        assert ro.revision == "0003"
        assert [r.payload for r in ro.outbox()] == [{"old": 1}]
    finally:
        ro.close()
    j = Journal(path, outbox_key=bytes(32))
    try:
        [row] = j.outbox()
        assert row.payload == {"old": 1} and row.batch_seq is None
        assert j.pending_count() == 1 and j.last_batch_sequence() == 0
    finally:
        j.close()


# --- 0005: outbox rows of no session (health records) ----------------------------------------

def _journal_at(path: Path, revision: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def _outbox_rows(path: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:  # typeof(): the values as SQLite stores them, not only as Python reads them back
        return con.execute("SELECT id, session_id, kind, payload, created_at, sent_at, "
                           "batch_seq, typeof(payload), typeof(batch_seq) FROM outbox "
                           "ORDER BY id").fetchall()
    finally:
        con.close()


def test_a_0004_journal_is_migrated_rows_kept_byte_for_byte_and_the_foreign_key_gone(
        tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _journal_at(path, "0004")
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO sessions VALUES ('s1', 1, 'IDLE', 1, 1, 'x', 'x', '{}')")
        con.execute("INSERT INTO batches VALUES (1, 'DEMO-0001', 't', 'envelope', NULL)")
        con.executemany(
            "INSERT INTO outbox (id, session_id, kind, payload, created_at, sent_at, batch_seq) "
            "VALUES (?, 's1', ?, ?, '2026-01-01T00:00:00+00:00', ?, ?)",
            [(3, "session", '{"old":1}', None, 1), (7, "cdr", '{"ü":"\\u00fc"}', "t", None),
             (9, "invoice", "aesgcm1:AAAA", None, None)])
        assert con.execute("PRAGMA foreign_key_list(outbox)").fetchall() != []
    con.close()
    before = _outbox_rows(path)
    j = Journal(path, outbox_key=None)
    try:
        assert _outbox_rows(path) == before  # ids, texts and NULLs as they were
        con = sqlite3.connect(path)
        try:
            assert con.execute("PRAGMA foreign_key_list(outbox)").fetchall() == []
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            indexes = {r[1] for r in con.execute("PRAGMA index_list(outbox)")}
            assert "ix_outbox_batch_seq" in indexes
            assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [
                (SCHEMA_REVISION,)]
        finally:
            con.close()
        with j.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert j.pending_count() == 2
        # the unique (session, kind) still holds, for every row
        con = sqlite3.connect(path)
        try:
            with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
                con.execute("INSERT INTO outbox (session_id, kind, payload, created_at) VALUES "
                            "('s1', 'session', '{}', 't')")
        finally:
            con.close()
    finally:
        j.close()


def test_the_0005_migration_goes_down_again(tmp_path: Path) -> None:
    """The downgrade puts the foreign key back (a record of no session has none to keep)."""
    from alembic import command

    path = tmp_path / "j.sqlite"
    j = Journal(path, outbox_key=None)
    d = Driver()
    j.commit(None, d.s, ev.Started(1), [], d.now, [("session", {"a": 1})])
    j.queue_record("health-1", "audit", {"event": "health"}, T0)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with j.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    j.close()
    con = sqlite3.connect(path)
    try:
        assert [r[2] for r in con.execute("PRAGMA foreign_key_list(outbox)")] == ["sessions"]
        assert [r[:3] for r in con.execute("SELECT id, session_id, kind FROM outbox")] == [
            (1, d.s.id, "session")]
    finally:
        con.close()


def test_a_record_of_no_session_is_queued_sealed_once(tmp_path: Path) -> None:
    from kiosk.journal.store import JournalWriteError, open_text, outbox_aad

    key = bytes(range(32))
    j = Journal(tmp_path / "j.sqlite", outbox_key=key)
    try:
        payload = {"event": "health", "part": "charger", "ok": False}
        j.queue_record("health-20261125T090000000000Z-0123456789ab", "audit", payload, T0)
        [row] = j.outbox()
        assert (row.session_id, row.kind, row.payload, row.created_at, row.batch_seq) == (
            "health-20261125T090000000000Z-0123456789ab", "audit", payload, T0.isoformat(),
            None)
        con = sqlite3.connect(j.path)
        stored = con.execute("SELECT payload FROM outbox").fetchone()[0]
        con.close()
        assert stored.startswith("aesgcm1:") and "charger" not in stored
        assert open_text(key, outbox_aad(row.session_id, "audit"), stored) == (
            '{"event":"health","ok":false,"part":"charger"}')
        assert j.session(row.session_id) is None  # no session behind it
        with pytest.raises(JournalConflict, match="queued already"):
            j.queue_record(row.session_id, "audit", {"event": "other"}, T0)
        assert [r.payload for r in j.outbox()] == [payload]
        for bad in ("", "x" * 65, "health:1", "health 1", "héalth"):
            with pytest.raises(ValueError, match="record id"):
                j.queue_record(bad, "audit", payload, T0)
        with pytest.raises(ValueError, match="kind"):
            j.queue_record("health-2", "Audit", payload, T0)
        with pytest.raises(ValueError, match="aware"):
            j.queue_record("health-2", "audit", payload, T0.replace(tzinfo=None))
        assert len(j.outbox()) == 1
    finally:
        j.close()
    ro = Journal.open_readonly(tmp_path / "j.sqlite", outbox_key=key)
    try:
        with pytest.raises(JournalWriteError, match="opened read-only"):
            ro.queue_record("health-3", "audit", payload, T0)
    finally:
        ro.close()


def test_last_record_is_the_newest_of_its_kind_and_prefix(journal: Journal) -> None:
    assert journal.last_record("audit", "health-") is None
    for sid in ("health-2", "health-1", "healthy", "health.x", "healtg-9"):
        journal.queue_record(sid, "audit", {"event": "health", "sid": sid}, T0)
    journal.queue_record("health-3", "other", {"event": "health"}, T0)
    last = journal.last_record("audit", "health-")
    assert last is not None and last.session_id == "health-1"  # queued last, not sorted last
    any_audit = journal.last_record("audit")
    assert any_audit is not None and any_audit.session_id == "healtg-9"
    assert journal.last_record("cdr") is None
