"""The OCPI 2.2.1 pricing engine: charging periods in, exact costs out.

The rules (``../shared/domain/ocpi-tariffs.md``), and the decisions where OCPI leaves a choice:

* For each period and each dimension (ENERGY, TIME, PARKING_TIME) the FIRST element whose
  restrictions all hold at the start of the period supplies the component; none = free.
* Restrictions are evaluated in the station's local time (IANA zone), across DST changes.
  A time window that wraps midnight belongs, after midnight, to the day it started on: a
  ``day_of_week: [FRIDAY]`` 22:00–06:00 window covers Saturday 03:00.
* ``min/max_duration`` count wall-clock seconds since the session start (the start of the first
  period), not charging time. ``min/max_kwh`` look at the energy charged before the period.
* Current and power restrictions need the period's measurement (CURRENT/POWER, else the MIN/MAX
  dimension); a period without it does not match them. Reservation restrictions never match:
  this kiosk takes no reservations.
* FLAT is charged once per session, from the first element with a FLAT component that matches
  at the session start.
* step_size is applied once per session on the TOTAL of a dimension, with the step and price of
  the LAST component used for it; TIME and PARKING_TIME share one rounding (only the parking
  total is rounded when both are billed).
* VAT per component; a component without ``vat`` has VAT unknown/included: incl = excl.
* min_price / max_price bound the excl. and the incl. VAT totals separately (a bound without
  ``incl_vat`` bounds both with its ``excl_vat``).
* Everything stays an exact ``Decimal``; the totals are rounded once, at the end, to the
  currency's minor unit with ROUND_HALF_UP (:func:`kiosk.billing.money.round_to_minor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from kiosk.billing.money import round_to_minor
from kiosk.billing.tariff import (
    WEEKDAYS,
    Dimension,
    PriceComponent,
    Restrictions,
    Tariff,
    TariffElement,
)

ZERO = Decimal(0)
HOUR_US = Decimal(3_600_000_000)
MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Period:
    """One charging period, as in an OCPI CDR: where it starts and how much of each dimension
    it holds. ``charging`` says whether its time is TIME (charging) or PARKING_TIME."""

    start: datetime  # aware
    energy_kwh: Decimal = ZERO
    time_h: Decimal = ZERO
    parking_h: Decimal = ZERO
    current_a: Decimal | None = None
    power_kw: Decimal | None = None


@dataclass(frozen=True)
class Line:
    """One invoice line: a component and how much of it was used (exact)."""

    dimension: Dimension
    unit_price: Decimal  # excl. VAT, per kWh / hour / session
    vat: Decimal | None
    quantity: Decimal  # kWh, hours, or 1 for FLAT
    excl: Decimal
    incl: Decimal


@dataclass(frozen=True)
class DimensionTotal:
    excl: Decimal = ZERO
    incl: Decimal = ZERO


@dataclass(frozen=True)
class Cost:
    currency: str
    lines: tuple[Line, ...]
    energy: DimensionTotal
    time: DimensionTotal
    parking: DimensionTotal
    fixed: DimensionTotal
    total_excl: Decimal  # exact, after min/max
    total_incl: Decimal
    total_energy_kwh: Decimal
    total_time_h: Decimal
    total_parking_h: Decimal
    adjustment_excl: Decimal = ZERO  # what min/max price added (+) or took (-)
    adjustment_incl: Decimal = ZERO
    notes: tuple[str, ...] = field(default=())

    @property
    def total_excl_minor(self) -> int:
        return round_to_minor(self.total_excl, self.currency)

    @property
    def total_incl_minor(self) -> int:
        """What the driver pays: the capture, the screen and the invoice total."""
        return round_to_minor(self.total_incl, self.currency)


def _with_vat(amount: Decimal, vat: Decimal | None) -> Decimal:
    return amount if vat is None else amount * (1 + vat / 100)


def hours(delta: timedelta) -> Decimal:
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(us) / HOUR_US


# --- restrictions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Moment:
    """What a restriction looks at, at the start of a period."""

    local: datetime  # station local time
    energy_before_kwh: Decimal
    since_start_s: Decimal
    current_a: Decimal | None
    power_kw: Decimal | None


def _in_window(r: Restrictions, t: time) -> tuple[bool, int]:
    """(inside, day shift): day shift is -1 when ``t`` is in the after-midnight part of a
    window that wraps, so weekday and date checks use the day the window began."""
    start, end = r.start_clock, r.end_clock
    if start is None and end is None:
        return True, 0
    lo = start or time(0)
    if end is None or end == time(0):
        return t >= lo, 0
    if lo < end:
        return lo <= t < end, 0
    if t >= lo:  # wraps past midnight: the evening part
        return True, 0
    return t < end, -1


def matches(r: Restrictions | None, m: Moment) -> bool:
    if r is None:
        return True
    if r.reservation is not None:
        return False
    inside, shift = _in_window(r, m.local.time())
    if not inside:
        return False
    day: date = m.local.date() + timedelta(days=shift)
    if r.day_of_week is not None and WEEKDAYS[day.weekday()] not in r.day_of_week:
        return False
    if r.start_date is not None and day < date.fromisoformat(r.start_date):
        return False
    if r.end_date is not None and day >= date.fromisoformat(r.end_date):
        return False
    if r.min_kwh is not None and m.energy_before_kwh < r.min_kwh:
        return False
    if r.max_kwh is not None and m.energy_before_kwh >= r.max_kwh:
        return False
    if r.min_duration is not None and m.since_start_s < r.min_duration:
        return False
    if r.max_duration is not None and m.since_start_s >= r.max_duration:
        return False
    for lo, hi, value in ((r.min_current, r.max_current, m.current_a),
                          (r.min_power, r.max_power, m.power_kw)):
        if lo is None and hi is None:
            continue
        if value is None:
            return False
        if (lo is not None and value < lo) or (hi is not None and value >= hi):
            return False
    return True


def component_for(elements: Sequence[TariffElement], dim: Dimension,
                  m: Moment) -> PriceComponent | None:
    for el in elements:
        comp = next((c for c in el.price_components if c.type is dim), None)
        if comp is not None and matches(el.restrictions, m):
            return comp
    return None


# --- pricing ------------------------------------------------------------------------------------
class _Acc:
    """Exact sums per (dimension, component)."""

    def __init__(self) -> None:
        self.lines: dict[tuple[Dimension, Decimal, Decimal | None], Decimal] = {}
        self.volume: dict[Dimension, Decimal] = {d: ZERO for d in Dimension}
        self.last: dict[Dimension, PriceComponent] = {}

    def add(self, comp: PriceComponent, qty: Decimal) -> None:
        if qty <= 0:
            return
        key = (comp.type, comp.price, comp.vat)
        self.lines[key] = self.lines.get(key, ZERO) + qty
        self.volume[comp.type] += qty
        self.last[comp.type] = comp


def _step_surplus(total: Decimal, step: int, unit: Decimal) -> Decimal:
    """How much to add so that ``total`` (in kWh or h) is a whole number of steps
    (``step`` in Wh or s; ``unit`` = 1000 Wh per kWh or 3600 s per h)."""
    # hours from microsecond timestamps carry Decimal noise in the 28th digit (1/60 h):
    # measure in micro-units (µs, mWh) before counting steps, or 60 s would bill 61
    in_units = (total * unit).quantize(MICRO, rounding=ROUND_HALF_EVEN)
    steps = (in_units / step).to_integral_value(rounding=ROUND_CEILING)
    return (steps * step - in_units) / unit


def price_periods(tariff: Tariff, periods: Sequence[Period], zone: ZoneInfo) -> Cost:
    """Price a whole session (or the session so far, for the live cost)."""
    acc = _Acc()
    notes: list[str] = []
    if periods:
        start = periods[0].start
        energy_so_far = ZERO
        for i, p in enumerate(periods):
            m = Moment(p.start.astimezone(zone), energy_so_far, _seconds(p.start - start),
                       p.current_a, p.power_kw)
            if i == 0:
                flat = component_for(tariff.elements, Dimension.FLAT, m)
                if flat is not None:
                    acc.add(flat, Decimal(1))
            for dim, qty in ((Dimension.ENERGY, p.energy_kwh), (Dimension.TIME, p.time_h),
                             (Dimension.PARKING_TIME, p.parking_h)):
                if qty > 0:
                    comp = component_for(tariff.elements, dim, m)
                    if comp is not None:
                        acc.add(comp, qty)
            energy_so_far += p.energy_kwh

    # step_size on the totals, at the last component's step and price
    energy_comp = acc.last.get(Dimension.ENERGY)
    if energy_comp is not None:
        extra = _step_surplus(acc.volume[Dimension.ENERGY], energy_comp.step_size, Decimal(1000))
        acc.add(energy_comp, extra)
    time_comp, park_comp = acc.last.get(Dimension.TIME), acc.last.get(Dimension.PARKING_TIME)
    rounded = park_comp or time_comp
    if rounded is not None:
        extra = _step_surplus(acc.volume[rounded.type], rounded.step_size, Decimal(3600))
        acc.add(rounded, extra)

    lines = tuple(
        Line(dim, price, vat, qty, price * qty, _with_vat(price * qty, vat))
        for (dim, price, vat), qty in acc.lines.items())
    totals = {d: DimensionTotal(sum((ln.excl for ln in lines if ln.dimension is d), ZERO),
                                sum((ln.incl for ln in lines if ln.dimension is d), ZERO))
              for d in Dimension}
    excl = sum((t.excl for t in totals.values()), ZERO)
    incl = sum((t.incl for t in totals.values()), ZERO)
    raw_excl, raw_incl = excl, incl
    if tariff.min_price is not None:
        lo = tariff.min_price
        if excl < lo.excl_vat or incl < (lo.incl_vat if lo.incl_vat is not None
                                         else lo.excl_vat):
            notes.append("min_price")
        excl = max(excl, lo.excl_vat)
        incl = max(incl, lo.incl_vat if lo.incl_vat is not None else lo.excl_vat)
    if tariff.max_price is not None:
        hi = tariff.max_price
        if excl > hi.excl_vat or incl > (hi.incl_vat if hi.incl_vat is not None
                                         else hi.excl_vat):
            notes.append("max_price")
        excl = min(excl, hi.excl_vat)
        incl = min(incl, hi.incl_vat if hi.incl_vat is not None else hi.excl_vat)
    return Cost(
        currency=tariff.currency, lines=lines, energy=totals[Dimension.ENERGY],
        time=totals[Dimension.TIME], parking=totals[Dimension.PARKING_TIME],
        fixed=totals[Dimension.FLAT], total_excl=excl, total_incl=incl,
        total_energy_kwh=sum((p.energy_kwh for p in periods), ZERO),
        total_time_h=sum((p.time_h for p in periods), ZERO),
        total_parking_h=sum((p.parking_h for p in periods), ZERO),
        adjustment_excl=excl - raw_excl, adjustment_incl=incl - raw_incl, notes=tuple(notes))


def _seconds(delta: timedelta) -> Decimal:
    return hours(delta) * 3600
