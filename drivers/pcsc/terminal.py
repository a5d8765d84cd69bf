"""A :class:`~drivers.emv.api.CardTerminal` on a PC/SC reader: wait for a card, run the kernel
over the transmission layer, release the card."""

from __future__ import annotations

import threading
from datetime import date

from drivers import iso4217
from drivers.emv.api import CardOutcome
from drivers.emv.kernel import read_contactless
from drivers.pcsc.reader import wait_for_card


class PcscCardTerminal:
    def __init__(self, reader_name: str = "", country_numeric: str = "276") -> None:
        self.reader_name = reader_name
        self.country_numeric = country_numeric
        self._cancel = threading.Event()
        self.last_apdus = 0

    def read_card(self, amount_minor: int, currency: str, timeout_s: float) -> CardOutcome:
        self._cancel.clear()
        link = wait_for_card(self.reader_name, timeout_s, self._cancel.is_set)
        try:
            return read_contactless(link.transmit, amount_minor=amount_minor,
                                    currency_numeric=iso4217.NUMERIC.get(currency, "978"),
                                    country_numeric=self.country_numeric, today=date.today())
        finally:
            self.last_apdus = link.apdus
            link.close()

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self._cancel.set()
