"""Redaction of card data in free text (log lines, error messages, APDU traces).

Anything that looks like a PAN (12 to 19 digits, optionally grouped by spaces or dashes, with a
valid check digit) is masked to first six and last four; track-2 equivalent data (a PAN, a
separator ``=`` or ``D`` and more digits) and values of keys named like a PIN, PIN block or
track are replaced entirely. Over-redaction is accepted; a leak is not.
"""

from __future__ import annotations

import re

from kiosk.security.cards import luhn_valid, mask_digits

# a run of 12 or more digits, possibly grouped: 4761 7390 0101 0119, 4761-7390-..., hex traces
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,}", re.ASCII)
_TRACK2 = re.compile(r"(?<![0-9])\d{12,19}[=Dd]\d{4,}F?", re.ASCII)
_SECRET_KEYS = re.compile(
    r"(?i)\b(pin|pin_?block|pinblock|track\s*2?|track2_?equivalent|cvv2?|cvc2?|pan)"
    r"([\"']?\s*[=:]\s*[\"']?)([^\s\"',}]+)")

REDACTED = "[REDACTED]"


def _holds_pan(digits: str) -> bool:
    n = len(digits)
    return any(luhn_valid(digits[i:i + size])
               for size in range(12, 20) for i in range(n - size + 1))


def _mask(match: re.Match[str]) -> str:
    """A run that holds a Luhn-valid 12 to 19 digit window anywhere keeps only its first six
    and last four digits (a PAN glued to other digits is still a PAN)."""
    raw = match.group(0)
    digits = re.sub(r"[ -]", "", raw)
    if not _holds_pan(digits):
        return raw
    return mask_digits(digits)


def redact(text: str) -> str:
    text = _TRACK2.sub("[TRACK2 REDACTED]", text)
    text = _SECRET_KEYS.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _DIGIT_RUN.sub(_mask, text)
