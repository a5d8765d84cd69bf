"""The operator's signed config and tariff bundles, kept byte for byte for the terminals to
fetch (``POST /v1/updates``).

Revision ID: bo0003
Revises: bo0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bo0003"
down_revision = "bo0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "updates",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("terminal_id", sa.String(36), sa.ForeignKey("terminals.id"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("bundle", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("expires_utc", sa.String(32), nullable=False),
        sa.Column("published_at", sa.String(40), nullable=False),
        sa.Column("withdrawn_at", sa.String(40), nullable=True),
        sa.UniqueConstraint("terminal_id", "kind", "sequence",
                            name="uq_updates_terminal_kind_sequence"),
        sa.CheckConstraint("kind IN ('config', 'tariff')", name="ck_updates_kind"),
    )


def downgrade() -> None:
    op.drop_table("updates")
