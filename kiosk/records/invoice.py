"""Invoices: built when a capture is confirmed, numbered by the journal in the same transaction.

The number is the terminal's own running number (``STATION-00000042``): the journal allocates
it inside the commit that stores the invoice, so a crash during creation leaves neither a gap
nor a reused number (the whole step is rolled back and done again on recovery).

Money on the invoice: every line shows its exact amount rounded once to the minor unit; the
VAT summary rounds each rate's net and gross once; the total is the captured amount
(``Session.final_minor``), the same figure as on the screen and in the uploaded record. Where
the rounded parts do not add up to the total, a "rounding" row says by how much (at most a few
cents, and never hidden).

A member's session (``Session.plan_id``, issue #18): the lines are the full price; an
adjustment named after the plan ("Night plan", ``amount_incl`` negative) is the discount of
:func:`kiosk.billing.plans.discounted` (full rounded minus paid rounded, so the rows add up);
the total is what was paid; the VAT summary is of what was paid (each rate scaled by paid /
full, exact, then rounded once, as for a total capped at the hold). ``plan`` names the plan,
``full_total`` and ``discount`` (``discount_minor``) give the two figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.billing.engine import Cost
from kiosk.billing.member_file import plan_of
from kiosk.billing.money import format_money, from_minor, round_to_minor
from kiosk.billing.plans import discounted
from kiosk.security.invoice_token import invoice_url, sign
from kiosk.session.machine import Session

INVOICE_VERSION = 1
UNITS = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "FLAT": "session"}
NAMES = {"ENERGY": "Energy", "TIME": "Charging time", "PARKING_TIME": "Idle fee",
         "FLAT": "Session fee"}


@dataclass(frozen=True)
class Seller:
    operator: str
    address: str
    station_id: str
    station_name: str


def _dec(value: Decimal, places: int) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def invoice_number(station_id: str, seq: int) -> str:
    return f"{station_id}-{seq:08d}"


def build_invoice(s: Session, cost: Cost, seq: int, *, seller: Seller, connector_label: str,
                  zone: ZoneInfo, key: bytes, base_url: str, tariff_id: str,
                  language: str = "en") -> dict[str, Any]:
    cur = cost.currency
    places = 2 if cur not in ("JPY", "ISK") else 0
    number = invoice_number(seller.station_id, seq)
    total_minor = s.final_minor

    lines = []
    by_rate: dict[str, tuple[Decimal, Decimal]] = {}
    for ln in cost.lines:
        rate = "" if ln.vat is None else format(ln.vat.normalize(), "f")
        lines.append({
            "component": ln.dimension.value, "description": NAMES[ln.dimension.value],
            "unit": UNITS[ln.dimension.value], "unit_price_excl": f"{ln.unit_price:f}",
            "quantity": _dec(ln.quantity, 4), "vat_percent": rate or None,
            "amount_excl": _dec(ln.excl, places), "amount_incl": _dec(ln.incl, places),
        })
        net, gross = by_rate.get(rate, (Decimal(0), Decimal(0)))
        by_rate[rate] = (net + ln.excl, gross + ln.incl)

    adjustments: list[dict[str, str | None]] = []
    if cost.adjustment_excl or cost.adjustment_incl:
        what = "Minimum price" if cost.adjustment_excl > 0 else "Maximum price"
        adjustments.append({"description": what, "amount_excl": _dec(cost.adjustment_excl,
                                                                      places),
                            "amount_incl": _dec(cost.adjustment_incl, places)})
        rate = next(iter(by_rate)) if len(by_rate) == 1 else "mixed"
        net, gross = by_rate.get(rate, (Decimal(0), Decimal(0)))
        by_rate[rate] = (net + cost.adjustment_excl, gross + cost.adjustment_incl)
    plan = plan_of(s)
    price = discounted(cost.total_incl, cur, plan)
    if plan is not None and price.discount_minor:
        adjustments.append({"description": plan.name, "amount_excl": None,
                            "amount_incl": _dec(from_minor(-price.discount_minor, cur),
                                                places)})
    cap_minor = 0
    if total_minor < price.paid_minor:  # capped at the hold: the driver pays the hold
        cap_minor = total_minor - price.paid_minor
        capped = from_minor(cap_minor, cur)
        adjustments.append({"description": "Limited to the amount reserved on the card",
                            "amount_excl": None, "amount_incl": _dec(capped, places)})

    # the VAT summary is of what is paid: when capped at the hold or discounted, every rate is
    # scaled by paid / priced (exact), then rounded once
    scale = Decimal(1)
    if (cap_minor or price.discount_minor) and cost.total_incl > 0:
        scale = from_minor(total_minor, cur) / cost.total_incl
    summary = []
    gross_sum = 0
    for rate, (net0, gross0) in sorted(by_rate.items()):
        net, gross = net0 * scale, gross0 * scale
        net_m, gross_m = round_to_minor(net, cur), round_to_minor(gross, cur)
        gross_sum += gross_m
        summary.append({"vat_percent": rate or None, "net": _fmt(net_m, cur),
                        "vat": _fmt(gross_m - net_m, cur), "gross": _fmt(gross_m, cur)})
    rounding_minor = total_minor - gross_sum
    token = sign(key, seller.station_id, number, s.id, total_minor, cur)
    start = s.charge_started_at or s.created_at
    stop = s.last_reading_at or start
    return {
        "invoice_version": INVOICE_VERSION,
        "number": number,
        "seq": seq,
        "issued_at": s.updated_at.astimezone(zone).isoformat(timespec="seconds"),
        "language": language,  # the driver's: the invoice page opens in it
        "seller": {"operator": seller.operator, "address": seller.address},
        "station_id": seller.station_id,
        "station_name": seller.station_name,
        "connector": s.connector,
        "connector_label": connector_label,
        "session_id": s.id,
        "tariff_id": tariff_id,
        "start": start.astimezone(zone).isoformat(timespec="seconds"),
        "stop": stop.astimezone(zone).isoformat(timespec="seconds"),
        "duration_s": s.duration_s,
        "meter_start_wh": s.meter_start_wh,
        "meter_stop_wh": s.meter_now_wh,
        "energy_wh": s.energy_wh,
        "currency": cur,
        "lines": lines,
        "adjustments": adjustments,
        "vat_summary": summary,
        "rounding": _fmt(rounding_minor, cur) if rounding_minor else None,
        "total": _fmt(total_minor, cur),
        "total_minor": total_minor,
        "plan": None if plan is None else {"id": plan.id, "name": plan.name,
                                           "percent_off": str(plan.percent_off)},
        "full_total": _fmt(price.full_minor, cur),
        "discount": _fmt(price.discount_minor, cur) if price.discount_minor else None,
        "discount_minor": price.discount_minor,
        "masked_pan": s.masked_pan,
        "scheme": s.scheme,
        "auth_code": s.auth_code,
        "held": _fmt(s.held_minor, cur),
        "hold_released": _fmt(max(0, s.held_minor - total_minor), cur),
        "token": token,
        "url": invoice_url(base_url, seller.station_id, number, token),
    }


def _fmt(minor: int, currency: str) -> str:
    return format_money(minor, currency, symbol=False)


InvoiceBuilder = Callable[[int], dict[str, Any]]
