"""Importing an upload: verify it, then store it exactly once, in order, or keep it aside.

:func:`import_envelope` takes the envelope bytes a terminal sent (``kiosk.records.batch``) and
answers with an :class:`ImportResult`:

- ``rejected``: not an envelope, the terminal not registered or revoked, the key or the signature
  not the terminal's, a batch or a record of the wrong form (verify checks every record: an id,
  a known kind, a JSON object as payload; per kind, the payload fields the back office relies
  on, :mod:`kiosk.backoffice.schemas`), or a sequence already stored or held with other
  bytes. Nothing is stored; ``reason`` names the field or the problem, never a record's content.
- ``stored``: the sequence was ``acked + 1``. The batch, all its records and their facts for
  the analytics (:mod:`kiosk.backoffice.facts`: a row per session and per health change) are
  written in ONE transaction; then any held batches that now follow in order are released,
  each in its own (with their facts, the same way).
- ``replay``: the sequence is stored already (with the same bytes): a no-op with the same
  acknowledgement.
- ``held``: a gap (the sequence is beyond ``acked + 1``): the verified envelope is kept aside in
  ``held_batches`` until the missing batches arrive; ``reason`` names the gap.

``acked`` is the highest sequence stored without gap for the terminal (0 for none): what the back
office answers, so the terminal drops what is acknowledged and resends the rest.

Two importers at once (threads, processes, machines on one PostgreSQL) never store a batch or a
record twice: the decision and the insert share one transaction, UNIQUE(terminal_id, sequence)
and UNIQUE(terminal_id, record_id) make a concurrent duplicate fail, and an IntegrityError is
answered by deciding again (the other importer's commit is then visible: a replay).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Table, delete, exists, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from kiosk.backoffice.facts import HEALTH_COLUMNS, SESSION_COLUMNS, rows_of
from kiosk.backoffice.registry import ACTIVE, Terminal, get_terminal
from kiosk.backoffice.schemas import check_batch
from kiosk.backoffice.storage import (
    STORED_AT_LOCK,
    Database,
    batches,
    charging_sessions,
    health_events,
    held_batches,
    invoices,
    now,
    records,
    terminals,
)
from kiosk.records.batch import Batch, BatchError, Envelope, canonical, open_envelope, verify

__all__ = ["ImportResult", "Refusal", "Status", "acked", "import_envelope"]

log = logging.getLogger(__name__)
Status = Literal["stored", "replay", "held", "rejected"]


class Refusal(enum.Enum):
    """Why a batch was rejected, as a type (the service's HTTP status is chosen on it)."""

    INVALID = "invalid"  # not an envelope, a bad key or signature, a batch or record of bad form
    UNKNOWN_TERMINAL = "unknown_terminal"
    REVOKED = "revoked"
    CONFLICT = "conflict"  # the sequence is stored or held already, with other content
_RETRIES = 5  # decisions after an IntegrityError (each sees one more concurrent commit)


@dataclass(frozen=True)
class ImportResult:
    status: Status
    terminal_id: str | None
    sequence: int | None
    acked: int  # highest sequence stored without gap for the terminal
    reason: str
    records: int = 0  # records of this batch newly stored (a record id seen before is kept once)
    released: int = 0  # held batches stored after this one closed their gap
    refusal: Refusal | None = None  # set exactly when status is "rejected"

    def line(self) -> str:
        """One line for a person: ``stored: terminal T sequence 3, acked 3 (2 records)``."""
        who = "" if self.terminal_id is None else f"terminal {self.terminal_id} "
        seq = "" if self.sequence is None else f"sequence {self.sequence}, "
        return f"{self.status}: {who}{seq}acked {self.acked}" + (
            f" ({self.reason})" if self.reason else "")


def acked(db: Database, terminal_id: str) -> int:
    with db.engine.connect() as conn:
        return _acked(conn, terminal_id)


def _acked(conn: Connection, terminal_id: str) -> int:
    return int(conn.execute(select(_acked_query(terminal_id))).scalar() or 0)


def _acked_query(terminal_id: str) -> Any:
    return (select(func.max(batches.c.sequence)).where(batches.c.terminal_id == terminal_id)
            .scalar_subquery())


def _digest(env: Envelope) -> str:
    return hashlib.sha256(env.body).hexdigest()


def import_envelope(db: Database, data: bytes) -> ImportResult:
    """Verify and import one envelope (see the module). Database failures raise SQLAlchemy's
    errors (nothing is half stored: each batch is one transaction)."""
    try:
        env = open_envelope(data)
    except BatchError as exc:
        return ImportResult("rejected", None, None, 0, str(exc), refusal=Refusal.INVALID)
    terminal = get_terminal(db, env.terminal_id)
    if terminal is None:
        return ImportResult("rejected", env.terminal_id, None, 0,
                            f"terminal {env.terminal_id}: not registered",
                            refusal=Refusal.UNKNOWN_TERMINAL)
    if not terminal.active:
        return ImportResult("rejected", env.terminal_id, None, acked(db, terminal.id),
                            f"terminal {env.terminal_id}: revoked", refusal=Refusal.REVOKED)
    try:
        batch = verify(env, terminal.key())
        check_batch(batch)
    except BatchError as exc:
        return ImportResult("rejected", env.terminal_id, None, acked(db, terminal.id), str(exc),
                            refusal=Refusal.INVALID)

    facts = rows_of(terminal.id, batch.records)  # CPU too, before the transaction
    # one connection (one pool checkout) for the decision, the release and the answer; no
    # connection is held while the batch is verified (above: CPU only)
    with db.engine.connect() as conn:
        status, reason, count, refusal = _place_retrying(conn, terminal, env, batch, data,
                                                         facts)
        if refusal is not None:
            with conn.begin():
                ack = _acked(conn, terminal.id)
            return ImportResult("rejected", terminal.id, batch.sequence, ack, reason,
                                refusal=refusal)
        if status in ("stored", "held"):
            released, ack = _release(conn, terminal)
        else:
            released = 0
            with conn.begin():
                ack = _acked(conn, terminal.id)
    if status == "held" and batch.sequence <= ack:
        status, reason = "stored", "held, then stored when the gap before it closed"
    elif status == "held":
        reason = (f"gap: sequence {ack + 1}" + (f" to {batch.sequence - 1}"
                                                 if batch.sequence - 1 > ack + 1 else "")
                  + " missing; kept aside" + (" (held before)" if reason else ""))
    if released and status == "stored" and not reason:
        reason = f"released {released} held batch{'es' if released > 1 else ''}"
    return ImportResult(status, terminal.id, batch.sequence, ack, reason, count, released)


def _place_retrying(conn: Connection, terminal: Terminal, env: Envelope, batch: Batch,
                    data: bytes, facts: Facts) -> tuple[Status, str, int, Refusal | None]:
    for _ in range(_RETRIES):
        try:
            with conn.begin():
                return _place(conn, terminal, env, batch, data, facts)
        except IntegrityError:
            continue  # a concurrent importer committed the same key: decide again
    raise RuntimeError(f"terminal {terminal.id} sequence {batch.sequence}: still conflicting "
                       f"after {_RETRIES} attempts")


def _place(conn: Connection, terminal: Terminal, env: Envelope, batch: Batch,
           data: bytes, facts: Facts) -> tuple[Status, str, int, Refusal | None]:
    """Decide and write in one transaction: (status, reason, records stored, refusal)."""
    state, ack, any_held = _decision(conn, terminal.id)
    if state != ACTIVE:
        return "rejected", f"terminal {terminal.id}: revoked", 0, Refusal.REVOKED
    digest = _digest(env)
    if batch.sequence <= ack:
        stored = conn.execute(select(batches.c.body_sha256).where(
            batches.c.terminal_id == terminal.id,
            batches.c.sequence == batch.sequence)).scalar()
        if stored != digest:
            return "rejected", (f"sequence {batch.sequence}: already stored with other "
                                f"content"), 0, Refusal.CONFLICT
        return "replay", "", 0, None
    if batch.sequence == ack + 1:
        return "stored", "", _store(conn, terminal.id, batch, data, digest, facts,
                                    clean_held=any_held), None
    held = conn.execute(select(held_batches.c.body_sha256).where(
        held_batches.c.terminal_id == terminal.id,
        held_batches.c.sequence == batch.sequence)).scalar()
    if held is not None:
        if held != digest:
            return "rejected", (f"sequence {batch.sequence}: already held with other "
                                f"content"), 0, Refusal.CONFLICT
        return "held", "held before", 0, None
    conn.execute(insert(held_batches).values(
        terminal_id=terminal.id, sequence=batch.sequence, received_at=now(),
        body_sha256=digest, envelope=data))
    return "held", "", 0, None


def _decision(conn: Connection, terminal_id: str) -> tuple[str | None, int, bool]:
    """The first statement of a writing transaction, in one round trip: the terminal's status,
    its acked sequence and whether it has held batches (on PostgreSQL also: envelopes
    compressed with LZ4, see below)."""
    columns = [_terminal_status(terminal_id), _acked_query(terminal_id),
               exists().where(held_batches.c.terminal_id == terminal_id)]
    if conn.dialect.name == "postgresql":  # held to the commit: see storage.STORED_AT_LOCK
        columns.append(func.pg_advisory_xact_lock_shared(STORED_AT_LOCK))
    if _lz4(conn):
        columns.append(func.set_config("default_toast_compression", "lz4", True))
    row = conn.execute(select(*columns)).one()
    return row[0], int(row[1] or 0), bool(row[2])


# PostgreSQL compresses a large value when it stores it: with its default, pglz, an envelope of
# 500 records (670 KB) takes 10 ms, a third of the whole batch's store, and keeps 40 % of its
# size; LZ4 (PostgreSQL 14 and later, when built with it, as Debian's is) takes 1.5 ms and keeps
# 3 %. set_config(..., true) is SET LOCAL (this transaction only); the bytes read back are the
# same. (A migration setting COMPRESSION lz4 on the envelope columns would make this moot.)
_LZ4: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _lz4(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    engine = conn.engine
    known = _LZ4.get(engine)
    if known is None:
        known = bool(conn.execute(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'")).scalar())
        _LZ4[engine] = known
    return known


def _terminal_status(terminal_id: str) -> Any:
    return (select(terminals.c.status).where(terminals.c.id == terminal_id)
            .scalar_subquery())


Facts = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]  # facts.rows_of: sessions, health


def _store(conn: Connection, terminal_id: str, batch: Batch, data: bytes, digest: str,
           facts: Facts, *, clean_held: bool) -> int:
    """Insert the batch, its records and their facts (inside the caller's transaction); the
    records newly stored. A record id the terminal sent before is kept once, and so is a fact
    (ON CONFLICT DO NOTHING on each table's unique key: a session's fact is its first).
    ``clean_held``: delete the held batches up to this one (False when the transaction saw
    none; one held meanwhile by a concurrent importer is cleaned up by :func:`_release`,
    which runs after this commit here and after that importer's commit there)."""
    stored_at = now()
    conn.execute(insert(batches).values(
        terminal_id=terminal_id, sequence=batch.sequence, received_at=stored_at,
        body_sha256=digest, envelope=data))
    seq = batch.sequence
    rows = [(terminal_id, r.id, r.session_id, r.kind, r.created_at,
             canonical(r.payload).decode("utf-8"), seq, stored_at) for r in batch.records]
    if conn.dialect.name == "postgresql":
        # one statement over arrays in binary (no per-row statements, no text escaping): on
        # PostgreSQL a third faster than an executemany of single-row INSERTs
        pg: Any = conn.connection.driver_connection  # psycopg's, in this transaction
        with pg.cursor() as cur:
            cur.execute(_PG_RECORDS, [list(c) for c in zip(*rows, strict=True)])
            stored = int(cur.rowcount)
    else:
        # the rows inserted, not those a conflict skipped: sqlite3 sums an executemany's
        # counts (SQLAlchemy: supports_sane_multi_rowcount), so no COUNT query afterwards
        stored = conn.exec_driver_sql(
            _insert_sql(conn, records, _RECORD_COLUMNS, ("terminal_id", "record_id")), rows,
            execution_options={"preserve_rowcount": True}).rowcount
    if stored < 0:  # no count from the driver (SQLAlchemy before 2.0.28 drops it): ask
        stored = int(conn.execute(select(func.count()).select_from(records).where(
            records.c.terminal_id == terminal_id, records.c.batch_sequence == seq)).scalar()
            or 0)
    index = [(terminal_id, r.payload["number"], r.session_id, r.id, r.payload["token"],
              stored_at) for r in batch.records if r.kind == "invoice"]
    if index:  # the invoice page's lookup; a number seen before keeps its first record
        conn.exec_driver_sql(
            _insert_sql(conn, invoices, _INVOICE_COLUMNS, ("terminal_id", "number")), index)
    _store_facts(conn, facts)
    if clean_held:
        conn.execute(delete(held_batches).where(held_batches.c.terminal_id == terminal_id,
                                                held_batches.c.sequence <= batch.sequence))
    return stored


# The records and the invoice index are written with the driver's own executemany of one
# plain statement (psycopg pipelines it; sqlite3 loops in C): the same INSERT ... ON CONFLICT
# DO NOTHING SQLAlchemy would send, without its per-row parameter processing (a tenth of the
# time a batch takes to store). Rows are tuples in these columns' order.
_RECORD_COLUMNS = ("terminal_id", "record_id", "session_id", "kind", "created_at", "payload",
                   "batch_sequence", "stored_at")
_INVOICE_COLUMNS = ("terminal_id", "number", "session_id", "record_id", "token", "stored_at")
_PG_RECORDS = (  # %b: the arrays go in PostgreSQL's binary format
    "INSERT INTO records (terminal_id, record_id, session_id, kind, created_at, payload, "
    "batch_sequence, stored_at) SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], "
    "%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[]) "
    "ON CONFLICT (terminal_id, record_id) DO NOTHING")
_SQL: dict[tuple[str, str, str], str] = {}
# the facts on PostgreSQL: as the records, one statement over arrays in binary (the columns of
# facts.SESSION_COLUMNS and facts.HEALTH_COLUMNS, in their order)
_PG_SESSIONS = (
    "INSERT INTO charging_sessions (terminal_id, session_id, station_id, connector, created_s, "
    "charge_start_s, charge_stop_s, ended_s, local_date, local_dow, local_hour, energy_wh, "
    "amount_minor, currency, outcome, result, say, scheme, interface, card_token, timezone, "
    "last_reading_s, discount_minor) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::int[], %b::bigint[], "
    "%b::bigint[], %b::bigint[], %b::bigint[], %b::text[], %b::int[], %b::int[], %b::bigint[], "
    "%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "
    "%b::text[], %b::text[], %b::bigint[], %b::bigint[]) "
    "ON CONFLICT (terminal_id, session_id) DO NOTHING")
_PG_HEALTH = (
    "INSERT INTO health_events (terminal_id, record_id, station_id, at_s, part, ok, planned, "
    "in_service, faulted) SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], "
    "%b::bigint[], %b::text[], %b::boolean[], %b::boolean[], %b::boolean[], %b::boolean[]) "
    "ON CONFLICT (terminal_id, record_id) DO NOTHING")


def _store_facts(conn: Connection, facts: Facts) -> None:
    """Insert the facts of a batch's records; one already stored (a record sent again, a
    session's second record) is left as it is."""
    for rows, table, columns, key, pg_sql in (
            (facts[0], charging_sessions, SESSION_COLUMNS, ("terminal_id", "session_id"),
             _PG_SESSIONS),
            (facts[1], health_events, HEALTH_COLUMNS, ("terminal_id", "record_id"),
             _PG_HEALTH)):
        if not rows:
            continue
        if conn.dialect.name == "postgresql":
            pg: Any = conn.connection.driver_connection
            with pg.cursor() as cur:
                cur.execute(pg_sql, [list(c) for c in zip(*rows, strict=True)])
        else:
            conn.exec_driver_sql(_insert_sql(conn, table, columns, key), rows)


def _insert_sql(conn: Connection, table: Table, columns: tuple[str, ...],
                conflict: tuple[str, ...]) -> str:
    key = (conn.dialect.name, conn.dialect.paramstyle, table.name)
    sql = _SQL.get(key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(table.c[c].name) for c in columns)
        marks = ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * len(columns))
        keys = ", ".join(quote(table.c[c].name) for c in conflict)
        # names of this module's tables, quoted; the values go as parameters
        sql = (f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks}) "  # noqa: S608
               f"ON CONFLICT ({keys}) DO NOTHING")
        _SQL[key] = sql
    return sql


def _release(conn: Connection, terminal: Terminal) -> tuple[int, int]:
    """Store the held batches that now follow in order, one transaction each: (how many, the
    acked sequence after them)."""
    with conn.begin():  # the common case, nothing held: one read, no write transaction
        row = conn.execute(select(_acked_query(terminal.id), exists().where(
            held_batches.c.terminal_id == terminal.id))).one()
    if not row[1]:
        return 0, int(row[0] or 0)
    released = 0
    for _ in range(1 << 20):
        try:
            with conn.begin():
                state, ack, _ = _decision(conn, terminal.id)
                if state != ACTIVE:
                    return released, ack
                # a batch held while a concurrent importer stored it (PostgreSQL: the store's
                # clean-up did not see the uncommitted hold): nothing left to release
                conn.execute(delete(held_batches).where(
                    held_batches.c.terminal_id == terminal.id,
                    held_batches.c.sequence <= ack))
                held = conn.execute(select(held_batches.c.envelope).where(
                    held_batches.c.terminal_id == terminal.id,
                    held_batches.c.sequence == ack + 1)).first()
                if held is None:
                    return released, ack
                data = bytes(held[0])
                try:
                    env = open_envelope(data)
                    batch = verify(env, terminal.key())
                except BatchError as exc:  # verified when held: only a changed key gets here
                    log.warning("terminal %s: held sequence %d no longer verifies (%s); kept",
                                terminal.id, ack + 1, exc)
                    return released, ack
                _store(conn, terminal.id, batch, data, _digest(env),
                       rows_of(terminal.id, batch.records), clean_held=True)
            released += 1
        except IntegrityError:
            continue  # another importer released it first
    with conn.begin():
        return released, _acked(conn, terminal.id)
