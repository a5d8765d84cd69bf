"""The card reader's worker: reads cards, hands offline PINs to the kernel, completes contact
cards after the host answered.

Card data stays in this module's memory: the PAN (and an online PIN block) wait here between
the card read and the authorization request (:meth:`CardDevice.take`) and are dropped; the
runner and the journal see only the masked PAN and the keyed token.

Offline PIN: the kernel asks for the PIN from the card worker thread while the card waits
(:data:`~drivers.emv.api.PinEntry`); the device posts ``PinRequested`` and blocks that thread on
a per-session :class:`PinWait` until the PIN pad's :meth:`CardDevice.submit_pin` hands the
digits over (then ``PinEntered(offline=True)``), the session cancels the read, or the PIN
wait's backstop passes. After the host answered, a contact card gets its second GENERATE AC
(:meth:`~drivers.emv.api.CardTerminal.complete`) on the card worker thread, which owns the
reader (:meth:`CardDevice.finish`).

Stop with the same card: while sessions charge and no driver is using the reader to start one,
the runtime gives the device the charging sessions' card tokens (:meth:`CardDevice.watch_for`);
the card worker then waits for a card and identifies it without a payment
(:meth:`~drivers.emv.api.CardTerminal.identify_card`: selection, GPO, records). Its keyed token
is compared with the sessions' tokens: the same card posts ``StopRequested(by="card")`` for its
session, another card gives :class:`NotTheSameCard` to :attr:`CardDevice.on_notice`. The PAN
is dropped at once; neither it nor the token is logged. A card read for a new session
(:meth:`CardDevice.read`) ends the watch first.

The session decides when a wait for a card or a PIN ends: its deadline, which the driver may
extend (``MoreTime``), ends it with ``CancelCardRead``. The device's own timeouts
(``card_timeout_s`` for a card to be presented, ``pin_timeout_s`` for an offline PIN) are only
a backstop for a runner that stopped ticking: the runtime makes them outlast every extension
(:meth:`~kiosk.session.machine.Policy.longest_wait_s` plus :data:`BACKSTOP_MARGIN_S`). A
backstop that expires posts ``CardFailed`` with ``CARD_TIMEOUT`` or ``PIN_TIMEOUT``.

A read that fails posts ``CardFailed`` with what the driver is told chosen by the exception's
class (:func:`card_say`) and the exception's text as the technician's detail, which is logged
here once (kernel errors name the problem, never card data).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.acquirer.dukpt import DukptError
from drivers.acquirer.pin import OnlinePin, PinEncryptor
from drivers.emv.api import (
    CardBlocked,
    CardDeclined,
    CardError,
    CardNotSupported,
    CardOutcome,
    CardRemoved,
    CardTerminal,
    CardUnreadable,
    Completion,
    ContactRequired,
    Cvm,
    NoCard,
    PinBlocked,
    PinCancelled,
    PinRequest,
    PinTimedOut,
    ReaderUnavailable,
)
from kiosk.devices.worker import Worker
from kiosk.security.cards import CardIdentity, card_token
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.says import Say

log = logging.getLogger(__name__)

CANCEL_REPEAT_S = 0.05  # a cancelled read is cancelled again this often until it ends
CLOSE_WAIT_S = 5.0  # close(): how long a running read is cancelled before the worker is left
COMPLETION_TIMEOUT_S = 10.0  # the second GENERATE AC is a few APDUs; beyond this: card gone
MSG_CARD_GONE = "the card was gone before its final word (removed, replaced or silent)"
IDENTIFY_WAIT_S = 30.0  # one wait for a card while charging; then the watch waits again
IDENTIFY_RETRY_S = 1.0  # after the reader was missing, before looking again
# the device's own waits outlast the session's last possible deadline by this much (a Tick
# and a cancel's way to the worker), so that the session, not the device, ends a wait
BACKSTOP_MARGIN_S = 10.0


# A failed read's exception class → what the driver is told; the first match wins (subclasses
# before their bases). Anything else (another CardError, a ValueError: not a card number) is
# an unreadable card.
CARD_SAYS: tuple[tuple[type[Exception], Say], ...] = (
    (PinBlocked, Say.PIN_BLOCKED),
    (CardDeclined, Say.DECLINED_BY_CARD),
    (PinTimedOut, Say.PIN_TIMEOUT),
    (PinCancelled, Say.CANCELLED),
    (CardRemoved, Say.CARD_REMOVED),
    (NoCard, Say.CARD_TIMEOUT),
    (ReaderUnavailable, Say.READER_UNAVAILABLE),
    (CardNotSupported, Say.CARD_NOT_SUPPORTED),
    (CardBlocked, Say.CARD_BLOCKED),
    (ContactRequired, Say.INSERT_CARD),
    (CardUnreadable, Say.CARD_UNREADABLE),
)


def card_say(exc: Exception) -> Say:
    """What the driver is told of a card read that failed with ``exc``: by its class only."""
    return next((say for cls, say in CARD_SAYS if isinstance(exc, cls)), Say.CARD_UNREADABLE)


def error_detail(exc: Exception) -> str:
    """The technician's detail of ``exc``: its class and its text (which names the problem)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class NotTheSameCard:
    """While charging, a card was presented that started none of the charging sessions.
    Nothing happens to any session; the screen may say so. No card data in here."""

    scheme: str


CardNotice = NotTheSameCard


class PinWait:
    """One card read waiting for the driver's offline PIN: a hand-over between the PIN pad
    (GUI thread) and the kernel (card worker thread). The PIN passes through, never stays."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pin: str | None = None
        self._state = "waiting"  # waiting | given | cancelled | timed_out | taken

    def give(self, pin: str) -> bool:
        """Hand the PIN to the waiting kernel; False when the wait already ended."""
        with self._cond:
            if self._state != "waiting":
                return False
            self._pin, self._state = pin, "given"
            self._cond.notify_all()
            return True

    def cancel(self) -> None:
        with self._cond:
            if self._state == "waiting":
                self._state = "cancelled"
                self._cond.notify_all()

    def wait(self, timeout_s: float) -> str:
        """The PIN, or :class:`PinCancelled` when cancelled or after ``timeout_s``."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while self._state == "waiting":
                left = end - time.monotonic()
                if left <= 0:
                    self._state = "timed_out"
                    break
                self._cond.wait(left)
            if self._state == "given" and self._pin is not None:
                pin, self._pin, self._state = self._pin, None, "taken"
                return pin
            timed_out = self._state == "timed_out"
        if timed_out:
            raise PinTimedOut(f"no PIN entered within {timeout_s:g} s")
        raise PinCancelled("PIN entry was cancelled")


class CardDevice:
    def __init__(self, terminal: CardTerminal, *, post: Callable[[ev.Event], None],
                 currency: str, token_key: bytes, card_timeout_s: float = 60.0,
                 pin_encryptor: PinEncryptor | None = None,
                 pin_timeout_s: float | None = None) -> None:
        self.terminal = terminal
        self.post = post
        self.currency = currency
        self.token_key = token_key
        # backstops (the session's deadline ends a wait first): for a card to be presented,
        # and for each offline PIN (None: the card's)
        self.card_timeout_s = card_timeout_s
        self.pin_timeout_s = card_timeout_s if pin_timeout_s is None else pin_timeout_s
        self.pin_encryptor = pin_encryptor
        self._cards: dict[str, CardOutcome] = {}
        self._pins: dict[str, OnlinePin] = {}
        self._cancelled_reads: set[str] = set()  # cancelled before their read began
        self._pin_waits: dict[str, PinWait] = {}  # card reads waiting for an offline PIN
        self._completion_for: str | None = None  # the session whose card waits for complete()
        self._reading_for: str | None = None  # the session whose read runs now
        self._read_ended = threading.Event()
        self._closing = False  # close() began: no queued read starts
        self._lock = threading.Lock()
        # stop with the same card: the charging sessions' tokens (session id → token)
        self._watched: dict[str, str] = {}
        self._watch_job = False  # the identify loop is queued or runs on the card worker
        self._watch_stop = threading.Event()  # set: the identify loop's wait ends
        self.on_notice: Callable[[CardNotice], None] | None = None
        self.worker = Worker("kiosk-card")

    def close(self) -> None:
        """End the watch and any read, then the worker. A read still queued never starts; a
        running one is cancelled until it has ended (a single cancel is lost when it comes
        before the terminal waits for a card), for at most :data:`CLOSE_WAIT_S`."""
        self._end_watch()
        with self._lock:
            self._closing = True
            waits, self._pin_waits = list(self._pin_waits.values()), {}
        for waiting in waits:
            waiting.cancel()
        self.terminal.cancel()
        end = time.monotonic() + CLOSE_WAIT_S
        while time.monotonic() < end:
            with self._lock:
                if self._reading_for is None:
                    break
            self.terminal.cancel()
            self._read_ended.wait(CANCEL_REPEAT_S)
        self.worker.stop()

    # --- effects ---------------------------------------------------------------------------
    def read(self, e: fx.ReadCard) -> None:
        self._end_watch()  # the card now presented is for this read
        self.worker.submit(lambda: self._read_card(e))

    # --- stop with the same card -------------------------------------------------------------
    def watch_for(self, tokens: dict[str, str]) -> None:
        """The charging sessions (id → card token) a presented card may stop; empty: none
        (or the reader is needed for a new session): the watch ends. From the runner."""
        if not tokens or not hasattr(self.terminal, "identify_card"):
            self._end_watch()
            return
        with self._lock:
            if self._closing:
                return
            self._watched = dict(tokens)
            self._watch_stop.clear()
            start = not self._watch_job
            self._watch_job = True
        if start:
            self.worker.submit(self._watch_loop)

    def _end_watch(self) -> None:
        with self._lock:
            self._watched = {}
            if not self._watch_job:
                return
            self._watch_stop.set()
        self.terminal.cancel()  # a waiting identification looks at its stop now

    def _watch_loop(self) -> None:
        """On the card worker: identify presented cards while sessions are watched."""
        while True:
            with self._lock:
                if not self._watched:
                    self._watch_job = False
                    return
            self._identify_one()

    def _identify_one(self) -> None:
        try:
            card = self.terminal.identify_card(self.currency, IDENTIFY_WAIT_S,
                                               self._watch_stop.is_set)
            token = card_token(card.pan, self.token_key)
        except NoCard:
            return
        except ReaderUnavailable:
            self._watch_stop.wait(IDENTIFY_RETRY_S)
            return
        except (CardError, ValueError) as exc:  # removed, unreadable, not a card number
            log.info("presented card not identified: %s", type(exc).__name__)
            return
        scheme = card.scheme
        del card
        with self._lock:
            session = next((sid for sid, t in self._watched.items()
                            if hmac.compare_digest(t, token)), None)
        del token
        if session is not None:
            log.info("the card that started the session stops it", extra={
                "fields": {"session": session}})
            self.post(ev.StopRequested(session, by="card"))
            return
        log.info("presented card started none of the charging sessions")
        if self.on_notice is not None:
            try:
                self.on_notice(NotTheSameCard(scheme))
            except Exception:
                log.exception("card notice listener failed")

    def cancel_read(self, session_id: str) -> None:
        with self._lock:
            if session_id not in self._cards:  # its read is queued or running
                self._cancelled_reads.add(session_id)
            waiting = self._pin_waits.pop(session_id, None)
            reading = self._reading_for == session_id
        if waiting is not None:  # the kernel waits for an offline PIN: it gives up
            waiting.cancel()
        self.terminal.cancel()
        if reading:  # the read may not wait for a card yet (a cancel would be lost): insist
            threading.Thread(target=self._keep_cancelling, args=(session_id,),
                             name="kiosk-card-cancel", daemon=True).start()
        self.forget(session_id)
        # a card left waiting for the host's answer gets its refusal (AAC) and is free
        self.worker.submit(lambda: self._complete_card(session_id, False, b""))

    def submit_pin(self, session_id: str, pin: str) -> None:
        """From the PIN pad. Offline PIN (a card read waits for it): handed to the kernel, which
        sends it to the card. Online PIN: enciphered at once (ISO 9564 format 4 under the next
        DUKPT key) with the card's PAN; only the PIN block is kept until the authorization is
        sent. The digits are never logged and no reference to them is kept here."""
        with self._lock:
            waiting = self._pin_waits.pop(session_id, None)
            card = self._cards.get(session_id)
        if waiting is not None:
            # posted before the kernel can go on, so the session is back in READING_CARD
            # before the card's verdict (another PinRequested, CardRead or CardFailed) arrives
            self.post(ev.PinEntered(session_id, offline=True))
            if not waiting.give(pin):
                log.info("offline PIN entered after the read gave up", extra={
                    "fields": {"session": session_id}})
            del pin
            return
        if card is None or self.pin_encryptor is None:
            log.warning("PIN entered with no card or no PIN key", extra={
                "fields": {"session": session_id}})
            self.post(ev.Cancelled(session_id))
            return
        try:
            block = self.pin_encryptor.encrypt(pin, card.pan)
        except (ValueError, DukptError) as exc:
            log.error("PIN encipherment failed: %s", type(exc).__name__)
            self.post(ev.Cancelled(session_id))
            return
        finally:
            del pin
        with self._lock:
            self._pins[session_id] = block
        self.post(ev.PinEntered(session_id))

    def take(self, session_id: str) -> tuple[CardOutcome | None, OnlinePin | None]:
        """Hand the card (and its PIN block) over to the authorization; nothing stays here."""
        with self._lock:
            return self._cards.pop(session_id, None), self._pins.pop(session_id, None)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._cards.pop(session_id, None)
            self._pins.pop(session_id, None)

    def finish(self, session_id: str, needs_completion: bool, approved: bool,
               issuer_data: bytes) -> Completion:
        """From the host worker: the card's final word (second GENERATE AC), on the card
        worker that owns the reader."""
        if not needs_completion:
            return Completion(approved)
        result = self.worker.call(
            lambda: self._complete_card(session_id, approved, issuer_data),
            COMPLETION_TIMEOUT_S)
        if result is None:
            log.error("card completion did not finish in time", extra={
                "fields": {"session": session_id}})
            return Completion(False, MSG_CARD_GONE, removed=True)
        return result

    def _keep_cancelling(self, session_id: str) -> None:
        """Cancel ``session_id``'s read until it has ended: a cancel that arrives before the
        terminal waits for a card (the kernel still loading, a slow reader) is not lost."""
        while not self._read_ended.wait(CANCEL_REPEAT_S):
            with self._lock:
                if self._reading_for != session_id:
                    return
            self.terminal.cancel()

    # --- on the card worker ----------------------------------------------------------------
    def _read_card(self, e: fx.ReadCard) -> None:
        with self._lock:
            if self._closing:  # the device is closing: a queued read never starts
                return
            if e.session_id in self._cancelled_reads:  # cancelled while queued: never start
                self._cancelled_reads.discard(e.session_id)
                return
            self._completion_for = None  # a new read: no earlier card can be completed now
            self._reading_for = e.session_id
            self._read_ended.clear()
        try:
            self._run_read(e)
        finally:
            with self._lock:
                self._reading_for = None
            self._read_ended.set()

    def _run_read(self, e: fx.ReadCard) -> None:
        sid = e.session_id

        def pin_entry(req: PinRequest) -> str:
            return self._wait_for_pin(sid, req)

        try:
            outcome = self.terminal.read_card(e.amount_minor, self.currency,
                                              self.card_timeout_s, pin_entry=pin_entry)
            ident = CardIdentity.from_pan(outcome.pan, outcome.expiry, outcome.scheme,
                                          self.token_key)
        except (CardError, ValueError) as exc:
            with self._lock:
                cancelled = e.session_id in self._cancelled_reads
                self._cancelled_reads.discard(e.session_id)
            if not cancelled:
                say, detail = card_say(exc), error_detail(exc)
                quiet = isinstance(exc, CardRemoved | NoCard | PinCancelled)  # the driver's doing
                (log.info if quiet else log.warning)(
                    "card read failed: %s", detail,
                    extra={"fields": {"session": sid, "say": say.value}})
                self.post(ev.CardFailed(sid, detail, declined=isinstance(exc, CardDeclined),
                                        say=say))
            return
        with self._lock:
            self._completion_for = e.session_id if outcome.needs_completion else None
            if e.session_id in self._cancelled_reads:  # the driver gave up meanwhile
                self._cancelled_reads.discard(e.session_id)
                cancelled = True
            else:
                cancelled = False
                self._cards[e.session_id] = outcome
        if cancelled:
            self._complete_card(e.session_id, False, b"")  # we are on the card worker
            return
        self.post(ev.CardRead(e.session_id, ident.masked_pan, ident.token, ident.scheme,
                              needs_online_pin=outcome.cvm is Cvm.ONLINE_PIN,
                              interface=outcome.interface.value))

    def _wait_for_pin(self, session_id: str, req: PinRequest) -> str:
        """The kernel's :data:`PinEntry` (card worker thread): ask the driver, wait."""
        waiting = PinWait()
        with self._lock:
            if session_id in self._cancelled_reads:
                raise PinCancelled("PIN entry was cancelled")
            self._pin_waits[session_id] = waiting
        # offline=True whatever the kernel calls it: the digits go to the waiting read
        self.post(ev.PinRequested(session_id, offline=True, tries_left=req.tries_left,
                                  wrong=req.wrong))
        try:
            return waiting.wait(self.pin_timeout_s)
        finally:
            with self._lock:
                if self._pin_waits.get(session_id) is waiting:
                    del self._pin_waits[session_id]

    def _complete_card(self, session_id: str, approved: bool, issuer_data: bytes) -> Completion:
        """On the card worker: the card's final word, if ``session_id``'s card still waits
        for it. A card that another read replaced, or that was already completed, is gone."""
        with self._lock:
            mine = self._completion_for == session_id
            if mine:
                self._completion_for = None
        if not mine:
            return Completion(False, MSG_CARD_GONE, removed=True)
        try:
            return self.terminal.complete(approved, issuer_data)
        except Exception:  # the seam says it never raises; a broken one must not keep a hold
            log.exception("card completion failed")
            return Completion(False, MSG_CARD_GONE, removed=True)
