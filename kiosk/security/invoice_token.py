"""The token behind the receipt's QR code: it opens the invoice page in the back office.

``token = base64url(HMAC-SHA256(key, "evkiosk-invoice:v1|station|number|session|total|currency"))``
truncated to 128 bits. The key is the terminal's own (``invoice-token.key``, 32 random bytes,
registered in the back office when the terminal is provisioned), so a token cannot be guessed
for another invoice and an altered URL (number, amount) does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

TOKEN_BYTES = 16


def _message(station_id: str, number: str, session_id: str, total_minor: int,
             currency: str) -> bytes:
    return "|".join(["evkiosk-invoice:v1", station_id, number, session_id, str(total_minor),
                     currency]).encode()


def sign(key: bytes, station_id: str, number: str, session_id: str, total_minor: int,
         currency: str) -> str:
    if len(key) < 16:
        raise ValueError("invoice key too short")
    mac = hmac.new(key, _message(station_id, number, session_id, total_minor, currency),
                   hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def verify(key: bytes, token: str, station_id: str, number: str, session_id: str,
           total_minor: int, currency: str) -> bool:
    expected = sign(key, station_id, number, session_id, total_minor, currency)
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))


def invoice_url(base_url: str, station_id: str, number: str, token: str) -> str:
    """Short, so the QR code stays coarse enough to scan from a step away: the back office
    finds the invoice by number and checks the token against the amount and session it
    stored (both are in the signed message)."""
    return f"{base_url.rstrip('/')}/i/{quote(station_id)}/{quote(number)}?t={token}"
