"""Re-pricing recorded sessions fast: a tariff compiled once into plain Python, for the tariff
what-if (:mod:`kiosk.backoffice.analytics.whatif`), with the kiosk's exact results.

A recorded session tells its charge start, charge stop, last reading, energy and station zone,
not its meter readings. The model (:func:`reference_price`, the definition): the kiosk's own
machine seeing the power constant while charging, ``P = energy_wh * 3600 // seconds`` W, i.e.
the events ``ChargingStarted(start, 0 Wh)``, a first reading at the start with power P, one
reading at the charge stop (all the energy, power P), ``ChargingStopped`` (power 0), and, when
the tariffs bill parking and the car stayed plugged in, the parking time up to the last
reading. The marks are made by :meth:`kiosk.billing.live.LivePricer.track` (periods split at
every time-of-day and date boundary in local time, duration and kWh thresholds, power classes,
charging → parking, with the meter interpolated as the kiosk does), priced by
:func:`kiosk.billing.engine.price_periods` with the tariff :class:`~kiosk.billing.live.
TariffBook` picks at the charge start.

Decision (measured on this machine, ``price_periods`` over the marks ``LivePricer.track``
builds): 80 µs a session for a flat energy tariff, 125 µs for a night tariff with parking —
8,000 to 12,000 sessions/s for the pricing alone, below the what-if's 20,000 sessions/s with
the database's rows still to be read. A cache does not help: no two sessions share a start, a
stop and an energy. So :class:`CompiledBook` does the same arithmetic without the objects:
times are integer microseconds, meters integer Wh, each element's restrictions a precomputed
check (clock windows as microseconds of the day, weekdays as a set, dates as ordinals, kWh and
power thresholds scaled to Wh and W), the components per dimension in element order, the local
time computed only for a tariff that looks at it, the zone's clock instants cached per day. The
Decimal sums are made in the engine's order with the engine's expressions (hours as
µs / 3.6·10⁹, the step surplus by :func:`kiosk.billing.engine._step_surplus`), so the result
is the same integer, which tests/unit/test_fastprice.py checks with Hypothesis against
:func:`reference_price`. It prices a session in 10 µs (a flat tariff) to 22 µs (a night
tariff with parking).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.billing.engine import (
    HOUR_US,
    ZERO,
    Period,
    _step_surplus,
    hours,
    price_periods,
)
from kiosk.billing.live import TariffBook
from kiosk.billing.money import round_to_minor
from kiosk.billing.tariff import WEEKDAYS, Dimension, Restrictions, Tariff
from kiosk.session.machine import Mark

__all__ = ["CompiledBook", "CompiledTariff", "reference_price"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
_DAY_US = 86_400 * _US
_ONE = Decimal(1)
_THOUSAND = Decimal(1000)
_3600 = Decimal(3600)
_DIMS = (Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME)
_ORDER = list(Dimension)  # the engine's order of the totals


def _at(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


# --- the definition ------------------------------------------------------------------------
def reference_price(book: TariffBook, start_s: int, stop_s: int, last_s: int,
                    energy_wh: int) -> int:
    """What the kiosk would have charged (incl. VAT, minor units) for a session that charged
    ``energy_wh`` at constant power from ``start_s`` to ``stop_s`` and, when the tariffs bill
    parking, stayed plugged in to ``last_s`` (seconds since the epoch): the machine's events
    replayed through :class:`TariffBook` (see the module). Slow; the definition."""
    start, stop = _at(start_s), _at(max(stop_s, start_s))
    last = _at(max(last_s, stop_s, start_s))
    energy = max(0, energy_wh)
    p = book.for_start(start)
    power = power_w(energy, int((stop - start).total_seconds()))
    m0 = Mark(start, 0, 0, True)
    marks = p.track((), None, m0)
    marks = p.track(marks, m0, Mark(start, 0, power, True))
    marks = p.track(marks, Mark(start, 0, power, True), Mark(stop, energy, power, True))
    marks = p.track(marks, Mark(stop, energy, power, True), Mark(stop, energy, 0, True))
    end = stop
    if book.bills_parking and last > stop:
        marks = p.track(marks, Mark(stop, energy, 0, True), Mark(stop, energy, 0, False))
        marks = p.track(marks, Mark(stop, energy, 0, False), Mark(last, energy, 0, False))
        end = last
    periods = []
    closing = Mark(end, energy)
    for i, m in enumerate(marks):
        nxt = marks[i + 1] if i + 1 < len(marks) else closing
        kwh = Decimal(max(0, nxt.meter_wh - m.meter_wh)) / 1000
        h = hours(max(nxt.at - m.at, timedelta(0)))
        periods.append(Period(m.at, energy_kwh=kwh, time_h=h if m.charging else ZERO,
                              parking_h=ZERO if m.charging else h,
                              power_kw=Decimal(m.power_w) / 1000))
    return price_periods(p.tariff, periods, p.zone).total_incl_minor


def power_w(energy_wh: int, seconds: int) -> int:
    """The constant power (W, rounded down) of ``energy_wh`` over ``seconds``; 0 for none."""
    return energy_wh * 3600 // seconds if seconds > 0 and energy_wh > 0 else 0


# --- the compiled tariff -------------------------------------------------------------------
# a period as the checks see it: (start µs, energy before Wh, power W, session start µs)
Check = Callable[[Any, int, int, int, int], bool]


def _clock_us(t: time | None) -> int | None:
    return None if t is None else ((t.hour * 60 + t.minute) * 60 + t.second) * _US


def _compile_check(r: Restrictions | None, needs_local: list[bool]) -> Check | None:
    """The engine's :func:`~kiosk.billing.engine.matches` for ``r`` as one closure, or None
    when it always holds. The closure takes (local datetime or None, start µs, energy before
    Wh, power W, session start µs)."""
    if r is None:
        return None
    if r.reservation is not None:
        return lambda *_: False
    if r.min_current is not None or r.max_current is not None:
        return lambda *_: False  # the kiosk's periods carry no current: never matches
    start_c, end_c = r.start_clock, r.end_clock
    window = start_c is not None or end_c is not None
    lo_us = _clock_us(start_c) or 0
    end_us = _clock_us(end_c)
    days = None if r.day_of_week is None else frozenset(WEEKDAYS.index(d)
                                                         for d in r.day_of_week)
    d_from = None if r.start_date is None else date.fromisoformat(r.start_date).toordinal()
    d_to = None if r.end_date is None else date.fromisoformat(r.end_date).toordinal()
    local = window or days is not None or d_from is not None or d_to is not None
    if local:
        needs_local[0] = True
    kwh_lo = None if r.min_kwh is None else r.min_kwh * _THOUSAND
    kwh_hi = None if r.max_kwh is None else r.max_kwh * _THOUSAND
    dur_lo, dur_hi = r.min_duration, r.max_duration
    durations = dur_lo is not None or dur_hi is not None
    p_lo = None if r.min_power is None else r.min_power * _THOUSAND
    p_hi = None if r.max_power is None else r.max_power * _THOUSAND

    def check(loc: Any, at_us: int, before_wh: int, power: int, start_us: int) -> bool:
        if local:
            t_us = ((loc.hour * 60 + loc.minute) * 60 + loc.second) * _US + loc.microsecond
            shift = 0
            if window:
                if end_us is None or end_us == 0:
                    if t_us < lo_us:
                        return False
                elif lo_us < end_us:
                    if not lo_us <= t_us < end_us:
                        return False
                elif t_us < lo_us:  # wraps past midnight: the morning part
                    if not t_us < end_us:
                        return False
                    shift = -1
            day = loc.toordinal() + shift
            if days is not None and (day - 1) % 7 not in days:  # ordinal 1 is a Monday
                return False
            if d_from is not None and day < d_from:
                return False
            if d_to is not None and day >= d_to:
                return False
        if kwh_lo is not None and before_wh < kwh_lo:
            return False
        if kwh_hi is not None and before_wh >= kwh_hi:
            return False
        if durations:
            since = Decimal(at_us - start_us) / HOUR_US * _3600  # the engine's _seconds
            if dur_lo is not None and since < dur_lo:
                return False
            if dur_hi is not None and since >= dur_hi:
                return False
        return not ((p_lo is not None and power < p_lo)
                    or (p_hi is not None and power >= p_hi))

    return check


# a component: (dimension, price, vat, step_size, key)
Comp = tuple[Dimension, Decimal, Decimal | None, int, tuple[Dimension, Decimal, Decimal | None]]


class CompiledTariff:
    """One tariff, compiled: :meth:`price` gives what :func:`reference_price` gives for it."""

    def __init__(self, tariff: Tariff, zone: ZoneInfo, bills_parking: bool) -> None:
        self.tariff = tariff
        self.zone = zone
        self.currency = tariff.currency
        self.bills_parking = bills_parking
        needs_local = [False]
        self.candidates: dict[Dimension, list[tuple[Check | None, Comp]]] = {
            d: [] for d in Dimension}
        for el in tariff.elements:
            check = _compile_check(el.restrictions, needs_local)
            for dim in Dimension:
                c = next((c for c in el.price_components if c.type is dim), None)
                if c is not None:
                    comp: Comp = (dim, c.price, c.vat, c.step_size, (dim, c.price, c.vat))
                    self.candidates[dim].append((check, comp))
        for dim in Dimension:  # nothing after an element that always matches is ever used
            cands = self.candidates[dim]
            first = next((i for i, (ch, _) in enumerate(cands) if ch is None), None)
            if first is not None:
                self.candidates[dim] = cands[:first + 1]
        self.needs_local = needs_local[0]
        self.restricted = any(ch is not None for cands in self.candidates.values()
                              for ch, _ in cands)
        rs = [el.restrictions for el in tariff.elements if el.restrictions is not None]
        clocks = {c for r in rs for c in (r.start_clock, r.end_clock) if c is not None}
        if any(r.day_of_week or r.start_date or r.end_date for r in rs):
            clocks.add(time(0))
        self.clocks = sorted(clocks)
        self.durations_us = sorted({d * _US for r in rs for d in (r.min_duration, r.max_duration)
                                    if d is not None})
        self.kwh = sorted({k for r in rs for k in (r.min_kwh, r.max_kwh) if k is not None})
        self.power = sorted({p for r in rs for p in (r.min_power, r.max_power) if p is not None})
        self.min_price = tariff.min_price
        self.max_price = tariff.max_price
        self._days: dict[int, list[int]] = {}  # local date ordinal → clock instants (µs)
        self._valid_from = (None if tariff.start_date_time is None
                            else _us(tariff.start_date_time))
        self._valid_to = None if tariff.end_date_time is None else _us(tariff.end_date_time)

    def valid_at_us(self, at_us: int) -> bool:
        if self._valid_from is not None and at_us < self._valid_from:
            return False
        return self._valid_to is None or at_us < self._valid_to

    # --- the marks (LivePricer.track, in integers) -------------------------------------------
    def _power_class(self, power: int) -> int:
        kw = Decimal(power) / 1000
        return sum(1 for p in self.power if kw >= p)

    def _clock_instants(self, lo_us: int, hi_us: int) -> list[int]:
        zone = self.zone
        day = (_EPOCH + timedelta(microseconds=lo_us)).astimezone(zone).date().toordinal()
        last = (_EPOCH + timedelta(microseconds=hi_us)).astimezone(zone).date().toordinal()
        out: list[int] = []
        while day <= last:
            found = self._days.get(day)
            if found is None:
                d = date.fromordinal(day)
                found = [_us(datetime.combine(d, c, tzinfo=zone)) for c in self.clocks]
                self._days[day] = found
            out.extend(found)
            day += 1
        return out

    def _boundaries(self, start_us: int, start_wh: int, lo: int, lo_wh: int, hi: int,
                    hi_wh: int) -> list[tuple[int, int]]:
        if hi <= lo:
            return []
        found: dict[int, int] = {}
        span = hi - lo
        times = self._clock_instants(lo, hi) if self.clocks else []
        for at in (*times, *(start_us + d for d in self.durations_us)):
            if lo < at <= hi:
                found[at] = lo_wh + (hi_wh - lo_wh) * (at - lo) // span
        if self.kwh:
            e1, e2 = lo_wh - start_wh, hi_wh - start_wh
            for kwh in self.kwh:
                wh = kwh * 1000
                if e1 < wh <= e2:
                    at = lo + int(span * (wh - e1) / (e2 - e1))
                    if lo < at <= hi:
                        found[at] = max(found.get(at, 0), start_wh + int(-(-wh // 1)))
        return sorted(found.items())

    def marks(self, start_us: int, stop_us: int, last_us: int, energy: int,
              power: int) -> list[list[Any]]:
        """The marks [at µs, meter Wh, power W, charging] the kiosk would have made."""
        out: list[list[Any]] = [[start_us, 0, 0, True]]
        if power:  # the first reading: the first period takes the first measured power
            out[0][2] = power
        # the reading at the charge stop: prev = (start, 0, power, charging)
        for at, meter in self._boundaries(start_us, 0, start_us, 0, stop_us, energy):
            if at > out[-1][0]:
                out.append([at, meter, power, True])
        # ChargingStopped: power 0
        last = out[-1]
        if self.power and self._power_class(0) != self._power_class(last[2]):
            if stop_us > last[0]:
                out.append([stop_us, energy, 0, True])
            else:
                last[2] = 0
        if self.bills_parking and last_us > stop_us:
            last = out[-1]
            if stop_us > last[0]:
                out.append([stop_us, energy, 0, False])
            else:
                last[2], last[3] = 0, False
            for at, meter in self._boundaries(start_us, 0, stop_us, energy, last_us, energy):
                if at > out[-1][0]:
                    out.append([at, meter, 0, False])
            out.append([last_us, energy, None, None])  # the end
        else:
            out.append([stop_us, energy, None, None])
        return out

    # --- the price (price_periods, without the objects) --------------------------------------
    def price(self, start_s: int, stop_s: int, last_s: int, energy_wh: int) -> int:
        """Incl. VAT, minor units: what :func:`reference_price` gives (see the module)."""
        stop_s = max(stop_s, start_s)
        last_s = max(last_s, stop_s)
        energy = max(0, energy_wh)
        start_us, stop_us, last_us = start_s * _US, stop_s * _US, last_s * _US
        power = power_w(energy, stop_s - start_s)
        marks = self.marks(start_us, stop_us, last_us, energy, power)
        lines: dict[tuple[Dimension, Decimal, Decimal | None], Decimal] = {}
        volume = {Dimension.ENERGY: ZERO, Dimension.TIME: ZERO, Dimension.PARKING_TIME: ZERO,
                  Dimension.FLAT: ZERO}
        used: dict[Dimension, Comp] = {}
        candidates = self.candidates
        needs_local, zone = self.needs_local, self.zone
        before = 0
        for i in range(len(marks) - 1):
            at, meter, pw, charging = marks[i]
            nxt = marks[i + 1]
            loc = ((_EPOCH + timedelta(microseconds=at)).astimezone(zone)
                   if needs_local else None)
            wh = max(nxt[1] - meter, 0)
            dt = nxt[0] - at
            h = Decimal(dt if dt > 0 else 0) / HOUR_US
            kwh = Decimal(wh) / 1000
            if i == 0:
                comp = _pick(candidates[Dimension.FLAT], loc, at, before, pw, start_us)
                if comp is not None:
                    _add(lines, volume, used, comp, _ONE)
            for dim, qty in ((Dimension.ENERGY, kwh), (Dimension.TIME, h if charging else ZERO),
                             (Dimension.PARKING_TIME, ZERO if charging else h)):
                if qty > 0:
                    comp = _pick(candidates[dim], loc, at, before, pw, start_us)
                    if comp is not None:
                        _add(lines, volume, used, comp, qty)
            before += wh
        return self._total(lines, volume, used)

    def _total(self, lines: dict[tuple[Dimension, Decimal, Decimal | None], Decimal],
               volume: dict[Dimension, Decimal], used: dict[Dimension, Comp]) -> int:
        energy_comp = used.get(Dimension.ENERGY)
        if energy_comp is not None:
            extra = _step_surplus(volume[Dimension.ENERGY], energy_comp[3], _THOUSAND)
            _add(lines, volume, used, energy_comp, extra)
        rounded = used.get(Dimension.PARKING_TIME) or used.get(Dimension.TIME)
        if rounded is not None:
            extra = _step_surplus(volume[rounded[0]], rounded[3], _3600)
            _add(lines, volume, used, rounded, extra)
        excl_by: dict[Dimension, Decimal] = {}
        incl_by: dict[Dimension, Decimal] = {}
        for (dim, price, vat), qty in lines.items():
            ex = price * qty
            inc = ex if vat is None else ex * (1 + vat / 100)
            excl_by[dim] = excl_by.get(dim, ZERO) + ex
            incl_by[dim] = incl_by.get(dim, ZERO) + inc
        excl, incl = ZERO, ZERO
        for d in _ORDER:
            excl += excl_by.get(d, ZERO)
            incl += incl_by.get(d, ZERO)
        lo, hi = self.min_price, self.max_price
        if lo is not None:
            excl = max(excl, lo.excl_vat)
            incl = max(incl, lo.incl_vat if lo.incl_vat is not None else lo.excl_vat)
        if hi is not None:
            excl = min(excl, hi.excl_vat)
            incl = min(incl, hi.incl_vat if hi.incl_vat is not None else hi.excl_vat)
        return round_to_minor(incl, self.currency)


def _pick(cands: list[tuple[Check | None, Comp]], loc: Any, at: int, before: int, pw: int,
          start_us: int) -> Comp | None:
    for check, comp in cands:
        if check is None or check(loc, at, before, pw, start_us):
            return comp
    return None


def _add(lines: dict[tuple[Dimension, Decimal, Decimal | None], Decimal],
         volume: dict[Dimension, Decimal], used: dict[Dimension, Comp], comp: Comp,
         qty: Decimal) -> None:
    if qty <= 0:
        return
    key = comp[4]
    lines[key] = lines.get(key, ZERO) + qty
    volume[comp[0]] += qty
    used[comp[0]] = comp


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass
class CompiledBook:
    """A :class:`TariffBook`'s tariffs, compiled; :meth:`price` picks the tariff as the book
    does (the first valid at the charge start, else the nearest)."""

    book: TariffBook
    tariffs: Sequence[CompiledTariff]

    @classmethod
    def of(cls, tariffs: list[Tariff], zone: ZoneInfo) -> CompiledBook:
        book = TariffBook(tariffs, zone)
        return cls(book, [CompiledTariff(p.tariff, zone, book.bills_parking)
                          for p in book.pricers])

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(t.currency for t in self.tariffs)

    def for_start(self, start_s: int) -> CompiledTariff:
        at = start_s * _US
        for t in self.tariffs:
            if t.valid_at_us(at):
                return t
        chosen = self.book.for_start(_at(start_s))  # none valid: the nearest, as the book
        return next(t for t, p in zip(self.tariffs, self.book.pricers, strict=True)
                    if p is chosen)

    def price(self, start_s: int, stop_s: int, last_s: int, energy_wh: int) -> tuple[int, str]:
        """(amount incl. VAT in minor units, its currency)."""
        t = self.for_start(start_s)
        return t.price(start_s, stop_s, last_s, energy_wh), t.currency
