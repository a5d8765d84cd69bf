"""Each change of the terminal's health as a record for the back office (its availability).

:class:`HealthUpload` is a :class:`~kiosk.health.Health` listener. On every change it diffs the
problems against the last ones it saw (as the audit's :class:`~kiosk.maintenance.mode.HealthAudit`
does: a part failing, its detail changing, a part fine again) and queues one
:func:`~kiosk.records.record.health_record` per changed part (kind ``audit``, event
``health``) with :meth:`~kiosk.journal.store.Journal.queue_record`, each under a record id of its
own (``health-<UTC time>-<random>``, no session), then kicks the uploader. Records leave the
terminal as every other record does: in the signed batches, uploaded or exported by USB.

Each record says the part, ``ok``, ``planned`` (a technician's maintenance or the operator's
switch; for a part fine again: whether its problem was planned), ``in_service`` and
``faulted`` (an unplanned problem stands) just after that change, and the problem's detail (one
line, bounded, passed through the card-data redactor: details come from device messages and
never hold card data, but a record leaves the terminal). Several changes seen at once (two
threads reporting together) are recorded one after the other, failures before recoveries, each
with the state it leaves: never a moment in service that was not.

It runs on whichever thread reported and never raises into :class:`~kiosk.health.Health`. A
reporter never waits for another's write: the records are put in order in a list under a lock,
and one thread at a time writes the list out, oldest first, until it is empty. When the journal
refuses a write (its own outage is a change of health too) the records stay in that list, in
memory (at most :data:`MAX_PENDING`; beyond, the oldest are dropped with one error line), and
are written with the next change, which includes the journal taking writes again (reported as
``ok``). A record the journal already holds (its write failed after all?) is not queued twice:
its id is kept across attempts and the journal refuses a second row.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.config import one_line
from kiosk.health import Health, changes
from kiosk.journal.store import Journal, JournalConflict, JournalError
from kiosk.records.record import health_record
from kiosk.security.redaction import redact

__all__ = ["KIND", "MAX_DETAIL_CHARS", "MAX_PENDING", "HealthUpload", "record_id"]

log = logging.getLogger(__name__)

KIND = "audit"  # the batch kind of a health record (its payload's event: "health")
MAX_PENDING = 1000  # records kept in memory while the journal refuses writes
MAX_DETAIL_CHARS = 300
_PREFIX = "health-"


def record_id(at: datetime) -> str:
    """A new record id: ``health-20261130T090000123456Z-<12 hex>`` (42 characters: the
    outbox's 64 and the batch format's id with ``:audit``), sortable by time, unique by its
    random part."""
    return f"{_PREFIX}{at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}"


def _detail(text: str) -> str:
    return one_line(redact(text), MAX_DETAIL_CHARS)


@dataclass(frozen=True)
class _Seen:
    detail: str
    planned: bool


@dataclass(frozen=True)
class _Pending:
    record_id: str
    at: datetime
    payload: dict[str, Any]


class HealthUpload:
    """The health listener that queues the health records (see the module's docstring)."""

    def __init__(self, journal: Journal, *, station_id: str, clock: Callable[[], datetime],
                 kick: Callable[[], None] | None = None, max_pending: int = MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError("max_pending: at least 1")
        self.journal = journal
        self.station_id = station_id
        self.clock = clock
        self.kick = kick  # the uploader's (set once it exists); None: records wait in the outbox
        self.max_pending = max_pending
        self._lock = threading.Lock()  # the diff and the list; never held while writing
        self._seen: dict[str, _Seen] = {}
        self._pending: list[_Pending] = []
        self._writing = False  # a thread is writing the list out
        self._held_logged = False  # one warning per outage
        self._dropped = 0  # in this outage

    @property
    def pending(self) -> int:
        """Records not yet in the journal (it refused them)."""
        with self._lock:
            return len(self._pending)

    def __call__(self, health: Health) -> None:
        try:
            self._changed(health)
        except Exception:  # a listener never raises into Health: it would only log it
            log.exception("health records: failed")

    def started(self, health: Health) -> None:
        """The kiosk (re)started. This run knows nothing of the last one's parts: when the last
        health record the journal holds left the terminal out of service or faulted, one
        record (part ``start``, ``ok``) with the state it starts in ends that problem in the
        back office's timeline (the problems standing now follow as their own records). A
        first start, or one after a record in service, needs none."""
        try:
            last = self.journal.last_record(KIND, _PREFIX)
            if last is None or not isinstance(last.payload, dict) or (
                    last.payload.get("in_service") is True
                    and last.payload.get("faulted") is False):
                return
            with self._lock:
                state = {p.part: p.planned for p in health.problems()}
                self._add(self.clock(), "start", True, False, state, "")
            self._write_out()
        except Exception:
            log.exception("health records: failed")

    def flush(self) -> None:
        """Write the records the journal refused before (if it takes them now)."""
        try:
            self._write_out()
        except Exception:
            log.exception("health records: failed")

    # --- inside -----------------------------------------------------------------------------
    def _changed(self, health: Health) -> None:
        with self._lock:
            problems = {p.part: p for p in health.problems()}
            before = self._seen
            self._seen = {part: _Seen(p.detail, p.planned) for part, p in problems.items()}
            at = self.clock()
            state = {part: seen.planned for part, seen in before.items()}  # part → planned
            failing, fixed = changes(before, self._seen)
            for part in failing:
                p = problems[part]
                state[part] = p.planned
                self._add(at, part, False, p.planned, state, p.detail)
            for part in fixed:
                state.pop(part)
                self._add(at, part, True, before[part].planned, state, "")
        self._write_out()

    def _add(self, at: datetime, part: str, ok: bool, planned: bool, state: dict[str, bool],
             detail: str) -> None:
        """One record (the lock is held), with ``state`` the problems after it."""
        payload = health_record(station_id=self.station_id, at=at, part=part, ok=ok,
                                planned=planned, in_service=not state,
                                faulted=any(not p for p in state.values()),
                                detail=_detail(detail))
        self._pending.append(_Pending(record_id(at), at, payload))
        over = len(self._pending) - self.max_pending
        if over > 0:
            del self._pending[:over]
            if not self._dropped:
                log.error("health records: the journal refuses writes and %d are held: the "
                          "oldest are dropped", self.max_pending)
            self._dropped += over

    def _write_out(self) -> None:
        """Write the list out, oldest first, unless another thread does (it writes what is
        added meanwhile too: the flag drops under the same lock that saw the list empty);
        stop at a write the journal refuses."""
        with self._lock:
            if self._writing or not self._pending:
                return
            self._writing = True
        wrote = 0
        try:
            while (first := self._next()) is not None:
                try:
                    self.journal.queue_record(first.record_id, KIND, first.payload, first.at)
                except JournalConflict:  # an earlier attempt stored it after all
                    log.warning("health records: %s is in the journal already",
                                first.record_id)
                except JournalError as exc:  # the file refuses writes (or is read-only)
                    self._held(exc)
                    return
                except Exception:  # not a write problem: a record that cannot be stored
                    log.exception("health records: %s cannot be queued, dropped",
                                  first.record_id)
                else:
                    wrote += 1
                with self._lock:
                    if self._pending and self._pending[0] is first:  # not dropped meanwhile
                        self._pending.pop(0)
        except BaseException:
            with self._lock:
                self._writing = False
            raise
        finally:
            if wrote and self.kick is not None:
                self.kick()

    def _next(self) -> _Pending | None:
        """The oldest record to write; None (and no longer writing) when there is none."""
        with self._lock:
            if self._pending:
                return self._pending[0]
            self._writing = False
            if self._held_logged:
                self._held_logged = False
                dropped, self._dropped = self._dropped, 0
                log.warning("health records: the held ones are in the journal now%s",
                            f" ({dropped} dropped)" if dropped else "")
            return None

    def _held(self, exc: JournalError) -> None:
        with self._lock:
            self._writing = False
            if not self._held_logged:
                self._held_logged = True
                log.warning("health records: held in memory until the journal takes writes "
                            "again (%d now): %s", len(self._pending), one_line(str(exc), 200))
