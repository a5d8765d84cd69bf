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
                    f"journal) to 0004 (ran 0001, 0002, 0003, 0004)"]
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
        [], [f"journal {path}: schema migrated from 0001 to 0004 (ran 0002, 0003, 0004)"])


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
