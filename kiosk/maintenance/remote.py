"""Signed config and tariff updates from the back office, in the background.

One thread (``kiosk-updates``) asks the back office every ``maintenance.update_poll_s``
(``POST <backoffice.url>/v1/updates``, the poll of :mod:`kiosk.records.update_poll`, signed
with the terminal's upload key, over the uploader's pinned TLS) for the bundles newer than the
last ones this terminal accepted, and applies each one it is given with
:meth:`kiosk.maintenance.updates.Updates.apply_bytes`: every check of a USB update applies (the
operator's signature, this terminal, the validity, a newer sequence, the content), so the back
office can hold an update back but never forge or replay one.

Each applied or refused bundle goes to the audit log (actor ``backoffice``); a refused one is
audited once per run, not at every poll (the back office offers it again until a newer one is
published). An applied config or tariff takes effect when the kiosk restarts: ``on_applied``
is told (the runtime asks the window to restart when no driver's session runs, except for a
member list, which the runtime reads again by itself).

It runs only where it can: outside demo, with a config file to update, uploads to a back office
and an operator key. Every wait is bounded (the uploader's timeouts and answer size limit); a
failing back office is tried again after ``RETRY_S`` doubling up to the poll interval.
:meth:`RemoteUpdates.check_now` asks at once (the technician's button).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.config import one_line
from kiosk.maintenance.updates import LIVE_KINDS, Update, UpdateRefused, Updates
from kiosk.records.update_poll import (
    MAX_ANSWER_BYTES,
    PollError,
    make_poll,
    read_answer,
)
from kiosk.records.uploader import (
    TOTAL_TIMEOUTS,
    AnswerError,
    backoffice_client,
    post_bounded,
    transport_problem,
)
from kiosk.security.audit import AuditError, AuditLog

__all__ = ["PATH", "RETRY_S", "RemoteStatus", "RemoteUpdates"]

log = logging.getLogger(__name__)

PATH = "/v1/updates"
RETRY_S = 30.0  # a failed poll: again after this, doubling up to the poll interval
REASON_MAX_CHARS = 200


@dataclass(frozen=True)
class RemoteStatus:
    """What the back office's updates are doing, for the technician's page and the tests."""

    interval_s: float
    last_check: datetime | None = None  # the last poll that ended (either way)
    last_ok: datetime | None = None  # ... the last that got an answer
    last_result: str = "not asked yet"  # one line
    failures: int = 0  # consecutive failed polls
    checking: bool = False
    polls: int = 0  # since the start
    applied: tuple[str, ...] = ()  # "tariff 4", since the start
    refused: tuple[str, ...] = ()  # "tariff 5: <reason>", since the start


class RemoteUpdates:
    """See the module. ``start()`` it; ``close()`` stops the thread and the client."""

    def __init__(self, updates: Updates, *, terminal_id: str, signing_key: Ed25519PrivateKey,
                 url: str, ca_file: Path | str | None, clock: Callable[[], datetime],
                 interval_s: float, timeout_s: float = 30.0, audit: AuditLog | None = None,
                 on_applied: Callable[[Update], None] | None = None) -> None:
        self.updates = updates
        self.terminal_id = terminal_id
        self._key = signing_key
        self.clock = clock
        base, self._client = backoffice_client(url, ca_file, timeout_s, "evkiosk-updates/1")
        self.endpoint = base + PATH
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.audit = audit
        self.on_applied = on_applied
        self._refused: set[str] = set()  # the sha256 of bundles refused (audited once)
        self._cond = threading.Condition()
        self._due = 0.0  # monotonic: the next poll
        self._stop = False
        self._status = RemoteStatus(interval_s=interval_s)
        self._thread = threading.Thread(target=self._run, name="kiosk-updates", daemon=True)

    # --- control ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def check_now(self) -> None:
        """Ask the back office now (even during a failure's wait)."""
        with self._cond:
            self._due = 0.0
            self._cond.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (a poll under way ends within its timeouts) and the client."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._client.close()

    def status(self) -> RemoteStatus:
        with self._cond:
            return self._status

    def wait_for(self, check: Callable[[RemoteStatus], bool], timeout: float) -> RemoteStatus:
        """Wait until ``check(status)`` holds (or ``timeout``); the status then."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check(self._status):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._status

    # --- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and time.monotonic() < self._due:
                    self._cond.wait(self._due - time.monotonic())
                if self._stop:
                    return
                self._due = float("inf")  # check_now during the poll sets it to 0: again
                self._status = replace(self._status, checking=True)
                self._cond.notify_all()
            try:
                ok, result = self.poll_once()
            except Exception as exc:  # never the thread's end: the next poll tries again
                log.exception("updates from the back office")
                ok, result = False, f"error: {type(exc).__name__}: {one_line(str(exc), 200)}"
            with self._cond:
                s = self._status
                failures = 0 if ok else s.failures + 1
                wait = self.interval_s if ok else min(self.interval_s,
                                                      RETRY_S * 2 ** (failures - 1))
                if self._due != 0.0:
                    self._due = time.monotonic() + wait
                now = self.clock()
                self._status = replace(s, checking=False, last_check=now,
                                       last_ok=now if ok else s.last_ok,
                                       last_result=one_line(result, 300), failures=failures,
                                       polls=s.polls + 1)
                self._cond.notify_all()

    def poll_once(self) -> tuple[bool, str]:
        """One poll and the bundles it brings: (an answer came, a line saying what happened).
        Called by the thread; public for tests and tools."""
        try:
            have = self.updates.state()
        except UpdateRefused as exc:
            log.error("updates: %s", exc)
            return True, str(exc)  # nothing to ask: a technician must fix the state file
        body = make_poll(self._key, self.terminal_id, have, self.clock())
        try:
            code, ctype, answer = post_bounded(self._client, self.endpoint, body,
                                               MAX_ANSWER_BYTES,
                                               TOTAL_TIMEOUTS * self.timeout_s)
        except AnswerError as exc:
            return False, f"the back office's answer: {exc}"
        except httpx.TimeoutException as exc:
            return False, f"no answer in time ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            return False, transport_problem(exc)
        if code != 200:
            reason = _reason(answer)
            if code >= 500 or code in (408, 429):
                return False, f"back office unavailable (HTTP {code}){reason}"
            log.error("updates: the back office refused the poll: HTTP %d%s", code, reason)
            return False, f"refused by the back office (HTTP {code}){reason}"
        if ctype.split(";")[0].strip().lower() != "application/json":
            return False, "the back office's answer: not application/json"
        try:
            offers = read_answer(answer, terminal_id=self.terminal_id, have=have)
        except PollError as exc:
            log.error("updates: the back office's %s", exc)
            return False, f"the back office's {exc}"
        if not offers:
            return True, "no new update"
        said = [self._take(o.kind, o.sequence, o.bundle) for o in offers]
        return True, "; ".join(said)

    def _take(self, kind: str, sequence: int, bundle: bytes) -> str:
        name = f"{kind} {sequence}"
        digest = hashlib.sha256(bundle).hexdigest()
        try:
            got = self.updates.apply_bytes(bundle, f"the back office's {name}")
        except UpdateRefused as exc:
            reason = one_line(str(exc), 300)
            if digest not in self._refused:  # the same bundle comes again at every poll
                self._refused.add(digest)
                log.error("updates: %s", reason)
                self._audit("update refused", {"kind": kind, "sequence": sequence,
                                               "sha256": digest, "reason": reason})
                with self._cond:
                    self._status = replace(self._status,
                                           refused=(*self._status.refused, f"{name}: "
                                                                           f"{reason}"))
            return f"{name} refused: {reason}"
        name = f"{got.kind} {got.sequence}"  # what the signed bundle says
        log.warning("updates: applied the %s update from the back office; it takes effect "
                    "%s", name, "at once" if got.kind in LIVE_KINDS else "when the kiosk restarts")
        self._audit("update applied", {"kind": got.kind, "sequence": got.sequence,
                                       "sha256": got.sha256, "source": "backoffice"})
        with self._cond:
            self._status = replace(self._status, applied=(*self._status.applied, name))
        if self.on_applied is not None:
            self.on_applied(got)
        return f"{name} applied"

    def _audit(self, action: str, details: dict[str, object]) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append("backoffice", action, details)
        except (AuditError, ValueError) as exc:
            log.error("audit: %s", exc)


def _reason(body: bytes) -> str:
    """The back office's ``reason`` from a JSON refusal, as ``": <reason>"`` (bounded), or
    ""."""
    try:
        data = json.loads(body[:4096].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ""
    reason = data.get("reason") if isinstance(data, dict) else None
    return f": {one_line(reason, REASON_MAX_CHARS)}" if isinstance(reason, str) else ""
