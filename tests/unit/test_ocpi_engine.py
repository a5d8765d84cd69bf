"""The OCPI engine against the worked examples of the domain note, and each restriction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kiosk.billing.engine import Period, price_periods
from kiosk.billing.tariff import Dimension, parse_tariff

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)  # a Wednesday


def tariff(*elements: dict[str, Any], **top: Any) -> Any:
    return parse_tariff(json.dumps({"currency": "EUR", "elements": list(elements), **top}))


def comp(kind: str, price: str, vat: float | None = None, step: int = 1) -> dict[str, Any]:
    c: dict[str, Any] = {"type": kind, "price": float(price), "step_size": step}
    if vat is not None:
        c["vat"] = vat
    return c


def el(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        e["restrictions"] = restrictions
    return e


def energy(kwh: str, start: datetime = T0, **kw: Any) -> Period:
    return Period(start, energy_kwh=D(kwh), **kw)


def test_energy_with_vat() -> None:
    c = price_periods(tariff(el(comp("ENERGY", "0.25", 10))), [energy("20")], BERLIN)
    assert (c.total_excl, c.total_incl) == (D("5.00"), D("5.500"))
    assert (c.total_excl_minor, c.total_incl_minor) == (500, 550)


def test_flat_plus_energy_each_with_its_vat() -> None:
    t = tariff(el(comp("FLAT", "0.50", 20), comp("ENERGY", "0.25", 10)))
    c = price_periods(t, [energy("20")], BERLIN)
    assert (c.total_excl_minor, c.total_incl_minor) == (550, 610)
    assert c.fixed.excl == D("0.50") and c.energy.incl == D("5.5")


def test_min_price_on_both_totals() -> None:
    t = tariff(el(comp("ENERGY", "0.25", 10)),
               min_price={"excl_vat": 0.50, "incl_vat": 0.55})
    c = price_periods(t, [energy("1.2")], BERLIN)
    assert (c.total_excl_minor, c.total_incl_minor) == (50, 55)
    assert c.notes == ("min_price",) and c.adjustment_excl == D("0.20")


def test_max_price() -> None:
    t = tariff(el(comp("ENERGY", "0.50", 19)), max_price={"excl_vat": 10})
    c = price_periods(t, [energy("100")], BERLIN)
    assert (c.total_excl_minor, c.total_incl_minor) == (1000, 1000)


def test_time_with_step() -> None:
    t = tariff(el(comp("TIME", "2.00", 10, step=60)))
    c = price_periods(t, [Period(T0, time_h=D("2.5"))], BERLIN)
    assert (c.total_excl_minor, c.total_incl_minor) == (500, 550)


def test_energy_step_100_wh_on_the_total() -> None:
    t = tariff(el(comp("FLAT", "0.50", 20), comp("ENERGY", "0.25", 10, step=100)))
    c = price_periods(t, [energy("20.45")], BERLIN)
    line = next(ln for ln in c.lines if ln.dimension is Dimension.ENERGY)
    assert line.quantity == D("20.5")
    assert c.total_excl == D("0.50") + D("20.5") * D("0.25")


def test_energy_step_25_wh() -> None:
    c = price_periods(tariff(el(comp("ENERGY", "0.25", step=25))), [energy("0.1152")], BERLIN)
    assert c.total_excl == D("0.03125") and c.total_excl_minor == 3


def test_step_uses_the_last_component_across_a_time_boundary() -> None:
    t = tariff(el(comp("ENERGY", "0.20", step=500), start_time="00:00", end_time="17:00"),
               el(comp("ENERGY", "0.27", step=500), start_time="17:00", end_time="00:00"))
    periods = [energy("4.3", T0.replace(hour=15)), energy("1.1", T0.replace(hour=17))]
    c = price_periods(t, periods, BERLIN)
    assert c.total_excl == D("4.3") * D("0.20") + D("1.2") * D("0.27") == D("1.184")


def test_time_and_parking_share_one_rounding() -> None:
    t = tariff(el(comp("TIME", "1.00", step=600), comp("PARKING_TIME", "2.00", step=600)))
    periods = [Period(T0, time_h=D(21) / 60), Period(T0 + timedelta(minutes=21),
                                                       parking_h=D(16) / 60)]
    c = price_periods(t, periods, BERLIN)
    assert c.time.excl == D(21) / 60  # charging billed 21 min, unrounded
    q = D("1e-20")  # hours of minutes are not exact in Decimal: compare to 20 places
    assert c.parking.excl.quantize(q) == (D(20) / 60 * 2).quantize(q)  # parking billed 20 min
    assert c.total_parking_h == D(16) / 60


def test_flat_is_charged_once_not_per_period() -> None:
    t = tariff(el(comp("FLAT", "1.00"), comp("ENERGY", "0.30")))
    periods = [energy("1", T0 + timedelta(hours=h)) for h in range(5)]
    assert price_periods(t, periods, BERLIN).fixed.excl == D("1.00")


def test_no_vat_means_included_not_zero() -> None:
    c = price_periods(tariff(el(comp("ENERGY", "0.40"))), [energy("10")], BERLIN)
    assert c.total_excl == c.total_incl == D("4.00")


def test_first_matching_element_wins_and_no_match_is_free() -> None:
    t = tariff(el(comp("ENERGY", "0.60"), min_power=50),
               el(comp("ENERGY", "0.40"), max_power=50))
    assert price_periods(t, [energy("10", power_kw=D(150))], BERLIN).total_excl == D("6.00")
    assert price_periods(t, [energy("10", power_kw=D(11))], BERLIN).total_excl == D("4.00")
    # no power measured: neither matches, the energy is free (documented)
    assert price_periods(t, [energy("10")], BERLIN).total_excl == 0


@pytest.mark.parametrize(("hour", "minute", "price"), [
    (21, 59, "0.50"), (22, 0, "0.30"), (23, 59, "0.30"), (0, 0, "0.30"), (5, 59, "0.30"),
    (6, 0, "0.50"),
])
def test_window_wrapping_midnight(hour: int, minute: int, price: str) -> None:
    t = tariff(el(comp("ENERGY", "0.30"), start_time="22:00", end_time="06:00"),
               el(comp("ENERGY", "0.50")))
    start = T0.replace(hour=hour, minute=minute)
    assert price_periods(t, [energy("1", start)], BERLIN).total_excl == D(price)


@pytest.mark.parametrize(("day", "hour", "price"), [
    (27, 23, "0.30"),  # Friday 23:00: inside Friday's window
    (28, 3, "0.30"),  # Saturday 03:00: the after-midnight part of Friday's window
    (28, 23, "0.50"),  # Saturday 23:00: Saturday has no window
    (27, 3, "0.50"),  # Friday 03:00: belongs to Thursday's window, which does not exist
])
def test_day_of_week_with_a_window_wrapping_midnight(day: int, hour: int, price: str) -> None:
    t = tariff(el(comp("ENERGY", "0.30"), start_time="22:00", end_time="06:00",
                  day_of_week=["FRIDAY"]),
               el(comp("ENERGY", "0.50")))
    start = datetime(2026, 11, day, hour, 0, tzinfo=BERLIN)
    assert price_periods(t, [energy("1", start)], BERLIN).total_excl == D(price)


def test_time_of_day_is_local_time_across_dst() -> None:
    t = tariff(el(comp("ENERGY", "0.30"), start_time="02:00", end_time="04:00"),
               el(comp("ENERGY", "0.50")))
    # 2026-03-29: clocks jump 02:00 → 03:00 in Berlin. 01:30 UTC is 03:30 CEST: inside
    assert price_periods(t, [energy("1", datetime(2026, 3, 29, 1, 30, tzinfo=UTC))],
                         BERLIN).total_excl == D("0.30")
    # 2026-10-25: clocks fall back 03:00 → 02:00. 00:30 UTC is 02:30 CEST, 01:30 UTC 02:30 CET
    for utc_hour in (0, 1):
        start = datetime(2026, 10, 25, utc_hour, 30, tzinfo=UTC)
        assert price_periods(t, [energy("1", start)], BERLIN).total_excl == D("0.30")
    # 03:30 UTC on that day is 04:30 CET: outside
    assert price_periods(t, [energy("1", datetime(2026, 10, 25, 3, 30, tzinfo=UTC))],
                         BERLIN).total_excl == D("0.50")


def test_dates_are_start_inclusive_end_exclusive() -> None:
    t = tariff(el(comp("ENERGY", "0.10"), start_date="2026-12-24", end_date="2026-12-27"),
               el(comp("ENERGY", "0.50")))
    for day, price in ((23, "0.50"), (24, "0.10"), (26, "0.10"), (27, "0.50")):
        start = datetime(2026, 12, day, 12, tzinfo=BERLIN)
        assert price_periods(t, [energy("1", start)], BERLIN).total_excl == D(price), day


def test_kwh_restriction_looks_at_energy_before_the_period() -> None:
    t = tariff(el(comp("ENERGY", "0.50"), max_kwh=10), el(comp("ENERGY", "0.30"), min_kwh=10))
    periods = [energy("10", T0), energy("5", T0 + timedelta(hours=1))]
    assert price_periods(t, periods, BERLIN).total_excl == D("5.00") + D("1.50")


def test_duration_counts_wall_clock_from_the_session_start() -> None:
    t = tariff(el(comp("PARKING_TIME", "0"), comp("TIME", "0"), max_duration=7200),
               el(comp("TIME", "6.00"), comp("PARKING_TIME", "12.00"), min_duration=7200))
    periods = [Period(T0, time_h=D(1)), Period(T0 + timedelta(hours=1), parking_h=D(1)),
               Period(T0 + timedelta(hours=2), parking_h=D("0.5"))]
    c = price_periods(t, periods, BERLIN)
    assert c.total_excl == D("6.00") and c.parking.excl == D("6.00")


def test_current_restriction() -> None:
    t = tariff(el(comp("ENERGY", "0.35"), min_current=32), el(comp("ENERGY", "0.25")))
    assert price_periods(t, [energy("1", current_a=D(32))], BERLIN).total_excl == D("0.35")
    assert price_periods(t, [energy("1", current_a=D(16))], BERLIN).total_excl == D("0.25")


def test_reservation_elements_never_apply_here() -> None:
    t = tariff(el(comp("FLAT", "5.00"), reservation="RESERVATION"), el(comp("ENERGY", "0.30")))
    assert price_periods(t, [energy("1")], BERLIN).total_excl == D("0.30")


def test_an_empty_session_costs_the_minimum_only() -> None:
    t = tariff(el(comp("ENERGY", "0.30")), min_price={"excl_vat": 1, "incl_vat": 1.19})
    c = price_periods(t, [], BERLIN)
    assert (c.total_excl_minor, c.total_incl_minor) == (100, 119)


def test_rounding_happens_once_at_the_end_half_up() -> None:
    # three periods of 0.0125 each: rounded per period would be 0.03; once on the total 0.04
    t = tariff(el(comp("ENERGY", "0.25")))
    periods = [energy("0.05", T0 + timedelta(minutes=m)) for m in range(3)]
    c = price_periods(t, periods, BERLIN)
    assert c.total_excl == D("0.0375") and c.total_excl_minor == 4
