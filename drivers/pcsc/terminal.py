"""A :class:`~drivers.emv.api.CardTerminal` on a PC/SC reader: wait for a card, tell contact
from contactless by its ATR, run the kernel over the transmission layer, and keep a contact card
until the host answered (second GENERATE AC in :meth:`PcscCardTerminal.complete`).

:meth:`PcscCardTerminal.identify_card` reads who a card is without a payment; a card that a
read or an identification has used must leave the reader (or the field) before another is
identified, so a card left inserted, or held on the reader, is not taken for a new tap."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from drivers import iso4217
from drivers.emv.api import (
    CardId,
    CardOutcome,
    Completion,
    Interface,
    NoCard,
    PinEntry,
    ReaderUnavailable,
)
from drivers.emv.capk import CaKeyStore
from drivers.emv.transaction import TerminalConfig, Transaction, identify
from drivers.pcsc.reader import CardLink, ReaderWatch, reader_state, wait_for_card

POLL_S = 0.1  # how often a card that must leave first is looked for


def _wait(end: float, cancelled: Callable[[], bool], done: Callable[[], bool]) -> None:
    """Poll until ``done()``; :class:`NoCard` when cancelled or at ``end`` first."""
    while not done():
        if cancelled():
            raise NoCard("The card read was cancelled.")
        if time.monotonic() > end:
            raise NoCard("No card was presented.")
        time.sleep(POLL_S)


def is_contactless(atr: bytes) -> bool:
    """PC/SC Part 3 pseudo-ATR of a contactless card: ``3B 8n 80 01 ...``."""
    return len(atr) >= 4 and atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2:4] == b"\x80\x01"


class PcscCardTerminal:
    def __init__(self, reader_name: str = "", terminal: TerminalConfig | None = None,
                 ca_keys: CaKeyStore | None = None) -> None:
        self.reader_name = reader_name
        self.terminal = terminal or TerminalConfig()
        self.ca_keys = ca_keys or CaKeyStore([])
        self._cancel = threading.Event()
        self._pending: tuple[Transaction, CardLink] | None = None
        self.last_apdus = 0
        self.last_protocol = ""  # what pcscd negotiated with the last card: "T=0" or "T=1"
        self.last: Transaction | None = None  # for benchmarks and card-info: the last kernel run
        self._watch: ReaderWatch | None = None
        self._card_used = False  # the card in the reader was read: it must leave first

    @property
    def available(self) -> bool:
        """The reader is there (pcscd up, reader plugged in); watched from the first ask on."""
        if self._watch is None:
            self._watch = ReaderWatch(self.reader_name, poll_s=1.0)
        return self._watch.reader_present

    @property
    def card_present(self) -> bool | None:
        """A card sits in (or on) the reader; None before the reader was first watched."""
        return None if self._watch is None else self._watch.card_present

    @property
    def waits_for_removal(self) -> bool:
        """The card last read or identified must leave before another is identified."""
        return self._card_used

    def read_card(self, amount_minor: int, currency: str, timeout_s: float,
                  pin_entry: PinEntry | None = None) -> CardOutcome:
        self.complete(False, b"")  # a card still waiting from an abandoned session: AAC
        self._cancel.clear()
        link = wait_for_card(self.reader_name, timeout_s, self._cancel.is_set)
        self._card_used = True
        interface = Interface.CONTACTLESS if is_contactless(link.atr) else Interface.CONTACT
        tx = self.last = Transaction(link.transmit, interface, terminal=self.terminal,
                                     ca_keys=self.ca_keys, pin_entry=pin_entry)
        try:
            outcome = tx.run(amount_minor, iso4217.NUMERIC.get(currency, "978"))
        except BaseException:
            self._release(link)
            raise
        if outcome.needs_completion:
            self._pending = (tx, link)
        else:
            self._release(link)
        return outcome

    def identify_card(self, currency: str, timeout_s: float,
                      cancelled: Callable[[], bool]) -> CardId:
        end = time.monotonic() + timeout_s
        if self._pending is not None:  # a card waits for the host's answer: not ours to touch
            _wait(end, cancelled, lambda: False)
        if self._card_used:
            self._wait_until_empty(end, cancelled)
        link = wait_for_card(self.reader_name, max(0.0, end - time.monotonic()), cancelled)
        self._card_used = True
        interface = Interface.CONTACTLESS if is_contactless(link.atr) else Interface.CONTACT
        try:
            return identify(link.transmit, interface, terminal=self.terminal,
                            currency_numeric=iso4217.NUMERIC.get(currency, "978"))
        finally:
            link.close()

    def inspect_card(self, timeout_s: float, cancelled: Callable[[], bool]
                     ) -> tuple[Transaction, Interface]:
        """A technician's card test: a presented card read as ``kiosk card-info`` reads it
        (selection, GPO, records, offline data authentication; no GENERATE AC, no PIN)."""
        end = time.monotonic() + timeout_s
        if self._card_used:
            self._wait_until_empty(end, cancelled)
        link = wait_for_card(self.reader_name, max(0.0, end - time.monotonic()), cancelled)
        self._card_used = True
        interface = Interface.CONTACTLESS if is_contactless(link.atr) else Interface.CONTACT
        tx = Transaction(link.transmit, interface, terminal=self.terminal, ca_keys=self.ca_keys)
        try:
            tx.inspect()
        finally:
            link.close()
        return tx, interface

    def _wait_until_empty(self, end: float, cancelled: Callable[[], bool]) -> None:
        """Until the card a read or an identification used has left the reader."""

        def empty() -> bool:
            there, card = reader_state(self.reader_name)
            if not there:
                raise ReaderUnavailable(f"No card reader matching {self.reader_name!r}.")
            return not card

        _wait(end, cancelled, empty)
        self._card_used = False

    def complete(self, approved: bool, issuer_data: bytes) -> Completion:
        pending, self._pending = self._pending, None
        if pending is None:
            return Completion(approved)
        tx, link = pending
        try:
            return tx.complete(approved, issuer_data)
        finally:
            self._release(link)

    def _release(self, link: CardLink) -> None:
        self.last_apdus, self.last_protocol = link.apdus, link.protocol
        link.close()

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self._cancel.set()
        self.complete(False, b"")
        if self._watch is not None:
            self._watch.stop()
