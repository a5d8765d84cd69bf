"""The terminal's certification authority public keys (EMV Book 2, 11.2), by RID and index.

A key is accepted only when its check value (SHA-1 of RID || index || modulus || exponent)
matches, and it is used only until its expiry date. Certificate revocation: a list of
(RID, CA index, issuer certificate serial number) the issuer certificate recovery refuses.
The keys come from a JSON file (``reader.ca_keys`` in the config; ``kiosk/resources/ca_keys``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from drivers.emv.oda import PublicKey


class CaKeyError(ValueError):
    """A CA key file or entry that cannot be trusted; the message names the entry."""


@dataclass(frozen=True)
class CaKey:
    rid: bytes
    index: int
    key: PublicKey
    expiry: date | None = None

    def usable(self, today: date) -> bool:
        return self.expiry is None or today <= self.expiry


def check_value(rid: bytes, index: int, modulus: bytes, exponent: bytes) -> bytes:
    return hashlib.sha1(rid + bytes([index]) + modulus + exponent).digest()  # noqa: S324 - EMV


def make_key(rid_hex: str, index_hex: str, modulus_hex: str, exponent_hex: str,
             checksum_hex: str, expiry: str | None = None) -> CaKey:
    where = f"{rid_hex}/{index_hex}"
    try:
        rid, index = bytes.fromhex(rid_hex), int(index_hex, 16)
        modulus, exponent = bytes.fromhex(modulus_hex), bytes.fromhex(exponent_hex)
        checksum = bytes.fromhex(checksum_hex)
    except ValueError:
        raise CaKeyError(f"CA key {where}: not hex") from None
    if len(rid) != 5 or not 0 <= index <= 0xFF or exponent not in (b"\x03", b"\x01\x00\x01"):
        raise CaKeyError(f"CA key {where}: bad RID, index or exponent")
    if check_value(rid, index, modulus, exponent) != checksum:
        raise CaKeyError(f"CA key {where}: check value does not match the key")
    return CaKey(rid, index, PublicKey(int.from_bytes(modulus, "big"),
                                       int.from_bytes(exponent, "big")),
                 date.fromisoformat(expiry) if expiry else None)


class CaKeyStore:
    def __init__(self, keys: list[CaKey],
                 revoked: set[tuple[bytes, int, bytes]] | None = None) -> None:
        self.keys = {(k.rid, k.index): k for k in keys}
        self.revoked = revoked or set()

    def get(self, rid: bytes, index: int, today: date) -> PublicKey:
        k = self.keys.get((rid, index))
        if k is None:
            raise CaKeyError(f"no CA key {rid.hex().upper()}/{index:02X}")
        if not k.usable(today):
            raise CaKeyError(f"CA key {rid.hex().upper()}/{index:02X} expired")
        return k.key

    def is_revoked(self, rid: bytes, index: int, serial: bytes) -> bool:
        return (rid, index, serial) in self.revoked

    @classmethod
    def load(cls, path: Path) -> CaKeyStore:
        try:
            data = json.loads(path.read_text())
            keys = [make_key(k["rid"], k["index"], k["modulus"], k["exponent"],
                             k["sha1_checksum"], k.get("expiry")) for k in data["keys"]]
            revoked = {(bytes.fromhex(r["rid"]), int(r["index"], 16), bytes.fromhex(r["serial"]))
                       for r in data.get("revoked", [])}
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise CaKeyError(f"{path}: {exc}") from None
        return cls(keys, revoked)
