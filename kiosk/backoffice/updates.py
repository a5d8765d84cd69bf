"""The signed config and tariff bundles the back office hands out to its terminals.

The operator signs each bundle offline (``kiosk update sign``; the format is
:mod:`kiosk.maintenance.updates`'s) with the Ed25519 key whose public half every terminal's
config holds (``maintenance.operator_key``). The back office keeps no key: it stores the bytes
and offers them to the one terminal they name when it polls (``POST /v1/updates``, the wire
format in :mod:`kiosk.records.update_poll`). The kiosk checks the signature, its own id, the
validity, the sequence and the content itself, exactly as for a USB stick, so a back office
that is broken into can withhold an update, never forge or replay one.

**Publishing** (:func:`publish`, ``kiosk-backoffice update publish``) takes a bundle only when

- it is read by the kiosk's own :func:`~kiosk.maintenance.updates.read_update` for the
  terminal it names: the exact evkiosk-update/1 form, signed by the operator's key (given by
  the caller, 64 hex digits), the sha256 matching the content, not expired and not issued
  more than 5 minutes ahead of the back office's clock;
- that terminal is registered and active (:mod:`kiosk.backoffice.registry`);
- its sequence is above every sequence published for that terminal and kind, withdrawn ones
  included: publishing only goes forwards. The same bytes again are ``already published``
  (nothing changes, not an error); other bytes under a sequence already taken are refused.

The *content* is not checked here (does the config parse, is the tariff in the station's
currency, is it JSON at all): only the kiosk has the running config a new file must fit, and
it checks before it takes anything; a bundle it refuses for its content does not use up the
sequence there, so the operator signs a fixed one under the next sequence.

Each refusal is a :class:`PublishError` whose message is the reason, one line.

**Offering** (:func:`offers_for`): per kind, the published bundle with the highest sequence
above what the terminal has (``have``), not withdrawn and not expired at the poll; at most one
per kind (an older one would be refused as soon as the newer one is taken). Expiry is compared
in SQL, on ``expires_utc``: the bundle's ``expires_at`` in UTC at a fixed width
(``2026-06-01T12:00:00.000000+00:00``), which orders as text exactly as in time, on SQLite and
PostgreSQL alike. The lookup walks the unique index (terminal_id, kind, sequence) from the top
and stops at the first row that qualifies.

**Withdrawing** (:func:`withdraw`) marks a bundle (``withdrawn_at``); it is never deleted
(what was handed out stays on record) and never offered again, and its sequence stays used: a
withdrawn bundle is not published again, a replacement needs a newer sequence. A terminal
that took it already keeps it (the remedy is a newer bundle, or ``rollback`` on site);
terminals below it are offered the newest older bundle still valid, if any.

**Concurrency.** Publishing checks and inserts in one transaction that first locks the
terminal's row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction is
``BEGIN IMMEDIATE`` already), so two publishers of one terminal take turns and the sequence
only rises; revoking the terminal waits for them too.

**Polls** (:func:`answer_poll`, the service's ``POST /v1/updates``): the poll read, its
terminal registered and active, its key and signature, its time within
:data:`~kiosk.records.update_poll.MAX_SKEW`, then the offers; a :class:`PollResult` with a
typed :class:`PollRefusal` the service maps to an HTTP status.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, insert, select, update

from kiosk.backoffice.registry import ACTIVE, get_terminal
from kiosk.backoffice.storage import Database, terminals, updates
from kiosk.backoffice.storage import now as now_text  # the time a row is written
from kiosk.config import one_line
from kiosk.maintenance.updates import (
    KINDS,
    MAX_SEQUENCE,
    UpdateRefused,
    bundle_terminal,
    read_update,
)
from kiosk.records.update_poll import (
    Offered,
    PollClockError,
    PollError,
    make_answer,
    read_poll,
    verify_poll,
)

__all__ = ["PollRefusal", "PollResult", "PublishError", "Published", "StoredUpdate",
           "WithdrawError", "answer_poll", "check_operator_key", "list_updates", "offers_for",
           "publish", "withdraw"]

log = logging.getLogger(__name__)

_SOURCE = "bundle"  # read_update's messages start "bundle: refused: "; the prefix is cut
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TERMINAL = re.compile(r"[A-Za-z0-9._-]{1,36}")


class PublishError(ValueError):
    """A bundle that is not published; the message is the reason, one line. Examples: not
    signed, or signed by another key than the operator's; expired; for a terminal that is not
    registered or is revoked; a sequence not above the last published of its kind; another
    bundle under a sequence already published."""


class WithdrawError(ValueError):
    """A withdrawal that cannot be made (no such bundle, withdrawn already); one line."""


@dataclass(frozen=True)
class StoredUpdate:
    """A published bundle as stored, without its bytes."""

    id: int
    terminal_id: str
    kind: str
    sequence: int
    sha256: str  # hex, of the bundle's bytes
    issued_at: str  # the bundle's own times, with their offsets
    expires_at: str
    expires_utc: str  # expires_at in UTC, fixed width (see the module)
    published_at: str
    withdrawn_at: str | None

    def state(self, at: datetime) -> str:
        """``withdrawn``, ``expired`` (at ``at``, aware) or ``valid``."""
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "expired" if self.expires_utc <= _utc(at) else "valid"


@dataclass(frozen=True)
class Published:
    """What :func:`publish` did: stored the bundle, or found the same bytes stored already."""

    update: StoredUpdate
    already: bool

    @property
    def status(self) -> str:
        return "already published" if self.already else "published"

    def line(self) -> str:
        u = self.update
        return (f"{self.status}: {u.terminal_id} {u.kind} sequence {u.sequence}, expires "
                f"{u.expires_at}, sha256 {u.sha256[:16]}…")


def _utc(at: datetime) -> str:
    """An aware time as ``expires_utc`` holds it (fixed width: compares as text)."""
    if at.utcoffset() is None:
        raise ValueError("an aware datetime is needed")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def check_operator_key(hex_text: str) -> str:
    """The operator's public key as :func:`read_update` takes it: 64 lowercase hex digits of
    a raw Ed25519 public key (surrounding space and upper case are forgiven)."""
    value = hex_text.strip().lower()
    if not _HEX64.fullmatch(value):
        raise PublishError("operator key: not 64 hex digits (the raw 32-byte Ed25519 public "
                           "key, as kiosk update keygen prints it)")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))
    except ValueError:
        raise PublishError("operator key: not an Ed25519 public key") from None
    return value


_COLUMNS = (updates.c.id, updates.c.terminal_id, updates.c.kind, updates.c.sequence,
            updates.c.sha256, updates.c.issued_at, updates.c.expires_at, updates.c.expires_utc,
            updates.c.published_at, updates.c.withdrawn_at)  # all but the bytes


def _stored(row: Any) -> StoredUpdate:
    m = row._mapping
    return StoredUpdate(int(m["id"]), m["terminal_id"], m["kind"], int(m["sequence"]),
                        m["sha256"], m["issued_at"], m["expires_at"], m["expires_utc"],
                        m["published_at"], m["withdrawn_at"])


def publish(db: Database, data: bytes, operator_key_hex: str, *, now: datetime) -> Published:
    """Store a signed bundle for the terminal it names (see the module for the checks; the
    content is the kiosk's to check). Raises :class:`PublishError`."""
    key_hex = check_operator_key(operator_key_hex)
    try:
        terminal_id = bundle_terminal(data)
    except ValueError as exc:
        raise PublishError(one_line(str(exc))) from None
    try:
        bundle = read_update(data, key_hex, terminal=terminal_id, now=now, source=_SOURCE)
    except UpdateRefused as exc:
        raise PublishError(str(exc).removeprefix(f"{_SOURCE}: refused: ")) from None
    sha = hashlib.sha256(data).hexdigest()
    kind, sequence = bundle.kind, bundle.sequence
    where = (updates.c.terminal_id == terminal_id, updates.c.kind == kind)
    with db.engine.begin() as conn:  # a PublishError raised inside rolls back
        status = conn.execute(select(terminals.c.status)
                              .where(terminals.c.id == terminal_id)
                              .with_for_update()).scalar()
        if status is None:
            raise PublishError(f"terminal {terminal_id}: not registered (kiosk-backoffice "
                               f"terminal add)")
        if status != ACTIVE:
            raise PublishError(f"terminal {terminal_id}: revoked")
        same = conn.execute(select(*_COLUMNS).where(*where, updates.c.sequence == sequence)
                            ).first()
        if same is not None:
            stored = _stored(same)
            if stored.sha256 != sha:
                raise PublishError(f"{terminal_id} {kind} sequence {sequence} is published "
                                   f"already with other bytes (sha256 {stored.sha256[:16]}…): "
                                   f"sign it under a newer sequence")
            if stored.withdrawn_at is not None:
                raise PublishError(f"{terminal_id} {kind} sequence {sequence} was withdrawn "
                                   f"at {stored.withdrawn_at}: a withdrawn bundle is not "
                                   f"published again, sign a newer sequence")
            return Published(stored, already=True)
        last = conn.execute(select(func.max(updates.c.sequence)).where(*where)).scalar()
        if last is not None and sequence <= last:
            raise PublishError(f"{terminal_id} {kind} sequence {sequence} is not above the "
                               f"last one published ({last}): publishing only goes forwards")
        values = {"terminal_id": terminal_id, "kind": kind, "sequence": sequence,
                  "bundle": data, "sha256": sha,
                  "issued_at": bundle.issued_at.isoformat(),
                  "expires_at": bundle.expires_at.isoformat(),
                  "expires_utc": _utc(bundle.expires_at), "published_at": now_text(),
                  "withdrawn_at": None}
        conn.execute(insert(updates).values(**values))
        row = conn.execute(select(*_COLUMNS).where(*where, updates.c.sequence == sequence)
                           ).one()
    log.info("update published: %s %s sequence %d", terminal_id, kind, sequence)
    return Published(_stored(row), already=False)


def list_updates(db: Database, terminal_id: str | None = None) -> list[StoredUpdate]:
    """The published bundles (all, or one terminal's), by terminal, kind and sequence."""
    query = select(*_COLUMNS).order_by(updates.c.terminal_id, updates.c.kind,
                                       updates.c.sequence)
    if terminal_id is not None:
        query = query.where(updates.c.terminal_id == terminal_id)
    with db.engine.connect() as conn:
        return [_stored(r) for r in conn.execute(query)]


def offers_for(db: Database, terminal_id: str, have: dict[str, int],
               now: datetime) -> list[Offered]:
    """Per kind, the newest bundle above ``have[kind]`` that is neither withdrawn nor expired
    at ``now`` (aware); none for a kind without one (see the module), and none of a kind the
    poll does not name: a terminal of a version before that kind (``members``) would refuse
    the whole answer for a kind it does not know."""
    cutoff = _utc(now)
    out: list[Offered] = []
    with db.engine.connect() as conn:  # one transaction: every kind from one snapshot
        for kind in KINDS:
            if kind not in have:
                continue
            row = conn.execute(
                select(updates.c.sequence, updates.c.bundle)
                .where(updates.c.terminal_id == terminal_id, updates.c.kind == kind,
                       updates.c.sequence > have.get(kind, 0),
                       updates.c.withdrawn_at.is_(None), updates.c.expires_utc > cutoff)
                .order_by(updates.c.sequence.desc()).limit(1)).first()
            if row is not None:
                out.append(Offered(kind, int(row.sequence), bytes(row.bundle)))
    return out


def withdraw(db: Database, terminal_id: str, kind: str, sequence: int) -> StoredUpdate:
    """Take a published bundle back: it is marked withdrawn, kept, and never offered again
    (see the module). Raises :class:`WithdrawError`."""
    name = f"{one_line(terminal_id, 40)} {one_line(kind, 20)} sequence {sequence}"
    if not _TERMINAL.fullmatch(terminal_id):
        raise WithdrawError("terminal id: 1 to 36 of A-Z a-z 0-9 . _ -")
    if kind not in KINDS:
        raise WithdrawError(f"kind: {one_line(kind, 20)!r}, expected one of {', '.join(KINDS)}")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise WithdrawError(f"sequence: {sequence} is not from 1 to {MAX_SEQUENCE}")
    where = (updates.c.terminal_id == terminal_id, updates.c.kind == kind,
             updates.c.sequence == sequence)
    with db.engine.begin() as conn:
        done = conn.execute(update(updates).where(*where, updates.c.withdrawn_at.is_(None))
                            .values(withdrawn_at=now_text()))
        row = conn.execute(select(*_COLUMNS).where(*where)).first()
        if done.rowcount != 1:
            if row is None:
                raise WithdrawError(f"{name}: not published")
            raise WithdrawError(f"{name}: withdrawn already at {row.withdrawn_at}")
    log.info("update withdrawn: %s", name)
    return _stored(row)


# --- polls -----------------------------------------------------------------------------------

class PollRefusal(enum.Enum):
    """Why a poll gets no answer; the service's HTTP status for each is in
    :mod:`kiosk.backoffice.service`."""

    INVALID = "invalid"  # not a poll (form, field, type, size)
    UNKNOWN_TERMINAL = "unknown_terminal"
    REVOKED = "revoked"
    NOT_AUTHENTIC = "not_authentic"  # another key than the registered one, a bad signature
    CLOCK = "clock"  # authentic, but made more than MAX_SKEW from the back office's clock


@dataclass(frozen=True)
class PollResult:
    """The answer to a poll: ``body`` (evkiosk-updates/1) when accepted, else ``refusal`` and
    ``reason`` (one line)."""

    terminal_id: str | None
    offers: tuple[Offered, ...] = ()
    body: bytes = b""
    refusal: PollRefusal | None = None
    reason: str = ""


def _refused(refusal: PollRefusal, reason: str, terminal_id: str | None = None) -> PollResult:
    return PollResult(terminal_id, refusal=refusal, reason=one_line(reason, 300))


def answer_poll(db: Database, data: bytes, now: datetime) -> PollResult:
    """Read and check a poll's bytes (see the module) and find its offers; raises only what
    the database raises (``SQLAlchemyError``)."""
    try:
        poll = read_poll(data)
    except PollError as exc:
        return _refused(PollRefusal.INVALID, str(exc))
    terminal = get_terminal(db, poll.terminal_id)
    if terminal is None:
        return _refused(PollRefusal.UNKNOWN_TERMINAL,
                        f"terminal {poll.terminal_id}: not registered", poll.terminal_id)
    if not terminal.active:
        return _refused(PollRefusal.REVOKED, f"terminal {terminal.id}: revoked", terminal.id)
    key = terminal.key()
    try:
        verify_poll(poll, key, now)
    except PollClockError as exc:  # authentic, at the wrong time
        return _refused(PollRefusal.CLOCK, str(exc), terminal.id)
    except PollError as exc:
        return _refused(PollRefusal.NOT_AUTHENTIC, str(exc), terminal.id)
    offers = offers_for(db, terminal.id, poll.have, now)
    return PollResult(terminal.id, tuple(offers), make_answer(terminal.id, offers))
