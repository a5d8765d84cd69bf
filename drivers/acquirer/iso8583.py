"""ISO 8583 (1987, ASCII) messages of the kiosk, declared as a pyiso8583 spec.

Framing on TCP: a 2-byte big-endian length, then the message. Messages:

* 0100/0110: preauthorization of an estimate (DE 25 = 06): 2 PAN, 4 amount, 14 expiry,
  22 entry mode, 52 PIN block, 53 KSN, 55 ICC data; or an incremental authorization (below).
* 0220/0230: completion, the capture of the final amount (releases the rest of the hold).
* 0400/0410: reversal of an approved authorization.
* 0420/0430: reversal advice: the authorization's outcome is unknown (no answer in time).
* 0800/0810: network management, the echo test (DE 70 = 301): DE 7, 11, 41, 42.

Every message has DE 7 transmission time, 11 STAN, 12/13 local time/date, 18 MCC 5552
(electric vehicle charging), 41 terminal id, 42 merchant id, 49 currency (numeric) and DE 48,
private: ``ref=<the kiosk's transaction reference>;kind=<auth|inc|cap|rev|adv>`` — the
reference every operation is idempotent by. An incremental authorization is an 0100 with
``kind=inc``, DE 4 the increment and DE 54 the new total (``total=<minor units>``).
DE 52 carries the enciphered PIN block (16 bytes with AES/format 4, 8 with TDES/format 0) and
DE 53 the KSN, both as hex text.

An answer (MTI + 10) echoes DE 11 (its request's STAN), 41 (terminal id), 48 (at least ``ref``
and ``kind``; any other key it repeats has the request's value) and, for the financial
messages, 49 (currency); DE 42, when present, is the request's merchant id. DE 39 (2
characters) is always there. An approved authorization has DE 38 (6 alphanumerics) and DE 4,
the approved amount: more than 0 and not above the request (less is a partial approval); an
approved increment has DE 4 = the new total it asked for; an approved completion or reversal
that carries DE 4 repeats the request's amount. An 0810 echoes DE 70. A host that breaks any
of this is answered with a reversal advice (:class:`drivers.acquirer.api.HostProtocolError`).
At most :data:`MAX_SKIPPED_ANSWERS` frames that are not the answer (a late answer to an earlier
request, a duplicate) are read and dropped per request.
"""

from __future__ import annotations

import copy
import struct
from typing import Any

import iso8583
from iso8583.specs import default_ascii

from drivers import iso4217

MCC_EV_CHARGING = "5552"
CURRENCY_NUMERIC = iso4217.NUMERIC
CURRENCY_ALPHA = iso4217.ALPHA
MAX_MESSAGE = 4096
MAX_SKIPPED_ANSWERS = 8  # frames with another MTI or STAN read and dropped before giving up
NETWORK_ECHO = "301"  # DE 70 of an echo test
MAX_REF = 64

SPEC: dict[str, dict[str, Any]] = copy.deepcopy(dict(default_ascii))
SPEC["52"] = {**SPEC["52"], "len_type": 2, "max_len": 32, "desc": "PIN block (hex)"}
SPEC["53"] = {**SPEC["53"], "len_type": 2, "max_len": 48, "desc": "KSN (hex)"}
SPEC["55"] = {**SPEC["55"], "max_len": 510, "desc": "ICC data (hex)"}


class IsoError(ValueError):
    """A message that cannot be built or read. Safe to log (no card data in it)."""


def encode(fields: dict[str, str]) -> bytes:
    """Fields (``"t"`` is the MTI) → length-prefixed bytes for the wire."""
    try:
        raw, _ = iso8583.encode(dict(fields), SPEC)
    except iso8583.EncodeError as exc:
        raise IsoError(f"cannot encode: field {exc.field}: {_reason(exc)}") from None
    if len(raw) > MAX_MESSAGE:
        raise IsoError("message too long")
    return struct.pack(">H", len(raw)) + bytes(raw)


def decode(payload: bytes) -> dict[str, str]:
    """One message without its length header → fields. Raises :class:`IsoError` only."""
    if len(payload) > MAX_MESSAGE:
        raise IsoError("message too long")
    try:
        fields, _ = iso8583.decode(bytearray(payload), SPEC)
    except iso8583.DecodeError as exc:
        raise IsoError(f"cannot decode: field {exc.field}: {_reason(exc)}") from None
    except (ValueError, IndexError, TypeError, UnicodeDecodeError) as exc:
        raise IsoError(f"cannot decode: {type(exc).__name__}") from None
    mti = fields.get("t", "")
    if len(mti) != 4 or not mti.isdigit():
        raise IsoError("cannot decode: bad MTI")
    return dict(fields)


def _reason(exc: Exception) -> str:
    # pyiso8583 messages may quote field data (a PAN): keep only the part before the data
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text.split(":")[0][:80]


def private(ref: str, kind: str, **extra: str | int) -> str:
    if not 1 <= len(ref) <= MAX_REF:
        raise IsoError(f"DE 48: the reference must be 1 to {MAX_REF} characters")
    values = {"ref": ref, "kind": kind, **{k: str(v) for k, v in extra.items()}}
    if any(c in v for v in values.values() for c in ";="):
        raise IsoError("DE 48: a value contains ';' or '='")
    return ";".join(f"{k}={v}" for k, v in values.items())


def parse_private(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise IsoError("DE 48 is not key=value pairs")
        if key in out:
            raise IsoError("DE 48 repeats a key")
        out[key] = value
    if not out.get("ref") or not out.get("kind"):
        raise IsoError("DE 48 lacks ref or kind")
    return out


def amount(minor: int) -> str:
    if not 0 <= minor < 10**12:
        raise IsoError("amount out of range")
    return f"{minor:012d}"


def read_amount(fields: dict[str, str], de: str = "4") -> int:
    value = fields.get(de, "")
    if len(value) != 12 or not value.isdigit():
        raise IsoError(f"DE {de} is not an amount")
    return int(value)
