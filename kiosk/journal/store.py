"""The journal: every session transition, committed before its effects run.

SQLite in WAL mode with ``synchronous=FULL``: a transition that :meth:`Journal.commit`
returned from survives a power cut. Schema changes go through Alembic migrations
(``kiosk/session/migrations``) from the first table on.

Tables: ``sessions`` (the latest snapshot of each session), ``transitions`` (every
event → snapshot step with its effects, append-only, unique per session and step) and
``outbox`` (records for the back office, written in the same transaction as the transition
that produced them, unique per session and kind, so a replay never duplicates one; a record of
no session, a change of the terminal's health, is queued alone by :meth:`Journal.queue_record`
under a record id of its own in ``session_id``, which is why that column has no foreign key
since 0005) and
``invoices`` (one per captured session; the number is allocated inside the commit that stores
the invoice, so numbers have no gaps and are never reused, even across a crash) and
``settlements`` (the capture, reversal or reversal advice each ended session owes the host,
written in the commit of the step that decided it; the payments queue marks it done) and
``batches`` (the outbox grouped into signed upload batches, one sequence per terminal from 1;
``outbox.batch_seq`` names a record's batch, NULL until it is in one; see
:mod:`kiosk.records.outbox`).

Outbox payloads (and batch envelopes) are sealed at rest with AES-GCM under the terminal's
outbox key (``outbox.key`` in the data folder): stored as ``aesgcm1:<base64(nonce|ciphertext)>``
with the row's session id and kind as associated data, so a row moved to another session or
kind does not open. Rows of older journals (no prefix) are plain JSON: opening the journal with
the key seals them (and plain batch envelopes) in one transaction, with one INFO line. A journal
opened without a key writes plain rows and reads everything but sealed ones: a sealed row it
cannot open is an :class:`OutboxRowError` naming the row, never skipped. ``Journal(path)``
without ``outbox_key`` takes the key file beside the journal when there is one (tools, tests);
the kiosk passes the key it loaded and checked (:mod:`kiosk.security.provisioning`).

A write that fails (disk full, read-only, I/O error) raises :class:`JournalWriteError` and
changes nothing: SQLite rolls the transaction back, so the file still holds the last step
that :meth:`Journal.commit` returned from. The files are created 0600.

:meth:`Journal.open_readonly` is for the tools that only read a journal (the back office's
export): it never creates, migrates, chmods or writes anything, not even SQLite's ``-wal`` and
``-shm`` files; it takes only a regular file holding a kiosk journal of a known revision
(:data:`KNOWN_REVISIONS`).

Migrations are quiet: Alembic's own INFO lines are held back, and this module logs one INFO line
saying which migrations ran, when any did.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Select,
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
from sqlalchemy.pool import NullPool

from kiosk.migrate import upgrade_to_head
from kiosk.session import codec
from kiosk.session.effects import Effect, Settle
from kiosk.session.events import Event
from kiosk.session.machine import Session

SCHEMA_REVISION = "0005"  # the Alembic head; a test checks they agree
# every migration, oldest first; checked too
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
READONLY_MAX_BYTES = 4 << 30  # open_readonly: a journal of years is far smaller
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database
OUTBOX_KEY_FILE = "outbox.key"  # in the data folder, the journal's folder
OUTBOX_KEY_BYTES = 32  # AES-256-GCM
SEALED = "aesgcm1:"  # the prefix of a sealed payload or envelope
_NONCE_BYTES = 12
BESIDE: Literal["beside"] = "beside"  # Journal(outbox_key=BESIDE): the key file by the journal

log = logging.getLogger(__name__)

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
    # a session's id, or a record id of no session (queue_record): no foreign key (0005)
    Column("session_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("sent_at", String(40), nullable=True),
    Column("batch_seq", Integer, nullable=True, index=True),  # NULL: in no batch yet
    UniqueConstraint("session_id", "kind", name="uq_outbox_session_kind"),
)

batches = Table(
    "batches", metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=False),  # from 1, no gaps
    Column("terminal_id", String(36), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("envelope", Text, nullable=False),  # sealed at rest; resent exactly as signed
    Column("acked_at", String(40), nullable=True),
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

# Journal.commit's statements (the tables above; a test checks them against the metadata)
_INSERT_SESSION = ("INSERT INTO sessions (id, connector, state, seq, finished, created_at, "
                   "updated_at, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE_SESSION = ("UPDATE sessions SET state = ?, seq = ?, finished = ?, updated_at = ?, "
                   "snapshot = ? WHERE id = ? AND seq = ?")
_INSERT_TRANSITION = ("INSERT INTO transitions (session_id, seq, at, from_state, to_state, "
                      "event, effects) VALUES (?, ?, ?, ?, ?, ?, ?)")
_INVOICE_OF = "SELECT number FROM invoices WHERE session_id = ?"
_LAST_INVOICE = "SELECT max(number) FROM invoices"
_INSERT_INVOICE = ("INSERT INTO invoices (number, session_id, created_at, payload) "
                   "VALUES (?, ?, ?, ?)")
_INSERT_RECORD = ("INSERT OR IGNORE INTO outbox (session_id, kind, created_at, payload) "
                  "VALUES (?, ?, ?, ?)")
_INSERT_SETTLEMENT = ("INSERT OR IGNORE INTO settlements (session_id, ref, kind, amount_minor, "
                      "status, attempts, next_at, created_at, done_at, response_code, "
                      "last_error) VALUES (?, ?, ?, ?, ?, 0, ?, ?, NULL, '', '')")
PENDING, DONE, FAILED = "pending", "done", "failed"
# queue_record: the forms a row of no session may take (what the batch format carries)
_RECORD_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_RECORD_KIND = re.compile(r"[a-z]{1,16}")


class JournalError(Exception):
    """The journal cannot be opened or refused a write. Says which file and why."""


class JournalConflict(JournalError):
    """A commit did not follow the stored snapshot (a step was lost or replayed)."""


class JournalWriteError(JournalError):
    """The journal's file refused a write (disk full, read-only, I/O error). Nothing of the
    step was stored; the terminal must stop charging and go out of service."""


class OutboxRowError(JournalError):
    """An outbox row (or a stored batch) that cannot be opened: sealed and no key, the wrong
    key, moved to another session, damaged. ``row_id`` names it (a batch: ``batch <seq>``);
    the row is kept, never skipped."""

    def __init__(self, message: str, row_id: int | str) -> None:
        super().__init__(message)
        self.row_id = row_id


class BatchConflict(JournalError):
    """A batch could not be stored as built: its sequence was taken or one of its records was
    put in another batch meanwhile (another process). Nothing was stored; build it again."""


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
    batch_seq: int | None = None


@dataclass(frozen=True)
class BatchRow:
    sequence: int
    terminal_id: str
    created_at: str
    envelope: bytes  # opened: the bytes sent
    acked_at: str | None


def seal_text(key: bytes, aad: bytes, text: str) -> str:
    """``aesgcm1:<base64(nonce|ciphertext)>`` of ``text`` under ``key`` bound to ``aad``."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), aad)
    return SEALED + base64.b64encode(nonce + sealed).decode("ascii")


def open_text(key: bytes | None, aad: bytes, stored: str) -> str:
    """The text of a stored value: plain as it is, sealed opened with ``key`` and ``aad``.
    Raises ValueError saying what is wrong (never the content)."""
    if not stored.startswith(SEALED):
        return stored
    if key is None:
        raise ValueError("sealed (aesgcm1) and this journal was opened without the outbox key")
    try:
        raw = base64.b64decode(stored[len(SEALED):].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("sealed, but not base64") from None
    if len(raw) < _NONCE_BYTES + 16:
        raise ValueError("sealed, but too short")
    try:
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
    except InvalidTag:
        raise ValueError("does not open with the outbox key (another key, another session "
                         "or kind, or damaged)") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("opened, but not UTF-8") from None


def outbox_aad(session_id: str, kind: str) -> bytes:
    """The associated data of an outbox row: its session and kind (NUL-separated)."""
    return b"evkiosk-outbox/1\x00" + session_id.encode("utf-8") + b"\x00" + kind.encode("utf-8")


def batch_aad(terminal_id: str, sequence: int) -> bytes:
    return b"evkiosk-batch/1\x00" + terminal_id.encode("utf-8") + b"\x00" + str(sequence).encode()


def outbox_key_beside(path: str | Path) -> bytes | None:
    """The outbox key in the journal's folder (``outbox.key``), checked (0600, owned, 32
    bytes); None when there is none. Raises :class:`JournalError`."""
    key_path = Path(path).absolute().parent / OUTBOX_KEY_FILE
    if not os.path.lexists(key_path):
        return None
    from kiosk.security.keys import KeyError_, load_key

    try:
        return load_key(key_path)
    except KeyError_ as exc:
        raise JournalError(f"journal {path}: its outbox key: {exc}") from None


def _check_outbox_key(key: bytes | None) -> bytes | None:
    if key is not None and (not isinstance(key, bytes) or len(key) != OUTBOX_KEY_BYTES):
        raise ValueError(f"an outbox key is {OUTBOX_KEY_BYTES} bytes")
    return key


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


def _revision_in(conn: Any) -> str | None:
    if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                            "'alembic_version'").first() is None:
        return None
    value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration. Alembic's INFO lines (its plugins, its
    context, one per migration: a dozen on every new journal) are held back (the ``alembic``
    loggers at WARNING while it runs); one INFO line of this module says which ran."""
    with engine.begin() as conn:
        before = _revision_in(conn)
        upgrade_to_head(conn, MIGRATIONS)
        after = _revision_in(conn)
    if before != after:
        ran = [r for r in KNOWN_REVISIONS
               if (before is None or r > before) and after is not None and r <= after]
        log.info("journal %s: schema migrated from %s to %s (ran %s)", engine.url.database,
                 before or "nothing (a new journal)", after, ", ".join(ran) or "?")


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _check_database_file(path: Path, max_bytes: int) -> None:
    """A regular file of at most ``max_bytes`` whose first 100 bytes are an SQLite header,
    checked without blocking: the name is checked before it is opened (a FIFO would wait for a
    writer), the open file again. Raises :class:`JournalError`."""
    where = f"journal {path}"
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise JournalError(f"{where}: {_file_kind(before.st_mode)}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
                raise JournalError(f"{where}: the file changed while it was opened")
            if st.st_size > max_bytes:
                raise JournalError(f"{where}: too large: {st.st_size} bytes, at most "
                                   f"{max_bytes} for a journal")
            header = os.read(fd, 100)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise JournalError(f"{where}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise JournalError(f"{where}: cannot read: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    if not header:
        raise JournalError(f"{where}: an empty file, not a journal")
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise JournalError(f"{where}: not an SQLite database, not a journal")


def _known_revision(engine: Engine, where: str) -> str:
    """The file's one ``alembic_version`` row, when it is a revision this kiosk knows."""
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                    "name = 'alembic_version'").first() is None:
                raise JournalError(f"{where}: not a kiosk journal (no alembic_version table)")
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version "
                                        "LIMIT 3").all()
    except DBAPIError as exc:
        first = (str(exc.orig).splitlines() or ["unreadable"])[0][:200]
        raise JournalError(f"{where}: not a readable SQLite database: {first}") from None
    except UnicodeDecodeError:  # SQLite's own message quotes the damaged schema's bytes
        raise JournalError(f"{where}: not a readable SQLite database: a damaged schema "
                           f"(not UTF-8)") from None
    if not rows:
        raise JournalError(f"{where}: not a kiosk journal (no alembic_version row)")
    if len(rows) != 1 or not isinstance(rows[0][0], str) or rows[0][0] not in KNOWN_REVISIONS:
        found = ", ".join(repr(r[0])[:20] for r in rows)
        raise JournalError(f"{where}: not a journal of a known revision (found {found}; this "
                           f"kiosk knows {', '.join(KNOWN_REVISIONS)})")
    return str(rows[0][0])


def _on_connect_readonly(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA query_only=ON")  # no write, even one SQLite would allow
    cur.execute("PRAGMA cell_size_check=ON")  # a damaged page is an error sooner
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class Journal:
    readonly: bool = False  # open_readonly
    revision: str = SCHEMA_REVISION  # the schema revision of the file (open_readonly: any known)

    outbox_key: bytes | None = None  # None: plain rows written, sealed rows refused

    def __init__(self, path: str | Path, *,
                 outbox_key: bytes | Literal["beside"] | None = BESIDE) -> None:
        """``outbox_key``: the 32-byte AES key payloads are sealed with; :data:`BESIDE` (the
        default) takes ``outbox.key`` from the journal's folder if there is one; None: no key
        (plain rows are written, sealed ones do not read)."""
        self.path = Path(path)
        self.outbox_key = _check_outbox_key(
            outbox_key_beside(self.path) if outbox_key == BESIDE else outbox_key)
        try:
            st = os.stat(self.path)
        except (OSError, ValueError):
            pass  # not there yet: it is created below (or the error says why)
        else:
            if not stat.S_ISREG(st.st_mode):  # SQLite would wait on a FIFO for ever
                raise JournalError(f"journal {self.path}: cannot open: "
                                   f"{_file_kind(st.st_mode)}, not a regular file")
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
        if self.outbox_key is not None:
            sealed = self.reseal_plain_rows()
            if sealed:
                log.info("journal %s: sealed %d plain outbox row(s) and batch(es) of an older "
                         "journal", self.path, sealed)

    @classmethod
    def open_readonly(cls, path: str | Path, *, max_bytes: int = READONLY_MAX_BYTES,
                      outbox_key: bytes | None = None) -> Journal:
        """A journal opened for reading only, for tools (``kiosk-backoffice export``): it
        creates, migrates, chmods and writes nothing; not even SQLite's ``-wal`` and ``-shm``
        files appear. Only a regular file of at most ``max_bytes`` that is an SQLite database
        with one ``alembic_version`` row of :data:`KNOWN_REVISIONS` is taken (``revision``
        says which; an older one has fewer tables). A journal a kiosk has open (its ``-wal``
        and ``-shm`` are there) is read through them, as one more reader; a closed one as an
        immutable file; a ``-wal`` with content but no ``-shm``, or a leftover ``-journal``, is
        refused (reading either would write). Writing methods raise
        :class:`JournalWriteError`. Sealed payloads open only with ``outbox_key``. Raises
        :class:`JournalError`, whose message names the file."""
        given = Path(path)
        where = f"journal {given}"
        try:
            real = Path(os.path.realpath(given))  # SQLite puts -wal and -shm by the target
        except (OSError, ValueError) as exc:
            raise JournalError(f"{where}: cannot read: {exc}") from None
        _check_database_file(given, max_bytes)
        side = {s: real.with_name(real.name + s) for s in ("-wal", "-shm", "-journal")}
        present = {s for s, f in side.items() if os.path.lexists(f)}
        for s in present:
            try:
                mode = os.stat(side[s]).st_mode
            except OSError as exc:
                raise JournalError(f"{where}: its {s} file: cannot read: "
                                   f"{exc.strerror or exc}") from None
            if not stat.S_ISREG(mode):
                raise JournalError(f"{where}: its {s} file is {_file_kind(mode)}")
        if "-wal" in present and "-shm" not in present and os.stat(side["-wal"]).st_size == 0:
            present.discard("-wal")  # an empty WAL holds nothing: the file alone is the journal
        if "-wal" in present and "-shm" not in present:
            raise JournalError(f"{where}: a -wal file without its -shm: reading it would write "
                               f"one; copy the journal with all its files, or let the kiosk "
                               f"open it once")
        if "-journal" in present and "-wal" not in present:
            raise JournalError(f"{where}: a -journal file is next to it (a write in rollback "
                               f"mode was cut short): not a kiosk journal, which is in WAL "
                               f"mode")
        # a journal a kiosk has open: one more reader of its WAL. Else an immutable file: a
        # read-only connection would create the -wal and -shm (and leave them behind) for a
        # WAL database, or for any file whose header says so
        params = "mode=ro" if "-wal" in present else "mode=ro&immutable=1"
        uri = f"file:{quote(str(real))}?{params}"
        engine = create_engine(
            "sqlite://", poolclass=NullPool,
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
        event.listen(engine, "connect", _on_connect_readonly)
        try:
            revision = _known_revision(engine, where)
        except BaseException:
            engine.dispose()
            raise
        journal = cls.__new__(cls)
        journal.path, journal.engine = given, engine
        journal.readonly, journal.revision = True, revision
        journal.outbox_key = _check_outbox_key(outbox_key)
        return journal

    def _refuse_if_readonly(self) -> None:
        if self.readonly:
            raise JournalWriteError(f"journal {self.path}: opened read-only")

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
        self._refuse_if_readonly()
        snap = codec.dumps(new)
        at = now.isoformat()
        finished = 1 if new.finished else 0
        updated = new.updated_at.isoformat()
        try:
            # plain SQL on the DBAPI cursor: this runs on every step, on the GUI thread;
            # SQLAlchemy's statement building cost about ten times the write itself
            with self.engine.begin() as conn:
                cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                if old is None:
                    cur.execute(_INSERT_SESSION, (new.id, new.connector, new.state.value,
                                                  new.seq, finished, new.created_at.isoformat(),
                                                  updated, snap))
                else:
                    cur.execute(_UPDATE_SESSION, (new.state.value, new.seq, finished, updated,
                                                  snap, new.id, old.seq))
                    if cur.rowcount != 1:
                        raise JournalConflict(
                            f"session {new.id}: stored step is not {old.seq}; refusing step "
                            f"{new.seq}")
                cur.execute(_INSERT_TRANSITION, (
                    new.id, new.seq, at, old.state.value if old else None, new.state.value,
                    codec.dumps(event_), codec.dumps(list(effects))))
                records = list(records)
                if invoice is not None and cur.execute(
                        _INVOICE_OF, (new.id,)).fetchone() is None:
                    last = cur.execute(_LAST_INVOICE).fetchone()[0]
                    number = (last or 0) + 1
                    payload = invoice(number)
                    cur.execute(_INSERT_INVOICE, (number, new.id, at,
                                                  json.dumps(payload, sort_keys=True)))
                    ref = payload.get("number", number)
                    records = [(k, {**p, "invoice_number": ref} if "invoice_reference_id" not in p
                                else {**p, "invoice_reference_id": ref}) for k, p in records]
                    records.append(("invoice", payload))
                for kind, payload in records:
                    cur.execute(_INSERT_RECORD, (new.id, kind, at,
                                                 self._seal_payload(new.id, kind, payload)))
                for job in settle:
                    cur.execute(_INSERT_SETTLEMENT, (job.session_id, job.ref, job.kind.value,
                                                     job.amount_minor, PENDING, at, at))
                cur.close()
        except (IntegrityError, sqlite3.IntegrityError) as exc:
            raise JournalConflict(f"session {new.id}: step {new.seq} already stored") from exc
        except DBAPIError as exc:
            raise self._write_error(exc) from exc
        except sqlite3.Error as exc:
            raise self._sqlite_write_error(exc) from exc

    def queue_record(self, record_session_id: str, kind: str, payload: dict[str, Any],
                     at: datetime) -> None:
        """Queue one record that belongs to no session (a change of the terminal's health) for
        the back office, in a transaction of its own: one outbox row under
        ``record_session_id`` (a record id of its own, 1 to 64 of ``A-Z a-z 0-9 . _ -``, e.g.
        ``health-…``; the batch's record id is ``<record_session_id>:<kind>``), sealed like
        every row, created ``at``.

        Raises :class:`JournalConflict` when a record of that id and kind is queued already
        (nothing changes), :class:`JournalWriteError` when the file refuses the write, and
        ValueError for an id or kind of another form (a row the batches could not carry)."""
        if not isinstance(record_session_id, str) or not _RECORD_ID.fullmatch(record_session_id):
            raise ValueError("a record id is 1 to 64 letters, digits, '.', '_' or '-'")
        if not isinstance(kind, str) or not _RECORD_KIND.fullmatch(kind):
            raise ValueError("a record kind is 1 to 16 lower-case letters")
        if at.tzinfo is None:
            raise ValueError("a record's time is an aware datetime")
        self._refuse_if_readonly()
        sealed = self._seal_payload(record_session_id, kind, payload)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(outbox).values(session_id=record_session_id, kind=kind,
                                                   created_at=at.isoformat(), payload=sealed))
        except IntegrityError as exc:
            raise JournalConflict(f"journal {self.path}: record {record_session_id}:{kind} "
                                  f"queued already") from exc
        except DBAPIError as exc:
            raise self._write_error(exc) from exc
        except sqlite3.Error as exc:
            raise self._sqlite_write_error(exc) from exc

    def reseal_plain_rows(self) -> int:
        """Seal the plain outbox payloads and batch envelopes an older journal (or a tool that
        opened it without the key) left, in one transaction; how many. The plain text is
        kept as it is inside the seal (an envelope is resent byte for byte). A plain row that
        is not JSON is left as it is (reading it names the row: never dropped, never hidden).
        :class:`JournalWriteError` when the file refuses the write (nothing changes)."""
        if self.outbox_key is None or self.readonly:
            return 0
        key = self.outbox_key
        changed = 0
        try:
            with self.engine.begin() as conn:
                rows = conn.execute(select(outbox.c.id, outbox.c.session_id, outbox.c.kind,
                                           outbox.c.payload)
                                    .where(~outbox.c.payload.startswith(SEALED))).all()
                for r in rows:
                    try:
                        json.loads(r.payload)
                    except ValueError:
                        continue
                    conn.execute(update(outbox).where(outbox.c.id == r.id).values(
                        payload=seal_text(key, outbox_aad(r.session_id, r.kind), r.payload)))
                    changed += 1
                plain = conn.execute(select(batches.c.sequence, batches.c.terminal_id,
                                            batches.c.envelope)
                                     .where(~batches.c.envelope.startswith(SEALED))).all()
                for b in plain:
                    conn.execute(update(batches).where(batches.c.sequence == b.sequence).values(
                        envelope=seal_text(key, batch_aad(b.terminal_id, b.sequence),
                                           b.envelope)))
                    changed += 1
        except DBAPIError as exc:
            raise self._write_error(exc) from exc
        return changed

    def _seal_payload(self, session_id: str, kind: str, payload: dict[str, Any]) -> str:
        text = _dumps(payload)
        if self.outbox_key is None:
            return text
        return seal_text(self.outbox_key, outbox_aad(session_id, kind), text)

    def _open_payload(self, row_id: int, session_id: str, kind: str, stored: str) -> Any:
        try:
            return json.loads(open_text(self.outbox_key, outbox_aad(session_id, kind), stored))
        except ValueError as exc:  # JSONDecodeError too
            problem = str(exc) if not isinstance(exc, json.JSONDecodeError) else "not JSON"
            raise OutboxRowError(f"journal {self.path}: outbox row {row_id}: {problem}",
                                 row_id) from None

    def _sqlite_write_error(self, exc: sqlite3.Error) -> JournalWriteError:
        return JournalWriteError(f"journal {self.path}: write failed: "
                                 f"{(str(exc).splitlines() or [type(exc).__name__])[0]}")

    def _write_error(self, exc: DBAPIError) -> JournalWriteError:
        return JournalWriteError(f"journal {self.path}: write failed: "
                                 f"{str(exc.orig).splitlines()[0] if exc.orig else exc}")

    def check_writable(self) -> None:
        """Prove that a write reaches the file now (after a failure): a transaction that
        changes the file, on a fresh connection (the file system may have been mounted anew
        after an I/O error: the old file handles are dead). Raises :class:`JournalWriteError`."""
        self._refuse_if_readonly()
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
        self._refuse_if_readonly()
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
        self._refuse_if_readonly()
        try:
            with self.engine.begin() as conn:
                res = conn.execute(update(settlements).where(
                    settlements.c.id == job_id, settlements.c.status == PENDING).values(
                    status=status, done_at=at.isoformat(), response_code=response_code,
                    last_error=error[:500]))
                if res.rowcount == 1:
                    conn.execute(insert(outbox).prefix_with("OR IGNORE").values(
                        session_id=record["session_id"], kind="settlement",
                        created_at=at.isoformat(),
                        payload=self._seal_payload(record["session_id"], "settlement", record)))
        except DBAPIError as exc:
            raise self._write_error(exc) from exc

    def mark_sent(self, outbox_ids: Sequence[int], at: datetime) -> None:
        self._refuse_if_readonly()
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
        """The queued records, opened. A row that does not open raises
        :class:`OutboxRowError` naming it."""
        q = self._outbox_select().order_by(outbox.c.id)
        if pending_only:
            q = q.where(outbox.c.sent_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [self._outbox_row(r) for r in rows]

    def last_record(self, kind: str, session_prefix: str = "") -> OutboxRow | None:
        """The newest queued record of ``kind`` (whose session id starts with
        ``session_prefix``), opened; None when there is none."""
        q = self._outbox_select().where(outbox.c.kind == kind)
        if session_prefix:  # a range on the (session_id, kind) index, not a scan (LIKE)
            after = session_prefix[:-1] + chr(ord(session_prefix[-1]) + 1)
            q = q.where(outbox.c.session_id >= session_prefix, outbox.c.session_id < after)
        q = q.order_by(outbox.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else self._outbox_row(row)

    def _outbox_select(self) -> Select[Any]:
        cols = [outbox.c.id, outbox.c.session_id, outbox.c.kind, outbox.c.payload,
                outbox.c.created_at, outbox.c.sent_at]
        if self.revision >= "0004":  # open_readonly of an older journal: no batch column
            cols.append(outbox.c.batch_seq)
        return select(*cols)

    def _outbox_row(self, r: Any) -> OutboxRow:
        return OutboxRow(r.id, r.session_id, r.kind,
                         self._open_payload(r.id, r.session_id, r.kind, r.payload),
                         r.created_at, r.sent_at, getattr(r, "batch_seq", None))

    # --- batches (kiosk.records.outbox) ---------------------------------------------------------
    def unbatched(self, limit: int) -> list[OutboxRow]:
        """The oldest ``limit`` records not sent and in no batch yet, opened, in id order."""
        q = (self._outbox_select().where(outbox.c.sent_at.is_(None),
                                         outbox.c.batch_seq.is_(None))
             .order_by(outbox.c.id).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [self._outbox_row(r) for r in rows]

    def pending_count(self) -> int:
        """Records not yet acknowledged (in a batch or not)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(outbox).where(
                outbox.c.sent_at.is_(None))).scalar() or 0)

    def last_batch_sequence(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(batches.c.sequence))).scalar() or 0)

    def unacknowledged_batches(self, limit: int | None = None) -> list[BatchRow]:
        """The batches not yet acknowledged, oldest first, their envelopes opened."""
        q = select(batches).where(batches.c.acked_at.is_(None)).order_by(batches.c.sequence)
        if limit is not None:
            q = q.limit(limit)
        return self._batch_rows(q)

    def batch(self, sequence: int) -> BatchRow | None:
        """One batch, acknowledged or not (its envelope opened), or None. Batches are kept after
        their acknowledgement, so a back office restored from a backup can get them again."""
        return next(iter(self._batch_rows(select(batches).where(
            batches.c.sequence == sequence))), None)

    def _batch_rows(self, q: Any) -> list[BatchRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for r in rows:
            try:
                text = open_text(self.outbox_key, batch_aad(r.terminal_id, r.sequence),
                                 r.envelope)
            except ValueError as exc:
                raise OutboxRowError(f"journal {self.path}: batch {r.sequence}: {exc}",
                                     f"batch {r.sequence}") from None
            out.append(BatchRow(r.sequence, r.terminal_id, r.created_at, text.encode("utf-8"),
                                r.acked_at))
        return out

    def store_batch(self, sequence: int, terminal_id: str, created_at: str, envelope: bytes,
                    row_ids: Sequence[int]) -> None:
        """Store a built batch and put its records in it, in one transaction: the sequence
        must be the next one and every record still in no batch, else
        :class:`BatchConflict` and nothing is stored. :class:`JournalWriteError` when the file
        refuses the write (nothing stored either)."""
        self._refuse_if_readonly()
        text = envelope.decode("ascii")  # an envelope is ASCII JSON (base64, hex, the id)
        if self.outbox_key is not None:
            text = seal_text(self.outbox_key, batch_aad(terminal_id, sequence), text)
        ids = list(row_ids)
        try:
            with self.engine.begin() as conn:
                last = conn.execute(select(func.max(batches.c.sequence))).scalar() or 0
                if sequence != last + 1:
                    raise BatchConflict(f"journal {self.path}: batch {sequence}: the next "
                                        f"sequence is {last + 1}")
                conn.execute(insert(batches).values(
                    sequence=sequence, terminal_id=terminal_id, created_at=created_at,
                    envelope=text, acked_at=None))
                res = conn.execute(update(outbox).where(
                    outbox.c.id.in_(ids), outbox.c.batch_seq.is_(None),
                    outbox.c.sent_at.is_(None)).values(batch_seq=sequence))
                if res.rowcount != len(ids):
                    raise BatchConflict(f"journal {self.path}: batch {sequence}: a record "
                                        f"is in another batch or sent already")
        except IntegrityError as exc:
            raise BatchConflict(f"journal {self.path}: batch {sequence}: stored "
                                f"already") from exc
        except DBAPIError as exc:
            raise self._write_error(exc) from exc

    def acknowledge_batches(self, up_to: int, at: datetime) -> int:
        """The back office has stored every batch up to ``up_to``: mark them acknowledged and
        their records sent, in one transaction; return how many records that marked. An
        acknowledgement above the last batch is a :class:`JournalError` (nothing marked)."""
        self._refuse_if_readonly()
        try:
            with self.engine.begin() as conn:
                last = conn.execute(select(func.max(batches.c.sequence))).scalar() or 0
                if up_to > last:
                    raise JournalError(f"journal {self.path}: acknowledgement of batch "
                                       f"{up_to}, but the last batch is {last}")
                conn.execute(update(batches).where(
                    batches.c.sequence <= up_to, batches.c.acked_at.is_(None)).values(
                    acked_at=at.isoformat()))
                res = conn.execute(update(outbox).where(
                    outbox.c.batch_seq <= up_to, outbox.c.sent_at.is_(None)).values(
                    sent_at=at.isoformat()))
                return int(res.rowcount)
        except DBAPIError as exc:
            raise self._write_error(exc) from exc

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
