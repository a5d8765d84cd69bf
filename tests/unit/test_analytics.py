"""The analytics' figures against numbers computed by hand, on SQLite and PostgreSQL.

The fleet (tests/support/analytics_fleet.py has the table of sessions and events) is inserted
straight into the facts tables; the period is the ISO week 2026-W45, 604,800 s. ``H`` = 3,600 s,
``D`` = 86,400 s, times are offsets from the period's start ``P0``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from kiosk.backoffice.analytics import queries as q
from kiosk.backoffice.analytics.forecast import forecast
from kiosk.backoffice.analytics.queries import Analytics, Period, Thresholds, compute
from kiosk.backoffice.storage import Database, charging_sessions, open_db
from tests.support.analytics_fleet import P0, PERIOD, D, H, S, fleet_db, session_row

WEEK = 7 * D  # 604,800


@pytest.fixture
def db(backoffice_url: str) -> Iterator[Database]:
    with fleet_db(backoffice_url) as database:
        yield database


@pytest.fixture
def week(db: Database) -> Analytics:
    return compute(db, Period(*PERIOD))


def by(rows: Any, **match: Any) -> Any:
    found = [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


# --- the statements ------------------------------------------------------------------------

@pytest.mark.parametrize("station", [None, "ST-A"])
def test_every_statement_is_the_same_sql_on_sqlite_and_postgresql(station: str | None) -> None:
    # psycopg's dialect casts bound parameters (":x::BIGINT"); nothing else may differ
    pg = postgresql.psycopg.dialect(paramstyle="named")
    lite = sqlite.dialect(paramstyle="named")
    for make in q.STATEMENTS:
        stmt = make(station)
        on_pg = re.sub(r"::[A-Z]+(\(\d+\))?", "", str(stmt.compile(dialect=pg)))
        assert on_pg == str(stmt.compile(dialect=lite)), make.__name__


def test_no_statement_reads_the_sessions_out() -> None:
    # every statement that reads the sessions aggregates them (GROUP BY): the rows out are per
    # station, connector, date, hour..., never per session
    for make in q.STATEMENTS:
        text = str(make(None).compile(dialect=sqlite.dialect()))
        if "charging_sessions" in text:  # the outermost SELECT groups
            assert make(None)._group_by_clauses, make.__name__


# --- utilization -----------------------------------------------------------------------------

def test_utilization_per_connector(week: Analytics) -> None:
    a1 = by(week.usage, level="connector", station_id="ST-A", connector=1)
    # sessions created in the period: a2, a3, a4 (a1 was created 2 h before the start)
    assert (a1.sessions, a1.energy_wh) == (3, 30_000 + 0 + 16_000)
    assert [(m.currency, m.minor) for m in a1.revenue] == [("EUR", 1500 + 800)]
    # charging: a1 [P0, P0+1H] 3,600 (clipped at the start) + a2 2H 7,200 + a4 1H 3,600
    assert a1.charging_s == 3_600 + 7_200 + 3_600
    # occupied: a1 [P0, P0+1.5H] 5,400 + a2 [+1.5H+180, +4H+180] 9,000
    #           + a4 [+2D+10H+60, +2D+11H+1860] 5,400; a3 has no charge times: nothing
    assert a1.occupied_s == 5_400 + 9_000 + 5_400
    # idle: a1 [+1H, +1.5H] 1,800 + a2 1,800 + a4 1,800
    assert a1.idle_s == 5_400
    assert a1.charging_share == pytest.approx(14_400 / WEEK)  # 2.38 %
    # ST-A in service 576,000 s (availability below): adjusted = 14,400 / 576,000 = 2.5 %
    assert a1.in_service_s == 576_000
    assert a1.adjusted_share == pytest.approx(0.025)

    a2 = by(week.usage, level="connector", station_id="ST-A", connector=2)
    # a5 created Sunday 23:00, charging until Monday 01:00 after the end: [+7D-1H+60, +7D)
    assert (a2.sessions, a2.energy_wh, a2.charging_s, a2.occupied_s, a2.idle_s) == (
        3, 40_000, 3_540, 3_540, 0)
    assert [(m.currency, m.minor) for m in a2.revenue] == [("EUR", 2000)]


def test_utilization_per_station_and_site(week: Analytics) -> None:
    a = by(week.usage, level="station", station_id="ST-A")
    # 2 connectors: capacity 2 × 604,800 = 1,209,600; charging 14,400 + 3,540 = 17,940
    assert (a.connectors, a.capacity_s, a.charging_s, a.occupied_s, a.idle_s) == (
        2, 1_209_600, 17_940, 23_340, 5_400)
    assert a.charging_share == pytest.approx(17_940 / 1_209_600)  # 1.48 %
    assert a.occupancy_share == pytest.approx(23_340 / 1_209_600)
    assert (a.sessions, a.energy_wh, a.revenue[0].minor) == (6, 86_000, 4_300)
    # in service: 2 connectors × 576,000 s
    assert a.adjusted_share == pytest.approx(17_940 / 1_152_000)

    b = by(week.usage, level="station", station_id="ST-B")
    # b1: charging [+1D+8H+30, +1D+9H+30] 3,600, occupied to +1D+9H+630: 4,200, idle 600
    assert (b.sessions, b.energy_wh, b.charging_s, b.occupied_s, b.idle_s) == (
        3, 10_000, 3_600, 4_200, 600)
    c = by(week.usage, level="station", station_id="ST-C")
    # c1: charging 2H, occupied 3H, idle 1H; c2 without charge times; c3 before the period
    assert (c.sessions, c.charging_s, c.occupied_s, c.idle_s) == (2, 7_200, 10_800, 3_600)
    d = by(week.usage, level="station", station_id="ST-D")
    assert (d.connectors, d.sessions, d.charging_share, d.adjusted_share) == (0, 0, None, None)

    north = by(week.usage, level="site", site="north")
    # ST-A + ST-B: 3 connectors; charging 17,940 + 3,600 = 21,540
    assert (north.connectors, north.charging_s, north.sessions) == (3, 21_540, 9)
    assert north.charging_share == pytest.approx(21_540 / (3 * WEEK))
    # in service: ST-A 2 × 576,000 + ST-B 604,800 = 1,756,800 connector-seconds
    assert north.in_service_s == 1_756_800
    assert north.revenue[0].minor == 4_300 + 500
    south = by(week.usage, level="site", site="south")
    assert (south.connectors, south.charging_s, south.revenue[0].minor) == (1, 7_200, 1_200)


# --- availability ----------------------------------------------------------------------------

def test_availability_from_the_health_events(week: Analytics) -> None:
    a = by(week.availability, station_id="ST-A")
    # faulted since −1D (the state before the period) until +6H: 21,600 s out and faulted;
    # in service +6H .. +3D: 237,600; maintenance +3D .. +3D+2H: 7,200 out, not faulted;
    # in service +3D+2H .. +7D: 338,400. In service 237,600 + 338,400 = 576,000.
    assert (a.in_service_s, a.faulted_s, a.events, a.faults) == (576_000, 21_600, 3, 0)
    assert a.out_of_service_share == pytest.approx(28_800 / WEEK)  # 8 h: 4.76 %
    assert a.faulted_share == pytest.approx(21_600 / WEEK)
    c = by(week.availability, station_id="ST-C")
    # in service until +2D (no event before), out and faulted for 30 min, back; the fault at
    # +8D is after the period
    assert (c.in_service_s, c.faulted_s, c.events, c.faults) == (WEEK - 1_800, 1_800, 2, 1)
    for sid in ("ST-B", "ST-D"):  # no event at all: in service the whole period
        x = by(week.availability, station_id=sid)
        assert (x.in_service_share, x.faulted_s, x.events) == (1.0, 0, 0)
    north = by(week.site_availability, site="north")
    assert (north.stations, north.in_service_s) == (2, 576_000 + WEEK)


# --- success ---------------------------------------------------------------------------------

def test_success_rate_and_failures(week: Analytics) -> None:
    fleet = week.outcomes[0]
    assert fleet.station_id == ""
    # 11 sessions in the period; attempts exclude a6 (driver) and c2 (none): 9; paid: a2, a4,
    # a5, b1, c1 = 5; success 5 / 9
    assert (fleet.sessions, fleet.attempts, fleet.paid, fleet.failed) == (11, 9, 5, 4)
    assert fleet.success_rate == pytest.approx(5 / 9)
    assert dict(fleet.by_result) == {"paid": 5, "declined": 1, "card": 0, "host": 2,
                                     "charger": 1, "driver": 1, "none": 1}
    assert sorted(fleet.by_say) == [("charger", "charger_fault", 1),
                                    ("declined", "insufficient_funds", 1),
                                    ("host", "service_timeout", 1),
                                    ("host", "service_unreachable", 1)]
    a = by(week.outcomes, station_id="ST-A")
    # a2..a7: attempts 5 (a6 driver out), paid a2, a4, a5
    assert (a.sessions, a.attempts, a.paid, a.success_rate) == (6, 5, 3, 0.6)
    c = by(week.outcomes, station_id="ST-C")
    assert (c.attempts, c.paid, c.success_rate) == (1, 1, 1.0)


# --- peaks -----------------------------------------------------------------------------------

def test_peak_hours_are_local_weekday_by_hour(week: Analytics) -> None:
    assert len(week.peak) == 7 * 24
    cells = {(c.dow, c.hour): (c.sessions, c.energy_wh) for c in week.peak if c.sessions}
    assert cells == {
        (0, 1): (1, 30_000),  # a2 Monday 01:32
        (0, 4): (1, 0),  # a3
        (1, 8): (1, 10_000),  # b1
        (1, 12): (1, 0),  # b2
        (2, 10): (1, 16_000),  # a4
        (3, 12): (1, 0),  # a6
        (4, 18): (1, 24_000),  # c1: 17:00 UTC is 18:00 at ST-C (UTC+1)
        (4, 21): (1, 0),  # c2 20:20 UTC, 21:20 local
        (5, 9): (1, 0),  # a7
        (5, 18): (1, 0),  # b3
        (6, 23): (1, 40_000),  # a5 Sunday 23:00
    }


# --- revenue ---------------------------------------------------------------------------------

def test_revenue_by_day_week_and_month_with_growth(week: Analytics) -> None:
    days = {b.label: b for b in week.revenue if b.granularity == "day"}
    assert list(days) == [f"2026-11-0{d}" for d in range(2, 9)]  # every day, zeros kept
    assert [days[k].revenue_minor for k in days] == [1500, 500, 800, 0, 1200, 0, 2000]
    # growth against the previous day's whole revenue; Sunday 1 Nov had a1's 1,000 (read
    # before the period): Monday +50 %; none after a day without revenue
    assert days["2026-11-02"].previous_minor == 1000
    assert [days[k].growth for k in days] == pytest.approx(
        [0.5, -2 / 3, 0.6, -1.0, None, -1.0, None])
    assert not any(b.partial for b in days.values())
    (w,) = [b for b in week.revenue if b.granularity == "week"]
    # the week W45 whole in the period: 6,000; the week before: a1 1,000 + c3 700 = 1,700;
    # growth (6,000 − 1,700) / 1,700 = 252.9 %
    assert (w.label, w.revenue_minor, w.whole_minor, w.previous_minor, w.partial) == (
        "2026-W45", 6_000, 6_000, 1_700, False)
    assert w.growth == pytest.approx(4_300 / 1_700)
    assert (w.sessions, w.paid, w.energy_wh) == (11, 5, 120_000)
    (m,) = [b for b in week.revenue if b.granularity == "month"]
    # November: the period holds 6,000 of it, the month so far 7,000 (a1 on 1 Nov); cut by
    # the period's end: partial, no growth
    assert (m.label, m.revenue_minor, m.whole_minor, m.previous_minor, m.partial, m.growth) == (
        "2026-11", 6_000, 7_000, 700, True, None)


def test_average_paid_session_and_price_per_kwh(week: Analytics) -> None:
    (avg,) = week.averages
    # paid: a2 30 kWh 1,500, a4 16 kWh 800, a5 40 kWh 2,000, b1 10 kWh 500, c1 24 kWh 1,200
    assert (avg.currency, avg.paid, avg.energy_wh, avg.revenue_minor) == (
        "EUR", 5, 120_000, 6_000)
    assert avg.avg_kwh == 24.0
    assert avg.avg_amount_minor == 1_200
    # charging: 7,200 + 3,600 + 7,140 (a5, whole) + 3,600 + 7,200 = 28,740 s = 95.8 min
    assert avg.charging_s == 28_740
    assert avg.avg_charging_min == pytest.approx(95.8)
    # idle: 1,800 + 1,800 + 3,600 + 600 + 3,600 = 11,400 s = 38 min
    assert avg.avg_idle_min == pytest.approx(38.0)
    # 6,000 cents ÷ 120 kWh = 50.00 cents per kWh
    assert avg.price_per_kwh_minor == Decimal("50.00")


# --- loads -----------------------------------------------------------------------------------

def test_under_used_and_congested(week: Analytics) -> None:
    a = by(week.loads, station_id="ST-A")
    # every hour of the week occurs once in the period; ST-A has 2 connectors: 7,200 s a slot.
    # Monday 00: a1 3,600 → 50 %; Monday 01: a1 1,800 + a2 1,620 → 47.5 %; Monday 02 and 03:
    # a2 3,600 → 50 %. The peak (the first of the highest) is Monday 00 at 50 %: not > 80 %.
    assert (a.peak_dow, a.peak_hour, a.peak_occupancy) == (0, 0, 0.5)
    # back to back: a2 created 120 s after a1 ended, a3 240 s after a2 → 2 of 6 sessions;
    # fewer than 10 sessions: not counted as congestion
    assert (a.sessions, a.back_to_back) == (6, 2)
    assert a.back_to_back_share == pytest.approx(1 / 3)
    assert a.under_used and not a.congested  # charging 1.48 % < 5 %
    c = by(week.loads, station_id="ST-C")
    # c1 occupied 18:01..21:01 local (UTC+1): Friday 19 and 20 full (100 %), the first wins
    assert (c.peak_dow, c.peak_hour, c.peak_occupancy) == (4, 19, 1.0)
    assert c.congested and c.under_used
    assert c.back_to_back == 0  # c2 came 1,140 s after c1 ended
    b = by(week.loads, station_id="ST-B")
    # b1 occupied Tuesday 08:00:30 .. 09:10:30: 3,570 s of Tuesday 08 → 99.2 %
    assert (b.peak_dow, b.peak_hour) == (1, 8)
    assert b.peak_occupancy == pytest.approx(3_570 / 3_600)
    d = by(week.loads, station_id="ST-D")
    assert d.under_used and d.reasons == ("no session before the period's end",)


def test_back_to_back_counts_once_the_minimum_is_met(db: Database) -> None:
    th = Thresholds(back_to_back_min_sessions=6, back_to_back_share=0.30)
    a = by(compute(db, Period(*PERIOD), thresholds=th).loads, station_id="ST-A")
    assert a.congested and any("back to back" in r for r in a.reasons)  # 33 % ≥ 30 %


# --- payment health and trends ---------------------------------------------------------------

def test_payment_health(week: Analytics) -> None:
    p = week.payment
    assert p.declines_by_say == (("insufficient_funds", 1),)
    assert (p.reversals, p.reversed_stations) == (1, (("ST-A", 1),))  # a7
    visa = by(p.by_scheme, scheme="visa")
    # a2, a3, a5, b1, b2, c1: 6 attempts, paid a2, a5, b1, c1 = 1,500 + 2,000 + 500 + 1,200
    assert (visa.sessions, visa.attempts, visa.paid, visa.declined) == (6, 6, 4, 1)
    assert visa.revenue[0].minor == 5_200
    contactless = by(p.by_interface, interface="contactless")
    # a2, a3, a7, b1, b2, c1; paid a2, b1, c1
    assert (contactless.sessions, contactless.paid, contactless.revenue[0].minor) == (
        6, 3, 3_200)
    contact = by(p.by_interface, interface="contact")
    assert (contact.sessions, contact.paid, contact.success_rate) == (2, 2, 1.0)
    unknown = by(p.by_interface, interface="")
    assert (unknown.sessions, unknown.attempts) == (3, 1)  # a6 driver, b3 charger, c2 none


def test_trends_against_the_previous_period(week: Analytics) -> None:
    assert week.previous_period == Period(P0 - WEEK, P0)
    a = by(week.trends, level="station", station_id="ST-A")
    # before: a1 (20 kWh); now a2..a7 (86 kWh): sessions +500 %, energy +330 %
    assert (a.sessions, a.previous_sessions, a.energy_wh, a.previous_energy_wh) == (
        6, 1, 86_000, 20_000)
    assert (a.sessions_growth, a.energy_growth) == (5.0, 3.3)
    b = by(week.trends, level="station", station_id="ST-B")
    assert (b.previous_sessions, b.sessions_growth) == (0, None)
    south = by(week.trends, level="site", site="south")
    # ST-C: c3 5 kWh before, c1 + c2 24 kWh now; ST-D nothing
    assert (south.sessions, south.previous_sessions, south.energy_growth) == (2, 1, 3.8)


# --- one station, an empty period ---------------------------------------------------------

def test_one_station(db: Database) -> None:
    a = compute(db, Period(*PERIOD), station="ST-A")
    assert {u.station_id for u in a.usage if u.level != "site"} == {"ST-A"}
    assert [u.site for u in a.level("site")] == ["north"]
    assert a.outcomes[0].sessions == 6 and a.outcomes[0].station_id == ""
    assert sum(c.sessions for c in a.peak) == 6
    assert [x.station_id for x in a.availability] == ["ST-A"]
    with pytest.raises(q.UnknownStation):
        compute(db, Period(*PERIOD), station="ST-NONE")


def test_an_empty_period(db: Database) -> None:
    a = compute(db, Period.of_dates(date(2020, 1, 6), date(2020, 1, 12)))
    # the registered stations, no connector seen yet, nothing counted, no division by zero
    assert {u.station_id for u in a.level("station")} == {"ST-A", "ST-B", "ST-C", "ST-D"}
    assert all(u.sessions == 0 and u.charging_share is None for u in a.level("station"))
    assert a.outcomes[0].sessions == 0 and a.outcomes[0].success_rate is None
    assert sum(c.sessions for c in a.peak) == 0
    assert a.revenue == () and a.averages == ()
    assert all(x.in_service_share == 1.0 for x in a.availability)  # no event before
    assert all(lo.under_used for lo in a.loads)
    assert a.forecasts == {}


def test_a_session_across_the_whole_period_and_the_tz_spill(backoffice_url: str) -> None:
    db = open_db(backoffice_url)
    try:
        # plugged in from a day before the period to a day after: the whole period occupied,
        # charging for its first half
        long = S("x1", "ST-X", 1, -D, -D, 3 * D + 12 * H, 8 * D, "paid", "", 1_000, 100)
        with db.engine.begin() as conn:
            conn.execute(insert(charging_sessions), [session_row(long)])
        a = compute(db, Period(*PERIOD))
        x = by(a.usage, level="station", station_id="ST-X")
        assert (x.sessions, x.charging_s, x.occupied_s, x.idle_s) == (
            0, 3 * D + 12 * H, WEEK, WEEK - (3 * D + 12 * H))
        assert x.occupancy_share == 1.0
        # every hour of the week fully occupied: 100 % > 80 %
        assert by(a.loads, station_id="ST-X").peak_occupancy == 1.0
    finally:
        db.close()


# --- the period and the slots --------------------------------------------------------------

def test_periods() -> None:
    p = Period.of_dates(date(2026, 11, 2), date(2026, 11, 8))
    assert (p.from_s, p.to_s, p.seconds) == (P0, P0 + WEEK, WEEK)
    assert Period.last_days(30, date(2026, 12, 1)) == Period.of_dates(date(2026, 11, 1),
                                                                      date(2026, 11, 30))
    assert p.previous() == Period(P0 - WEEK, P0)
    assert p.label() == "2026-11-02 to 2026-11-09 UTC, end excluded (7 days)"
    with pytest.raises(ValueError, match="before it begins"):
        Period.of_dates(date(2026, 11, 8), date(2026, 11, 2))


def test_slot_seconds_of_a_part_week() -> None:
    # Monday 00:30 to Monday 02:00 UTC at UTC+1: local Monday 01:30..03:00
    slots = q._slot_seconds(Period(P0 + 1_800, P0 + 2 * H), 1)
    assert {k: v for k, v in enumerate(slots) if v} == {1: 1_800, 2: 3_600}
    assert sum(q._slot_seconds(Period(*PERIOD), 5)) == WEEK
    assert set(q._slot_seconds(Period(*PERIOD), 5)) == {H}


# --- the forecast --------------------------------------------------------------------------

FIRST = date(2026, 11, 2)  # a Monday
PATTERN = (0.0, 0.02, 0.04, 0.06, 0.04, 0.02, -0.18)  # weekday levels summing to 0


def series(n: int, level: float, slope: float,
           noise: tuple[float, ...] = ()) -> list[tuple[date, float]]:
    return [(FIRST + timedelta(days=t), level + slope * t + PATTERN[t % 7]
             + (noise[t % len(noise)] if noise else 0.0)) for t in range(n)]


def test_forecast_of_a_clean_trend_crosses_on_the_day() -> None:
    # y = 0.1 + 0.01 t + weekday; the 7-day mean of day k is 0.1 + 0.01 (k − 3) (the pattern
    # cancels): it reaches 0.505 at k = 43.5, so on day 44 (0.51)
    f = forecast(series(28, 0.1, 0.01), 0.505, horizon_days=180)
    assert f.status == "crosses"
    assert f.slope_per_day == pytest.approx(0.01)
    assert f.residual_sd == pytest.approx(0.0, abs=1e-9)
    assert f.crossing == f.earliest == f.latest == FIRST + timedelta(days=44)
    assert len(f.days) == 180 and f.days[0].day == FIRST + timedelta(days=28)


def test_forecast_band_brackets_the_crossing() -> None:
    f = forecast(series(56, 0.1, 0.005, (0.03, -0.02, 0.01, -0.03, 0.02)), 0.5)
    assert f.status == "crosses" and f.residual_sd is not None and f.residual_sd > 0
    assert f.earliest is not None and f.crossing is not None
    assert f.earliest <= f.crossing and (f.latest is None or f.crossing <= f.latest)
    assert all(d.low <= d.value <= d.high for d in f.days)
    # the 7-day mean's band: seven days' noise averaged, narrower than a day's
    assert all(d.mean7_low <= d.mean7 <= d.mean7_high for d in f.days)
    assert all(d.mean7_high - d.mean7_low < d.high - d.low for d in f.days)
    spread = [d.high - d.low for d in f.days]
    assert spread[-1] > spread[0]  # the trend's uncertainty grows with the horizon


def test_forecast_flat_already_and_short() -> None:
    flat = forecast(series(35, 0.2, 0.0), 0.8)
    assert (flat.status, flat.crossing) == ("not within the horizon", None)
    assert flat.describe() == "not within 180 days"
    assert forecast(series(35, 0.9, 0.0), 0.8).status == "already"
    short = forecast(series(10, 0.2, 0.01), 0.8)
    assert (short.status, short.days) == ("not enough data", ())
