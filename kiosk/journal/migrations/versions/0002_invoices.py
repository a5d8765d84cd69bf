"""Invoices: one per captured session, numbered without gaps per terminal.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id"), nullable=False,
                  unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("invoices")
