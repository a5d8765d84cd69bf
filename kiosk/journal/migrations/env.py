"""Alembic environment: runs on the connection the journal hands over."""

from __future__ import annotations

from alembic import context

from kiosk.journal.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the journal runs migrations
    raise RuntimeError("run migrations through kiosk.journal.store.upgrade()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
