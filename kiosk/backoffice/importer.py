"""Importing an upload: verify it, then store it exactly once, in order, or keep it aside.

:func:`import_envelope` takes the envelope bytes a terminal sent (``kiosk.records.batch``) and
answers with an :class:`ImportResult`:

- ``rejected``: not an envelope, the terminal not registered or revoked, the key or the signature
  not the terminal's, a batch or a record of the wrong form (verify checks every record: an id,
  a known kind, a JSON object as payload; per kind, the payload fields the back office relies
  on, :mod:`kiosk.backoffice.schemas`), or a sequence already stored or held with other
  bytes. Nothing is stored; ``reason`` names the field or the problem, never a record's content.
- ``stored``: the sequence was ``acked + 1``. The batch and all its records are written in ONE
  transaction; then any held batches that now follow in order are released, each in its own.
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
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from kiosk.backoffice.registry import ACTIVE, Terminal, get_terminal
from kiosk.backoffice.schemas import check_batch
from kiosk.backoffice.storage import (
    Database,
    batches,
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
    value = conn.execute(select(func.max(batches.c.sequence))
                         .where(batches.c.terminal_id == terminal_id)).scalar()
    return int(value or 0)


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

    status, reason, count, refusal = _place_retrying(db, terminal, env, batch, data)
    if refusal is not None:
        return ImportResult("rejected", terminal.id, batch.sequence, acked(db, terminal.id),
                            reason, refusal=refusal)
    released = _release(db, terminal) if status in ("stored", "held") else 0
    ack = acked(db, terminal.id)
    if status == "held" and batch.sequence <= ack:
        status, reason = "stored", "held, then stored when the gap before it closed"
    elif status == "held":
        reason = (f"gap: sequence {ack + 1}" + (f" to {batch.sequence - 1}"
                                                 if batch.sequence - 1 > ack + 1 else "")
                  + " missing; kept aside" + (" (held before)" if reason else ""))
    if released and status == "stored" and not reason:
        reason = f"released {released} held batch{'es' if released > 1 else ''}"
    return ImportResult(status, terminal.id, batch.sequence, ack, reason, count, released)


def _place_retrying(db: Database, terminal: Terminal, env: Envelope, batch: Batch,
                    data: bytes) -> tuple[Status, str, int, Refusal | None]:
    for _ in range(_RETRIES):
        try:
            with db.engine.begin() as conn:
                return _place(conn, terminal, env, batch, data)
        except IntegrityError:
            continue  # a concurrent importer committed the same key: decide again
    raise RuntimeError(f"terminal {terminal.id} sequence {batch.sequence}: still conflicting "
                       f"after {_RETRIES} attempts")


def _place(conn: Connection, terminal: Terminal, env: Envelope, batch: Batch,
           data: bytes) -> tuple[Status, str, int, Refusal | None]:
    """Decide and write in one transaction: (status, reason, records stored, refusal)."""
    state = conn.execute(select(_terminal_status(terminal.id))).scalar()
    if state != ACTIVE:
        return "rejected", f"terminal {terminal.id}: revoked", 0, Refusal.REVOKED
    digest = _digest(env)
    ack = _acked(conn, terminal.id)
    if batch.sequence <= ack:
        stored = conn.execute(select(batches.c.body_sha256).where(
            batches.c.terminal_id == terminal.id,
            batches.c.sequence == batch.sequence)).scalar()
        if stored != digest:
            return "rejected", (f"sequence {batch.sequence}: already stored with other "
                                f"content"), 0, Refusal.CONFLICT
        return "replay", "", 0, None
    if batch.sequence == ack + 1:
        return "stored", "", _store(conn, terminal.id, batch, data, digest), None
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


def _terminal_status(terminal_id: str) -> Any:
    return (select(terminals.c.status).where(terminals.c.id == terminal_id)
            .scalar_subquery())


def _store(conn: Connection, terminal_id: str, batch: Batch, data: bytes, digest: str) -> int:
    """Insert the batch and its records (inside the caller's transaction); the records
    newly stored. A record id the terminal sent before is kept once (ON CONFLICT DO NOTHING)."""
    stored_at = now()
    conn.execute(insert(batches).values(
        terminal_id=terminal_id, sequence=batch.sequence, received_at=stored_at,
        body_sha256=digest, envelope=data))
    rows = [{"terminal_id": terminal_id, "record_id": r.id, "session_id": r.session_id,
             "kind": r.kind, "created_at": r.created_at,
             "payload": canonical(r.payload).decode("utf-8"),
             "batch_sequence": batch.sequence, "stored_at": stored_at} for r in batch.records]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(records).on_conflict_do_nothing(
        index_elements=["terminal_id", "record_id"]), rows)
    index = [{"terminal_id": terminal_id, "number": r.payload["number"],
              "session_id": r.session_id, "record_id": r.id, "token": r.payload["token"],
              "stored_at": stored_at} for r in batch.records if r.kind == "invoice"]
    if index:  # the invoice page's lookup; a number seen before keeps its first record
        conn.execute(dialect.insert(invoices).on_conflict_do_nothing(
            index_elements=["terminal_id", "number"]), index)
    conn.execute(delete(held_batches).where(held_batches.c.terminal_id == terminal_id,
                                            held_batches.c.sequence <= batch.sequence))
    return int(conn.execute(select(func.count()).select_from(records).where(
        records.c.terminal_id == terminal_id,
        records.c.batch_sequence == batch.sequence)).scalar() or 0)


def _release(db: Database, terminal: Terminal) -> int:
    """Store the held batches that now follow in order, one transaction each; how many."""
    released = 0
    for _ in range(1 << 20):
        try:
            with db.engine.begin() as conn:
                if conn.execute(select(_terminal_status(terminal.id))).scalar() != ACTIVE:
                    return released
                ack = _acked(conn, terminal.id)
                # a batch held while a concurrent importer stored it (PostgreSQL: the store's
                # clean-up did not see the uncommitted hold): nothing left to release
                conn.execute(delete(held_batches).where(
                    held_batches.c.terminal_id == terminal.id,
                    held_batches.c.sequence <= ack))
                row = conn.execute(select(held_batches.c.envelope).where(
                    held_batches.c.terminal_id == terminal.id,
                    held_batches.c.sequence == ack + 1)).first()
                if row is None:
                    return released
                data = bytes(row[0])
                try:
                    env = open_envelope(data)
                    batch = verify(env, terminal.key())
                except BatchError as exc:  # verified when held: only a changed key gets here
                    log.warning("terminal %s: held sequence %d no longer verifies (%s); kept",
                                terminal.id, ack + 1, exc)
                    return released
                _store(conn, terminal.id, batch, data, _digest(env))
            released += 1
        except IntegrityError:
            continue  # another importer released it first
    return released
