"""OCPI credentials tokens: one per party (an eMSP or a roaming hub) that fetches our CDRs.

``kiosk-backoffice ocpi-token add NAME`` makes a token (``secrets.token_urlsafe(32)``: 43
characters of ``A-Z a-z 0-9 _ -``, 256 random bits), prints it once and stores only its SHA-256
(hex) in ``ocpi_tokens``; ``revoke NAME`` ends it (requests with it get HTTP 401 from then on);
``list`` shows the parties, never a token. A name is 1 to 64 of ``A-Z a-z 0-9 . _ -`` (e.g. the
party's ``DE-ABC``) and is never reused: a revoked party's new token gets a new name (for a
rotation both are active until the party has switched; then the old one is revoked).

The ``Authorization`` header (:func:`authenticate`): ``Token <encoded token>``, where OCPI 2.2.1
encodes the credentials token with Base64 (RFC 4648, standard alphabet;
:func:`encode_header_token`). Many 2.1.1 and 2.2 clients send the token itself instead, and the
2.2.1 text tells servers that want them to guess; so both are accepted: the value is looked up
as it is and, when it is valid Base64 of printable ASCII, decoded (a trailing newline from
``echo token | base64`` is dropped, as the spec's own example has one). Accepting the raw form
costs nothing: the token is the same secret either way, and a token of 256 random bits cannot
be confused with another's Base64. The scheme ``Token`` is matched case-insensitively (HTTP
auth schemes are); the header is at most :data:`MAX_HEADER_CHARS` characters, a candidate token
at most :data:`MAX_TOKEN_CHARS`; anything else is no party (``None``), never an exception.

Lookups are by the SHA-256 of the presented value, so no comparison of secrets happens at all
(timing reveals at most how much of a hash matched, which does not help to find a token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.backoffice.storage import Database, now, ocpi_tokens

__all__ = ["MAX_HEADER_CHARS", "MAX_TOKEN_CHARS", "Party", "TokenError", "add_token",
           "authenticate", "check_name", "encode_header_token", "header_candidates",
           "list_tokens", "revoke_token"]

ACTIVE = "active"
REVOKED = "revoked"
MAX_HEADER_CHARS = 512
MAX_TOKEN_CHARS = 256
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HEADER = re.compile(r"^[Tt][Oo][Kk][Ee][Nn][ \t]+([\x21-\x7e]+)[ \t]*$")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


class TokenError(ValueError):
    """A token change that cannot be made; the message (one line) says why."""


@dataclass(frozen=True)
class Party:
    name: str
    status: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise TokenError("party name: 1 to 64 of A-Z a-z 0-9 . _ -")
    return name


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _party(row: object) -> Party:
    m = row._mapping  # type: ignore[attr-defined]
    return Party(m["name"], m["status"], m["created_at"], m["revoked_at"])


_COLS = (ocpi_tokens.c.name, ocpi_tokens.c.status, ocpi_tokens.c.created_at,
         ocpi_tokens.c.revoked_at)


def add_token(db: Database, name: str) -> tuple[Party, str]:
    """A new party and its token (the only time the token is seen: only its hash is kept)."""
    check_name(name)
    secret = secrets.token_urlsafe(32)
    party = Party(name, ACTIVE, now(), None)
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(ocpi_tokens).values(
                name=name, token_sha256=_digest(secret), status=ACTIVE,
                created_at=party.created_at, revoked_at=None))
    except IntegrityError:
        existing = _get(db, name)
        if existing is None:  # 256 random bits equal to another token's: not in this universe
            raise TokenError(f"{name}: the new token collided; run the command again") from None
        state = ("active" if existing.active
                 else f"revoked at {existing.revoked_at}; choose another name")
        raise TokenError(f"{name}: already exists ({state})") from None
    return party, secret


def _get(db: Database, name: str) -> Party | None:
    with db.engine.connect() as conn:
        row = conn.execute(select(*_COLS).where(ocpi_tokens.c.name == name)).first()
    return None if row is None else _party(row)


def revoke_token(db: Database, name: str) -> Party:
    """Revoke a party's token (its requests get HTTP 401 from now on); twice is refused."""
    check_name(name)
    with db.engine.begin() as conn:
        done = conn.execute(update(ocpi_tokens)
                            .where(ocpi_tokens.c.name == name, ocpi_tokens.c.status == ACTIVE)
                            .values(status=REVOKED, revoked_at=now()))
        row = conn.execute(select(*_COLS).where(ocpi_tokens.c.name == name)).first()
    if done.rowcount != 1:
        raise TokenError(f"{name}: " + ("no such party" if row is None else "already revoked"))
    assert row is not None
    return _party(row)


def list_tokens(db: Database) -> list[Party]:
    with db.engine.connect() as conn:
        return [_party(r) for r in conn.execute(select(*_COLS).order_by(ocpi_tokens.c.name))]


def encode_header_token(secret: str) -> str:
    """What follows ``Authorization: Token `` in OCPI 2.2.1: the token in Base64."""
    return base64.b64encode(secret.encode("utf-8")).decode("ascii")


def header_candidates(header_value: str | None) -> tuple[str, ...]:
    """The tokens an ``Authorization`` header may carry: the Base64-decoded value (2.2.1)
    if it decodes to printable ASCII, and the value itself (2.1.1); none for a header that is
    missing, too long, of another scheme or of the wrong form."""
    if header_value is None or len(header_value) > MAX_HEADER_CHARS:
        return ()
    match = _HEADER.fullmatch(header_value.strip(" \t"))
    if match is None:
        return ()
    value = match.group(1)
    found: list[str] = []
    if _BASE64.fullmatch(value) and len(value) <= 4 * (MAX_TOKEN_CHARS + 2) // 3 + 4:
        try:
            raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        text = raw.decode("ascii", errors="replace").removesuffix("\n").removesuffix("\r")
        if raw and len(text) <= MAX_TOKEN_CHARS and _PRINTABLE.fullmatch(text):
            found.append(text)
    if len(value) <= MAX_TOKEN_CHARS and value not in found:
        found.append(value)
    return tuple(found)


def authenticate(db: Database, header_value: str | None) -> Party | None:
    """The active party whose token the ``Authorization`` header carries, else None (missing,
    malformed, unknown or revoked: all the same to the caller, an HTTP 401)."""
    candidates = header_candidates(header_value)
    if not candidates:
        return None
    digests = [_digest(c) for c in candidates]
    with db.engine.connect() as conn:
        rows = conn.execute(select(*_COLS).where(ocpi_tokens.c.token_sha256.in_(digests),
                                                   ocpi_tokens.c.status == ACTIVE)).all()
    return _party(rows[0]) if rows else None
