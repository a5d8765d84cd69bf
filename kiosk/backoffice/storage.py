"""The back office's storage: one schema (SQLAlchemy 2 Core, Alembic) on SQLite and PostgreSQL.

``open_db(url)`` takes ``sqlite:///PATH`` (the embedded default: the file is created and
migrated) or ``postgresql+psycopg://...`` (production; several processes share it), brings the
schema to the newest migration and refuses a database that is not a back office's (another
program's tables, a kiosk journal, a revision this code does not know).

Tables: ``terminals`` (the registry), ``batches`` (every stored upload, its envelope kept as
received), ``records`` (one row per record id per terminal, with the time it was stored),
``held_batches`` (verified batches that arrived after a gap, kept aside until the missing ones
come), ``invoices`` (terminal and invoice number → the invoice record and its link token, for
the invoice pages), ``ocpi_tokens`` (the SHA-256 of each OCPI credentials token), ``updates``
(the operator's signed config and tariff bundles, byte for byte, each for one terminal; handed
out by :mod:`kiosk.backoffice.updates`). Idempotency is the database's: UNIQUE(terminal_id,
sequence) on batches and held batches, UNIQUE(terminal_id, record_id) on records,
UNIQUE(terminal_id, kind, sequence) on updates, one transaction per batch. On SQLite every
transaction begins with ``BEGIN IMMEDIATE`` (writers wait for each other instead of failing on
a stale snapshot).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from kiosk.migrate import upgrade_to_head

__all__ = ["KNOWN_REVISIONS", "SCHEMA_REVISION", "STORED_AT_LOCK", "Database", "StorageError",
           "batches", "charging_sessions", "health_events", "held_batches", "invoices",
           "metadata", "now", "ocpi_tokens", "open_db", "operators", "plans", "records",
           "terminals", "updates"]

SCHEMA_REVISION = "bo0007"  # the Alembic head; not a journal revision ("0001"...)
KNOWN_REVISIONS = ("bo0001", "bo0002", "bo0003", "bo0004", "bo0005", "bo0006", "bo0007")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
_PG_MIGRATION_LOCK = 0x65766B62  # pg_advisory_xact_lock key: one migrating process at a time
# PostgreSQL advisory lock: an import holds it shared from before it takes stored_at until it
# commits (kiosk.backoffice.importer); an OCPI read takes it exclusive for a moment first, so
# every record stored before the read began is visible to it (kiosk.backoffice.ocpi)
STORED_AT_LOCK = 0x65766B63

log = logging.getLogger(__name__)

# Integer keys that autoincrement on both: BIGSERIAL on PostgreSQL, INTEGER PRIMARY KEY (rowid)
# on SQLite.
_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()
terminals = Table(
    "terminals", metadata,
    Column("id", String(36), primary_key=True),
    Column("public_key", LargeBinary(32), nullable=False),  # raw Ed25519
    Column("key_id", String(64), nullable=False),  # SHA-256 hex of public_key
    Column("status", String(16), nullable=False),  # active | revoked
    Column("added_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
    Column("site", String(64), nullable=True),  # bo0004: the site it stands at (analytics)
    CheckConstraint("status IN ('active', 'revoked')", name="ck_terminals_status"),
)
batches = Table(
    "batches", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("terminal_id", String(36), ForeignKey("terminals.id"), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("body_sha256", String(64), nullable=False),  # of the signed batch bytes
    Column("envelope", LargeBinary, nullable=False),  # as received
    UniqueConstraint("terminal_id", "sequence", name="uq_batches_terminal_sequence"),
)
records = Table(
    "records", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("terminal_id", String(36), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("session_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("payload", Text, nullable=False),  # canonical JSON of the record's object
    Column("batch_sequence", BigInteger, nullable=False),
    Column("stored_at", String(40), nullable=True),  # bo0002; the OCPI last_updated
    UniqueConstraint("terminal_id", "record_id", name="uq_records_terminal_record"),
    ForeignKeyConstraint(["terminal_id", "batch_sequence"],
                         ["batches.terminal_id", "batches.sequence"],
                         name="fk_records_batch"),
    Index("ix_records_session", "terminal_id", "session_id"),
    Index("ix_records_kind_stored", "kind", "stored_at", "id"),
)
held_batches = Table(
    "held_batches", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("terminal_id", String(36), ForeignKey("terminals.id"), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("envelope", LargeBinary, nullable=False),
    UniqueConstraint("terminal_id", "sequence", name="uq_held_terminal_sequence"),
)
invoices = Table(  # bo0002: the invoice page's index (terminal = station, number) -> record
    "invoices", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("terminal_id", String(36), nullable=False),
    Column("number", String(64), nullable=False),
    Column("session_id", String(128), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("token", String(64), nullable=False),  # the QR link's token, as the terminal made it
    Column("stored_at", String(40), nullable=False),
    UniqueConstraint("terminal_id", "number", name="uq_invoices_terminal_number"),
    ForeignKeyConstraint(["terminal_id", "record_id"],
                         ["records.terminal_id", "records.record_id"],
                         name="fk_invoices_record"),
)
ocpi_tokens = Table(  # bo0002: the OCPI credentials tokens of the eMSPs and hubs that poll
    "ocpi_tokens", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False),  # never the token itself
    Column("status", String(16), nullable=False),  # active | revoked
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
    UniqueConstraint("token_sha256", name="uq_ocpi_tokens_hash"),
    UniqueConstraint("name", name="uq_ocpi_tokens_name"),
    CheckConstraint("status IN ('active', 'revoked')", name="ck_ocpi_tokens_status"),
)
updates = Table(  # bo0003: signed update bundles for the terminals (kiosk.backoffice.updates)
    "updates", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("terminal_id", String(36), ForeignKey("terminals.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # config | tariff
    Column("sequence", BigInteger, nullable=False),
    Column("bundle", LargeBinary, nullable=False),  # the exact bytes published (signed)
    Column("sha256", String(64), nullable=False),  # hex, of the bundle's bytes
    Column("issued_at", String(40), nullable=False),  # as in the bundle
    Column("expires_at", String(40), nullable=False),  # as in the bundle
    # expires_at in UTC, fixed width (isoformat, microseconds, "+00:00"): compared as text in
    # SQL, which orders these as time on SQLite and PostgreSQL alike
    Column("expires_utc", String(32), nullable=False),
    Column("published_at", String(40), nullable=False),
    Column("withdrawn_at", String(40), nullable=True),  # taken back: never offered again
    # its index serves the lookup (terminal_id, kind, sequence > have, newest first)
    UniqueConstraint("terminal_id", "kind", "sequence",
                     name="uq_updates_terminal_kind_sequence"),
    # bo0007 added "members" (the member lists, kiosk.backoffice.plans)
    CheckConstraint("kind IN ('config', 'tariff', 'members')", name="ck_updates_kind"),
)
# bo0004: the analytics' facts, derived from the records at import (kiosk.backoffice.facts)
# so the queries (kiosk.backoffice.analytics) are plain SQL on typed columns, the same on
# SQLite and PostgreSQL. Times are whole seconds since the epoch (UTC): interval arithmetic
# is integer arithmetic on both. ``local_date``, ``local_dow`` (0 Monday .. 6 Sunday) and
# ``local_hour`` are of
# ``created_s`` in the station's time zone (the record's ``timezone``; UTC for records before
# version 3).
charging_sessions = Table(
    "charging_sessions", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("terminal_id", String(36), nullable=False),
    Column("session_id", String(128), nullable=False),
    Column("station_id", String(36), nullable=False),
    Column("connector", Integer, nullable=False),
    Column("created_s", BigInteger, nullable=False),  # the driver pressed Start
    Column("charge_start_s", BigInteger, nullable=True),  # the car drew power (plugged in)
    Column("charge_stop_s", BigInteger, nullable=True),  # the last reading while charging
    Column("ended_s", BigInteger, nullable=False),  # the session ended (v2: the record's time)
    Column("local_date", String(10), nullable=False),  # YYYY-MM-DD
    Column("local_dow", Integer, nullable=False),
    Column("local_hour", Integer, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # captured; 0 otherwise
    Column("currency", String(3), nullable=False),
    Column("outcome", String(16), nullable=False),  # captured | reversed | declined | aborted
    # what the attempt came to: paid | declined | card | host | charger | driver | none
    # (kiosk.backoffice.facts.result_of: from the outcome and the machine-readable say)
    Column("result", String(16), nullable=False),
    Column("say", String(40), nullable=False),  # the session's say code ("" before v3)
    Column("scheme", String(16), nullable=False),  # visa, mastercard, ... ("" unknown)
    Column("interface", String(16), nullable=False),  # contact | contactless | "" (before v3)
    Column("card_token", String(64), nullable=False),  # keyed token ("" no card read)
    # bo0006, for the tariff what-if: the station's IANA zone ("UTC" when unknown) and the last
    # reading (the end of the parking time when the car stayed plugged in; null: none)
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("last_reading_s", BigInteger, nullable=True),
    # bo0006: a member plan's discount (amount_minor is what was paid; 0: none)
    Column("discount_minor", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("terminal_id", "session_id", name="uq_charging_sessions_session"),
    Index("ix_charging_sessions_created", "created_s"),
    Index("ix_charging_sessions_station", "station_id", "connector", "created_s"),
    Index("ix_charging_sessions_token", "card_token", "created_s"),
)
health_events = Table(  # bo0004: each change of a terminal's health, as it uploaded it
    "health_events", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("terminal_id", String(36), nullable=False),
    Column("record_id", String(128), nullable=False),
    Column("station_id", String(36), nullable=False),
    Column("at_s", BigInteger, nullable=False),
    Column("part", String(32), nullable=False),  # reader, charger, host, journal, ...
    Column("ok", Boolean, nullable=False),
    Column("planned", Boolean, nullable=False),  # maintenance, the operator's switch
    Column("in_service", Boolean, nullable=False),  # the terminal as a whole, after it
    Column("faulted", Boolean, nullable=False),  # an unplanned problem stands, after it
    UniqueConstraint("terminal_id", "record_id", name="uq_health_events_record"),
    Index("ix_health_events_station", "station_id", "at_s"),
)
operators = Table(  # bo0005: who may read the analytics (/analytics: HTTP Basic over TLS)
    "operators", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("password_hash", String(200), nullable=False),  # scrypt$N$r$p$salt$hash
    Column("status", String(16), nullable=False),  # active | revoked
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
    UniqueConstraint("name", name="uq_operators_name"),
    CheckConstraint("status IN ('active', 'revoked')", name="ck_operators_status"),
)
plans = Table(  # bo0007: the member plans the operator enabled (kiosk.backoffice.plans)
    "plans", metadata,
    Column("id", String(32), primary_key=True),  # the member list's plan id, [a-z0-9-]
    Column("name", String(40), nullable=False),
    Column("segment", String(16), nullable=False),  # fleet | night | commuter | occasional
    Column("percent_off", String(8), nullable=False),  # a decimal string, as in the list
    Column("hours_from", Integer, nullable=True),  # both null: every hour
    Column("hours_to", Integer, nullable=True),
    Column("min_sessions_month", Integer, nullable=True),  # loyalty: paid sessions this month
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),  # enabled | disabled
    Column("created_at", String(40), nullable=False),
    CheckConstraint("status IN ('enabled', 'disabled')", name="ck_plans_status"),
    CheckConstraint("segment IN ('fleet', 'night', 'commuter', 'occasional')",
                    name="ck_plans_segment"),
)
TABLES = ("terminals", "batches", "records", "held_batches", "invoices", "ocpi_tokens",
          "updates", "charging_sessions", "health_events", "operators", "plans")


class StorageError(Exception):
    """The database cannot be opened or used as a back office's. The message is one line and
    never carries a password."""


@dataclass(frozen=True)
class Database:
    """An open back-office database (one engine; thread-safe; one per process)."""

    engine: Engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def parse_url(url: str) -> URL:
    """``sqlite:///PATH`` or ``postgresql[+psycopg]://...``; anything else is refused."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError("not a database URL (sqlite:///PATH or "
                           "postgresql+psycopg://USER@HOST/DB)") from None
    if parsed.drivername in ("postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise StorageError("sqlite: give a file (sqlite:///PATH), not a memory database")
        parent = Path(parsed.database).parent
        if not parent.is_dir():
            raise StorageError(f"sqlite: the folder {parent} does not exist")
        return parsed
    raise StorageError(f"unsupported database {parsed.drivername!r} (sqlite or postgresql)")


def _engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _check_foreign(conn: Any) -> str | None:
    """The revision stored, or None for an empty database; raises for a foreign one."""
    names = set(inspect(conn).get_table_names())
    if "alembic_version" not in names:
        if names:
            raise StorageError(f"not a back-office database (it holds other tables: "
                               f"{', '.join(sorted(names)[:3])})")
        return None
    rows = [str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    if len(rows) != 1 or rows[0] not in KNOWN_REVISIONS:
        raise StorageError(f"not a back-office database of a known revision "
                           f"(alembic_version {', '.join(rows)[:40] or 'empty'})")
    return rows[0]


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (one INFO line when one ran)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # one process migrates, the others wait
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        before = _check_foreign(conn)
        if before != SCHEMA_REVISION:
            upgrade_to_head(conn, MIGRATIONS)
    if before != SCHEMA_REVISION:
        log.info("back office %s: schema migrated from %s to %s",
                 engine.url.render_as_string(hide_password=True),
                 before or "nothing (a new database)", SCHEMA_REVISION)


def open_db(url: str) -> Database:
    """Open (and migrate) the back office database at ``url``; raises :class:`StorageError`."""
    parsed = parse_url(url)
    engine = _engine(parsed)
    try:
        upgrade(engine)
    except StorageError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StorageError(f"cannot open: {_reason(exc)}") from None
    return Database(engine)


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own message, first line only (SQLAlchemy adds the statement, which may
    be long; the URL's password never appears in a driver message)."""
    orig = getattr(exc, "orig", None)
    msg = str(orig if orig is not None else exc).strip().splitlines()
    return (msg[0] if msg else type(exc).__name__)[:200]
