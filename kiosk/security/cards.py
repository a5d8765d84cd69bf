"""Card data handling: the PAN becomes a masked PAN and a keyed token at once, and is dropped.

The masked PAN keeps the first six and the last four digits (PCI DSS 3.4 allows at most
these); the token is an HMAC-SHA256 of the PAN under the terminal's own key, so the same card
gives the same token on this terminal (loyalty, disputes) and nothing else can be derived.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

PAN_MIN, PAN_MAX = 12, 19


def luhn_valid(digits: str) -> bool:
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def check_pan(pan: str) -> str:
    """Raises ``ValueError`` (without the PAN in the message) unless ``pan`` is a valid PAN."""
    if not (pan.isascii() and pan.isdigit() and PAN_MIN <= len(pan) <= PAN_MAX):
        raise ValueError("not a card number: wrong length or characters")
    if not luhn_valid(pan):
        raise ValueError("not a card number: check digit wrong")
    return pan


def mask_digits(digits: str) -> str:
    """First six and last four kept, the rest starred (no check: the caller knows)."""
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_pan(pan: str) -> str:
    """``"4761739001010119"`` → ``"476173******0119"``."""
    return mask_digits(check_pan(pan))


def card_token(pan: str, key: bytes) -> str:
    check_pan(pan)
    if len(key) < 16:
        raise ValueError("token key too short")
    return hmac.new(key, b"evkiosk-card-token:" + pan.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class CardIdentity:
    """What the application keeps of a card."""

    masked_pan: str
    token: str
    scheme: str
    expiry: str  # YYMM

    @classmethod
    def from_pan(cls, pan: str, expiry: str, scheme: str, key: bytes) -> CardIdentity:
        if not (len(expiry) == 4 and expiry.isascii() and expiry.isdigit()
                and 1 <= int(expiry[2:]) <= 12):
            raise ValueError("card expiry is not YYMM")
        return cls(mask_pan(pan), card_token(pan, key), scheme, expiry)
