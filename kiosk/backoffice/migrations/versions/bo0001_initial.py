"""The back office's first tables: terminals, batches, records, held batches.

Revision ID: bo0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bo0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "terminals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("added_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_terminals_status"),
    )
    op.create_table(
        "batches",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("terminal_id", sa.String(36), sa.ForeignKey("terminals.id"),
                  nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("terminal_id", "sequence", name="uq_batches_terminal_sequence"),
    )
    op.create_table(
        "records",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("terminal_id", sa.String(36), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("batch_sequence", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("terminal_id", "record_id", name="uq_records_terminal_record"),
        sa.ForeignKeyConstraint(["terminal_id", "batch_sequence"],
                                ["batches.terminal_id", "batches.sequence"],
                                name="fk_records_batch"),
    )
    op.create_index("ix_records_session", "records", ["terminal_id", "session_id"])
    op.create_table(
        "held_batches",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("terminal_id", sa.String(36), sa.ForeignKey("terminals.id"),
                  nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("terminal_id", "sequence", name="uq_held_terminal_sequence"),
    )


def downgrade() -> None:
    op.drop_table("held_batches")
    op.drop_index("ix_records_session", "records")
    op.drop_table("records")
    op.drop_table("batches")
    op.drop_table("terminals")
