"""The journal: every session transition, committed before its effects run.

SQLite in WAL mode with ``synchronous=FULL``: a transition that :meth:`Journal.commit`
returned from survives a power cut. Schema changes go through Alembic migrations
(``kiosk/session/migrations``) from the first table on.

Tables: ``sessions`` (the latest snapshot of each session), ``transitions`` (every
event → snapshot step with its effects, append-only, unique per session and step) and
``outbox`` (records for the back office, written in the same transaction as the transition
that produced them, unique per session and kind, so a replay never duplicates one) and
``invoices`` (one per captured session; the number is allocated inside the commit that stores
the invoice, so numbers have no gaps and are never reused, even across a crash) and
``settlements`` (the capture, reversal or reversal advice each ended session owes the host,
written in the commit of the step that decided it; the payments queue marks it done).

A write that fails (disk full, read-only, I/O error) raises :class:`JournalWriteError` and
changes nothing: SQLite rolls the transaction back, so the file still holds the last step
that :meth:`Journal.commit` returned from. The files are created 0600.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from kiosk.session import codec
from kiosk.session.effects import Effect, Settle
from kiosk.session.events import Event
from kiosk.session.machine import Session

SCHEMA_REVISION = "0003"  # the Alembic head; a test checks they agree
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

metadata = MetaData()
sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("connector", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("finished", Boolean, nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("snapshot", Text, nullable=False),
)
transitions = Table(
    "transitions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", String(40), nullable=False),
    Column("from_state", String(32), nullable=True),
    Column("to_state", String(32), nullable=False),
    Column("event", Text, nullable=False),
    Column("effects", Text, nullable=False),
    UniqueConstraint("session_id", "seq", name="uq_transitions_session_seq"),
)
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("sent_at", String(40), nullable=True),
    UniqueConstraint("session_id", "kind", name="uq_outbox_session_kind"),
)


invoices = Table(
    "invoices", metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("payload", Text, nullable=False),
)

settlements = Table(
    "settlements", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False, unique=True),
    Column("ref", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount_minor", Integer, nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending | done | failed
    Column("attempts", Integer, nullable=False),
    Column("next_at", String(40), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("done_at", String(40), nullable=True),
    Column("response_code", String(8), nullable=False),
    Column("last_error", Text, nullable=False),
)

InvoiceBuilder = Callable[[int], dict[str, Any]]
PENDING, DONE, FAILED = "pending", "done", "failed"


class JournalError(Exception):
    """The journal cannot be opened or refused a write. Says which file and why."""


class JournalConflict(JournalError):
    """A commit did not follow the stored snapshot (a step was lost or replayed)."""


class JournalWriteError(JournalError):
    """The journal's file refused a write (disk full, read-only, I/O error). Nothing of the
    step was stored; the terminal must stop charging and go out of service."""


@dataclass(frozen=True)
class SettlementRow:
    id: int
    session_id: str
    ref: str
    kind: str  # a SettleKind value
    amount_minor: int
    status: str
    attempts: int
    next_at: datetime
    created_at: datetime
    done_at: datetime | None
    response_code: str
    last_error: str


@dataclass(frozen=True)
class TransitionRow:
    session_id: str
    seq: int
    at: datetime
    from_state: str | None
    to_state: str
    event: Event
    effects: list[Effect]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    session_id: str
    kind: str
    payload: dict[str, Any]
    created_at: str
    sent_at: str | None


def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _stored_revision(path: Path) -> str | None:
    """The Alembic revision of an existing file, read without importing Alembic (fast start)."""
    if not path.exists():
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    finally:
        con.close()
    return str(row[0]) if row else None


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            current = _stored_revision(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"journal {self.path}: cannot open: {exc}") from exc
        self.engine = create_engine(f"sqlite:///{self.path}")
        event.listen(self.engine, "connect", _on_connect)
        if current != SCHEMA_REVISION:
            try:
                upgrade(self.engine)
            except Exception as exc:
                self.engine.dispose()
                raise JournalError(f"journal {self.path}: cannot migrate: {exc}") from exc
        self._restrict_files()

    def _restrict_files(self) -> None:
        """The journal holds masked card numbers and money: owner only (0600)."""
        with self.engine.connect() as conn:  # opens the WAL and its index
            conn.exec_driver_sql("SELECT 1")
        for suffix in ("", "-wal", "-shm"):
            f = self.path.with_name(self.path.name + suffix)
            try:
                if f.stat().st_mode & 0o077:
                    os.chmod(f, 0o600)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise JournalError(f"journal {f}: cannot restrict to 0600: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ---------------------------------------------------------------------------
    def commit(
        self,
        old: Session | None,
        new: Session,
        event_: Event,
        effects: Sequence[Effect],
        now: datetime,
        records: Sequence[tuple[str, dict[str, Any]]] = (),
        invoice: InvoiceBuilder | None = None,
        settle: Sequence[Settle] = (),
    ) -> None:
        """Store one step atomically: the snapshot, the transition, any outbox records and, with
        ``invoice``, the session's invoice under the next number (also queued as a record, and
        its number added to this step's records as ``invoice_number``, or in
        ``invoice_reference_id`` where a record has that field: an OCPI CDR), and the
        settlement the step decided (``settle``; one per session: a replay adds nothing).

        Raises :class:`JournalConflict` for a step that does not follow the stored one and
        :class:`JournalWriteError` when the file refuses the write."""
        snap = codec.dumps(new)
        values = dict(
            state=new.state.value, seq=new.seq, finished=new.finished,
            updated_at=new.updated_at.isoformat(), snapshot=snap,
        )
        try:
            with self.engine.begin() as conn:
                if old is None:
                    conn.execute(insert(sessions).values(
                        id=new.id, connector=new.connector,
                        created_at=new.created_at.isoformat(), **values))
                else:
                    res = conn.execute(update(sessions).where(
                        sessions.c.id == new.id, sessions.c.seq == old.seq).values(**values))
                    if res.rowcount != 1:
                        raise JournalConflict(
                            f"session {new.id}: stored step is not {old.seq}; refusing step "
                            f"{new.seq}")
                conn.execute(insert(transitions).values(
                    session_id=new.id, seq=new.seq, at=now.isoformat(),
                    from_state=old.state.value if old else None, to_state=new.state.value,
                    event=codec.dumps(event_), effects=codec.dumps(list(effects))))
                records = list(records)
                if invoice is not None and conn.execute(select(invoices.c.number).where(
                        invoices.c.session_id == new.id)).first() is None:
                    last = conn.execute(select(func.max(invoices.c.number))).scalar()
                    number = (last or 0) + 1
                    payload = invoice(number)
                    conn.execute(insert(invoices).values(
                        number=number, session_id=new.id, created_at=now.isoformat(),
                        payload=json.dumps(payload, sort_keys=True)))
                    ref = payload.get("number", number)
                    records = [(k, {**p, "invoice_number": ref} if "invoice_reference_id" not in p
                                else {**p, "invoice_reference_id": ref}) for k, p in records]
                    records.append(("invoice", payload))
                for kind, payload in records:
                    conn.execute(insert(outbox).prefix_with("OR IGNORE").values(
                        session_id=new.id, kind=kind, created_at=now.isoformat(),
                        payload=_dumps(payload)))
                for job in settle:
                    conn.execute(insert(settlements).prefix_with("OR IGNORE").values(
                        session_id=job.session_id, ref=job.ref, kind=job.kind.value,
                        amount_minor=job.amount_minor, status=PENDING, attempts=0,
                        next_at=now.isoformat(), created_at=now.isoformat(), done_at=None,
                        response_code="", last_error=""))
        except IntegrityError as exc:
            raise JournalConflict(f"session {new.id}: step {new.seq} already stored") from exc
        except DBAPIError as exc:
            raise self._write_error(exc) from exc

    def _write_error(self, exc: DBAPIError) -> JournalWriteError:
        return JournalWriteError(f"journal {self.path}: write failed: "
                                 f"{str(exc.orig).splitlines()[0] if exc.orig else exc}")

    def check_writable(self) -> None:
        """Prove that a write reaches the file now (after a failure): a transaction that
        changes the file, on a fresh connection (the file system may have been mounted anew
        after an I/O error: the old file handles are dead). Raises :class:`JournalWriteError`."""
        self.engine.dispose()
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS write_probe (n INTEGER)")
                conn.exec_driver_sql("DELETE FROM write_probe")
                conn.exec_driver_sql("INSERT INTO write_probe VALUES (1)")
        except DBAPIError as exc:
            raise self._write_error(exc) from exc

    # --- settlements -----------------------------------------------------------------------
    def pending_settlements(self) -> list[SettlementRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(settlements).where(settlements.c.status == PENDING)
                                .order_by(settlements.c.id)).all()
        return [_settlement(r) for r in rows]

    def settlement(self, session_id: str) -> SettlementRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(settlements).where(
                settlements.c.session_id == session_id)).first()
        return _settlement(row) if row else None

    def all_settlements(self) -> list[SettlementRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(settlements).order_by(settlements.c.id)).all()
        return [_settlement(r) for r in rows]

    def settlement_retry(self, job_id: int, *, attempts: int, next_at: datetime,
                         error: str, response_code: str = "") -> None:
        """The host did not acknowledge: keep the job pending, try again at ``next_at``."""
        try:
            with self.engine.begin() as conn:
                conn.execute(update(settlements).where(
                    settlements.c.id == job_id, settlements.c.status == PENDING).values(
                    attempts=attempts, next_at=next_at.isoformat(), last_error=error[:500],
                    response_code=response_code))
        except DBAPIError as exc:
            raise self._write_error(exc) from exc

    def settlement_finished(self, job_id: int, *, status: str, at: datetime,
                            response_code: str, error: str,
                            record: dict[str, Any]) -> None:
        """The host acknowledged (``done``) or refused for good (``failed``); the settlement
        record for the back office is queued in the same transaction."""
        if status not in (DONE, FAILED):
            raise ValueError(f"not a final settlement status: {status!r}")
        try:
            with self.engine.begin() as conn:
                res = conn.execute(update(settlements).where(
                    settlements.c.id == job_id, settlements.c.status == PENDING).values(
                    status=status, done_at=at.isoformat(), response_code=response_code,
                    last_error=error[:500]))
                if res.rowcount == 1:
                    conn.execute(insert(outbox).prefix_with("OR IGNORE").values(
                        session_id=record["session_id"], kind="settlement",
                        created_at=at.isoformat(), payload=_dumps(record)))
        except DBAPIError as exc:
            raise self._write_error(exc) from exc

    def mark_sent(self, outbox_ids: Sequence[int], at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id.in_(list(outbox_ids)))
                         .values(sent_at=at.isoformat()))

    # --- reading ---------------------------------------------------------------------------
    def unfinished(self) -> list[Session]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sessions.c.snapshot).where(sessions.c.finished.is_(False))
                                .order_by(sessions.c.created_at)).all()
        return [codec.loads(r[0]) for r in rows]

    def session(self, session_id: str) -> Session | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions.c.snapshot).where(
                sessions.c.id == session_id)).first()
        return codec.loads(row[0]) if row else None

    def invoices(self) -> list[tuple[int, dict[str, Any]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(invoices.c.number, invoices.c.payload)
                                .order_by(invoices.c.number)).all()
        return [(int(r[0]), json.loads(r[1])) for r in rows]

    def invoice(self, session_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(invoices.c.payload).where(
                invoices.c.session_id == session_id)).first()
        return json.loads(row[0]) if row else None

    def all_sessions(self) -> list[Session]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sessions.c.snapshot).order_by(sessions.c.created_at)).all()
        return [codec.loads(r[0]) for r in rows]

    def transitions(self, session_id: str | None = None) -> list[TransitionRow]:
        q = select(transitions).order_by(transitions.c.id)
        if session_id is not None:
            q = q.where(transitions.c.session_id == session_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [TransitionRow(r.session_id, r.seq, datetime.fromisoformat(r.at), r.from_state,
                              r.to_state, codec.loads(r.event), codec.loads(r.effects))
                for r in rows]

    def outbox(self, *, pending_only: bool = False) -> list[OutboxRow]:
        q = select(outbox).order_by(outbox.c.id)
        if pending_only:
            q = q.where(outbox.c.sent_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [OutboxRow(r.id, r.session_id, r.kind, json.loads(r.payload), r.created_at,
                          r.sent_at) for r in rows]

    def __iter__(self) -> Iterator[Session]:
        return iter(self.all_sessions())


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _settlement(r: Any) -> SettlementRow:
    return SettlementRow(r.id, r.session_id, r.ref, r.kind, r.amount_minor, r.status,
                         r.attempts, datetime.fromisoformat(r.next_at),
                         datetime.fromisoformat(r.created_at),
                         datetime.fromisoformat(r.done_at) if r.done_at else None,
                         r.response_code, r.last_error)
