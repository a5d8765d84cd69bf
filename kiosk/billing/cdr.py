"""OCPI 2.2.1 CDRs: reading the charging periods of a CPO's CDR (to price it), and writing the
CDR of a kiosk session (queued for the back office with the invoice).

Reading is lenient about what it does not use (a real CDR carries tokens, locations, signed
data...) and strict about what it prices: timestamps, dimensions and volumes are checked, and
a bad one is a :class:`CdrError` naming its JSON path. Numbers are read as exact decimals.

OCPI prices the charging periods, so the periods are what is priced, also where they do not
agree with the CDR's own ``start_date_time`` / ``end_date_time``: CPOs align periods to tariff
boundaries, so a real CDR's first period may start at the full hour before the session. Such
a mismatch is a warning (:attr:`ParsedCdr.warnings`, shown by ``kiosk price``), not an error.
What is refused, because no price could be meant by it:

* a timestamp outside 2000-01-01 .. 2100-01-01 (UTC), or a session longer than
  :data:`MAX_SESSION` (366 days);
* a period that starts before the previous one (periods are in order);
* a period that starts more than :data:`SLACK` (24 h: a daily tariff boundary) before the
  session start or after the session end;
* a period whose TIME and PARKING_TIME last longer than the time until the next period starts,
  beyond :data:`OVERLAP_TOLERANCE` (1 min, for volumes rounded to 4 decimals of an hour): the
  periods would overlap. (The last period may run past the session end by up to 24 h, with a
  warning.)
* a volume that is not a number from 0 to 10^7 with at most 18 decimal places, or ENERGY,
  TIME or PARKING_TIME summing to more than 10^7 over the session.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.billing.engine import ZERO, Cost, Period, hours, price_periods
from kiosk.billing.inputs import (
    EARLIEST,
    LATEST,
    MAX_DECIMAL_PLACES,
    MAX_VOLUME,
    InputError,
    decimal_places,
    parse_json,
    read_file,
    shown,
)
from kiosk.billing.money import from_minor, round_to_minor
from kiosk.billing.plans import Plan, discounted
from kiosk.billing.tariff import Tariff

DIMENSIONS = {"CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT",
              "MIN_CURRENT", "MAX_POWER", "MIN_POWER", "PARKING_TIME", "POWER",
              "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME"}


SLACK = timedelta(hours=24)
MAX_SESSION = timedelta(days=366)
OVERLAP_TOLERANCE = timedelta(minutes=1)
PRICED = ("ENERGY", "TIME", "PARKING_TIME")


class CdrError(ValueError):
    """A CDR that cannot be priced. The message starts with the JSON path."""


@dataclass(frozen=True)
class ParsedCdr:
    start: datetime
    end: datetime
    currency: str | None
    periods: list[Period]
    warnings: tuple[str, ...] = field(default=())


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise CdrError(f"{where}: expected a timestamp string")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise CdrError(f"{where}: {value[:40]!r} is not an ISO 8601 timestamp") from None
    if t.tzinfo is None:  # OCPI timestamps are UTC; the Z is often left out
        t = t.replace(tzinfo=UTC)
    # the year first: converting year 1 or 9999 with an offset would overflow
    if not (EARLIEST.year <= t.year < LATEST.year and EARLIEST <= t < LATEST):
        raise CdrError(f"{where}: {value[:40]!r} is not between {EARLIEST.year} and "
                       f"{LATEST.year}")
    return t.astimezone(UTC)


def _volume(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise CdrError(f"{where}: expected a number")
    v = Decimal(value)
    if not v.is_finite() or v < 0 or v > MAX_VOLUME:
        raise CdrError(f"{where}: expected a finite number of at least 0 and at most 10^7")
    if decimal_places(v) > MAX_DECIMAL_PLACES:
        raise CdrError(f"{where}: more than {MAX_DECIMAL_PLACES} decimal places")
    return v


def _utc_text(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _span(delta: timedelta) -> str:
    """``timedelta(minutes=10)`` → ``"10 min"``; ``2 h 5 min``; ``3 d 2 h``; seconds when
    there are some."""
    s = int(abs(delta).total_seconds())
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m else "",
             f"{sec} s" if sec else ""]
    return " ".join(p for p in parts if p) or "0 s"


def parse_cdr(text: str | bytes) -> ParsedCdr:
    try:
        data = parse_json(text)
    except InputError as exc:
        raise CdrError(str(exc)) from None
    if not isinstance(data, dict):
        raise CdrError("$: a CDR is a JSON object")
    start = _time(data.get("start_date_time"), "$.start_date_time")
    end = _time(data.get("end_date_time"), "$.end_date_time")
    if end < start:
        raise CdrError("$.end_date_time: before start_date_time")
    if end - start > MAX_SESSION:
        raise CdrError(f"$.end_date_time: the session lasts {_span(end - start)}, more than "
                       f"{MAX_SESSION.days} days")
    currency = data.get("currency")
    if currency is not None and not isinstance(currency, str):
        raise CdrError("$.currency: expected a string")
    raw = data.get("charging_periods")
    if not isinstance(raw, list) or not raw:
        raise CdrError("$.charging_periods: expected a non-empty list")
    warnings: list[str] = []
    starts: list[datetime] = []
    dims: list[dict[str, Decimal]] = []
    for i, p in enumerate(raw):
        where = f"$.charging_periods[{i}]"
        if not isinstance(p, dict):
            raise CdrError(f"{where}: expected an object")
        at = _time(p.get("start_date_time"), f"{where}.start_date_time")
        if starts and at < starts[-1]:
            raise CdrError(f"{where}.start_date_time: before the previous period")
        if at < start - SLACK or at > end + SLACK:
            side = "before the session start" if at < start else "after the session end"
            raise CdrError(f"{where}.start_date_time: {_utc_text(at)} is {_span(at - start)} "
                           f"{side}: more than {_span(SLACK)} outside the session")
        if at < start:
            warnings.append(f"{where}.start_date_time: {_utc_text(at)} is before the session "
                            f"start {_utc_text(start)} (by {_span(start - at)}); priced as "
                            f"the periods say")
        elif at > end:
            warnings.append(f"{where}.start_date_time: {_utc_text(at)} is after the session "
                            f"end {_utc_text(end)} (by {_span(at - end)}); priced as the "
                            f"periods say")
        d = p.get("dimensions")
        if not isinstance(d, list) or not d:
            raise CdrError(f"{where}.dimensions: expected a non-empty list")
        values: dict[str, Decimal] = {}
        for j, dim in enumerate(d):
            dw = f"{where}.dimensions[{j}]"
            if not isinstance(dim, dict):
                raise CdrError(f"{dw}: expected an object")
            kind = dim.get("type")
            if not isinstance(kind, str):  # a list or an object is not hashable, nor a type
                raise CdrError(f"{dw}.type: expected a text, not {type(kind).__name__}")
            if kind not in DIMENSIONS:
                raise CdrError(f"{dw}.type: unknown dimension {kind[:30]!r}")
            values[str(kind)] = _volume(dim.get("volume"), f"{dw}.volume")
        starts.append(at)
        dims.append(values)
    _check_times(starts, dims, end, warnings)
    periods = []
    for v, at in zip(dims, starts, strict=True):
        periods.append(Period(
            at, energy_kwh=v.get("ENERGY", v.get("ENERGY_IMPORT", ZERO)),
            time_h=v.get("TIME", ZERO), parking_h=v.get("PARKING_TIME", ZERO),
            current_a=v.get("CURRENT", v.get("MAX_CURRENT", v.get("MIN_CURRENT"))),
            power_kw=v.get("POWER", v.get("MAX_POWER", v.get("MIN_POWER")))))
    for kind, total in (("ENERGY", sum((p.energy_kwh for p in periods), ZERO)),
                        ("TIME", sum((p.time_h for p in periods), ZERO)),
                        ("PARKING_TIME", sum((p.parking_h for p in periods), ZERO))):
        if total > MAX_VOLUME:
            raise CdrError(f"$.charging_periods: {kind} sums to more than 10^7 over the "
                           f"session")
    return ParsedCdr(start, end, currency, periods, tuple(warnings))


def _check_times(starts: list[datetime], dims: list[dict[str, Decimal]], end: datetime,
                 warnings: list[str]) -> None:
    """A period's TIME and PARKING_TIME fit before the next period starts (else the periods
    overlap: refused); the last period's fit before the session end (else a warning)."""
    tolerance = hours(OVERLAP_TOLERANCE)
    for i, (at, v) in enumerate(zip(starts, dims, strict=True)):
        used = v.get("TIME", ZERO) + v.get("PARKING_TIME", ZERO)
        if i + 1 < len(starts):
            room = hours(starts[i + 1] - at)
            if used > room + tolerance:
                raise CdrError(
                    f"$.charging_periods[{i}].dimensions: {used.normalize():f} h of TIME and "
                    f"PARKING_TIME, but the next period starts after {_span(starts[i + 1] - at)}"
                    f": the periods overlap")
        else:
            room = hours(end - at) if end > at else ZERO
            if used > room + tolerance:
                runs_to = at + timedelta(microseconds=int(used * 3_600_000_000))
                if runs_to > end + SLACK:
                    raise CdrError(
                        f"$.charging_periods[{i}].dimensions: {used.normalize():f} h of TIME "
                        f"and PARKING_TIME run until {_utc_text(runs_to)}: more than "
                        f"{_span(SLACK)} after the session end {_utc_text(end)}")
                warnings.append(
                    f"$.charging_periods[{i}].dimensions: {used.normalize():f} h of TIME and "
                    f"PARKING_TIME run until {_utc_text(runs_to)}, after the session end "
                    f"{_utc_text(end)} (by {_span(runs_to - end)}); priced as the periods say")


def read_cdr(path: Path | str) -> ParsedCdr:
    """The CDR of a file (a regular file of at most 1 MiB); a :class:`CdrError` starts with
    the file's name."""
    name = shown(path)
    try:
        return parse_cdr(read_file(path))
    except (InputError, CdrError) as exc:
        raise CdrError(f"{name}: {exc}") from None


def _money(value: Decimal, currency: str) -> Decimal:
    return from_minor(round_to_minor(value, currency), currency)


def _price(excl: Decimal, incl: Decimal, currency: str) -> dict[str, Decimal]:
    return {"excl_vat": _money(excl, currency), "incl_vat": _money(incl, currency)}


def price_cdr(tariff: Tariff, cdr: ParsedCdr, zone: ZoneInfo) -> Cost:
    if cdr.currency is not None and cdr.currency != tariff.currency:
        raise CdrError(f"$.currency: the CDR is in {cdr.currency[:8]!r}, the tariff in "
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


def with_plan(cdr: dict[str, Any], cost: Cost, plan: Plan | None) -> dict[str, Any]:
    """A member's CDR (issue #18): ``total_cost`` is what the driver paid, the tariff's exact
    totals taken the plan's percent off and rounded once, as
    :func:`kiosk.billing.plans.discounted` (the capture, the invoice and the record agree);
    the dimension costs stay the tariff's, and ``remark`` (OCPI 2.2.1, at most 255
    characters) names the plan and the discount. OCPI has no discount field of its own."""
    if plan is None:
        return cdr
    c = cost.currency
    price = discounted(cost.total_incl, c, plan)
    if price.discount_minor == 0:
        return cdr
    factor = (100 - plan.percent_off) / 100
    return {**cdr,
            "total_cost": {"excl_vat": _money(cost.total_excl * factor, c),
                           "incl_vat": from_minor(price.paid_minor, c)},
            "remark": (f"{plan.name}: {plan.percent_off} % off, "
                       f"-{from_minor(price.discount_minor, c)} {c}")[:255]}


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
