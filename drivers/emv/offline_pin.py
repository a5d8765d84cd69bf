"""Offline PIN verification by the card (EMV Book 3, 6.5.12; Book 2, 7): plaintext PIN in an
ISO 9564 format 2 block, or enciphered under the ICC's public key with the card's challenge.

The PIN exists as a ``str`` only inside these calls; the blocks are never logged (the APDU log
redacts VERIFY data).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from drivers.emv.api import CardUnreadable
from drivers.emv.oda import PublicKey

Transmit = Callable[[bytes], bytes]


@dataclass(frozen=True)
class PinResult:
    ok: bool
    tries_left: int | None = None  # from 63Cx
    blocked: bool = False


def format2_block(pin: str) -> bytes:
    """``2N PIN F..F`` (8 bytes)."""
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
        raise ValueError("a PIN is 4 to 12 digits")
    return bytes.fromhex(f"2{len(pin):X}{pin}".ljust(16, "F"))


def _result(r: bytes) -> PinResult:
    sw = r[-2:]
    if sw == b"\x90\x00":
        return PinResult(True)
    if sw[0] == 0x63 and sw[1] & 0xF0 == 0xC0:
        return PinResult(False, sw[1] & 0x0F, blocked=sw[1] & 0x0F == 0)
    if sw in (b"\x69\x83", b"\x69\x84"):
        return PinResult(False, 0, blocked=True)
    raise CardUnreadable(f"The card refused the PIN check ({sw.hex().upper()}).")


def verify_plaintext(transmit: Transmit, pin: str) -> PinResult:
    block = format2_block(pin)
    return _result(transmit(bytes([0x00, 0x20, 0x00, 0x80, len(block)]) + block))


def enciphered_pin_data(pin: str, challenge: bytes, key: PublicKey,
                        pad: bytes | None = None) -> bytes:
    """RSA(key, 7F || PIN block || ICC unpredictable number || random pad)."""
    if len(challenge) != 8:
        raise ValueError("the ICC challenge is 8 bytes")
    n = key.size
    pad = pad if pad is not None else secrets.token_bytes(n - 17)
    plain = b"\x7f" + format2_block(pin) + challenge + pad
    if len(plain) != n:
        raise ValueError("padding does not fill the key length")
    return pow(int.from_bytes(plain, "big"), key.exponent, key.modulus).to_bytes(n, "big")


def verify_enciphered(transmit: Transmit, pin: str, key: PublicKey) -> PinResult:
    r = transmit(bytes.fromhex("0084000000"))  # GET CHALLENGE (the layer fixes Le)
    if r[-2:] != b"\x90\x00" or len(r) != 10:
        raise CardUnreadable("The card gave no PIN challenge.")
    data = enciphered_pin_data(pin, r[:8], key)
    return _result(transmit(bytes([0x00, 0x20, 0x00, 0x88, len(data)]) + data))
