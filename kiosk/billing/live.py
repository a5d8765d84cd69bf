"""One engine for the live cost and the final amount: the session's marks become OCPI charging
periods, priced by :func:`kiosk.billing.engine.price_periods`.

:meth:`LivePricer.track` decides where a new period starts: at every instant where another
price component could begin to apply (a time-of-day or date boundary in local time, a duration
or kWh threshold, a power threshold, charging ↔ parking). Between two readings a boundary is
placed at its exact instant, with the meter interpolated linearly (whole Wh, rounded down, so a
period never holds energy that was not yet measured). Because the final price is computed from
the same marks as the last live price, the screen and the capture agree.

The billing session starts when charging starts (``charge_started_at``): the wait for the bank
and for the car is never billed.

A session with a member plan (``Session.plan_id``, fixed at the card read) pays
:func:`kiosk.billing.plans.discounted` of the tariff's exact total: :meth:`TariffBook.price`
(the machine's pricer: the live cost and the capture) and :meth:`TariffBook.plan_price` (the
invoice's and the record's full price and discount) are the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from kiosk.billing.engine import Cost, Period, hours, price_periods
from kiosk.billing.member_file import plan_of
from kiosk.billing.plans import PlanPrice, discounted
from kiosk.billing.tariff import Tariff
from kiosk.session.machine import Mark, Session

MIDNIGHT = time(0)


class LivePricer:
    def __init__(self, tariff: Tariff, zone: ZoneInfo) -> None:
        self.tariff = tariff
        self.zone = zone
        rs = [el.restrictions for el in tariff.elements if el.restrictions is not None]
        clocks = {c for r in rs for c in (r.start_clock, r.end_clock) if c is not None}
        if any(r.day_of_week or r.start_date or r.end_date for r in rs):
            clocks.add(MIDNIGHT)  # the day changes what matches
        self._clocks = sorted(clocks)
        self._durations = sorted({d for r in rs for d in (r.min_duration, r.max_duration)
                                  if d is not None})
        self._kwh = sorted({k for r in rs for k in (r.min_kwh, r.max_kwh) if k is not None})
        self._power = sorted({p for r in rs for p in (r.min_power, r.max_power)
                              if p is not None})
        self.bills_parking = any(c.type.value == "PARKING_TIME" and c.price > 0
                                 for el in tariff.elements for c in el.price_components)

    # --- periods -------------------------------------------------------------------------------
    def track(self, marks: tuple[Mark, ...], prev: Mark | None, new: Mark) -> tuple[Mark, ...]:
        if not marks or prev is None:
            return (*marks, new)
        start = marks[0]
        out = list(marks)
        for at, meter in self._boundaries(start, prev, new):
            if at > out[-1].at:
                out.append(Mark(at, meter, prev.power_w, prev.charging))
        last = out[-1]
        if len(out) == 1 and last.power_w == 0 and last.charging and new.power_w:
            # the first period takes the first measured power (none is known at the start)
            out[-1] = Mark(last.at, last.meter_wh, new.power_w, last.charging)
        elif new.charging != last.charging or \
                self._power_class(new.power_w) != self._power_class(last.power_w):
            if new.at > last.at:
                out.append(new)
            else:
                out[-1] = Mark(last.at, last.meter_wh, new.power_w, new.charging)
        return tuple(out)

    def _power_class(self, power_w: int) -> int:
        kw = Decimal(power_w) / 1000
        return sum(1 for p in self._power if kw >= p)

    def _boundaries(self, start: Mark, prev: Mark, new: Mark) -> list[tuple[datetime, int]]:
        """(instant, meter Wh) of every boundary after the previous observation, up to and
        including the new one (a boundary that falls on a reading starts a period there)."""
        lo, hi = prev.at, new.at
        if hi <= lo:
            return []
        found: dict[datetime, int] = {}
        times = [*self._clock_instants(lo, hi),
                 *(start.at + timedelta(seconds=d) for d in self._durations)]
        for at in times:
            if lo < at <= hi:
                found[at] = self._meter_at(prev, new, at)
        e1, e2 = prev.meter_wh - start.meter_wh, new.meter_wh - start.meter_wh
        span_us = (hi - lo) // timedelta(microseconds=1)
        for kwh in self._kwh:
            wh = kwh * 1000
            if e1 < wh <= e2:
                part = int(span_us * (wh - e1) / (e2 - e1))
                at = lo + timedelta(microseconds=part)
                if lo < at <= hi:  # the threshold is reached here, exactly
                    found[at] = max(found.get(at, 0), start.meter_wh + int(-(-wh // 1)))
        return sorted(found.items())

    def _clock_instants(self, lo: datetime, hi: datetime) -> Iterable[datetime]:
        if not self._clocks:
            return []
        day = lo.astimezone(self.zone).date()
        last = hi.astimezone(self.zone).date()
        out = []
        while day <= last:
            for c in self._clocks:
                local = datetime.combine(day, c, tzinfo=self.zone)
                out.append(local.astimezone(lo.tzinfo))
            day += timedelta(days=1)
        return out

    @staticmethod
    def _meter_at(prev: Mark, new: Mark, at: datetime) -> int:
        span = (new.at - prev.at) // timedelta(microseconds=1)
        part = (at - prev.at) // timedelta(microseconds=1)
        return prev.meter_wh + (new.meter_wh - prev.meter_wh) * part // span

    def periods(self, s: Session) -> list[Period]:
        if not s.marks:
            return []
        end = Mark(s.last_reading_at or s.marks[-1].at, s.meter_now_wh)
        out = []
        for i, m in enumerate(s.marks):
            nxt = s.marks[i + 1] if i + 1 < len(s.marks) else end
            kwh = Decimal(max(0, nxt.meter_wh - m.meter_wh)) / 1000
            h = hours(max(nxt.at - m.at, timedelta(0)))
            out.append(Period(m.at, energy_kwh=kwh, time_h=h if m.charging else Decimal(0),
                              parking_h=Decimal(0) if m.charging else h,
                              power_kw=Decimal(m.power_w) / 1000))
        return out

    # --- prices --------------------------------------------------------------------------------
    def cost(self, s: Session) -> Cost:
        return price_periods(self.tariff, self.periods(s), self.zone)

    def plan_price(self, s: Session) -> PlanPrice:
        """The session so far: the full price and what is paid after its plan (if any)."""
        cost = self.cost(s)
        return discounted(cost.total_incl, cost.currency, plan_of(s))

    def price(self, s: Session) -> int:
        """The machine's pricer: the session so far, incl. VAT and the plan's discount, in
        minor units."""
        return self.plan_price(s).paid_minor


class TariffBook:
    """The configured tariffs; a session is priced by the one valid when its charging started
    (when none is, by the one whose validity is nearest: a session never goes unpriced).
    The kiosk does not start a session when no tariff is valid (:meth:`at` is ``None``)."""

    def __init__(self, tariffs: list[Tariff], zone: ZoneInfo) -> None:
        if not tariffs:
            raise ValueError("a tariff book needs at least one tariff")
        self.zone = zone
        self.pricers = [LivePricer(t, zone) for t in tariffs]
        self.bills_parking = any(p.bills_parking for p in self.pricers)

    def at(self, moment: datetime) -> LivePricer | None:
        return next((p for p in self.pricers if p.tariff.valid_at(moment)), None)

    def for_start(self, start: datetime) -> LivePricer:
        found = self.at(start)
        if found is not None:
            return found

        def distance(p: LivePricer) -> float:
            t = p.tariff
            edges = [e for e in (t.start_date_time, t.end_date_time) if e is not None]
            return min(abs((e - start).total_seconds()) for e in edges) if edges else 0.0

        return min(self.pricers, key=distance)

    def track(self, marks: tuple[Mark, ...], prev: Mark | None, new: Mark) -> tuple[Mark, ...]:
        start = marks[0].at if marks else new.at
        return self.for_start(start).track(marks, prev, new)

    def cost(self, s: Session) -> Cost:
        start = s.marks[0].at if s.marks else s.created_at
        return self.for_start(start).cost(s)

    def plan_price(self, s: Session) -> PlanPrice:
        cost = self.cost(s)
        return discounted(cost.total_incl, cost.currency, plan_of(s))

    def price(self, s: Session) -> int:
        return self.plan_price(s).paid_minor
