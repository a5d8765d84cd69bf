"""What the tariff what-if (kiosk.backoffice.analytics.whatif) needs of a charging session and
the facts lacked: the station's time zone (``timezone``, for the time-of-day restrictions) and
the last reading (``last_reading_s``: the end of the parking time when the car stayed plugged
in after charging), and a member plan's discount (``discount_minor``, issue #18: the
sessions' ``amount_minor`` is what was paid; with it, the tariff's price).

The sessions stored before this revision get both here, in the same transaction as the new
columns (an upgrade that fails leaves the database at bo0005): the ``session`` records are read
in pages of BACKFILL_PAGE by id, derived by kiosk.backoffice.facts (the import's own code, with
its rules for hostile input: an unknown zone is UTC, a wrong time none, the reading clamped to
at least the charge stop), and their rows updated by (terminal_id, session_id). Only the two
columns of this revision are written.

Revision ID: bo0006
Revises: bo0005
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "bo0006"
down_revision = "bo0005"
branch_labels = None
depends_on = None

BACKFILL_PAGE = 2000
log = logging.getLogger("kiosk.backoffice.storage")


def upgrade() -> None:
    with op.batch_alter_table("charging_sessions") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=False,
                                   server_default="UTC"))
        batch.add_column(sa.Column("last_reading_s", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("discount_minor", sa.BigInteger, nullable=False,
                                   server_default="0"))
    _backfill()


def _backfill() -> None:
    """The two columns of the sessions already stored (see the module)."""
    from kiosk.backoffice.facts import SESSIONS, session_fact

    bind = op.get_bind()
    records = sa.table("records", sa.column("id", sa.BigInteger),
                       sa.column("terminal_id", sa.String), sa.column("record_id", sa.String),
                       sa.column("kind", sa.String), sa.column("created_at", sa.String),
                       sa.column("payload", sa.Text))
    sessions = sa.table(SESSIONS, sa.column("terminal_id", sa.String),
                        sa.column("session_id", sa.String), sa.column("timezone", sa.String),
                        sa.column("last_reading_s", sa.BigInteger),
                        sa.column("discount_minor", sa.BigInteger))
    update = (sa.update(sessions)
              .where(sessions.c.terminal_id == sa.bindparam("k_terminal"),
                     sessions.c.session_id == sa.bindparam("k_session"))
              .values(timezone=sa.bindparam("v_zone"),
                      last_reading_s=sa.bindparam("v_last"),
                      discount_minor=sa.bindparam("v_discount")))
    last, seen, updated = 0, 0, 0
    while True:
        page = bind.execute(
            sa.select(records.c.id, records.c.terminal_id, records.c.record_id,
                      records.c.created_at, records.c.payload)
            .where(records.c.kind == "session", records.c.id > last)
            .order_by(records.c.id).limit(BACKFILL_PAGE)).all()
        if not page:
            break
        last = int(page[-1][0])
        seen += len(page)
        rows: list[dict[str, Any]] = []
        for _, terminal_id, record_id, created_at, text in page:
            try:
                payload = json.loads(text)
            except ValueError:  # stored as canonical JSON: only a damaged row gets here
                continue  # bo0004 named it already, and it has no fact
            try:  # session_fact, not derive: bo0004 and the import named its problems
                row, _ = session_fact(terminal_id, record_id, created_at, payload)
            except Exception:  # pragma: no cover - session_fact never raises
                row = None
            if row is None:
                continue
            if row["timezone"] == "UTC" and row["last_reading_s"] is None \
                    and not row["discount_minor"]:
                continue  # the columns' defaults already
            rows.append({"k_terminal": row["terminal_id"], "k_session": row["session_id"],
                         "v_zone": row["timezone"], "v_last": row["last_reading_s"],
                         "v_discount": row["discount_minor"]})
        if rows:
            bind.execute(update, rows)
            updated += len(rows)
    if seen:
        log.info("bo0006: the time zone and last reading of %d stored sessions (%d updated)",
                 seen, updated)


def downgrade() -> None:
    with op.batch_alter_table("charging_sessions") as batch:
        batch.drop_column("discount_minor")
        batch.drop_column("last_reading_s")
        batch.drop_column("timezone")
