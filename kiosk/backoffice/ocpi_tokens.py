"""OCPI credentials tokens (a stub until the OCPI work lands)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.backoffice.storage import Database


@dataclass(frozen=True)
class Party:
    name: str
    status: str
    created_at: str
    revoked_at: str | None


def add_token(db: Database, name: str) -> tuple[Party, str]:
    raise NotImplementedError


def revoke_token(db: Database, name: str) -> Party:
    raise NotImplementedError


def list_tokens(db: Database) -> list[Party]:
    raise NotImplementedError


def encode_header_token(secret: str) -> str:
    raise NotImplementedError
