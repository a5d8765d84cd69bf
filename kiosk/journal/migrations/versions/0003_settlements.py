"""Settlements: the background queue of captures, reversals and reversal advices.

One row per session, written in the same commit as the step that decided it; the payments
queue sends it until the host acknowledges (``done``) or refuses for good (``failed``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id"), nullable=False,
                  unique=True),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.String(40), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("done_at", sa.String(40), nullable=True),
        sa.Column("response_code", sa.String(8), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settlements")
