"""The uploader: the outbox's batches to the back office over HTTPS, in the background.

One thread takes :meth:`~kiosk.records.outbox.Outbox.next_batch` (the oldest batch not
acknowledged, byte for byte the one signed first, else a new one) and sends it as the body of
``POST <backoffice.url>/v1/batches`` (``Content-Type: application/json``), until nothing is
left; then it sleeps until :meth:`Uploader.kick` (records were queued), :meth:`Uploader.stop`,
or ``interval_s`` (records it was not told about).

The connection trusts only the back office's CA (``backoffice.ca_file``; no system CA, no
``SSL_CERT_FILE``, no proxy from the environment) and checks the certificate's name against the
URL's host. Every wait is bounded: connecting (with the TLS handshake), sending, each read of the
answer (``timeout_s``), and the whole exchange (:data:`TOTAL_TIMEOUTS` times that); the answer
is read up to :data:`MAX_ANSWER_BYTES` and no further.

The answer is read strictly (:func:`parse_answer`): JSON with a known ``status`` that agrees
with the HTTP status, our terminal id, the sequence just sent and an integer ``acked`` that
fits it; anything else is an :class:`AnswerError` naming the field, and nothing is acknowledged.
Only a well-formed ``stored``/``replay`` (HTTP 200) or ``held`` (202) answer is acknowledged
(:meth:`~kiosk.records.outbox.Outbox.acknowledge`), never beyond the batch just sent (so never
beyond the last batch built). What happens otherwise:

- ``held`` (the back office lacks earlier batches it acknowledged before: restored from a
  backup): the journal keeps acknowledged batches, so the uploader sends them again from the
  first one missing, byte for byte, then goes on; when it cannot (they are not in this
  journal), an error, and the batch is sent again after the backoff;
- a refusal (403 unknown or revoked terminal, 409 conflict, 413, 415, 422, or an answer no back
  office gives such as a redirect or a 404): logged as an error; the operator must act, so the
  next attempt waits ``retry_max_s``;
- the back office unavailable (503 and other 5xx, 429, a timeout, a refused or broken
  connection, a certificate not from ``ca_file``) or a malformed answer: sent again after
  ``retry_s`` doubling up to ``retry_max_s``, with jitter; a kick does not shorten it,
  :meth:`Uploader.retry_now` does;
- the journal refusing a write (:class:`~kiosk.journal.store.JournalWriteError`: a full disk,
  an I/O error): reported, tried again after the backoff (a batch whose acknowledgement could
  not be written comes back as a replay);
- a row that cannot go into a batch (:class:`~kiosk.journal.store.OutboxRowError`) or a batch
  of another terminal in the journal (:class:`~kiosk.records.outbox.OutboxError`): reported as
  needing an operator, kept, tried again after ``retry_max_s``.

:meth:`Uploader.status` says what it is doing (records pending, the last success, the last
error on one line, consecutive failures, whether an operator must act, the next attempt).

Nothing is ever dropped: the records and batches stay in the journal until acknowledged, so a
restart resumes where the last acknowledgement left off (a batch the back office stored but
whose answer was lost comes back as a replay). No payload is logged, only sequences, counts and
the back office's reason (one line, bounded).
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.config import CA_FILE_MAX_BYTES, one_line
from kiosk.files import FileRefused, read_regular_file
from kiosk.journal.store import Journal, JournalError, JournalWriteError, OutboxRowError
from kiosk.records.batch import BatchError, open_envelope, verify
from kiosk.records.outbox import DEFAULT_MAX_RECORDS, Outbox, OutboxError

__all__ = ["MAX_ANSWER_BYTES", "Answer", "AnswerError", "UploadStatus", "Uploader",
           "UploaderError", "backoffice_client", "parse_answer", "pinned_context",
           "post_bounded", "transport_problem"]

log = logging.getLogger(__name__)

PATH = "/v1/batches"
MAX_ANSWER_BYTES = 64 * 1024  # an answer is a few hundred bytes
TOTAL_TIMEOUTS = 3  # the whole exchange: at most this many timeout_s
REASON_MAX_CHARS = 300
STATUSES = ("stored", "replay", "held", "rejected", "error")
REFUSED_HTTP = frozenset({403, 409, 413, 415, 422})  # the back office's refusals
UNAVAILABLE_HTTP = frozenset({408, 429})  # and every 5xx
_random = secrets.SystemRandom()

AnswerStatus = Literal["stored", "replay", "held", "rejected", "error"]
Outcome = Literal["sent", "held", "refused", "unavailable", "answer", "journal", "outbox"]


class UploaderError(Exception):
    """The uploader cannot be set up (the URL, the CA file). The message says why."""


class AnswerError(Exception):
    """The back office's answer is not what the protocol allows; ``field`` names the part
    (``body``, ``status``, ``acked``, ``Content-Type``...)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"answer {field}: {problem}")
        self.field = field


@dataclass(frozen=True)
class Answer:
    """A well-formed answer to ``POST /v1/batches``."""

    http_status: int
    status: AnswerStatus
    acked: int | None  # an int for stored, replay and held
    reason: str  # one line, bounded
    refusal: str | None = None
    terminal_id: str | None = None
    sequence: int | None = None


@dataclass(frozen=True)
class UploadStatus:
    """What the uploader is doing, for the screen, the health page and the tests."""

    pending: int  # records the back office has not acknowledged (-1: the journal did not say)
    last_success: datetime | None = None  # the last batch acknowledged
    last_sequence: int = 0  # ... its sequence
    last_error: str = ""  # one line; "" after a success
    failures: int = 0  # consecutive failed attempts
    refused: bool = False  # the last failure was a refusal: an operator must act
    next_attempt: datetime | None = None  # after a failure: when it is tried again
    sending: bool = False
    attempts: int = 0  # exchanges with the back office since the start
    delivered: int = 0  # batches acknowledged since the start
    failed: int = 0  # failures since the start (exchanges, journal)


def pinned_context(ca_file: Path | str) -> ssl.SSLContext:
    """A TLS client context that trusts only the certificates in ``ca_file`` (PEM) and checks
    the server's name. Raises :class:`UploaderError`."""
    try:
        pem = read_regular_file(ca_file, CA_FILE_MAX_BYTES).decode("ascii")
    except FileRefused as exc:
        raise UploaderError(f"backoffice.ca_file: {ca_file}: {exc}") from None
    except UnicodeDecodeError:
        raise UploaderError(f"backoffice.ca_file: {ca_file}: not a PEM file") from None
    try:
        ctx = ssl.create_default_context(cadata=pem)  # cadata: no system CA is loaded
    except (ssl.SSLError, ValueError) as exc:
        raise UploaderError(f"backoffice.ca_file: {ca_file}: not a PEM CA certificate "
                            f"({getattr(exc, 'reason', None) or exc})") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _int(data: dict[str, Any], key: str, *, required: bool) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AnswerError(key, f"not an integer ({_kind(value)})")
    if value < 0:
        raise AnswerError(key, f"negative ({value})")
    return value


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AnswerError(key, f"not a string ({_kind(value)})")
    return value


def _kind(value: object) -> str:
    return "missing" if value is None else type(value).__name__


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse_answer(http_status: int, content_type: str, body: bytes) -> Answer:
    """Read the back office's answer strictly (see the module); raises :class:`AnswerError`."""
    ctype = content_type.split(";", maxsplit=1)[0].strip().lower()
    if ctype != "application/json":
        raise AnswerError("Content-Type", f"{one_line(ctype, 60) or 'none'}, not "
                                          f"application/json (HTTP {http_status})")
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AnswerError("body", f"not JSON (HTTP {http_status}, {len(body)} bytes)") from None
    if not isinstance(data, dict):
        raise AnswerError("body", f"not a JSON object ({type(data).__name__})")
    status = data.get("status")
    if status not in STATUSES or not isinstance(status, str):
        raise AnswerError("status", f"{one_line(repr(status), 40)}: not one of "
                                    f"{', '.join(STATUSES)}")
    expected = ({200} if status in ("stored", "replay") else {202} if status == "held"
                else REFUSED_HTTP if status == "rejected" else {503})
    if http_status not in expected:
        raise AnswerError("status", f"{status!r} with HTTP {http_status}")
    settled = status in ("stored", "replay", "held")
    acked = _int(data, "acked", required=settled)
    reason = one_line(_text(data, "reason") or "", REASON_MAX_CHARS)
    refusal = _text(data, "refusal")
    terminal_id = _text(data, "terminal_id")
    sequence = _int(data, "sequence", required=settled)
    if settled and terminal_id is None:
        raise AnswerError("terminal_id", "missing")
    return Answer(http_status, cast(AnswerStatus, status), acked, reason,
                  None if refusal is None else one_line(refusal, 40), terminal_id, sequence)


def acknowledgement(answer: Answer, *, terminal_id: str, sent: int, last_built: int) -> int:
    """The sequence to acknowledge after a settled answer (stored, replay, held) to batch
    ``sent``: never beyond ``sent``. Raises :class:`AnswerError` for an answer that does not fit
    what was sent."""
    if answer.terminal_id != terminal_id:
        raise AnswerError("terminal_id", f"{one_line(repr(answer.terminal_id), 40)}, not "
                                         f"{terminal_id!r}")
    if answer.sequence != sent:
        raise AnswerError("sequence", f"{answer.sequence}, but batch {sent} was sent")
    acked = answer.acked
    assert acked is not None  # parse_answer: required when settled
    if acked > last_built:
        raise AnswerError("acked", f"{acked}: above the last batch built ({last_built})")
    if answer.status == "held":
        if acked >= sent:
            raise AnswerError("acked", f"{acked} with 'held': batch {sent} would be stored")
        return acked
    if acked < sent:
        raise AnswerError("acked", f"{acked} with {answer.status!r}: below batch {sent}")
    return sent


class Uploader:
    """See the module. ``start()`` it; ``close()`` stops the thread and the client."""

    def __init__(self, journal: Journal, terminal_id: str, signing_key: Ed25519PrivateKey, *,
                 clock: Callable[[], datetime], url: str, ca_file: Path | str | None,
                 interval_s: float = 60.0, retry_s: float = 10.0, retry_max_s: float = 900.0,
                 timeout_s: float = 30.0, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        self.outbox = Outbox(journal, terminal_id, signing_key, clock)
        self.terminal_id = self.outbox.terminal_id
        self._public = signing_key.public_key()
        self.clock = clock
        base, self._client = backoffice_client(url, ca_file, timeout_s, "evkiosk-uploader/1")
        self.endpoint = base + PATH
        self.interval_s, self.retry_s, self.retry_max_s = interval_s, retry_s, retry_max_s
        self.timeout_s = timeout_s
        self.max_records = max_records
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._dirty = True  # a round is due (set by kick, cleared when a round starts)
        self._due = 0.0  # monotonic: no attempt before this (a backoff)
        self._status = UploadStatus(pending=self._pending())
        # the next batch to send again that the back office acknowledged once and no longer
        # has (it answered 'held' with a lower acked: restored from a backup); None: none
        self._rewind: int | None = None
        self._thread = threading.Thread(target=self._run, name="kiosk-uploader", daemon=True)

    # --- control ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        """Records were queued: send them (at once, unless a failure's backoff is running)."""
        with self._cond:
            self._dirty = True
        self._wake.set()

    def retry_now(self) -> None:
        """Send now, even during a backoff (an operator fixed the back office)."""
        with self._cond:
            self._dirty = True
            self._due = 0.0
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (an exchange under way ends within its timeouts)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop, then close the connection (which ends an exchange still under way)."""
        self.stop(timeout)
        self._client.close()

    # --- what the screen and the tests ask -----------------------------------------------
    def status(self) -> UploadStatus:
        with self._cond:
            return self._status

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is pending and no round is due or running (True), or until an
        attempt fails after this call began, or ``timeout`` (False)."""
        with self._cond:
            failed_before = self._status.failed
            return self._cond.wait_for(
                lambda: self._idle() or self._status.failed > failed_before, timeout) \
                and self._idle()

    def wait_for(self, check: Callable[[UploadStatus], bool],
                 timeout: float) -> UploadStatus | None:
        """Block until ``check(status)`` holds (the status after it), or None at ``timeout``."""
        with self._cond:
            if self._cond.wait_for(lambda: check(self._status), timeout):
                return self._status
            return None

    def _idle(self) -> bool:
        s = self._status
        return not self._dirty and not s.sending and s.pending == 0

    # --- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._cond:
                wait = self._due - time.monotonic()
            if wait > 0:  # a failure's backoff: a kick wakes, but does not shorten it
                self._wake.wait(wait)
                continue
            try:
                self._round()
            except Exception:  # never let the thread die: the records stay in the journal
                log.exception("upload round failed")
                self._failed("journal", "upload round failed (see the log)", self.retry_max_s)
            with self._cond:
                again = self._dirty or self._due > time.monotonic()
            if not again:
                self._wake.wait(self.interval_s)
                with self._cond:
                    self._dirty = True  # look again (records nobody told us about)

    def _round(self) -> None:
        """Send batches until none is left or one fails."""
        with self._cond:
            self._dirty = False
            self._status = replace(self._status, sending=True)
            self._cond.notify_all()
        try:
            while not self._stop.is_set():
                if not self._one():
                    return
        finally:
            pending = self._pending()
            with self._cond:
                self._status = replace(self._status, sending=False, pending=pending)
                self._cond.notify_all()

    def _one(self) -> bool:
        """One batch: True when it was acknowledged (go on), False when there is nothing to send
        or the attempt failed (reported)."""
        try:
            envelope = self._rewound()
            if envelope is None:
                envelope = self.outbox.next_batch(self.max_records)
            last_built = self.outbox.journal.last_batch_sequence()
        except (OutboxRowError, OutboxError) as exc:  # a damaged row, another terminal's batch:
            self._failed("outbox", str(exc), self.retry_max_s)  # kept; a person must look
            return False
        except JournalError as exc:  # a write refused (disk full, I/O): again later
            self._failed("journal", str(exc), self._backoff())
            return False
        if envelope is None:
            return False
        try:
            sent = verify(open_envelope(envelope), self._public).sequence
        except BatchError as exc:  # a stored batch we cannot read back: never sent
            self._failed("outbox", f"stored batch does not verify: {exc}", self.retry_max_s)
            return False
        outcome, detail, ack = self._exchange(envelope, sent, last_built)
        if outcome in ("sent", "held") and ack > 0:
            try:
                marked = self.outbox.acknowledge(ack)
            except JournalWriteError as exc:  # sent again later: a replay, acknowledged then
                self._failed("journal", f"batch {sent} stored, acknowledgement not written: "
                                        f"{exc}", self._backoff())
                return False
            except OutboxError as exc:
                self._failed("outbox", f"batch {sent}: {exc}", self.retry_max_s)
                return False
            except JournalError as exc:
                self._failed("journal", f"batch {sent}: {exc}", self._backoff())
                return False
        else:
            marked = 0
        if outcome == "sent":
            if self._rewind is not None:
                self._rewind = sent + 1  # the next one it lost, if it lost more
            self._succeeded(sent, marked, detail)
            return True
        if outcome == "held" and self._can_rewind(ack + 1, sent):
            log.warning("uploader: the back office lacks batches %d to %d it acknowledged "
                        "before (restored from a backup?): sending them again", ack + 1,
                        sent - 1)
            self._rewind = ack + 1
            return True
        wait = self.retry_max_s if outcome == "refused" else self._backoff()
        self._failed(outcome, f"batch {sent}: {detail}", wait)
        return False

    def _rewound(self) -> bytes | None:
        """The envelope of the acknowledged batch to send again now, or None (none, or caught
        up: back to :meth:`Outbox.next_batch`)."""
        if self._rewind is None:
            return None
        row = self.outbox.journal.batch(self._rewind)
        if row is None or row.acked_at is None or row.terminal_id != self.terminal_id:
            self._rewind = None
            return None
        return row.envelope

    def _can_rewind(self, first: int, sent: int) -> bool:
        """Are the batches from ``first`` up to ``sent`` (exclusive) ones this journal built
        and had acknowledged, so they can be sent again?"""
        if not 1 <= first < sent or (self._rewind is not None and first >= self._rewind):
            return False  # nothing earlier to send, or no progress: report it instead
        try:
            row = self.outbox.journal.batch(first)
        except (JournalError, OutboxRowError):
            return False
        return row is not None and row.acked_at is not None

    def _exchange(self, envelope: bytes, sent: int, last_built: int
                  ) -> tuple[Outcome, str, int]:
        """POST the batch: (outcome, a line for the log, the sequence to acknowledge)."""
        with self._cond:
            self._status = replace(self._status, attempts=self._status.attempts + 1)
        try:
            code, ctype, body = self._post(envelope)
        except AnswerError as exc:
            return "answer", str(exc), 0
        except httpx.TimeoutException as exc:
            return "unavailable", f"no answer in time ({type(exc).__name__})", 0
        except httpx.HTTPError as exc:
            return "unavailable", transport_problem(exc), 0
        if code in REFUSED_HTTP or code in (200, 202) or code == 503:
            try:
                answer = parse_answer(code, ctype, body)
            except AnswerError as exc:
                if code in REFUSED_HTTP:
                    return "refused", f"refused (HTTP {code}); {exc}", 0
                if code == 503:
                    return "unavailable", f"back office unavailable (HTTP 503); {exc}", 0
                return "answer", str(exc), 0
        elif code >= 500 or code in UNAVAILABLE_HTTP:
            return "unavailable", f"back office unavailable (HTTP {code})", 0
        else:  # a redirect, 400, 401, 404...: not the back office's upload route
            return "refused", f"unexpected HTTP {code} from {self.endpoint}", 0
        if answer.status == "rejected":
            return "refused", (f"rejected (HTTP {code}, {answer.refusal or 'no refusal'}): "
                               f"{answer.reason or 'no reason given'}"), 0
        if answer.status == "error":
            return "unavailable", f"back office unavailable: {answer.reason or 'HTTP 503'}", 0
        try:
            ack = acknowledgement(answer, terminal_id=self.terminal_id, sent=sent,
                                  last_built=last_built)
        except AnswerError as exc:
            return "answer", str(exc), 0
        if answer.status == "held":
            return "held", (f"held by the back office, acked {answer.acked}: it lacks batches "
                            f"{answer.acked + 1 if answer.acked is not None else '?'} to "
                            f"{sent - 1} (acknowledged before; restored from a backup? import "
                            f"kiosk export-batches files)"), ack
        return "sent", answer.status, ack

    def _post(self, envelope: bytes) -> tuple[int, str, bytes]:
        return post_bounded(self._client, self.endpoint, envelope, MAX_ANSWER_BYTES,
                            TOTAL_TIMEOUTS * self.timeout_s)

    # --- bookkeeping -----------------------------------------------------------------------
    def _pending(self) -> int:
        try:
            return self.outbox.pending_count()
        except JournalError as exc:
            log.error("upload: pending records: %s", one_line(str(exc), 300))
            return -1

    def _backoff(self) -> float:
        with self._cond:
            failures = self._status.failures
        full = min(self.retry_s * 2 ** min(failures, 30), self.retry_max_s)
        return float(full / 2 + _random.uniform(0, full / 2))  # equal jitter

    def _succeeded(self, sequence: int, marked: int, how: str) -> None:
        log.info("upload: batch %d %s, %d record(s) acknowledged", sequence, how, marked,
                 extra={"fields": {"sequence": sequence, "records": marked}})
        pending = self._pending()
        with self._cond:
            self._status = replace(self._status, pending=pending, last_success=self.clock(),
                                   last_sequence=sequence, last_error="", failures=0,
                                   refused=False, next_attempt=None,
                                   delivered=self._status.delivered + 1)
            self._due = 0.0
            self._cond.notify_all()

    def _failed(self, outcome: Outcome, detail: str, wait_s: float) -> None:
        line = one_line(detail, 500)
        refused = outcome in ("refused", "outbox")  # an operator must act
        with self._cond:
            failures = self._status.failures + 1
        if refused or outcome == "held":
            log.error("upload failed (%s), next attempt in %.0f s: %s", outcome, wait_s, line,
                      extra={"fields": {"failures": failures}})
        else:
            log.warning("upload failed (%s), next attempt in %.1f s: %s", outcome, wait_s,
                        line, extra={"fields": {"failures": failures}})
        pending = self._pending()
        with self._cond:
            self._status = replace(
                self._status, pending=pending, last_error=f"{outcome}: {line}",
                failures=failures,
                refused=refused, next_attempt=self.clock() + timedelta(seconds=wait_s),
                failed=self._status.failed + 1)
            self._due = time.monotonic() + wait_s
            self._cond.notify_all()


def backoffice_client(url: str, ca_file: Path | str | None, timeout_s: float,
                      agent: str) -> tuple[str, httpx.Client]:
    """The base URL (no trailing slash) and an HTTP client for the back office: with an
    https:// URL it trusts only ``ca_file`` (:func:`pinned_context`); http:// is the demo's
    (the config refuses it outside demo). No proxy or CA from the environment, no redirect,
    no compressed answer, every wait bounded by ``timeout_s``, a connection per exchange.
    Raises :class:`UploaderError`."""
    base = url.rstrip("/")
    if base.startswith("https://"):
        if not ca_file:
            raise UploaderError("backoffice.ca_file: needed with an https:// URL")
        verify_tls: ssl.SSLContext | bool = pinned_context(ca_file)
    elif base.startswith("http://"):
        verify_tls = False  # demo only (the config refuses it outside demo)
    else:
        raise UploaderError(f"backoffice.url: {one_line(url, 80)!r}: not http(s)://")
    client = httpx.Client(
        verify=verify_tls, trust_env=False, follow_redirects=False,
        timeout=httpx.Timeout(connect=timeout_s, read=timeout_s, write=timeout_s,
                              pool=timeout_s),
        # a connection per exchange: no idle connection for a load balancer to cut
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
        headers={"User-Agent": agent, "Accept": "application/json",
                 "Accept-Encoding": "identity"})
    return base, client


def post_bounded(client: httpx.Client, url: str, body: bytes, max_answer: int,
                 total_s: float) -> tuple[int, str, bytes]:
    """POST ``body`` as JSON: (HTTP status, Content-Type, the answer's bytes), the answer read
    up to ``max_answer`` bytes (more is an :class:`AnswerError`) and the whole exchange within
    ``total_s`` (``httpx.ReadTimeout`` past it); a compressed answer is refused."""
    deadline = time.monotonic() + total_s
    with client.stream("POST", url, content=body,
                       headers={"Content-Type": "application/json"}) as resp:
        declared = resp.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_answer):
            raise AnswerError("body", f"Content-Length {one_line(declared, 24)}: more than "
                                      f"{max_answer} bytes")
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise AnswerError("Content-Encoding", f"{one_line(encoding, 24)} (identity was "
                                                  f"asked for)")
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_raw():
            size += len(chunk)
            if size > max_answer:
                raise AnswerError("body", f"more than {max_answer} bytes")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the answer took too long", request=resp.request)
            chunks.append(chunk)
        return resp.status_code, resp.headers.get("content-type", ""), b"".join(chunks)


def transport_problem(exc: httpx.HTTPError) -> str:
    """A connection failure in words; a certificate that is not from the pinned CA (or not for
    the URL's host) says so."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (f"TLS: the back office's certificate is refused (backoffice.ca_file and the "
                    f"URL's host): {one_line(cause.verify_message or str(cause), 200)}")
        cause = cause.__cause__ or cause.__context__
    return f"cannot reach the back office: {type(exc).__name__}: {one_line(str(exc), 200)}"
