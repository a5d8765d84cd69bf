"""The back office's storage and registry on a real SQLite file: the migrations give exactly the
tables the code declares, a database that is not a back office's is refused (a kiosk journal
is never migrated into one), and terminal ids and keys are checked before they are stored."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from kiosk.backoffice.registry import (
    RegistryError,
    add_terminal,
    list_terminals,
    parse_public_key,
    revoke_terminal,
)
from kiosk.backoffice.storage import (
    KNOWN_REVISIONS,
    MIGRATIONS,
    SCHEMA_REVISION,
    StorageError,
    metadata,
    open_db,
)
from kiosk.journal.store import Journal

KEY = bytes(range(32))


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_head_revision_is_the_declared_one() -> None:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == SCHEMA_REVISION
    assert [r.revision for r in reversed(list(script.walk_revisions()))] == \
        list(KNOWN_REVISIONS)


def test_migrated_schema_matches_the_code(tmp_path: Path) -> None:
    db = open_db(_url(tmp_path / "b.sqlite"))
    try:
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        db.close()


def test_reopen_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    open_db(_url(path)).close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    open_db(_url(path)).close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_kiosk_journal_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    with pytest.raises(StorageError, match="not a back-office database of a known revision"):
        open_db(_url(path))
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == tables


def test_a_foreign_database_and_a_non_database_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="holds other tables: people"):
        open_db(_url(other))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(StorageError, match="cannot open"):
        open_db(_url(junk))


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/d", "x"])
def test_urls_outside_the_two_are_refused(url: str) -> None:
    with pytest.raises(StorageError):
        open_db(url)


def test_public_keys_are_checked() -> None:
    assert parse_public_key(KEY.hex()) == KEY
    assert parse_public_key(f" {KEY.hex().upper()}\n") == KEY
    for bad in ("", "00" * 31, "00" * 33, "zz" * 32, KEY.hex()[:-1] + "g"):
        with pytest.raises(RegistryError, match="public key"):
            parse_public_key(bad)


def test_registry_add_list_revoke(tmp_path: Path) -> None:
    db = open_db(_url(tmp_path / "b.sqlite"))
    try:
        t = add_terminal(db, "DEMO-0001", KEY)
        assert t.key_id == hashlib.sha256(KEY).hexdigest() and t.active
        with pytest.raises(RegistryError, match="already registered"):
            add_terminal(db, "DEMO-0001", KEY)
        for bad in ("", "a b", "x" * 37, "../etc", "é"):
            with pytest.raises(RegistryError, match="terminal id"):
                add_terminal(db, bad, KEY)
        with pytest.raises(RegistryError, match="not registered"):
            revoke_terminal(db, "NOBODY")
        revoked = revoke_terminal(db, "DEMO-0001")
        assert revoked.status == "revoked" and revoked.revoked_at
        with pytest.raises(RegistryError, match="already revoked"):
            revoke_terminal(db, "DEMO-0001")
        assert [(x.id, x.status) for x in list_terminals(db)] == [("DEMO-0001", "revoked")]
    finally:
        db.close()
