"""Properties of the engine over random tariffs and sessions (hypothesis), and the live
pricer: marks at every boundary, live cost = final amount, DST days."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.billing.engine import Period, price_periods
from kiosk.billing.live import LivePricer
from kiosk.billing.tariff import Tariff, parse_tariff
from kiosk.session.machine import Mark, Session, State

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
D = Decimal

prices = st.decimals(min_value=0, max_value=5, places=2)
vats = st.none() | st.sampled_from([0, 7, 10, 19, 20, 21])
steps = st.sampled_from([1, 25, 100, 500, 60, 300, 900])


@st.composite
def components(draw: Any, kinds: list[str], step_sizes: Any = steps) -> list[dict[str, Any]]:
    out = []
    for kind in kinds:
        c = {"type": kind, "price": float(draw(prices)), "step_size": draw(step_sizes)}
        vat = draw(vats)
        if vat is not None:
            c["vat"] = vat
        out.append(c)
    return out


@st.composite
def tariffs(draw: Any, step_sizes: Any = steps) -> Tariff:
    elements = []
    for _ in range(draw(st.integers(1, 3))):
        kinds = draw(st.lists(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]),
                              min_size=1, max_size=3, unique=True))
        el: dict[str, Any] = {"price_components": draw(components(kinds, step_sizes))}
        r: dict[str, Any] = {}
        if draw(st.booleans()):
            h1, h2 = draw(st.integers(0, 23)), draw(st.integers(0, 23))
            if h1 != h2:
                r.update(start_time=f"{h1:02d}:00", end_time=f"{h2:02d}:00")
        if draw(st.booleans()):
            r["max_kwh"] = draw(st.integers(1, 50))
        if draw(st.booleans()):
            r["min_duration"] = draw(st.integers(0, 7200))
        if r:
            el["restrictions"] = r
        elements.append(el)
    top: dict[str, Any] = {"currency": "EUR", "elements": elements}
    lo = draw(st.none() | st.decimals(min_value=0, max_value=5, places=2))
    hi = draw(st.none() | st.decimals(min_value=5, max_value=50, places=2))
    if lo is not None:
        top["min_price"] = {"excl_vat": float(lo), "incl_vat": float(lo * D("1.19"))}
    if hi is not None:
        top["max_price"] = {"excl_vat": float(hi), "incl_vat": float(hi * D("1.19"))}
    return parse_tariff(json.dumps(top))


@st.composite
def sessions(draw: Any) -> list[Period]:
    start = T0 + timedelta(minutes=draw(st.integers(0, 60 * 48)))
    periods = []
    at = start
    for _ in range(draw(st.integers(1, 4))):
        charging = draw(st.booleans())
        h = D(draw(st.integers(1, 240))) / 60
        kwh = D(draw(st.integers(0, 30_000))) / 1000 if charging else D(0)
        periods.append(Period(at, energy_kwh=kwh, time_h=h if charging else D(0),
                              parking_h=D(0) if charging else h))
        at += timedelta(hours=float(h))
    return periods


def more(periods: list[Period], kwh: Decimal, h: Decimal) -> list[Period]:
    last = periods[-1]
    return [*periods[:-1], replace(last, energy_kwh=last.energy_kwh + kwh,
                                   time_h=last.time_h + (h if last.time_h else 0),
                                   parking_h=last.parking_h + (h if last.parking_h else 0))]


@settings(max_examples=300, deadline=None)
@given(tariffs(st.just(1)), sessions(), st.integers(0, 5000), st.integers(0, 120))
def test_more_energy_or_time_never_costs_less(t: Tariff, periods: list[Period], wh: int,
                                              minutes: int) -> None:
    """Without step sizes. (With them it does not hold, by OCPI's rule: step_size rounds the
    LAST component of a dimension, so energy moved into a later element with a finer step can
    lose an earlier element's rounding up: 1 Wh at 0.01/kWh step 25 Wh costs 0.00025, the same
    plus 1 Wh under a free step-1 element costs 0.00001.)"""
    # kWh restrictions look at the energy before each period: more energy in the LAST period
    # cannot change which element applies to any period
    base = price_periods(t, periods, BERLIN)
    bigger = price_periods(t, more(periods, D(wh) / 1000, D(minutes) / 60), BERLIN)
    assert bigger.total_excl >= base.total_excl and bigger.total_incl >= base.total_incl


@settings(max_examples=300, deadline=None)
@given(tariffs(), sessions())
def test_bounds_vat_and_steps(t: Tariff, periods: list[Period]) -> None:
    c = price_periods(t, periods, BERLIN)
    assert c.total_excl <= c.total_incl
    assert c.total_excl_minor <= c.total_incl_minor
    if t.min_price is not None:
        assert c.total_excl >= t.min_price.excl_vat
        assert c.total_incl >= (t.min_price.incl_vat or t.min_price.excl_vat)
    if t.max_price is not None:
        assert c.total_excl <= t.max_price.excl_vat
        assert c.total_incl <= (t.max_price.incl_vat or t.max_price.excl_vat)
    # step_size never lowers the price: the same tariff with every step 1 costs no more
    unstepped = t.model_copy(update={"elements": [
        el.model_copy(update={"price_components": [
            c2.model_copy(update={"step_size": 1}) for c2 in el.price_components]})
        for el in t.elements]})
    u = price_periods(unstepped, periods, BERLIN)
    if t.max_price is None:
        assert c.total_excl >= u.total_excl and c.total_incl >= u.total_incl
    for ln in c.lines:
        assert ln.excl >= 0 and ln.excl <= ln.incl


# --- the live pricer ----------------------------------------------------------------------------
NIGHT = parse_tariff(json.dumps({"currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19, "step_size": 1}],
     "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
    {"price_components": [{"type": "ENERGY", "price": 0.50, "vat": 19, "step_size": 1}],
     "restrictions": {"max_kwh": 20}},
    {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 19, "step_size": 1},
                          {"type": "PARKING_TIME", "price": 6, "vat": 19, "step_size": 60}]},
]}))


def run(pricer: LivePricer, readings: list[tuple[datetime, int, int, bool]]) -> Session:
    """Feed readings (at, meter Wh, power W, charging) as the machine does."""
    at0, m0, _, _ = readings[0]
    s = Session("s", 1, State.CHARGING, at0, at0, charge_started_at=at0, meter_start_wh=m0,
                meter_now_wh=m0, last_reading_at=at0,
                marks=pricer.track((), None, Mark(at0, m0, 0, True)))
    for at, meter, power, charging in readings[1:]:
        prev = Mark(s.last_reading_at or at, s.meter_now_wh, s.power_w, s.marks[-1].charging)
        marks = pricer.track(s.marks, prev, Mark(at, meter, power, charging))
        s = replace(s, marks=marks, meter_now_wh=meter, power_w=power, last_reading_at=at)
    return s


def test_a_reading_across_22_00_is_split_at_22_00_exactly() -> None:
    p = LivePricer(NIGHT, BERLIN)
    start = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)  # 21:30 in Berlin
    s = run(p, [(start, 1000, 0, True), (start + timedelta(hours=1), 12_000, 11_000, True)])
    assert [m.at.astimezone(BERLIN).strftime("%H:%M") for m in s.marks] == ["21:30", "22:00"]
    assert s.marks[1].meter_wh == 1000 + 5500  # interpolated: half of the 11 kWh
    cost = p.cost(s)
    assert cost.total_excl == D("5.5") * D("0.50") + D("5.5") * D("0.30")


def test_the_kwh_threshold_gets_its_own_mark() -> None:
    p = LivePricer(NIGHT, BERLIN)
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    s = run(p, [(start, 0, 0, True), (start + timedelta(hours=3), 30_000, 10_000, True)])
    assert [m.meter_wh for m in s.marks] == [0, 20_000]
    assert p.cost(s).total_excl == D(20) * D("0.50") + D(10) * D("0.40")


def test_live_cost_equals_the_cost_of_the_final_periods() -> None:
    """Many readings over an evening with a boundary at 22:00 and a kWh threshold: the last
    live price equals pricing the same session in one go from its first and last reading
    split only at the true boundaries."""
    p = LivePricer(NIGHT, BERLIN)
    start = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
    readings = [(start + timedelta(seconds=30 * i), 1000 + 100 * i, 12_000, True)
                for i in range(0, 400)]  # 20 kWh at reading 200, 22:00 at reading 240
    s = run(p, readings)
    live = p.price(s)
    # reference: price per reading interval, each its own period (finest split possible)
    fine = []
    for (a, m1, _, _), (_, m2, _, _) in itertools.pairwise(readings):
        fine.append(Period(a, energy_kwh=D(m2 - m1) / 1000, time_h=D(30) / 3600,
                           power_kw=D(12)))
    reference = price_periods(NIGHT, fine, BERLIN)
    assert live == reference.total_incl_minor
    assert len(s.marks) == 3  # start, 20 kWh, 22:00: no more periods than boundaries


def test_parking_is_its_own_period_and_billed_per_started_minute() -> None:
    p = LivePricer(NIGHT, BERLIN)
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    s = run(p, [(start, 0, 0, True), (start + timedelta(hours=1), 10_000, 10_000, True),
                (start + timedelta(hours=1), 10_000, 0, False),
                (start + timedelta(hours=1, minutes=10, seconds=1), 10_000, 0, False)])
    cost = p.cost(s)
    assert [m.charging for m in s.marks] == [True, False]
    assert cost.parking.excl == D(11) / 60 * 6  # 10 min 1 s → 11 started minutes


def test_dst_night_window_on_the_fall_back_day() -> None:
    """2026-10-25: 03:00 CEST becomes 02:00 CET. A 22:00-06:00 window is still 8 local hours
    but 9 real hours long; boundaries are placed in local time."""
    p = LivePricer(NIGHT, BERLIN)
    start = datetime(2026, 10, 24, 18, 0, tzinfo=UTC)  # 20:00 CEST
    end = datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 08:00 CET
    s = run(p, [(start, 0, 0, True), (end, 13_000, 1000, True)])  # 1 kWh per real hour
    local = [m.at.astimezone(BERLIN).strftime("%d %H:%M") for m in s.marks]
    assert local == ["24 20:00", "24 22:00", "25 06:00"]
    assert [m.meter_wh for m in s.marks] == [0, 2000, 11_000]  # 9 real hours at night
    assert p.cost(s).total_excl == D(2) * D("0.50") + D(9) * D("0.30") + D(2) * D("0.50")


def test_dst_spring_forward_window() -> None:
    p = LivePricer(NIGHT, BERLIN)
    start = datetime(2026, 3, 28, 19, 0, tzinfo=UTC)  # 20:00 CET
    end = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    s = run(p, [(start, 0, 0, True), (end, 11_000, 1000, True)])
    assert [m.meter_wh for m in s.marks] == [0, 2000, 9000]  # 7 real hours at night


def _dated(tid: str, price: float, start: str | None, end: str | None) -> Tariff:
    t: dict[str, Any] = {"id": tid, "currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": price, "vat": 19, "step_size": 1}]}]}
    if start:
        t["start_date_time"] = start
    if end:
        t["end_date_time"] = end
    return parse_tariff(json.dumps(t))


def test_a_scheduled_price_change_applies_to_sessions_that_start_after_it() -> None:
    from kiosk.billing.live import TariffBook

    book = TariffBook([_dated("old", 0.40, None, "2026-12-01T00:00:00Z"),
                       _dated("new", 0.45, "2026-12-01T00:00:00Z", None)], BERLIN)
    before = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    after = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert book.at(before).tariff.id == "old" and book.at(after).tariff.id == "new"
    # a session that started before the change keeps its price to the end
    s = run(book.for_start(before), [(before, 0, 0, True), (after + timedelta(hours=1),
                                                             10_000, 11_000, True)])
    assert book.cost(s).total_excl == D("4.00")


def test_no_valid_tariff_means_no_price_not_a_guess() -> None:
    from kiosk.billing.live import TariffBook

    book = TariffBook([_dated("gone", 0.40, None, "2026-01-01T00:00:00Z")], BERLIN)
    assert book.at(T0) is None
    assert book.for_start(T0).tariff.id == "gone"  # a running session is never unpriced
