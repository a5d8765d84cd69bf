"""The operators who may read the analytics: passwords kept as scrypt hashes, HTTP Basic
checked with the same answer for every wrong case."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kiosk.backoffice.operators import (
    OperatorError,
    add_operator,
    check_basic,
    list_operators,
    revoke_operator,
)
from kiosk.backoffice.storage import open_db, operators

GOOD = "correct horse battery"


def basic(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def test_add_check_and_revoke(backoffice_url: str) -> None:
    db = open_db(backoffice_url)
    try:
        add_operator(db, "ops@site", GOOD)
        with db.engine.connect() as conn:
            stored = conn.execute(operators.select()).one()
        assert GOOD not in stored.password_hash and stored.password_hash.startswith("scrypt$")
        assert check_basic(db, basic("ops@site", GOOD)) == "ops@site"
        for header in (basic("ops@site", GOOD + "x"), basic("nobody", GOOD), "Basic !!!",
                       "Bearer abc", "", None, "Basic " + base64.b64encode(b"no-colon").decode(),
                       basic("ops@site", "short"), "Basic " + "A" * 600):
            assert check_basic(db, header) is None, header
        with pytest.raises(OperatorError, match="exists"):
            add_operator(db, "ops@site", GOOD)
        revoke_operator(db, "ops@site")
        assert check_basic(db, basic("ops@site", GOOD)) is None
        assert [o.status for o in list_operators(db)] == ["revoked"]
        with pytest.raises(OperatorError, match="not an active"):
            revoke_operator(db, "ops@site")
    finally:
        db.close()


@pytest.mark.parametrize("name, password, words", [
    ("bad name", GOOD, "operator name"),
    ("ops", "short", "12 to 128"),
    ("ops", "a" * 200, "12 to 128"),
    ("ops", "aaaaaaaaaaaaaaa", "too simple"),
    ("ops", "good password\n!", "control"),
])
def test_names_and_passwords_are_checked(tmp_path: Path, name: str, password: str,
                                         words: str) -> None:
    db = open_db(f"sqlite:///{tmp_path / 'bo.sqlite'}")
    try:
        with pytest.raises(OperatorError, match=words):
            add_operator(db, name, password)
        assert list_operators(db) == []
    finally:
        db.close()


def test_a_damaged_hash_lets_nobody_in(tmp_path: Path) -> None:
    db = open_db(f"sqlite:///{tmp_path / 'bo.sqlite'}")
    try:
        add_operator(db, "ops", GOOD)
        with db.engine.begin() as conn:
            conn.execute(operators.update().values(password_hash="scrypt$1$1$1$AA==$AA=="))
        assert check_basic(db, basic("ops", GOOD)) is None
    finally:
        db.close()
