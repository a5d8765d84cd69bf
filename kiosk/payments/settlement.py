"""The settlement queue: captures, reversals and reversal advices, in the background.

The session machine decides what a session owes (:class:`~kiosk.session.effects.Settle`) and
the runner stores it in the journal in the same commit as the step; the session goes on to its
receipt at once. This queue owns everything after that, on its own thread:

* every pending job is sent with the session's one reference: a capture as an ISO 8583 0220,
  a reversal as an 0400, an advice (the authorization's answer never came) as an 0420;
* the host's acknowledgement marks it ``done`` in the journal, with a ``settlement`` record for
  the back office in the same transaction;
* no answer, a broken link or a temporary refusal (91, 96) keeps it ``pending`` and it is sent
  again after a backoff (``retry_s`` doubling up to ``retry_max_s``), across restarts; the host
  dedupes by the reference and the link takes an answer only with its own STAN, so a late or
  doubled answer never causes a second capture;
* any other refusal is final (``failed``), logged as an error and reported to the back office:
  sending it again would not change the host's mind, and a person must look at it.

A journal that cannot be written leaves the job pending: it is sent again later, and the host
acknowledges the repeat without doing it twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from drivers.acquirer.api import Ack, HostError, PaymentHost
from kiosk.journal.store import DONE, FAILED, Journal, JournalError, SettlementRow
from kiosk.session.effects import SettleKind

log = logging.getLogger(__name__)

RETRY_CODES = frozenset({"91", "96"})  # issuer or host temporarily unavailable
RECORD_VERSION = 1
IDLE_WAIT_S = 1.0  # look at the clock at least this often (tests move a simulated clock)


class SettlementQueue:
    def __init__(self, journal: Journal, host: PaymentHost, *, clock: Callable[[], datetime],
                 station_id: str, currency: str, retry_s: float = 30.0,
                 retry_max_s: float = 900.0,
                 on_journal: Callable[[JournalError | None], None] | None = None,
                 on_finished: Callable[[], None] | None = None) -> None:
        self.journal = journal
        self.host = host
        self.clock = clock
        self.station_id, self.currency = station_id, currency
        self.retry_s, self.retry_max_s = retry_s, retry_max_s
        self.on_journal = on_journal  # a journal error, or None when it works again
        self.on_finished = on_finished  # a job ended (its settlement record is in the outbox)
        self._journal_failing = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._next_due: datetime | None = None
        self._idle = threading.Condition(self._lock)
        self._busy = False
        self._round_ok = True
        self._thread = threading.Thread(target=self._run, name="kiosk-settlement", daemon=True)
        self._load()

    # --- control ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        """The clock moved, or the journal works again: look now."""
        self._wake.set()

    def added(self, session_id: str) -> None:
        """``session_id``'s job is in the journal now (committed with its step): send it."""
        with self._lock:
            self._pending.add(session_id)
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- what the screen and the tests ask -----------------------------------------------
    def pending(self, session_id: str) -> bool:
        """Is the settlement of ``session_id`` still waiting for the host?"""
        with self._lock:
            return session_id in self._pending

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def next_due(self) -> datetime | None:
        """When the earliest pending job is sent next (None: nothing pending)."""
        with self._lock:
            return self._next_due

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is pending or being sent (or ``timeout``); True when idle."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending and not self._busy, timeout)

    # --- the thread ------------------------------------------------------------------------
    def _load(self) -> list[SettlementRow]:
        try:
            jobs = self.journal.pending_settlements()
        except JournalError as exc:
            self._report(exc)
            return []
        with self._idle:
            self._pending = {j.session_id for j in jobs}
            self._next_due = min((j.next_at for j in jobs), default=None)
            self._idle.notify_all()
        return jobs

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self._round_ok = True
            with self._lock:
                self._busy = True
            try:
                jobs = self._load()
                now = self.clock()
                for job in jobs:
                    if self._stop.is_set():
                        break
                    if job.next_at <= now:
                        self._send(job, now)
                self._load()
                if self._journal_failing and self._round_ok:
                    self._journal_failing = False
                    if self.on_journal is not None:
                        self.on_journal(None)
            except Exception:  # never let the queue die: the jobs stay in the journal
                log.exception("settlement round failed")
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()
            self._wake.wait(IDLE_WAIT_S)

    def _send(self, job: SettlementRow, now: datetime) -> None:
        kind = SettleKind(job.kind)
        fields = {"session": job.session_id, "kind": kind.value, "amount_minor": job.amount_minor,
                  "attempt": job.attempts + 1}
        try:
            ack = self._deliver(kind, job.ref, job.amount_minor)
        except HostError as exc:
            self._retry(job, now, f"{type(exc).__name__}: {exc}", "")
            log.warning("settlement not acknowledged: %s", exc, extra={"fields": fields})
            return
        if ack.ok:
            self._finish(job, DONE, ack, "")
            log.info("settled", extra={"fields": {**fields, "code": ack.response_code}})
        elif ack.response_code in RETRY_CODES:
            self._retry(job, now, f"refused for now: {ack.message}", ack.response_code)
            log.warning("settlement refused for now (%s)", ack.response_code,
                        extra={"fields": fields})
        else:
            self._finish(job, FAILED, ack, ack.message)
            log.error("settlement refused by the host (%s): needs an operator",
                      ack.response_code, extra={"fields": fields})

    def _deliver(self, kind: SettleKind, ref: str, amount_minor: int) -> Ack:
        if kind is SettleKind.CAPTURE:
            return self.host.complete(ref, amount_minor)
        return self.host.reverse(ref, amount_minor, advice=kind is SettleKind.ADVICE)

    def _retry(self, job: SettlementRow, now: datetime, error: str, code: str) -> None:
        backoff = min(self.retry_s * 2 ** min(job.attempts, 16), self.retry_max_s)
        try:
            self.journal.settlement_retry(job.id, attempts=job.attempts + 1,
                                          next_at=now + timedelta(seconds=backoff),
                                          error=error, response_code=code)
        except JournalError as exc:
            self._report(exc)

    def _finish(self, job: SettlementRow, status: str, ack: Ack, error: str) -> None:
        at = self.clock()
        try:
            self.journal.settlement_finished(job.id, status=status, at=at,
                                             response_code=ack.response_code, error=error,
                                             record=self._record(job, status, ack, at))
        except JournalError as exc:  # stays pending: sent again, the host dedupes
            self._report(exc)
            return
        if self.on_finished is not None:
            try:
                self.on_finished()
            except Exception:
                log.exception("settlement finished hook failed")

    def _record(self, job: SettlementRow, status: str, ack: Ack, at: datetime
                ) -> dict[str, Any]:
        return {
            "record_version": RECORD_VERSION, "session_id": job.session_id,
            "station_id": self.station_id, "kind": job.kind, "status": status,
            "amount_minor": job.amount_minor, "currency": self.currency,
            "response_code": ack.response_code, "attempts": job.attempts + 1,
            "queued_at": job.created_at.isoformat(), "settled_at": at.isoformat(),
        }

    def _report(self, exc: JournalError) -> None:
        log.error("settlement queue: %s", exc)
        self._round_ok = False
        self._journal_failing = True
        if self.on_journal is not None:
            try:
                self.on_journal(exc)
            except Exception:
                log.exception("journal error hook failed")
