"""A simulated card terminal for the demo and the headless tests: :meth:`present` taps or
inserts a :class:`SimCard`; a waiting :meth:`read_card` runs the real terminal kernel
(:class:`~drivers.emv.transaction.Transaction`) against the card's virtual EMV application in
process: the same selection, ODA, CVM (offline PIN through ``pin_entry``), GENERATE AC and, for a
contact card, issuer authentication and second GENERATE AC in :meth:`complete` as on a real
reader. Only PC/SC is missing. Each card keeps its application (ATC, PIN try counter) across
reads, as a plastic card would. :meth:`identify_card` takes a presented card the same way and
reads only who it is (no payment), as the PC/SC terminal does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from drivers import iso4217
from drivers.emv.api import (
    CardId,
    CardOutcome,
    CardRemoved,
    Completion,
    Interface,
    NoCard,
    PinEntry,
)
from drivers.emv.capk import CaKeyStore
from drivers.sim.cards import SimCard
from drivers.sim.pki import TEST_CA_KEYS_PATH

if TYPE_CHECKING:  # imported at the first read: start-up does not pay for kernel and cards
    from drivers.emv.transaction import TerminalConfig, Transaction
    from drivers.sim.emv_card import EmvCardApp



class SimCardTerminal:
    def __init__(self, read_delay_s: float = 0.0, ca_keys: CaKeyStore | None = None,
                 terminal: TerminalConfig | None = None) -> None:
        self.read_delay_s = read_delay_s
        self.ca_keys = ca_keys if ca_keys is not None else (
            CaKeyStore.load(TEST_CA_KEYS_PATH) if TEST_CA_KEYS_PATH.exists() else CaKeyStore([]))
        self.terminal = terminal
        self._cond = threading.Condition()
        self._card: SimCard | None = None
        self._reading = False
        self._identifying = False
        self._cancelled = False
        self._closed = False
        self.reads = 0
        self.identified = 0  # cards identified (no payment) by identify_card
        self._apps: dict[str, EmvCardApp] = {}
        self._waiting: Transaction | None = None  # a contact card waiting for complete()
        self.last: Transaction | None = None

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
    def available(self) -> bool:
        with self._cond:
            return not self._closed

    @property
    def card_present(self) -> bool:
        """A card is presented and not yet taken by a read."""
        with self._cond:
            return self._card is not None

    @property
    def waiting(self) -> bool:
        """A read is waiting for a card (the demo shows its card buttons then)."""
        with self._cond:
            return self._reading

    def read_card(self, amount_minor: int, currency: str, timeout_s: float,
                  pin_entry: PinEntry | None = None) -> CardOutcome:
        from drivers.emv.transaction import Transaction

        self.complete(False, b"")  # a card left waiting by an abandoned session: its AAC
        with self._cond:
            self._reading, self._cancelled = True, False
            try:
                card, app = self._take(timeout_s, lambda: self._cancelled)
            finally:
                self._reading = False
        self.reads += 1
        if self.read_delay_s:
            time.sleep(self.read_delay_s)
        tx = self.last = Transaction(self._transmit(app), card.interface,
                                     terminal=self.terminal, ca_keys=self.ca_keys,
                                     pin_entry=pin_entry)
        outcome = tx.run(amount_minor, iso4217.NUMERIC.get(currency, "978"))
        with self._cond:
            self._waiting = tx if outcome.needs_completion else None
        return outcome

    def identify_card(self, currency: str, timeout_s: float,
                      cancelled: Callable[[], bool]) -> CardId:
        """Take a presented card (as :meth:`read_card` does) and read who it is, without a
        payment. A card waiting for :meth:`complete` is left alone."""
        from drivers.emv.transaction import identify

        card, app = self._take_to_look(timeout_s, cancelled)
        self.identified += 1
        return identify(self._transmit(app), card.interface, terminal=self.terminal,
                        currency_numeric=iso4217.NUMERIC.get(currency, "978"))

    def inspect_card(self, timeout_s: float, cancelled: Callable[[], bool]
                     ) -> tuple[Transaction, Interface]:
        """A technician's card test: take a presented card (as :meth:`identify_card`) and
        read it as ``kiosk card-info`` does (no GENERATE AC, no PIN)."""
        from drivers.emv.transaction import Transaction

        card, app = self._take_to_look(timeout_s, cancelled)
        tx = Transaction(self._transmit(app), card.interface, terminal=self.terminal,
                         ca_keys=self.ca_keys)
        tx.inspect()
        return tx, card.interface

    def _take_to_look(self, timeout_s: float, cancelled: Callable[[], bool]
                      ) -> tuple[SimCard, EmvCardApp]:
        """Take a presented card for an identification or an inspection (no payment)."""
        with self._cond:
            self._identifying = True
            try:
                return self._take(timeout_s, cancelled)
            finally:
                self._identifying = False

    def _take(self, timeout_s: float, cancelled: Callable[[], bool]
              ) -> tuple[SimCard, EmvCardApp]:
        """Under the lock: wait for a presented card and take it. ``cancelled()`` is asked
        before a card is taken (a card presented for a new session is not taken by a read that
        was cancelled meanwhile); :class:`NoCard` when cancelled, closed or at the timeout."""
        end = time.monotonic() + timeout_s
        while True:
            if cancelled() or self._closed:
                raise NoCard("The card read was cancelled.")
            if self._card is not None:
                break
            left = end - time.monotonic()
            if left <= 0:
                raise NoCard("No card was presented.")
            self._cond.wait(left)
        card, self._card = self._card, None
        return card, self._app(card)

    def _app(self, card: SimCard) -> EmvCardApp:
        from drivers.sim.emv_card import EmvCardApp

        if card.name not in self._apps:
            self._apps[card.name] = EmvCardApp(card)
        return self._apps[card.name]

    @staticmethod
    def _transmit(app: EmvCardApp) -> Callable[[bytes], bytes]:
        from drivers.emv.transmit import transmit
        from drivers.sim.emv_card import CardLeft

        def raw(apdu: bytes) -> bytes:
            try:
                return app.apdu(apdu)
            except CardLeft:
                raise CardRemoved("The card was removed too early. Please try again.") from None

        return lambda apdu: transmit(raw, apdu)

    def complete(self, approved: bool, issuer_data: bytes) -> Completion:
        with self._cond:
            tx, self._waiting = self._waiting, None
        if tx is None:
            return Completion(approved)
        return tx.complete(approved, issuer_data)

    def cancel(self) -> None:
        """Abort a waiting read (it raises :class:`NoCard`); no effect when none waits. A
        waiting :meth:`identify_card` looks at its ``cancelled`` again."""
        with self._cond:
            if self._reading:
                self._cancelled = True
            if self._reading or self._identifying:
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """The simulated reader is back (after :meth:`close`)."""
        with self._cond:
            self._closed = False
