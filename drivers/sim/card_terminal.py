"""A simulated card terminal: :meth:`present` taps a :class:`SimCard`; a waiting
:meth:`read_card` takes it and returns its outcome (or fails as the card is told to)."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import date

from drivers.emv.api import CardOutcome, CardRemoved, CardUnreadable, NoCard
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

    def read_card(self, amount_minor: int, currency: str, timeout_s: float) -> CardOutcome:
        end = time.monotonic() + timeout_s
        with self._cond:
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
        with self._cond:
            atc = self._atc[card.name] = self._atc.get(card.name, 0x20) + 1
        icc = card_icc_data(card.pan, card.psn, atc, amount_minor, currency,
                            secrets.token_bytes(4), date.today())
        return CardOutcome(pan=card.pan, expiry=card.expiry, scheme=card.scheme,
                           interface=card.interface, cvm=card.cvm, icc_data=icc,
                           pan_sequence=card.psn)

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
