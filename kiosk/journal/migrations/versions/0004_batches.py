"""Upload batches: the outbox grouped in signed batches with a per-terminal sequence.

``batches`` holds each batch's envelope exactly as it is (re)sent, sealed at rest like the
outbox payloads; ``outbox.batch_seq`` says which batch a record went into (NULL: none yet).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("sequence", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("terminal_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("acked_at", sa.String(40), nullable=True),
    )
    op.add_column("outbox", sa.Column("batch_seq", sa.Integer, nullable=True))
    op.create_index("ix_outbox_batch_seq", "outbox", ["batch_seq"])


def downgrade() -> None:
    op.drop_index("ix_outbox_batch_seq", "outbox")
    op.drop_column("outbox", "batch_seq")
    op.drop_table("batches")
