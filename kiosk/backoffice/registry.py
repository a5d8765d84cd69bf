"""The terminal registry: which terminals may upload, with which Ed25519 key.

A terminal is added once with the raw 32-byte public key ``kiosk provision`` prints (hex), and
revoked when it is lost or retired; a revoked terminal's uploads are rejected. Its id has the
form batches carry (``kiosk.records.batch``). It may name the site it stands at (the analytics
group stations by it): 1 to 64 characters of printable text, set when added or later; ``""``
clears it.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.backoffice.storage import Database, now, terminals
from kiosk.records.batch import _TERMINAL, key_id

__all__ = ["RegistryError", "Terminal", "add_terminal", "check_site", "get_terminal",
           "list_terminals", "parse_public_key", "revoke_terminal", "set_site"]

ACTIVE = "active"
REVOKED = "revoked"


class RegistryError(ValueError):
    """A registry change that cannot be made; the message says why."""


@dataclass(frozen=True)
class Terminal:
    id: str
    public_key: bytes  # raw Ed25519, 32 bytes
    key_id: str
    status: str
    added_at: str
    revoked_at: str | None
    site: str | None = None  # where it stands (analytics); None: not said

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)


def check_terminal_id(terminal_id: str) -> str:
    if not _TERMINAL.fullmatch(terminal_id):
        raise RegistryError("terminal id: 1 to 36 of A-Z a-z 0-9 . _ -")
    return terminal_id


SITE_MAX = 64


def check_site(site: str) -> str | None:
    """A site name as stored: None for ``""`` (no site), else the name (surrounding spaces
    taken off) when it is 1 to 64 printable characters."""
    value = site.strip()
    if not value:
        return None
    if len(value) > SITE_MAX or not value.isprintable():
        raise RegistryError(f"site: 1 to {SITE_MAX} printable characters")
    return value


def parse_public_key(hex_text: str) -> bytes:
    """The raw 32-byte Ed25519 public key from its hex (64 hex digits)."""
    value = hex_text.strip()
    if len(value) != 64:
        raise RegistryError("public key: not 64 hex digits (a raw 32-byte Ed25519 key)")
    try:
        raw = binascii.unhexlify(value)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise RegistryError("public key: not a raw Ed25519 public key in hex") from None
    return raw


def _row(row: object) -> Terminal:
    m = row._mapping  # type: ignore[attr-defined]
    return Terminal(m["id"], bytes(m["public_key"]), m["key_id"], m["status"], m["added_at"],
                    m["revoked_at"], m["site"])


def add_terminal(db: Database, terminal_id: str, public_key: bytes,
                 site: str | None = None) -> Terminal:
    check_terminal_id(terminal_id)
    pub = Ed25519PublicKey.from_public_bytes(public_key)
    values = {"id": terminal_id, "public_key": public_key, "key_id": key_id(pub),
              "status": ACTIVE, "added_at": now(), "revoked_at": None,
              "site": None if site is None else check_site(site)}
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(terminals).values(**values))
    except IntegrityError:
        raise RegistryError(f"terminal {terminal_id}: already registered") from None
    return Terminal(**values)  # type: ignore[arg-type]


def get_terminal(db: Database, terminal_id: str) -> Terminal | None:
    with db.engine.connect() as conn:
        row = conn.execute(select(terminals).where(terminals.c.id == terminal_id)).first()
    return None if row is None else _row(row)


def list_terminals(db: Database) -> list[Terminal]:
    with db.engine.connect() as conn:
        return [_row(r) for r in conn.execute(select(terminals).order_by(terminals.c.id))]


def revoke_terminal(db: Database, terminal_id: str) -> Terminal:
    """Revoke a terminal (its uploads are rejected from now on); revoking twice is refused."""
    check_terminal_id(terminal_id)
    with db.engine.begin() as conn:
        done = conn.execute(update(terminals)
                            .where(terminals.c.id == terminal_id, terminals.c.status == ACTIVE)
                            .values(status=REVOKED, revoked_at=now()))
        if done.rowcount != 1:
            exists = conn.execute(select(terminals.c.status)
                                  .where(terminals.c.id == terminal_id)).first()
            raise RegistryError(f"terminal {terminal_id}: "
                                + ("not registered" if exists is None else "already revoked"))
        row = conn.execute(select(terminals).where(terminals.c.id == terminal_id)).one()
    return _row(row)


def set_site(db: Database, terminal_id: str, site: str) -> Terminal:
    """Set or change the site a terminal stands at (``""`` clears it); revoked ones too (their
    past sessions stay in the figures)."""
    check_terminal_id(terminal_id)
    value = check_site(site)
    with db.engine.begin() as conn:
        done = conn.execute(update(terminals).where(terminals.c.id == terminal_id)
                            .values(site=value))
        if done.rowcount != 1:
            raise RegistryError(f"terminal {terminal_id}: not registered")
        row = conn.execute(select(terminals).where(terminals.c.id == terminal_id)).one()
    return _row(row)
