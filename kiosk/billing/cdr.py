"""OCPI 2.2.1 CDRs: reading the charging periods of a CPO's CDR (to price it), and writing the
CDR of a kiosk session (queued for the back office with the invoice).

Reading is lenient about what it does not use (a real CDR carries tokens, locations, signed
data...) and strict about what it prices: timestamps, dimensions and volumes are checked, and
a bad one is a :class:`CdrError` naming its JSON path. Numbers are read as exact decimals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.billing.engine import ZERO, Cost, Period, hours, price_periods
from kiosk.billing.money import from_minor, round_to_minor
from kiosk.billing.tariff import Tariff

DIMENSIONS = {"CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT",
              "MIN_CURRENT", "MAX_POWER", "MIN_POWER", "PARKING_TIME", "POWER",
              "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME"}


class CdrError(ValueError):
    """A CDR that cannot be priced. The message starts with the JSON path."""


@dataclass(frozen=True)
class ParsedCdr:
    start: datetime
    end: datetime
    currency: str | None
    periods: list[Period]


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise CdrError(f"{where}: expected a timestamp string")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise CdrError(f"{where}: {value[:40]!r} is not an ISO 8601 timestamp") from None
    if t.tzinfo is None:  # OCPI timestamps are UTC; the Z is often left out
        t = t.replace(tzinfo=UTC)
    return t


def _volume(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise CdrError(f"{where}: expected a number")
    v = Decimal(value)
    if not v.is_finite() or v < 0:
        raise CdrError(f"{where}: expected a finite number of at least 0")
    return v


def parse_cdr(text: str | bytes) -> ParsedCdr:
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CdrError(f"$: not valid JSON: {exc}") from None
    except RecursionError:
        raise CdrError("$: nested too deeply") from None
    if not isinstance(data, dict):
        raise CdrError("$: a CDR is a JSON object")
    start = _time(data.get("start_date_time"), "$.start_date_time")
    end = _time(data.get("end_date_time"), "$.end_date_time")
    if end < start:
        raise CdrError("$.end_date_time: before start_date_time")
    currency = data.get("currency")
    if currency is not None and not isinstance(currency, str):
        raise CdrError("$.currency: expected a string")
    raw = data.get("charging_periods")
    if not isinstance(raw, list) or not raw:
        raise CdrError("$.charging_periods: expected a non-empty list")
    starts: list[datetime] = []
    dims: list[dict[str, Decimal]] = []
    for i, p in enumerate(raw):
        where = f"$.charging_periods[{i}]"
        if not isinstance(p, dict):
            raise CdrError(f"{where}: expected an object")
        at = _time(p.get("start_date_time"), f"{where}.start_date_time")
        if starts and at < starts[-1]:
            raise CdrError(f"{where}.start_date_time: before the previous period")
        if at < start or at > end:
            raise CdrError(f"{where}.start_date_time: outside the session")
        d = p.get("dimensions")
        if not isinstance(d, list) or not d:
            raise CdrError(f"{where}.dimensions: expected a non-empty list")
        values: dict[str, Decimal] = {}
        for j, dim in enumerate(d):
            dw = f"{where}.dimensions[{j}]"
            if not isinstance(dim, dict):
                raise CdrError(f"{dw}: expected an object")
            kind = dim.get("type")
            if kind not in DIMENSIONS:
                raise CdrError(f"{dw}.type: unknown dimension {str(kind)[:30]!r}")
            values[str(kind)] = _volume(dim.get("volume"), f"{dw}.volume")
        starts.append(at)
        dims.append(values)
    periods = []
    for v, at in zip(dims, starts, strict=True):
        periods.append(Period(
            at, energy_kwh=v.get("ENERGY", v.get("ENERGY_IMPORT", ZERO)),
            time_h=v.get("TIME", ZERO), parking_h=v.get("PARKING_TIME", ZERO),
            current_a=v.get("CURRENT", v.get("MAX_CURRENT", v.get("MIN_CURRENT"))),
            power_kw=v.get("POWER", v.get("MAX_POWER", v.get("MIN_POWER")))))
    return ParsedCdr(start, end, currency, periods)


def _no_constant(name: str) -> Any:
    raise CdrError(f"$: {name} is not a number")


def _money(value: Decimal, currency: str) -> Decimal:
    return from_minor(round_to_minor(value, currency), currency)


def _price(excl: Decimal, incl: Decimal, currency: str) -> dict[str, Decimal]:
    return {"excl_vat": _money(excl, currency), "incl_vat": _money(incl, currency)}


def price_cdr(tariff: Tariff, cdr: ParsedCdr, zone: ZoneInfo) -> Cost:
    if cdr.currency is not None and cdr.currency != tariff.currency:
        raise CdrError(f"$.currency: the CDR is in {cdr.currency[:8]}, the tariff in "
                       f"{tariff.currency}")
    return price_periods(tariff, cdr.periods, zone)


def totals(cost: Cost) -> dict[str, Any]:
    """The OCPI CDR totals of a priced session (money rounded once, half up)."""
    c = cost.currency
    return {
        "currency": c,
        "total_cost": _price(cost.total_excl, cost.total_incl, c),
        "total_fixed_cost": _price(cost.fixed.excl, cost.fixed.incl, c),
        "total_energy": cost.total_energy_kwh.quantize(Decimal("0.001")),
        "total_energy_cost": _price(cost.energy.excl, cost.energy.incl, c),
        "total_time": cost.total_time_h.quantize(Decimal("0.0001")),
        "total_time_cost": _price(cost.time.excl, cost.time.incl, c),
        "total_parking_time": cost.total_parking_h.quantize(Decimal("0.0001")),
        "total_parking_cost": _price(cost.parking.excl, cost.parking.incl, c),
    }


def dumps(data: Any) -> str:
    """JSON with exact decimals written as JSON numbers."""
    return json.dumps(_plain(data), indent=2, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        as_int = value == value.to_integral_value()
        return int(value) if as_int and value.as_tuple().exponent == 0 else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def session_cdr(*, session_id: str, country_code: str, party_id: str, station_id: str,
                station_name: str, address: str, connector: int, start: datetime,
                end: datetime, periods: Sequence[Period], cost: Cost, tariff: Tariff,
                token: str, masked_pan: str, auth_code: str, meter_start_wh: int,
                meter_stop_wh: int, invoice_number: str = "") -> dict[str, Any]:
    """The OCPI 2.2.1 CDR of one kiosk session, with exact numbers (see :func:`dumps`)."""
    out_periods = []
    for i, p in enumerate(periods):
        nxt = periods[i + 1].start if i + 1 < len(periods) else end
        dims = [{"type": "ENERGY", "volume": p.energy_kwh.quantize(Decimal("0.001"))}]
        span = hours(nxt - p.start).quantize(Decimal("0.0001"))
        dims.append({"type": "TIME" if p.parking_h == 0 else "PARKING_TIME", "volume": span})
        if p.power_kw is not None:
            dims.append({"type": "MAX_POWER", "volume": p.power_kw})
        out_periods.append({"start_date_time": _utc(p.start), "dimensions": dims,
                            "tariff_id": tariff.id})
    cdr: dict[str, Any] = {
        "country_code": country_code, "party_id": party_id, "id": session_id,
        "start_date_time": _utc(start), "end_date_time": _utc(end),
        "session_id": session_id,
        "cdr_token": {"country_code": country_code, "party_id": party_id, "uid": token,
                      "type": "AD_HOC_USER", "contract_id": masked_pan},
        "auth_method": "COMMAND",
        "authorization_reference": auth_code,
        "cdr_location": {"id": station_id, "name": station_name, "address": address,
                         "evse_uid": f"{station_id}-{connector}",
                         "connector_id": str(connector)},
        "meter_id": station_id,
        "currency": cost.currency,
        "tariffs": [tariff.model_dump(mode="json", exclude_none=True)],
        "charging_periods": out_periods,
        "invoice_reference_id": invoice_number,
        "last_updated": _utc(end),
        "meter_start_wh": meter_start_wh,
        "meter_stop_wh": meter_stop_wh,
    }
    cdr.update(totals(cost))  # no signed_data: the v0 meters give no OCMF (charger issue)
    return cdr


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
