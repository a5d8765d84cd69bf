"""The kiosk's durable store: the journal (SQLite, WAL, ``synchronous=FULL``), its Alembic
migrations, and the runner that puts every session step in it before the step's effects run."""
