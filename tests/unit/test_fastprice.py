"""The compiled pricer (kiosk.billing.fastprice) gives the kiosk's exact price: the same integer
as replaying the session's events through LivePricer.track and price_periods, for random
tariffs (restrictions of every kind, step sizes, VAT, min/max price, several tariffs with
validity) and random sessions (DST days in Europe/Berlin among them)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kiosk.billing.fastprice import CompiledBook, reference_price
from kiosk.billing.live import TariffBook
from kiosk.billing.tariff import Tariff

BERLIN = ZoneInfo("Europe/Berlin")
# the DST days of 2026 in Berlin (29 March 02:00 → 03:00, 25 October 03:00 → 02:00), and others
DAYS = [datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC),
        datetime(2026, 6, 15, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)]
CLOCKS = ["00:00", "01:30", "02:00", "02:30", "03:00", "06:00", "07:15", "12:00", "18:00",
          "22:00", "23:59"]
WEEK = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
prices = st.sampled_from(["0", "0.01", "0.25", "0.333", "0.39", "1", "2.5", "6", "12.345"])
vats = st.one_of(st.none(), st.sampled_from(["0", "7", "19", "20", "7.7"]))
steps = st.sampled_from([1, 1, 1, 60, 300, 900, 1000, 3600, 5000])


@st.composite
def restrictions(draw: Any) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        start, end = draw(st.sampled_from(CLOCKS)), draw(st.sampled_from(CLOCKS))
        if start != end:
            if draw(st.integers(0, 3)):
                r["start_time"] = start
            if draw(st.integers(0, 3)):
                r["end_time"] = end
    if draw(st.integers(0, 3)) == 0:
        r["day_of_week"] = draw(st.lists(st.sampled_from(WEEK), min_size=1, max_size=7,
                                         unique=True))
    if draw(st.integers(0, 4)) == 0:
        a, b = sorted(draw(st.lists(st.sampled_from(
            ["2026-03-28", "2026-03-29", "2026-03-30", "2026-06-15", "2026-10-25",
             "2027-01-01"]), min_size=2, max_size=2, unique=True)))
        r.update({"start_date": a} if draw(st.booleans()) else {"end_date": b})
    if draw(st.integers(0, 3)) == 0:
        lo = draw(st.sampled_from(["0", "0.5", "2", "5", "10.25", "30"]))
        r["min_kwh" if draw(st.booleans()) else "max_kwh"] = Decimal(lo)
    if draw(st.integers(0, 3)) == 0:
        # 7 and 43 s: the engine's seconds (hours × 3600) come out just below them
        d = draw(st.sampled_from([0, 1, 7, 43, 59, 600, 1800, 3600, 5400, 7200]))
        r["min_duration" if draw(st.booleans()) else "max_duration"] = d
    if draw(st.integers(0, 4)) == 0:
        p = draw(st.sampled_from(["3.7", "11", "22", "50"]))
        r["min_power" if draw(st.booleans()) else "max_power"] = Decimal(p)
    if draw(st.integers(0, 15)) == 0:
        r["max_current"] = Decimal(16)
    if draw(st.integers(0, 20)) == 0:
        r["reservation"] = "RESERVATION"
    return r or None


@st.composite
def tariffs(draw: Any) -> list[Tariff]:
    out = []
    n = draw(st.integers(1, 2))
    edges = sorted(draw(st.lists(st.sampled_from(DAYS), min_size=n - 1, max_size=n - 1,
                                 unique=True)))
    for i in range(n):
        elements = []
        for _ in range(draw(st.integers(1, 4))):
            comps = [{"type": t, "price": Decimal(draw(prices)), "vat": draw(vats),
                      "step_size": draw(steps)}
                     for t in draw(st.lists(st.sampled_from(
                         ["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1, max_size=4,
                         unique=True))]
            for c in comps:
                if c["vat"] is None:
                    del c["vat"]
                else:
                    c["vat"] = Decimal(c["vat"])
            el: dict[str, Any] = {"price_components": comps}
            r = draw(restrictions())
            if r is not None:
                el["restrictions"] = r
            elements.append(el)
        t: dict[str, Any] = {"id": f"t{i}", "currency": "EUR", "elements": elements}
        if draw(st.integers(0, 3)) == 0:
            t["min_price"] = {"excl_vat": Decimal("1.5")}
        if draw(st.integers(0, 3)) == 0:
            t["max_price"] = {"excl_vat": Decimal(20), "incl_vat": Decimal("23.8")}
        if n == 1 and draw(st.integers(0, 4)) == 0:  # none valid before: the nearest
            t["start_date_time"] = DAYS[1]
        if n == 2:
            if i == 0:
                t["end_date_time"] = edges[0]
            else:
                t["start_date_time"] = edges[0]
        out.append(Tariff.model_validate(t))
    return out


@st.composite
def sessions(draw: Any) -> tuple[int, int, int, int]:
    day = draw(st.sampled_from(DAYS))
    start = int(day.timestamp()) + draw(st.integers(0, 2 * 86_400))
    charging = draw(st.one_of(st.integers(0, 120), st.integers(0, 6 * 3600),
                              st.integers(0, 30 * 3600)))
    parking = draw(st.one_of(st.just(0), st.integers(0, 4 * 3600)))
    energy = draw(st.one_of(st.integers(0, 100), st.integers(0, 80_000)))
    return start, start + charging, start + charging + parking, energy


def _both(ts: list[Tariff], s: tuple[int, int, int, int], zone: ZoneInfo = BERLIN
          ) -> tuple[int, int]:
    fast = CompiledBook.of(ts, zone).price(*s)
    assert fast[1] == ts[0].currency
    return fast[0], reference_price(TariffBook(ts, zone), *s)


def _tariff(elements: list[dict[str, Any]], **more: Any) -> list[Tariff]:
    return [Tariff.model_validate({"currency": "EUR", "elements": elements, **more})]


NIGHT = [{"price_components": [{"type": "ENERGY", "price": Decimal("0.2"), "vat": Decimal(19),
                                "step_size": 1}],
          "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
         {"price_components": [{"type": "ENERGY", "price": Decimal("0.4"), "vat": Decimal(19),
                                "step_size": 1},
                               {"type": "PARKING_TIME", "price": Decimal(6), "step_size": 60}]}]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ts=tariffs(), s=sessions(), zone=st.sampled_from([BERLIN, ZoneInfo("UTC"),
                                                          ZoneInfo("America/New_York")]))
@example(ts=_tariff(NIGHT), s=(1774728000, 1774728000 + 4 * 3600, 1774728000 + 5 * 3600,
                               40_000), zone=BERLIN)  # 29 March 2026 20:00 UTC, over DST
def test_the_compiled_price_is_the_engines(ts: list[Tariff], s: tuple[int, int, int, int],
                                           zone: ZoneInfo) -> None:
    fast, exact = _both(ts, s, zone)
    assert fast == exact


def test_a_night_window_splits_the_energy_at_22_00_local() -> None:
    # 20:00 to 00:00 UTC on 15 June = 22:00 to 02:00 in Berlin: all at the night price
    start = int(datetime(2026, 6, 15, 18, tzinfo=UTC).timestamp())  # 20:00 local
    s = (start, start + 4 * 3600, start + 4 * 3600, 40_000)
    fast, exact = _both(_tariff(NIGHT), s)
    # 20:00-22:00 local: 20 kWh at 0.40, 22:00-00:00: 20 kWh at 0.20 → 12.00 EUR + 19 %
    assert fast == exact == 1428


def test_parking_is_billed_only_when_the_tariff_bills_it() -> None:
    start = int(datetime(2026, 6, 15, 8, tzinfo=UTC).timestamp())
    s = (start, start + 3600, start + 3600 + 1830, 10_000)
    fast, exact = _both(_tariff(NIGHT), s)
    # 10 kWh at 0.40 + 19 % = 4.76; parking 1830 s stepped to 1860 s = 31 min at 6/h = 3.10
    assert fast == exact == 476 + 310
    flat = _tariff([{"price_components": [{"type": "ENERGY", "price": Decimal("0.4"),
                                           "step_size": 1}]}])
    assert _both(flat, s) == (400, 400)
