"""The operators who may read the analytics (``/analytics``), each with a scrypt password hash.

Revision ID: bo0005
Revises: bo0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bo0005"
down_revision = "bo0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
        sa.UniqueConstraint("name", name="uq_operators_name"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_operators_status"),
    )


def downgrade() -> None:
    op.drop_table("operators")
