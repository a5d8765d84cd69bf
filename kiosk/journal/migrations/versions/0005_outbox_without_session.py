"""Outbox rows of no session: the foreign key ``outbox.session_id → sessions.id`` dropped.

A health record (a change of the terminal's health, :mod:`kiosk.records.health_upload`)
belongs to no session; its row names a record id of its own (``health-…``) in ``session_id``.
Everything else of the table stays as it was: the columns in their order, the unique
``(session_id, kind)`` (a replay still never queues a record twice) and ``ix_outbox_batch_seq``.

SQLite cannot drop a constraint: the table is rebuilt (Alembic's batch mode: a new table, the
rows copied with ``INSERT … SELECT``, so every value stays byte for byte, ids included, the
old table dropped, the new one renamed). The table is written out here as it stands at 0004,
not reflected, so the migration does the same on every SQLite. Nothing references ``outbox``,
so the rebuild is safe with ``foreign_keys=ON`` inside the journal's one transaction.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _outbox(*, with_session_fk: bool) -> sa.Table:
    """``outbox`` as 0001 and 0004 made it, with or without the foreign key."""
    session_id = [sa.ForeignKey("sessions.id")] if with_session_fk else []
    return sa.Table(
        "outbox", sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), *session_id, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("sent_at", sa.String(40), nullable=True),
        sa.Column("batch_seq", sa.Integer, nullable=True),
        sa.UniqueConstraint("session_id", "kind", name="uq_outbox_session_kind"),
        sa.Index("ix_outbox_batch_seq", "batch_seq"),
    )


def upgrade() -> None:
    with op.batch_alter_table("outbox", recreate="always",
                              copy_from=_outbox(with_session_fk=False)):
        pass


def downgrade() -> None:
    # a row of no session (a health record) has no session to point to: it goes
    op.execute("DELETE FROM outbox WHERE session_id NOT IN (SELECT id FROM sessions)")
    with op.batch_alter_table("outbox", recreate="always",
                              copy_from=_outbox(with_session_fk=True)):
        pass
