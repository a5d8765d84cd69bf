"""Alembic environment of the back office: runs on the connection ``storage.upgrade`` hands
over (render_as_batch, so ALTERs work on SQLite too)."""

from __future__ import annotations

from alembic import context

from kiosk.backoffice.storage import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only storage.upgrade runs migrations
    raise RuntimeError("run migrations through kiosk.backoffice.storage.open_db()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
