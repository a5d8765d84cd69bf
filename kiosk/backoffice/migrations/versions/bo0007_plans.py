"""The member plans an operator enables (kiosk.backoffice.plans), and the update kind
"members" (the signed member lists the back office publishes for the terminals).

Revision ID: bo0007
Revises: bo0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bo0007"
down_revision = "bo0006"
branch_labels = None
depends_on = None

_KINDS_BEFORE = "kind IN ('config', 'tariff')"
_KINDS_AFTER = "kind IN ('config', 'tariff', 'members')"


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("segment", sa.String(16), nullable=False),
        sa.Column("percent_off", sa.String(8), nullable=False),
        sa.Column("hours_from", sa.Integer, nullable=True),
        sa.Column("hours_to", sa.Integer, nullable=True),
        sa.Column("min_sessions_month", sa.Integer, nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.CheckConstraint("status IN ('enabled', 'disabled')", name="ck_plans_status"),
        sa.CheckConstraint("segment IN ('fleet', 'night', 'commuter', 'occasional')",
                           name="ck_plans_segment"),
    )
    _kinds(_KINDS_AFTER)


def _kinds(check: str) -> None:
    with op.batch_alter_table("updates") as batch:
        batch.drop_constraint("ck_updates_kind", type_="check")
        batch.create_check_constraint("ck_updates_kind", sa.text(check))


def downgrade() -> None:
    op.execute("DELETE FROM updates WHERE kind = 'members'")
    _kinds(_KINDS_BEFORE)
    op.drop_table("plans")
