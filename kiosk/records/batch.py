"""Upload batches: the records a terminal sends to the back office, signed, in order.

Wire format ``evkiosk-batch/1`` (one JSON object, the *envelope*)::

    {"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "key_id": "<sha256 hex>",
     "batch": "<base64 of the batch bytes>", "signature": "<base64 Ed25519 signature>"}

The batch bytes are the canonical JSON (sorted keys, no spaces, UTF-8) of::

    {"format": "evkiosk-batch/1", "terminal_id": "DEMO-0001", "sequence": 7,
     "created_at": "2026-12-01T20:00:00+00:00",
     "records": [{"id": "<session id>:<kind>", "session_id": "...", "kind": "session",
                  "created_at": "...", "payload": {...}}, ...]}

The signature is made over those exact bytes and verified over the exact bytes received: the
batch is never serialised again before it is verified (backoffice.md). ``key_id`` is the SHA-256
of the terminal's raw Ed25519 public key, so a back office can tell a rotated key from a forged
one. The sequence is per terminal, from 1, without gaps.

Everything read from outside is bounded and checked before use; every refusal is a
:class:`BatchError` whose message names the field (never a record's content).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "evkiosk-batch/1"
MAX_ENVELOPE_BYTES = 2 * 1024 * 1024
MAX_BATCH_BYTES = 1024 * 1024
MAX_RECORDS = 500
MAX_DEPTH = 16
KINDS = frozenset({"session", "cdr", "invoice", "settlement", "audit"})
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TERMINAL = re.compile(r"^[A-Za-z0-9._-]{1,36}$")


class BatchError(ValueError):
    """A batch or an envelope that cannot be taken. Says which field and why."""


@dataclass(frozen=True)
class Record:
    id: str  # "<session id>:<kind>", unique per terminal
    session_id: str
    kind: str
    created_at: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "session_id": self.session_id, "kind": self.kind,
                "created_at": self.created_at, "payload": self.payload}


@dataclass(frozen=True)
class Batch:
    terminal_id: str
    sequence: int
    created_at: str
    records: tuple[Record, ...]


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def seal(batch: Batch, private_key: Ed25519PrivateKey) -> bytes:
    """The envelope bytes of ``batch``, signed with the terminal's key."""
    body = canonical({"format": FORMAT, "terminal_id": batch.terminal_id,
                      "sequence": batch.sequence, "created_at": batch.created_at,
                      "records": [r.to_json() for r in batch.records]})
    if len(body) > MAX_BATCH_BYTES:
        raise BatchError(f"batch: {len(body)} bytes, more than {MAX_BATCH_BYTES}")
    envelope = {"format": FORMAT, "terminal_id": batch.terminal_id,
                "key_id": key_id(private_key.public_key()),
                "batch": base64.b64encode(body).decode("ascii"),
                "signature": base64.b64encode(private_key.sign(body)).decode("ascii")}
    return canonical(envelope)


@dataclass(frozen=True)
class Envelope:
    """An envelope read but not yet verified: who claims to send it, and the signed bytes."""

    terminal_id: str
    key_id: str
    body: bytes
    signature: bytes


def open_envelope(data: bytes) -> Envelope:
    """Parse an envelope (bounded, typed); the signature is checked by :func:`verify`."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise BatchError(f"envelope: {len(data)} bytes, more than {MAX_ENVELOPE_BYTES}")
    # the envelope is flat (five texts, checked below): its nesting needs no scan, and the
    # parser's own recursion limit refuses a deep one (RecursionError, a BatchError here)
    obj = _json(data, "envelope", scan=False)
    if not isinstance(obj, dict):
        raise BatchError("envelope: not a JSON object")
    if obj.get("format") != FORMAT:
        raise BatchError(f"envelope.format: not {FORMAT}")
    extra = set(obj) - {"format", "terminal_id", "key_id", "batch", "signature"}
    if extra:
        raise BatchError(f"envelope: unknown key {sorted(extra)[0][:40]!r}")
    terminal = _text(obj, "terminal_id", "envelope", _TERMINAL)
    kid = _text(obj, "key_id", "envelope", re.compile(r"^[0-9a-f]{64}$"))
    body = _b64(obj, "batch", MAX_BATCH_BYTES)
    signature = _b64(obj, "signature", 64)
    if len(signature) != 64:
        raise BatchError("envelope.signature: not an Ed25519 signature (64 bytes)")
    return Envelope(terminal, kid, body, signature)


def verify(envelope: Envelope, public_key: Ed25519PublicKey) -> Batch:
    """Check the signature over the exact bytes received, then read the batch. Raises
    :class:`BatchError`."""
    if key_id(public_key) != envelope.key_id:
        raise BatchError("envelope.key_id: not the terminal's registered key")
    try:
        public_key.verify(envelope.signature, envelope.body)
    except InvalidSignature:
        raise BatchError("envelope.signature: does not verify") from None
    obj = _json(envelope.body, "batch")
    if not isinstance(obj, dict):
        raise BatchError("batch: not a JSON object")
    if obj.get("format") != FORMAT:
        raise BatchError(f"batch.format: not {FORMAT}")
    extra = set(obj) - {"format", "terminal_id", "sequence", "created_at", "records"}
    if extra:
        raise BatchError(f"batch: unknown key {sorted(extra)[0][:40]!r}")
    terminal = _text(obj, "terminal_id", "batch", _TERMINAL)
    if terminal != envelope.terminal_id:
        raise BatchError("batch.terminal_id: not the envelope's terminal")
    sequence = obj.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 1 <= sequence < 2**53:
        raise BatchError("batch.sequence: not a whole number from 1")
    created = _timestamp(obj, "created_at", "batch")
    records = obj.get("records")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        raise BatchError(f"batch.records: not a list of 1 to {MAX_RECORDS} records")
    seen: set[str] = set()
    out: list[Record] = []
    for i, raw in enumerate(records):
        where = f"batch.records[{i}]"
        if not isinstance(raw, dict):
            raise BatchError(f"{where}: not an object")
        extra = set(raw) - {"id", "session_id", "kind", "created_at", "payload"}
        if extra:
            raise BatchError(f"{where}: unknown key {sorted(extra)[0][:40]!r}")
        rid = _text(raw, "id", where, _ID)
        if rid in seen:
            raise BatchError(f"{where}.id: twice in the batch")
        seen.add(rid)
        session_id = _text(raw, "session_id", where, _ID)
        kind = _text(raw, "kind", where, re.compile(r"^[a-z]{1,16}$"))
        if kind not in KINDS:
            raise BatchError(f"{where}.kind: unknown kind")
        payload = raw.get("payload")
        if not isinstance(payload, dict):
            raise BatchError(f"{where}.payload: not an object")
        out.append(Record(rid, session_id, kind, _timestamp(raw, "created_at", where),
                          payload))
    return Batch(terminal, sequence, created, tuple(out))


# The nesting is bounded before the parser recurses: strings are taken out (a bracket inside
# one is text, not nesting), then only the brackets are kept, both at C speed (an envelope is one
# long base64 string), and the depth is followed over what is left.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


def _depth(data: bytes) -> int:
    """The deepest nesting of ``data``'s arrays and objects (strings ignored)."""
    deepest = depth = 0
    for ch in _STRING.sub(b"", data).translate(None, _NOT_BRACKETS):
        if ch in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _json(data: bytes, where: str, *, scan: bool = True) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchError(f"{where}: not UTF-8") from None
    if scan and _depth(data) > MAX_DEPTH:
        raise BatchError(f"{where}: nested more than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BatchError(f"{where}: not valid JSON ({type(exc).__name__})") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _text(obj: dict[str, Any], key: str, where: str, pattern: re.Pattern[str]) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BatchError(f"{where}.{key}: missing or not of the expected form")
    return value


def _timestamp(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) > 40:
        raise BatchError(f"{where}.{key}: not a timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BatchError(f"{where}.{key}: not a timestamp") from None
    if parsed.tzinfo is None or not 2000 <= parsed.year <= 2100:
        raise BatchError(f"{where}.{key}: not an aware timestamp between 2000 and 2100")
    return value


def _b64(obj: dict[str, Any], key: str, limit: int) -> bytes:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) > (limit * 4) // 3 + 8:
        raise BatchError(f"envelope.{key}: missing, not text or too long")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise BatchError(f"envelope.{key}: not base64") from None


def check_terminal_id(value: str) -> str:
    """``value`` when it is a terminal id of the wire format, else :class:`BatchError`."""
    if not isinstance(value, str) or not _TERMINAL.fullmatch(value):
        raise BatchError("terminal_id: not 1 to 36 letters, digits, '.', '_' or '-'")
    return value


def public_key_raw(public_key: Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of an Ed25519 public key (what :func:`key_id` hashes)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
