"""Adapters: perform the machine's effects on the devices and turn device news into events.

One worker thread per device, each with its own command queue (DESIGN.md): the card reader,
the payment host and the charger never block the runner's thread, and one slow device never
holds up another. Results come back to the runner with :meth:`Runner.post`.

Card data stays in this module's memory: the PAN and the PIN go from the card terminal to the
payment host request and are dropped; the runner and the journal see only the masked PAN and
the keyed token.

Offline PIN: the kernel asks for the PIN from the card worker thread while the card waits
(:data:`~drivers.emv.api.PinEntry`); the adapter posts ``PinRequested`` and blocks that thread on
a per-session :class:`PinWait` until the PIN pad's :meth:`DeviceAdapters.submit_pin` hands the
digits over (then ``PinEntered(offline=True)``), the session cancels the read, or the card
timeout passes. After the host answered, a contact card gets its second GENERATE AC
(:meth:`~drivers.emv.api.CardTerminal.complete`) on the card worker thread, which owns the
reader; a card that refuses an approved hold becomes ``CardDeclined`` (the hold is reversed).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from drivers.acquirer.api import AuthRequest, HostError, HostTimeout, HostUnavailable, PaymentHost
from drivers.acquirer.dukpt import DukptError
from drivers.acquirer.pin import OnlinePin, PinEncryptor
from drivers.charger.api import (
    Charger,
    ChargerError,
    ChargerEvent,
    ChargerFaulted,
    MeterReading,
    PilotState,
    StateChanged,
)
from drivers.emv.api import (
    CardDeclined,
    CardError,
    CardOutcome,
    CardTerminal,
    Completion,
    Cvm,
    Interface,
    PinCancelled,
    PinRequest,
)
from kiosk.security.cards import CardIdentity
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import MSG_CARD_DECLINED

log = logging.getLogger(__name__)

CHARGING_STATES = (PilotState.C, PilotState.D)
COMPLETION_TIMEOUT_S = 10.0  # the second GENERATE AC is a few APDUs; beyond this: card gone
MSG_CARD_GONE = "Your card was removed before the payment was complete."
T = TypeVar("T")


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
        raise PinCancelled("No PIN was entered in time." if timed_out
                           else "PIN entry was cancelled.")


class Worker:
    """One thread that runs submitted jobs in order."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], object]) -> None:
        self._jobs.put(job)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:
                log.exception("device job failed on %s", self._thread.name)

    def stop(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)


class DeviceAdapters:
    def __init__(
        self,
        *,
        post: Callable[[ev.Event], None],
        card_terminal: CardTerminal,
        host: PaymentHost,
        charger: Charger,
        currency: str,
        token_key: bytes,
        clock: Callable[[], datetime],
        card_timeout_s: float = 60.0,
        pin_encryptor: PinEncryptor | None = None,
    ) -> None:
        self.pin_encryptor = pin_encryptor
        self.post = post
        self.card_terminal = card_terminal
        self.host = host
        self.charger = charger
        self.currency = currency
        self.token_key = token_key
        self.clock = clock
        self.card_timeout_s = card_timeout_s
        self._cards: dict[str, CardOutcome] = {}
        self._pins: dict[str, OnlinePin] = {}
        self._cancelled_reads: set[str] = set()  # cancelled before their read began
        self._pin_waits: dict[str, PinWait] = {}  # card reads waiting for an offline PIN
        self._completion_for: str | None = None  # the session whose card waits for complete()
        self._last_state: dict[int, PilotState] = {}
        self._lock = threading.Lock()
        self.card_worker = Worker("kiosk-card")
        self.host_worker = Worker("kiosk-host")
        self.charger_worker = Worker("kiosk-charger")
        for c in charger.connectors:
            self._last_state[c] = charger.status(c).state
        charger.subscribe(self._on_charger_event)

    def close(self) -> None:
        with self._lock:
            waits, self._pin_waits = list(self._pin_waits.values()), {}
        for waiting in waits:
            waiting.cancel()
        self.card_terminal.cancel()
        for w in (self.card_worker, self.host_worker, self.charger_worker):
            w.stop()

    # --- effects ---------------------------------------------------------------------------
    def __call__(self, effect: fx.Effect) -> None:
        match effect:
            case fx.ReadCard():
                self.card_worker.submit(lambda: self._read_card(effect))
            case fx.CancelCardRead():
                with self._lock:
                    if effect.session_id not in self._cards:  # its read is queued or running
                        self._cancelled_reads.add(effect.session_id)
                    waiting = self._pin_waits.pop(effect.session_id, None)
                if waiting is not None:  # the kernel waits for an offline PIN: it gives up
                    waiting.cancel()
                self.card_terminal.cancel()
                self._forget(effect.session_id)
                # a card left waiting for the host's answer gets its refusal (AAC) and is free
                sid = effect.session_id
                self.card_worker.submit(lambda: self._complete_card(sid, False, b""))
            case fx.AskPin():
                pass  # the screen shows the PIN pad because the session is in PIN_ENTRY
            case fx.Authorize():
                self.host_worker.submit(lambda: self._authorize(effect))
            case fx.Increment():
                self.host_worker.submit(lambda: self._increment(effect))
            case fx.Capture():
                self.host_worker.submit(lambda: self._capture(effect))
            case fx.Reverse():
                self.host_worker.submit(lambda: self._reverse(effect))
            case fx.EnableCharger():
                self.charger_worker.submit(lambda: self._enable(effect.connector))
            case fx.DisableCharger():
                self.charger_worker.submit(lambda: self._disable(effect.connector))
            case _:
                log.error("no adapter for effect %s", type(effect).__name__)

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

    def _forget(self, session_id: str) -> None:
        with self._lock:
            self._cards.pop(session_id, None)
            self._pins.pop(session_id, None)

    # --- card ------------------------------------------------------------------------------
    def _read_card(self, e: fx.ReadCard) -> None:
        with self._lock:
            if e.session_id in self._cancelled_reads:  # cancelled while queued: never start
                self._cancelled_reads.discard(e.session_id)
                return
            self._completion_for = None  # a new read: no earlier card can be completed now
        sid = e.session_id

        def pin_entry(req: PinRequest) -> str:
            return self._wait_for_pin(sid, req)

        try:
            outcome = self.card_terminal.read_card(e.amount_minor, self.currency,
                                                   self.card_timeout_s, pin_entry=pin_entry)
            ident = CardIdentity.from_pan(outcome.pan, outcome.expiry, outcome.scheme,
                                          self.token_key)
        except (CardError, ValueError) as exc:
            with self._lock:
                cancelled = e.session_id in self._cancelled_reads
                self._cancelled_reads.discard(e.session_id)
            if not cancelled:
                msg = str(exc) if isinstance(exc, CardError) and str(exc) else ""
                self.post(ev.CardFailed(e.session_id, msg or "The card could not be read.",
                                        declined=isinstance(exc, CardDeclined)))
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
                              needs_online_pin=outcome.cvm is Cvm.ONLINE_PIN))

    def _wait_for_pin(self, session_id: str, req: PinRequest) -> str:
        """The kernel's :data:`PinEntry` (card worker thread): ask the driver, wait."""
        waiting = PinWait()
        with self._lock:
            if session_id in self._cancelled_reads:
                raise PinCancelled("PIN entry was cancelled.")
            self._pin_waits[session_id] = waiting
        # offline=True whatever the kernel calls it: the digits go to the waiting read
        self.post(ev.PinRequested(session_id, offline=True, tries_left=req.tries_left,
                                  wrong=req.wrong))
        try:
            return waiting.wait(self.card_timeout_s)
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
            return Completion(False, MSG_CARD_GONE)
        try:
            return self.card_terminal.complete(approved, issuer_data)
        except Exception:  # the seam says it never raises; a broken one must not keep a hold
            log.exception("card completion failed")
            return Completion(False, MSG_CARD_GONE)

    def _on_card_worker(self, job: Callable[[], T], timeout_s: float) -> T | None:
        """Run ``job`` on the card worker thread (the reader belongs to it) and wait for its
        result; None when it did not finish in time."""
        done = threading.Event()
        box: list[T] = []

        def run() -> None:
            try:
                box.append(job())
            finally:
                done.set()

        self.card_worker.submit(run)
        if not done.wait(timeout_s) or not box:
            return None
        return box[0]

    def _finish_card(self, session_id: str, needs_completion: bool, approved: bool,
                     issuer_data: bytes) -> Completion:
        """From the host worker: complete the card of ``session_id`` on the card worker."""
        if not needs_completion:
            return Completion(approved)
        result = self._on_card_worker(
            lambda: self._complete_card(session_id, approved, issuer_data),
            COMPLETION_TIMEOUT_S)
        if result is None:
            log.error("card completion did not finish in time", extra={
                "fields": {"session": session_id}})
            return Completion(False, MSG_CARD_GONE)
        return result

    # --- host ------------------------------------------------------------------------------
    def _authorize(self, e: fx.Authorize) -> None:
        with self._lock:
            card = self._cards.pop(e.session_id, None)
            pin = self._pins.pop(e.session_id, None)
        if card is None:  # only after a restart, and recovery never re-authorizes
            self.post(ev.HostDeclined(e.session_id, "card", "Please present your card again."))
            return
        needs_completion = card.needs_completion
        req = AuthRequest(ref=e.ref, amount_minor=e.amount_minor, currency=self.currency,
                          pan=card.pan, expiry=card.expiry, icc_data=card.icc_data,
                          pin_block=pin.block if pin else b"", pin_ksn=pin.ksn if pin else b"",
                          entry_mode="071" if card.interface is Interface.CONTACTLESS else "051")
        del card, pin
        try:
            result = self.host.authorize(req)
        except HostUnavailable as exc:  # never reached the host: nothing to reverse
            self._finish_card(e.session_id, needs_completion, False, b"")
            self.post(ev.HostDeclined(e.session_id, "unavailable", str(exc)))
            return
        except HostError:  # timeout or nonsense: the outcome is unknown → reversal
            self._finish_card(e.session_id, needs_completion, False, b"")
            self.post(ev.HostTimedOut(e.session_id))
            return
        finally:
            del req
        done = self._finish_card(e.session_id, needs_completion, result.approved,
                                 result.icc_response)
        if result.approved and not done.approved:  # the card refused what the host allowed
            self.post(ev.CardDeclined(e.session_id, done.message or MSG_CARD_DECLINED))
        elif result.approved:
            self.post(ev.HostApproved(e.session_id, result.auth_code, result.approved_minor))
        else:
            self.post(ev.HostDeclined(e.session_id, result.response_code, result.message))

    def _increment(self, e: fx.Increment) -> None:
        try:
            result = self.host.increment(e.ref, e.amount_minor, e.new_total_minor)
        except HostError as exc:
            self.post(ev.IncrementDeclined(e.session_id, str(exc)))
            return
        if result.approved:
            self.post(ev.IncrementApproved(e.session_id, e.new_total_minor))
        else:
            self.post(ev.IncrementDeclined(e.session_id, result.message))

    def _capture(self, e: fx.Capture) -> None:
        try:
            ack = self.host.complete(e.ref, e.amount_minor)
        except HostError as exc:
            self.post(ev.CaptureFailed(e.session_id, str(exc)))
            return
        if ack.ok:
            self.post(ev.Captured(e.session_id, e.amount_minor))
        else:
            self.post(ev.CaptureFailed(e.session_id, f"{ack.response_code} {ack.message}"))

    def _reverse(self, e: fx.Reverse) -> None:
        self._forget(e.session_id)
        try:
            ack = self.host.reverse(e.ref, e.amount_minor, e.reason)
        except (HostError, HostTimeout) as exc:
            self.post(ev.ReverseFailed(e.session_id, str(exc)))
            return
        if ack.ok:
            self.post(ev.Reversed(e.session_id))
        else:
            self.post(ev.ReverseFailed(e.session_id, f"{ack.response_code} {ack.message}"))

    # --- charger ---------------------------------------------------------------------------
    def _enable(self, connector: int) -> None:
        try:
            self.charger.enable(connector)
        except ChargerError as exc:
            self.post(ev.ChargerFault(connector, str(exc), self.clock()))

    def _disable(self, connector: int) -> None:
        try:
            self.charger.disable(connector)
            status = self.charger.status(connector)
        except ChargerError as exc:
            log.error("disable failed on connector %s: %s", connector, exc)
            return  # the machine's stop timer settles on the last reading
        self.post(ev.ChargingStopped(connector, status.energy_wh, status.at))

    def probe(self, connector: int) -> tuple[bool, int | None]:
        """For recovery: is the connector charging now, and what does its meter say?"""
        status = self.charger.status(connector)
        return status.state in CHARGING_STATES, status.energy_wh

    def _on_charger_event(self, e: ChargerEvent) -> None:
        """Runs on the charger's thread: translate, never block."""
        if isinstance(e, MeterReading):
            self.post(ev.Reading(e.connector, e.energy_wh, e.power_w, e.at))
        elif isinstance(e, ChargerFaulted):
            self.post(ev.ChargerFault(e.connector, e.message, e.at))
        elif isinstance(e, StateChanged):
            before = self._last_state.get(e.connector)
            self._last_state[e.connector] = e.state
            if e.state is PilotState.A:  # first: the reason the charging ends
                self.post(ev.CarUnplugged(e.connector, e.at))
            if e.state in CHARGING_STATES and before not in CHARGING_STATES:
                meter = self.charger.status(e.connector).energy_wh
                self.post(ev.ChargingStarted(e.connector, meter, e.at))
            elif before in CHARGING_STATES and e.state not in CHARGING_STATES:
                meter = self.charger.status(e.connector).energy_wh
                self.post(ev.ChargingStopped(e.connector, meter, e.at))
