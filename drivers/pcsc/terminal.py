"""A :class:`~drivers.emv.api.CardTerminal` on a PC/SC reader: wait for a card, run the kernel
over the transmission layer, release the card."""

from __future__ import annotations

import threading
from datetime import date

from drivers.emv.api import CardOutcome
from drivers.emv.kernel import read_contactless
from drivers.pcsc.reader import wait_for_card

CURRENCY_NUMERIC = {"EUR": "978", "CHF": "756", "GBP": "826", "USD": "840", "SEK": "752",
                    "NOK": "578", "DKK": "208", "PLN": "985", "CZK": "203", "HUF": "348"}


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
                                    currency_numeric=CURRENCY_NUMERIC.get(currency, "978"),
                                    country_numeric=self.country_numeric, today=date.today())
        finally:
            self.last_apdus = link.apdus
            link.close()

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self._cancel.set()
