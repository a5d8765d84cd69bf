"""The analytics' facts: one row per charging session and per health change, derived from the
records at import (kiosk.backoffice.facts), and the site a terminal stands at.

The records stored before this revision get their facts here, in the same transaction as the
new tables (an upgrade that fails leaves the database at bo0003, to be upgraded again): read in
pages of BACKFILL_PAGE by id, derived by kiosk.backoffice.facts (the import's own code), inserted
with ON CONFLICT DO NOTHING. Only the columns of this revision are written, so a later change
of the facts' columns does not change what this migration does to a bo0003 database.

Revision ID: bo0004
Revises: bo0003
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "bo0004"
down_revision = "bo0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BACKFILL_PAGE = 2000
_SESSION_COLUMNS = ("terminal_id", "session_id", "station_id", "connector", "created_s",
                    "charge_start_s", "charge_stop_s", "ended_s", "local_date", "local_dow",
                    "local_hour", "energy_wh", "amount_minor", "currency", "outcome", "result",
                    "say", "scheme", "interface", "card_token")
_HEALTH_COLUMNS = ("terminal_id", "record_id", "station_id", "at_s", "part", "ok", "planned",
                   "in_service", "faulted")
log = logging.getLogger("kiosk.backoffice.storage")


def upgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("site", sa.String(64), nullable=True))
    op.create_table(
        "charging_sessions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("terminal_id", sa.String(36), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("station_id", sa.String(36), nullable=False),
        sa.Column("connector", sa.Integer, nullable=False),
        sa.Column("created_s", sa.BigInteger, nullable=False),
        sa.Column("charge_start_s", sa.BigInteger, nullable=True),
        sa.Column("charge_stop_s", sa.BigInteger, nullable=True),
        sa.Column("ended_s", sa.BigInteger, nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("local_dow", sa.Integer, nullable=False),
        sa.Column("local_hour", sa.Integer, nullable=False),
        sa.Column("energy_wh", sa.BigInteger, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("say", sa.String(40), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("interface", sa.String(16), nullable=False),
        sa.Column("card_token", sa.String(64), nullable=False),
        sa.UniqueConstraint("terminal_id", "session_id", name="uq_charging_sessions_session"),
    )
    op.create_index("ix_charging_sessions_created", "charging_sessions", ["created_s"])
    op.create_index("ix_charging_sessions_station", "charging_sessions",
                    ["station_id", "connector", "created_s"])
    op.create_index("ix_charging_sessions_token", "charging_sessions",
                    ["card_token", "created_s"])
    op.create_table(
        "health_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("terminal_id", sa.String(36), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("station_id", sa.String(36), nullable=False),
        sa.Column("at_s", sa.BigInteger, nullable=False),
        sa.Column("part", sa.String(32), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("planned", sa.Boolean, nullable=False),
        sa.Column("in_service", sa.Boolean, nullable=False),
        sa.Column("faulted", sa.Boolean, nullable=False),
        sa.UniqueConstraint("terminal_id", "record_id", name="uq_health_events_record"),
    )
    op.create_index("ix_health_events_station", "health_events", ["station_id", "at_s"])
    _backfill()


def _backfill() -> None:
    """The facts of the records already stored (see the module)."""
    from kiosk.backoffice.facts import HEALTH, SESSIONS, derive

    bind = op.get_bind()
    records = sa.table("records", sa.column("id", sa.BigInteger),
                       sa.column("terminal_id", sa.String), sa.column("record_id", sa.String),
                       sa.column("kind", sa.String), sa.column("created_at", sa.String),
                       sa.column("payload", sa.Text))
    targets = {
        SESSIONS: (_table(SESSIONS, _SESSION_COLUMNS), _SESSION_COLUMNS,
                   ("terminal_id", "session_id")),
        HEALTH: (_table(HEALTH, _HEALTH_COLUMNS), _HEALTH_COLUMNS, ("terminal_id", "record_id")),
    }
    last, seen, derived = 0, 0, 0
    while True:
        page = bind.execute(
            sa.select(records.c.id, records.c.terminal_id, records.c.record_id, records.c.kind,
                      records.c.created_at, records.c.payload)
            .where(records.c.kind.in_(("session", "audit")), records.c.id > last)
            .order_by(records.c.id).limit(BACKFILL_PAGE)).all()
        if not page:
            break
        last = int(page[-1][0])
        seen += len(page)
        rows: dict[str, list[dict[str, Any]]] = {SESSIONS: [], HEALTH: []}
        for _, terminal_id, record_id, kind, created_at, text in page:
            try:
                payload = json.loads(text)
            except ValueError:  # stored as canonical JSON: only a damaged row gets here
                log.warning("terminal %s record %s: no fact (its payload is not JSON)",
                            terminal_id, record_id)
                continue
            fact = derive(terminal_id, record_id, kind, created_at, payload)
            if fact is not None:
                rows[fact[0]].append(fact[1])
        for name, found in rows.items():
            if found:
                table, columns, key = targets[name]
                bind.execute(_insert_ignoring(bind, table, key),
                             [{c: r[c] for c in columns} for r in found])
                derived += len(found)
    if seen:
        log.info("bo0004: the facts of %d stored records derived (%d rows)", seen, derived)


def _table(name: str, columns: tuple[str, ...]) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns))


def _insert_ignoring(bind: Any, table: sa.TableClause, key: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT (key) DO NOTHING on either dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: Any = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(key))


def downgrade() -> None:
    op.drop_table("health_events")
    op.drop_table("charging_sessions")
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("site")
