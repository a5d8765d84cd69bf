"""Updates from the back office: how a terminal asks for the signed bundles waiting for it,
and the answer. Both sides use this module (the kiosk's :mod:`kiosk.maintenance.remote`, the
back office's ``POST /v1/updates``).

The back office only *distributes* bundles (:mod:`kiosk.maintenance.updates`): they are signed
offline with the operator's Ed25519 key (``kiosk update sign``) and the kiosk checks that
signature, the terminal, the validity and the sequence itself, exactly as for a USB stick. A
back office that is broken into can withhold an update, never forge or replay one.

**The poll** (the request body, ``evkiosk-poll/1``; one JSON object)::

    {"format": "evkiosk-poll/1", "terminal_id": "DEMO-0001", "key_id": "<sha256 hex>",
     "at": "2026-12-02T08:00:00+00:00", "have": {"config": 3, "tariff": 0, "members": 0},
     "signature": "<base64>"}

``have`` is the last sequence of each kind the terminal accepted (``updates-state.json``);
``members`` may be missing (a terminal from before the member lists: the back office offers
it none, its answer reader would refuse the kind), ``config`` and ``tariff`` may not;
``signature`` is the terminal's Ed25519 signature (its upload key, registered in the back
office) over ``b"evkiosk-poll/1\\x00"`` + the canonical JSON of every other field. The back
office answers only a registered, active terminal whose signature verifies and whose ``at`` is
within :data:`MAX_SKEW` of its own clock: a bundle (a config may name internal addresses) goes
to its terminal only.

**The answer** (``evkiosk-updates/1``)::

    {"format": "evkiosk-updates/1", "terminal_id": "DEMO-0001",
     "updates": [{"kind": "tariff", "sequence": 4, "bundle": "<base64 of the bundle bytes>"}]}

at most one entry per kind: the newest published bundle with a sequence above ``have`` that
has not expired (an older one would be refused as soon as the newer one is taken). The
bundle's bytes are exactly those published (the signature covers them).

Everything read is bounded and checked; each refusal is a :class:`PollError` naming the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk import strict_json
from kiosk.records.batch import canonical, key_id

__all__ = ["ANSWER_FORMAT", "FORMAT", "KINDS", "MAX_ANSWER_BYTES", "MAX_BUNDLE_BYTES",
           "MAX_POLL_BYTES", "MAX_SKEW", "Offered", "Poll", "PollClockError", "PollError",
           "make_answer", "make_poll", "read_answer", "read_poll", "verify_poll"]

FORMAT = "evkiosk-poll/1"
ANSWER_FORMAT = "evkiosk-updates/1"
KINDS = ("config", "tariff", "members")  # as kiosk.maintenance.updates.KINDS (a test holds
#                                         them equal)
REQUIRED_KINDS = ("config", "tariff")  # in every poll's have; "members" is newer
MAX_POLL_BYTES = 4 * 1024
MAX_BUNDLE_BYTES = 6 * 1024 * 1024  # kiosk.maintenance.updates.BUNDLE_MAX_BYTES
MAX_ANSWER_BYTES = len(KINDS) * (4 * (MAX_BUNDLE_BYTES // 3 + 1) + 256) + 256
MAX_SEQUENCE = 2 ** 63 - 1
MAX_SKEW = timedelta(minutes=5)
_DOMAIN = FORMAT.encode("ascii") + b"\x00"
_TERMINAL = re.compile(r"[A-Za-z0-9._-]{1,36}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_POLL_FIELDS = frozenset({"format", "terminal_id", "key_id", "at", "have", "signature"})
_ANSWER_FIELDS = frozenset({"format", "terminal_id", "updates"})
_OFFER_FIELDS = frozenset({"kind", "sequence", "bundle"})


class PollError(ValueError):
    """A poll or an answer that cannot be taken; the message names the field and why."""


class PollClockError(PollError):
    """An authentic poll (its key and signature verify) made too far from the back office's
    clock: the terminal's clock is wrong, or the poll is replayed."""


@dataclass(frozen=True)
class Poll:
    """A poll read but not yet verified (:func:`verify_poll`)."""

    terminal_id: str
    key_id: str
    at: datetime
    have: dict[str, int]
    signed: bytes  # what the signature covers
    signature: bytes


@dataclass(frozen=True)
class Offered:
    """One bundle in an answer: its kind and sequence as the back office says (the kiosk
    believes only what the bundle's own signed fields say) and its bytes."""

    kind: str
    sequence: int
    bundle: bytes


def _signed(fields: dict[str, Any]) -> bytes:
    return _DOMAIN + canonical({k: v for k, v in fields.items() if k != "signature"})


def _check_have(have: object, where: str) -> dict[str, int]:
    if not isinstance(have, dict) or not set(REQUIRED_KINDS) <= set(have) <= set(KINDS):
        raise PollError(f"{where}: not an object with exactly {', '.join(REQUIRED_KINDS)} "
                        f"and optionally {', '.join(k for k in KINDS if k not in REQUIRED_KINDS)}")
    for kind in have:
        n = have[kind]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_SEQUENCE:
            raise PollError(f"{where}.{kind}: not a sequence from 0 to {MAX_SEQUENCE}")
    return {k: int(have[k]) for k in KINDS if k in have}


def make_poll(private_key: Ed25519PrivateKey, terminal_id: str, have: dict[str, int],
              at: datetime) -> bytes:
    """The body of a poll, signed with the terminal's key."""
    if not _TERMINAL.fullmatch(terminal_id):
        raise PollError("terminal_id: not 1 to 36 letters, digits, '.', '_' or '-'")
    if at.utcoffset() is None:
        raise PollError("at: needs a time zone")
    fields: dict[str, Any] = {"format": FORMAT, "terminal_id": terminal_id,
                              "key_id": key_id(private_key.public_key()),
                              "at": at.isoformat(timespec="seconds"),
                              "have": _check_have(have, "have")}
    fields["signature"] = base64.b64encode(private_key.sign(_signed(fields))).decode("ascii")
    return canonical(fields)


def _json(data: bytes, where: str, limit: int) -> dict[str, Any]:
    if len(data) > limit:
        raise PollError(f"{where}: {len(data)} bytes, at most {limit}")
    try:
        obj = strict_json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise PollError(f"{where}: not UTF-8") from None
    except RecursionError:
        raise PollError(f"{where}: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and the hooks' own
        raise PollError(f"{where}: not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(obj, dict):
        raise PollError(f"{where}: not a JSON object")
    return obj


def _fields(obj: dict[str, Any], allowed: frozenset[str], fmt: str, where: str) -> None:
    if obj.get("format") != fmt:
        raise PollError(f"{where}.format: not {fmt}")
    extra = sorted(k[:40] for k in obj.keys() - allowed)
    if extra:
        raise PollError(f"{where}: unknown field {extra[0]!r}")
    missing = sorted(allowed - obj.keys())
    if missing:
        raise PollError(f"{where}: missing field {missing[0]!r}")


def _terminal(obj: dict[str, Any], where: str) -> str:
    value = obj["terminal_id"]
    if not isinstance(value, str) or not _TERMINAL.fullmatch(value):
        raise PollError(f"{where}.terminal_id: not a terminal id")
    return value


def _b64(value: object, where: str, limit: int) -> bytes:
    if not isinstance(value, str) or len(value) > 4 * (limit // 3 + 1):
        raise PollError(f"{where}: not base64 text of at most {limit} bytes")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise PollError(f"{where}: not base64") from None
    if len(raw) > limit:
        raise PollError(f"{where}: {len(raw)} bytes, at most {limit}")
    return raw


def read_poll(data: bytes) -> Poll:
    """Parse a poll (bounded, typed); :func:`verify_poll` checks who sent it and when."""
    obj = _json(data, "poll", MAX_POLL_BYTES)
    _fields(obj, _POLL_FIELDS, FORMAT, "poll")
    terminal = _terminal(obj, "poll")
    kid = obj["key_id"]
    if not isinstance(kid, str) or not _HEX64.fullmatch(kid):
        raise PollError("poll.key_id: not 64 lowercase hex digits")
    at_text = obj["at"]
    try:
        if not isinstance(at_text, str) or len(at_text) > 40:
            raise ValueError
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise PollError("poll.at: not an ISO 8601 time") from None
    if at.utcoffset() is None:
        raise PollError("poll.at: no time zone")
    have = _check_have(obj["have"], "poll.have")
    signature = _b64(obj["signature"], "poll.signature", 64)
    if len(signature) != 64:
        raise PollError("poll.signature: not an Ed25519 signature (64 bytes)")
    return Poll(terminal, kid, at, have, _signed(obj), signature)


def verify_poll(poll: Poll, public_key: Ed25519PublicKey, now: datetime) -> None:
    """The poll is signed by ``public_key`` (the terminal's registered key), else
    :class:`PollError`, and was made within :data:`MAX_SKEW` of ``now``, else
    :class:`PollClockError` (checked second: only an authentic poll gets that answer)."""
    if key_id(public_key) != poll.key_id:
        raise PollError("poll.key_id: not the terminal's registered key")
    try:
        public_key.verify(poll.signature, poll.signed)
    except InvalidSignature:
        raise PollError("poll.signature: does not verify") from None
    if abs(poll.at - now) > MAX_SKEW:
        raise PollClockError(f"poll.at: {poll.at.isoformat()} is more than "
                        f"{int(MAX_SKEW.total_seconds() // 60)} minutes from the back office's "
                        f"clock ({now.isoformat(timespec='seconds')}): check the terminal's "
                        f"clock")


def make_answer(terminal_id: str, offers: list[Offered]) -> bytes:
    kinds = [o.kind for o in offers]
    if len(set(kinds)) != len(kinds) or not set(kinds) <= set(KINDS):
        raise PollError("updates: at most one of each kind")
    return canonical({"format": ANSWER_FORMAT, "terminal_id": terminal_id,
                      "updates": [{"kind": o.kind, "sequence": o.sequence,
                                   "bundle": base64.b64encode(o.bundle).decode("ascii")}
                                  for o in offers]})


def read_answer(data: bytes, *, terminal_id: str, have: dict[str, int]) -> list[Offered]:
    """The bundles an answer offers, checked against what was asked: our terminal, known
    kinds, each at most once, each newer than ``have``, each bundle at most
    :data:`MAX_BUNDLE_BYTES`."""
    obj = _json(data, "answer", MAX_ANSWER_BYTES)
    _fields(obj, _ANSWER_FIELDS, ANSWER_FORMAT, "answer")
    if _terminal(obj, "answer") != terminal_id:
        raise PollError("answer.terminal_id: not this terminal")
    items = obj["updates"]
    if not isinstance(items, list) or len(items) > len(KINDS):
        raise PollError(f"answer.updates: not a list of at most {len(KINDS)}")
    out: list[Offered] = []
    for i, item in enumerate(items):
        where = f"answer.updates[{i}]"
        if not isinstance(item, dict) or set(item) != _OFFER_FIELDS:
            raise PollError(f"{where}: not an object with kind, sequence and bundle")
        kind, sequence = item["kind"], item["sequence"]
        if kind not in KINDS:
            raise PollError(f"{where}.kind: not one of {', '.join(KINDS)}")
        if any(o.kind == kind for o in out):
            raise PollError(f"{where}.kind: {kind} twice")
        had = have.get(kind, 0)
        if isinstance(sequence, bool) or not isinstance(sequence, int) or not (
                had < sequence <= MAX_SEQUENCE):
            raise PollError(f"{where}.sequence: not above the {kind} sequence we have ({had})")
        out.append(Offered(kind, sequence, _b64(item["bundle"], f"{where}.bundle",
                                                MAX_BUNDLE_BYTES)))
    return out
