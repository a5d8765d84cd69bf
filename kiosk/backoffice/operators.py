"""The operators who may read the analytics: a name and a password, kept as an scrypt hash.

``kiosk-backoffice operator add NAME`` (the password is asked twice, or read from standard
input with ``--password-stdin``), ``operator list``, ``operator revoke NAME``. A password has
12 to 128 characters; the hash is the technicians' (:func:`kiosk.security.technicians.hash_pin`:
scrypt N=2^14, r=8, p=1, a 16-byte salt), never the password.

The pages under ``/analytics`` ask for HTTP Basic authentication (over the service's TLS; a
browser shows its own prompt). :func:`check_basic` reads the ``Authorization`` header and
answers the operator's name or None: an unknown name, a revoked operator, a wrong password and a
malformed header all get the same None after the same scrypt work (an unknown name is checked
against a dummy hash), so the answer never tells which names exist. The caller limits the
attempts per client address (the invoice pages' :class:`~kiosk.backoffice.invoices.RateLimiter`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.backoffice.storage import Database, now, operators
from kiosk.security.technicians import AccessError, hash_pin, pin_matches

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "Operator", "OperatorError", "add_operator",
           "check_basic", "check_password", "list_operators", "revoke_operator"]

MIN_PASSWORD, MAX_PASSWORD = 12, 128
MAX_HEADER = 512  # an Authorization header longer than this is not a name and a password
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_DUMMY = hash_pin("not a password of anyone", bytes(16))  # the same work for unknown names


class OperatorError(ValueError):
    """An operator change that cannot be made; one line saying why."""


@dataclass(frozen=True)
class Operator:
    name: str
    status: str
    created_at: str
    revoked_at: str | None


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise OperatorError("operator name: 1 to 64 of A-Z a-z 0-9 . _ @ -")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise OperatorError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise OperatorError("password: no control characters")
    if len(set(password)) < 4:
        raise OperatorError("password: too simple (fewer than 4 different characters)")
    return password


def add_operator(db: Database, name: str, password: str) -> Operator:
    check_name(name)
    values = {"name": name, "password_hash": hash_pin(check_password(password)),
              "status": "active", "created_at": now(), "revoked_at": None}
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(operators).values(**values))
    except IntegrityError:
        raise OperatorError(f"operator {name}: exists already") from None
    return Operator(name, "active", values["created_at"], None)  # type: ignore[arg-type]


def list_operators(db: Database) -> list[Operator]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(operators.c.name, operators.c.status, operators.c.created_at,
                                   operators.c.revoked_at).order_by(operators.c.name))
        return [Operator(*r) for r in rows]


def revoke_operator(db: Database, name: str) -> None:
    check_name(name)
    with db.engine.begin() as conn:
        done = conn.execute(update(operators)
                            .where(operators.c.name == name, operators.c.status == "active")
                            .values(status="revoked", revoked_at=now()))
        if done.rowcount != 1:
            raise OperatorError(f"operator {name}: not an active operator")


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header or len(header) > MAX_HEADER:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    name, sep, password = text.partition(":")
    if not sep:
        return None
    return name, password


def check_basic(db: Database, header: str | None) -> str | None:
    """The active operator an HTTP Basic ``Authorization`` header proves, or None."""
    got = _credentials(header)
    name, password = got if got is not None else ("", "")
    stored = None
    if _NAME.fullmatch(name) and MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        with db.engine.connect() as conn:
            stored = conn.execute(select(operators.c.password_hash)
                                  .where(operators.c.name == name,
                                         operators.c.status == "active")).scalar()
    try:
        ok = pin_matches(password[:MAX_PASSWORD], stored or _DUMMY)
    except AccessError:  # a damaged hash in the table: nobody gets in with it
        ok = False
    return name if ok and stored is not None else None
