"""A simulated card terminal: :meth:`present` taps a :class:`SimCard`; a waiting
:meth:`read_card` takes it and returns its outcome (or fails as the card is told to).

v0, no real kernel: a card whose CVM is offline PIN has its PIN asked through ``pin_entry``
and compared here (a wrong PIN costs a try; the try counter lives per card in the terminal, as
it would on the card, and a right PIN resets it); a contact card then waits for
:meth:`complete`, which agrees with the host unless the card is told to decline at the end
(``declines_at_completion``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from datetime import date

from drivers.emv.api import (
    CardOutcome,
    CardRemoved,
    CardUnreadable,
    Completion,
    Cvm,
    Interface,
    NoCard,
    PinEntry,
    PinRequest,
)
from drivers.sim.cards import SimCard
from drivers.sim.cryptogram import card_icc_data


class SimCardTerminal:
    def __init__(self, read_delay_s: float = 0.0) -> None:
        self.read_delay_s = read_delay_s
        self._cond = threading.Condition()
        self._card: SimCard | None = None
        self._reading = False
        self._cancelled = False
        self._closed = False
        self.reads = 0
        self._atc: dict[str, int] = {}  # application transaction counter per card
        self._pin_tries: dict[str, int] = {}  # offline PIN try counter per card
        self._waiting: SimCard | None = None  # a contact card waiting for complete()

    def present(self, card: SimCard) -> None:
        """A card is tapped or inserted. It stays until a read takes it or it is removed."""
        with self._cond:
            self._card = card
            self._cond.notify_all()

    def remove(self) -> None:
        with self._cond:
            self._card = None
            self._cond.notify_all()

    @property
    def waiting(self) -> bool:
        """A read is waiting for a card (the demo shows its card buttons then)."""
        with self._cond:
            return self._reading

    def read_card(self, amount_minor: int, currency: str, timeout_s: float,
                  pin_entry: PinEntry | None = None) -> CardOutcome:
        end = time.monotonic() + timeout_s
        with self._cond:
            self._waiting = None  # a new read: an earlier card can no longer be completed
            self._reading, self._cancelled = True, False
            try:
                while self._card is None:
                    left = end - time.monotonic()
                    if self._cancelled or self._closed:
                        raise NoCard("The card read was cancelled.")
                    if left <= 0:
                        raise NoCard("No card was presented.")
                    self._cond.wait(left)
                card, self._card = self._card, None
            finally:
                self._reading = False
        self.reads += 1
        if self.read_delay_s:
            time.sleep(self.read_delay_s)
        if card.behaviour == "removed":
            raise CardRemoved("The card was removed too early. Please try again.")
        if card.behaviour == "garbage":
            raise CardUnreadable("This card cannot be read. Please try another card.")
        if card.cvm is Cvm.OFFLINE_PIN:
            self._verify_offline_pin(card, pin_entry)  # raises when it fails or is cancelled
        contact = card.interface is Interface.CONTACT
        with self._cond:
            atc = self._atc[card.name] = self._atc.get(card.name, 0x20) + 1
            self._waiting = card if contact else None
        icc = card_icc_data(card.pan, card.psn, atc, amount_minor, currency,
                            secrets.token_bytes(4), date.today())
        return CardOutcome(pan=card.pan, expiry=card.expiry, scheme=card.scheme,
                           interface=card.interface, cvm=card.cvm, icc_data=icc,
                           pan_sequence=card.psn, needs_completion=contact)

    def _verify_offline_pin(self, card: SimCard, pin_entry: PinEntry | None) -> None:
        """The card's VERIFY: ask the driver until the PIN is right or no try is left."""
        if pin_entry is None:
            raise CardUnreadable("This card needs a PIN, which this terminal cannot ask for.")
        expected = card.offline_pin or card.pin
        initial = card.pin_tries
        wrong = False
        while True:
            with self._cond:
                tries = self._pin_tries.get(card.name, initial)
            if tries <= 0:
                raise CardUnreadable("PIN tries exceeded")
            pin = pin_entry(PinRequest(offline=True, tries_left=tries, wrong=wrong))
            ok = hmac.compare_digest(pin.encode(), expected.encode())
            del pin
            with self._cond:
                self._pin_tries[card.name] = initial if ok else tries - 1
            if ok:
                return
            wrong = True

    def complete(self, approved: bool, issuer_data: bytes) -> Completion:
        """The second GENERATE AC of the contact card the last read left waiting: a TC when
        the host approved (and the card is not told to decline then), else an AAC."""
        with self._cond:
            card, self._waiting = self._waiting, None
        if card is None:
            return Completion(approved)
        if approved and getattr(card, "declines_at_completion", False):
            return Completion(False, "Your card declined the payment.")
        return Completion(approved, "" if approved else "The payment was declined.")

    def cancel(self) -> None:
        """Abort a waiting read (it raises :class:`NoCard`); no effect when none waits."""
        with self._cond:
            if self._reading:
                self._cancelled = True
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
