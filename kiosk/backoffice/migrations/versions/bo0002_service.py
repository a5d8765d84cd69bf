"""The service's tables: when each record was stored (the OCPI ``last_updated`` pollers page
on), the invoice index behind the receipt's QR link, and the OCPI credentials tokens.

Revision ID: bo0002
Revises: bo0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bo0002"
down_revision = "bo0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("stored_at", sa.String(40), nullable=True))
    op.execute("UPDATE records SET stored_at = (SELECT b.received_at FROM batches b "
               "WHERE b.terminal_id = records.terminal_id "
               "AND b.sequence = records.batch_sequence)")
    op.create_index("ix_records_kind_stored", "records", ["kind", "stored_at", "id"])
    op.create_table(
        "invoices",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("terminal_id", sa.String(36), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("stored_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("terminal_id", "number", name="uq_invoices_terminal_number"),
        sa.ForeignKeyConstraint(["terminal_id", "record_id"],
                                ["records.terminal_id", "records.record_id"],
                                name="fk_invoices_record"),
    )
    op.create_table(
        "ocpi_tokens",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
        sa.UniqueConstraint("token_sha256", name="uq_ocpi_tokens_hash"),
        sa.UniqueConstraint("name", name="uq_ocpi_tokens_name"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_ocpi_tokens_status"),
    )


def downgrade() -> None:
    op.drop_table("ocpi_tokens")
    op.drop_table("invoices")
    op.drop_index("ix_records_kind_stored", "records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("stored_at")
