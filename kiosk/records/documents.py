"""The documents a session produces for the driver and the back office, built from the same
charging periods and the same ``final_minor``: the session record, the invoice (numbered by
the journal inside the commit that stores it) and the OCPI CDR."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kiosk.billing.cdr import dumps as cdr_dumps
from kiosk.billing.cdr import session_cdr, with_plan
from kiosk.billing.live import LivePricer, TariffBook
from kiosk.billing.member_file import plan_of
from kiosk.config import KioskConfig
from kiosk.records.invoice import Seller, build_invoice
from kiosk.records.record import session_record
from kiosk.session.machine import Session

MISSING_BACKOFFICE = "https://backoffice.invalid"


class Documents:
    def __init__(self, config: KioskConfig, book: TariffBook, invoice_key: bytes) -> None:
        self.config = config
        self.book = book
        self.invoice_key = invoice_key
        st = config.station
        self.seller = Seller(st.operator, st.address, st.id, st.name)
        self.labels = {c.id: c.label for c in config.connectors}
        self.base_url = config.backoffice.invoice_base() or MISSING_BACKOFFICE

    def _pricer(self, s: Session) -> LivePricer:
        return self.book.for_start(s.marks[0].at if s.marks else s.created_at)

    def record(self, s: Session) -> dict[str, Any]:
        discount = self.book.plan_price(s).discount_minor if s.plan_id and s.marks else 0
        return session_record(s, station_id=self.config.station.id,
                              currency=self.config.station.currency,
                              timezone=self.config.station.timezone or "UTC",
                              discount_minor=discount)

    def invoice_for(self, s: Session) -> Callable[[int], dict[str, Any]]:
        """How to build ``s``'s invoice once the journal has given it a number."""
        pricer = self._pricer(s)
        cost = pricer.cost(s)
        return lambda seq: build_invoice(
            s, cost, seq, seller=self.seller, connector_label=self.labels.get(s.connector, ""),
            zone=self.book.zone, key=self.invoice_key, base_url=self.base_url,
            tariff_id=pricer.tariff.id,
            language=s.language or self.config.ui.language)

    def captured_records(self, s: Session) -> list[tuple[str, dict[str, Any]]]:
        """The OCPI CDR of a captured session (a member's: its total is what was paid)."""
        st = self.config.station
        pricer = self._pricer(s)
        start = s.charge_started_at or s.created_at
        cost = pricer.cost(s)
        cdr = session_cdr(
            session_id=s.id, country_code=st.country_code, party_id=st.party_id,
            station_id=st.id, station_name=st.name, address=st.address,
            connector=s.connector, start=start, end=s.last_reading_at or start,
            periods=pricer.periods(s), cost=cost, tariff=pricer.tariff,
            token=s.token, masked_pan=s.masked_pan, auth_code=s.auth_code,
            meter_start_wh=s.meter_start_wh, meter_stop_wh=s.meter_now_wh, invoice_number="")
        return [("cdr", json.loads(cdr_dumps(with_plan(cdr, cost, plan_of(s)))))]
