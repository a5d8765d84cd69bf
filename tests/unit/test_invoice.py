"""Invoice content: lines, VAT summary, adjustments, the hold cap, and the rounding row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.billing.live import LivePricer
from kiosk.billing.tariff import parse_tariff
from kiosk.records.invoice import Seller, build_invoice
from kiosk.security.invoice_token import verify
from kiosk.session.machine import Mark, Outcome, Session, State

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
KEY = bytes(range(32))
SELLER = Seller("Open EV Kiosk", "Musterstrasse 1", "ST-1", "Test station")


def invoice(tariff: dict[str, Any], wh: int, minutes: int = 60, held: int = 5000,
            final: int | None = None) -> dict[str, Any]:
    t = parse_tariff(json.dumps({"currency": "EUR", **tariff}))
    pricer = LivePricer(t, BERLIN)
    end = T0 + timedelta(minutes=minutes)
    s = Session("sess", 2, State.RECEIPT, T0, end, seq=9, masked_pan="476173******0119",
                token="tok", scheme="visa", auth_code="123456", held_minor=held,
                charge_started_at=T0, meter_start_wh=10_000, meter_now_wh=10_000 + wh,
                last_reading_at=end, marks=(Mark(T0, 10_000, 11_000, True),),
                outcome=Outcome.CAPTURED)
    cost = pricer.cost(s)
    final_minor = min(cost.total_incl_minor, held) if final is None else final
    s = Session(**{**s.__dict__, "final_minor": final_minor})
    return build_invoice(s, cost, 42, seller=SELLER, connector_label="Left", zone=BERLIN,
                         key=KEY, base_url="https://bo.example/", tariff_id=t.id)


def comp(kind: str, price: float, vat: float | None = 19, step: int = 1) -> dict[str, Any]:
    c: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        c["vat"] = vat
    return c


def test_content_and_signed_url() -> None:
    inv = invoice({"elements": [{"price_components": [comp("FLAT", 1.0, 19),
                                                      comp("ENERGY", 0.5, 19)]}]}, 12_345)
    assert inv["number"] == "ST-1-00000042" and inv["seq"] == 42
    assert (inv["station_id"], inv["connector"], inv["connector_label"]) == ("ST-1", 2, "Left")
    assert inv["seller"] == {"operator": "Open EV Kiosk", "address": "Musterstrasse 1"}
    assert (inv["meter_start_wh"], inv["meter_stop_wh"], inv["energy_wh"]) == (
        10_000, 22_345, 12_345)
    assert inv["start"] == "2026-11-25T10:00:00+01:00" and inv["duration_s"] == 3600
    assert [(ln["component"], ln["quantity"], ln["amount_excl"]) for ln in inv["lines"]] == [
        ("FLAT", "1.0000", "1.00"), ("ENERGY", "12.3450", "6.17")]
    # 1.00 + 6.1725 = 7.1725 net, x 1.19 = 8.535275 gross: rounded once each
    assert inv["vat_summary"] == [{"vat_percent": "19", "net": "7.17", "vat": "1.37",
                                   "gross": "8.54"}]
    assert inv["total"] == "8.54" and inv["total_minor"] == 854 and inv["rounding"] is None
    assert inv["hold_released"] == "41.46" and inv["masked_pan"] == "476173******0119"
    assert inv["url"] == f"https://bo.example/i/ST-1/ST-1-00000042?t={inv['token']}"
    assert verify(KEY, inv["token"], "ST-1", inv["number"], "sess", 854, "EUR")


def test_two_vat_rates_and_a_rounding_row() -> None:
    inv = invoice({"elements": [{"price_components": [comp("FLAT", 0.5, 20),
                                                      comp("ENERGY", 0.25, 10)]}]}, 20_000)
    rates = {r["vat_percent"]: r for r in inv["vat_summary"]}
    assert rates["20"]["gross"] == "0.60" and rates["10"]["gross"] == "5.50"
    assert inv["total"] == "6.10" and inv["rounding"] is None
    odd = invoice({"elements": [{"price_components": [comp("FLAT", 0.005, 20),
                                                      comp("ENERGY", 0.005, 10)]}]}, 1_000)
    # 0.006 + 0.0055 = 0.0115 → 0.01 total; per rate 0.01 + 0.01 = 0.02: the row says -0.01
    assert odd["total"] == "0.01" and odd["rounding"] == "-0.01"


def test_minimum_price_and_unknown_vat() -> None:
    inv = invoice({"min_price": {"excl_vat": 2}, "elements": [
        {"price_components": [comp("ENERGY", 0.4, None)]}]}, 1_000)
    assert inv["adjustments"] == [{"description": "Minimum price", "amount_excl": "1.60",
                                   "amount_incl": "1.60"}]
    assert inv["vat_summary"] == [{"vat_percent": None, "net": "2.00", "vat": "0.00",
                                   "gross": "2.00"}]
    assert inv["total"] == "2.00"


def test_capped_at_the_hold() -> None:
    inv = invoice({"elements": [{"price_components": [comp("ENERGY", 1.0, 19)]}]}, 60_000,
                  held=5000)
    assert inv["total"] == "50.00" and inv["hold_released"] == "0.00"
    assert inv["adjustments"][-1]["amount_incl"] == str(Decimal("50.00") - Decimal("71.40"))
    # the VAT summary is of the 50.00 paid: 42.02 net + 7.98 VAT
    assert inv["vat_summary"] == [{"vat_percent": "19", "net": "42.02", "vat": "7.98",
                                   "gross": "50.00"}]
    assert inv["rounding"] is None
