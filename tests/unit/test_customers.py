"""Customer segments, the suggested plans and their simulated effect against figures computed by
hand (tests/support/customer_fleet.py has the table of cards and sessions), on SQLite and
PostgreSQL; the statements are the same SQL on both and never read the sessions out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from kiosk.backoffice.analytics import customers as cu
from kiosk.backoffice.analytics.customers import CustomerFigures, Rules, compute_customers
from kiosk.backoffice.analytics.queries import Period, snapshot
from kiosk.backoffice.storage import Database, charging_sessions, terminals
from kiosk.billing.plans import Plan
from tests.support.customer_fleet import PERIOD, TOKEN, customers_db


@pytest.fixture
def db(backoffice_url: str) -> Iterator[Database]:
    with customers_db(backoffice_url) as database:
        yield database


@pytest.fixture
def figures(db: Database) -> CustomerFigures:
    return compute_customers(db, Period(*PERIOD))


def seg(f: CustomerFigures, segment: str, currency: str = "EUR") -> cu.Segment:
    (found,) = [s for s in f.segments if s.segment == segment and s.currency == currency]
    return found


def effect(f: CustomerFigures, plan_id: str, currency: str = "EUR") -> cu.PlanEffect:
    (found,) = [e for e in f.effects if e.plan.id == plan_id and e.currency == currency]
    return found


def test_every_statement_is_the_same_sql_on_sqlite_and_postgresql() -> None:
    pg = postgresql.psycopg.dialect(paramstyle="named")
    lite = sqlite.dialect(paramstyle="named")
    for make in cu.STATEMENTS:
        stmt = make()
        on_pg = re.sub(r"::[A-Z]+(\(\d+\))?", "", str(stmt.compile(dialect=pg)))
        assert on_pg == str(stmt.compile(dialect=lite)), make.__name__


def test_no_statement_reads_the_sessions_out() -> None:
    # the outermost SELECT groups (per segment, per hour and amount), or reads only grouped
    # subqueries (per card): never one row per session
    for make in cu.STATEMENTS:
        stmt: Any = make()
        direct = any(getattr(f, "name", None) == "charging_sessions"
                     for f in stmt.get_final_froms())
        assert stmt._group_by_clauses or not direct, make.__name__
        assert "GROUP BY" in str(stmt.compile(dialect=sqlite.dialect())), make.__name__


def test_the_segments(figures: CustomerFigures) -> None:
    fleet, night, commuter, occasional = (seg(figures, s) for s in cu.SEGMENTS)
    # a: 14 a month; b: 3 stations and 9 a month (though a is at night 10 of 14 times)
    assert (fleet.tokens, fleet.sessions, fleet.revenue_minor) == (2, 14 + 9,
                                                                   14 * 2000 + 9 * 1500)
    assert fleet.energy_wh == 10 * fleet.revenue_minor
    # c: 4 of 5 at night; its declined attempt does not count
    assert (night.tokens, night.sessions, night.revenue_minor) == (1, 5, 1003 + 3 * 1000 + 1200)
    # e: 6 of its 7 sessions of the period (the Saturday is not); f: 3 of 5, exactly 60 %
    assert (commuter.tokens, commuter.sessions, commuter.revenue_minor) == (
        2, 7 + 5, 4 * 800 + 3 * 805 + 5 * 600)
    # d: all at night but 1 a month; "1": twice at noon
    assert (occasional.tokens, occasional.sessions, occasional.revenue_minor) == (
        2, 3, 900 + 2 * 1100)
    card_revenue = 41_500 + 5_203 + 8_615 + 3_100
    assert fleet.card_revenue_minor == card_revenue  # the session without a card: not in it
    assert fleet.share == pytest.approx(41_500 / card_revenue)
    assert sum(s.share or 0 for s in figures.segments if s.currency == "EUR") == (
        pytest.approx(1.0))
    chf = [(s.segment, s.tokens, s.revenue_minor) for s in figures.segments
           if s.currency == "CHF"]
    assert chf == [("fleet", 0, 0), ("night", 0, 0), ("commuter", 0, 0),
                   ("occasional", 1, 3000)]


def test_the_thresholds_decide(db: Database) -> None:
    # 14 a month for fleet-like: a (exactly 14) stays; b (3 stations, 9 ≥ 8) too
    f = compute_customers(db, Period(*PERIOD), Rules(fleet_per_month=14))
    assert seg(f, "fleet").tokens == 2
    # 15: a falls to night (10 of 14)
    f = compute_customers(db, Period(*PERIOD), Rules(fleet_per_month=15))
    assert (seg(f, "fleet").tokens, seg(f, "night").tokens) == (1, 2)
    # b needs 10 a month with 3 stations: occasional now
    f = compute_customers(db, Period(*PERIOD), Rules(fleet_per_month=15,
                                                     fleet_stations_per_month=10))
    assert (seg(f, "fleet").tokens, seg(f, "night").tokens, seg(f, "occasional").tokens) == (
        0, 2, 3)
    # 61 %: f (exactly 60 %) is no commuter
    f = compute_customers(db, Period(*PERIOD), Rules(commute_percent=61))
    assert (seg(f, "commuter").tokens, seg(f, "occasional").tokens) == (1, 3)
    # the same sessions over 60 days: half as many a month (a 7, c 2.5, e 3.5, f 2.5)
    sixty = Period(PERIOD[0] - 30 * 86_400, PERIOD[1])
    f = compute_customers(db, sixty)
    # e: its 2 sessions before the period now count (8 of 9 commute hours), 4.5 a month
    assert [(s.segment, s.tokens) for s in f.segments if s.currency == "EUR"] == [
        ("fleet", 0), ("night", 2), ("commuter", 1), ("occasional", 4)]


def test_the_top_customers(figures: CustomerFigures) -> None:
    top = figures.top
    assert [c.card_token for c in top] == [TOKEN[k] for k in "abec2f1d"]
    a = top[0]
    assert (a.segment, a.sessions, a.per_month, a.spend_minor, a.stations, a.home_station) == (
        "fleet", 14, 14.0, 28_000, 2, "S1")
    assert (a.night_share, a.commute_share) == (10 / 14, 0.0)
    b = top[1]
    # a tie of 3, 3, 3: the smaller id; no station has a site: each counts as one
    assert (b.stations, b.sites, b.home_station) == (3, 3, "S1")
    e = top[2]
    assert (e.segment, e.sessions, e.commute_share, e.home_station) == ("commuter", 7, 6 / 7,
                                                                         "S2")
    c = top[3]
    assert (c.segment, c.night_share, c.home_station) == ("night", 0.8, "S3")
    assert (top[4].currency, top[4].segment) == ("CHF", "occasional")


def test_the_suggested_plans() -> None:
    by_id = {s.plan.id: s for s in cu.suggested_plans(Rules())}
    assert by_id["night"].plan == Plan("night", "Night plan", Decimal(15), (22, 6))
    assert (by_id["night"].segment, by_id["night"].min_sessions_month) == ("night", None)
    assert by_id["loyalty"].plan == Plan("loyalty", "Loyalty plan", Decimal(10))
    assert (by_id["loyalty"].segment, by_id["loyalty"].min_sessions_month) == ("commuter", 4)
    assert by_id["fleet"].plan == Plan("fleet", "Fleet plan", Decimal(15))


def test_the_plans_effects(figures: CustomerFigures) -> None:
    revenue = 58_418 + 500  # every paid EUR session of the period, with a card or not
    fleet = effect(figures, "fleet")
    # 15 % off: 2000 -> 1700 (14 times), 1500 -> 1275 (9 times)
    assert (fleet.members, fleet.member_sessions, fleet.discounted_sessions) == (2, 23, 23)
    assert (fleet.member_before_minor, fleet.member_after_minor) == (41_500, 35_275)
    assert (fleet.change_minor, fleet.revenue_before_minor, fleet.revenue_after_minor) == (
        -6_225, revenue, revenue - 6_225)
    # the members' average after: 35,275 / 23 = 1,533.7 -> 1,534; 6,225 / 1,534 = 4.06 -> 5
    assert (fleet.avg_member_after_minor, fleet.break_even_sessions) == (1_534, 5)
    assert fleet.change_share == pytest.approx(-6_225 / revenue)
    night = effect(figures, "night")
    # 22:00 to 06:00 local: 1003 -> 852.55 -> 853, 1000 -> 850 three times; 14:00 not
    assert (night.members, night.member_sessions, night.discounted_sessions) == (1, 5, 4)
    assert (night.member_before_minor, night.change_minor) == (5_203, -150 - 3 * 150)
    assert (night.avg_member_after_minor, night.break_even_sessions) == (921, 1)
    loyalty = effect(figures, "loyalty")
    # after the 4th paid session of the month: e's November counts its two sessions before
    # the period (ranks 1, 2), so Nov 11, 12 and 14 (805 -> 724.5 -> 725); its December
    # starts again (2 sessions: none); f's 5th, Nov 20 (600 -> 540)
    assert (loyalty.members, loyalty.member_sessions, loyalty.discounted_sessions) == (2, 12, 4)
    assert loyalty.change_minor == -3 * 80 - 60
    assert (loyalty.avg_member_after_minor, loyalty.break_even_sessions) == (693, 1)
    for plan_id in ("fleet", "night", "loyalty"):  # no CHF card in those segments
        chf = effect(figures, plan_id, "CHF")
        assert (chf.members, chf.member_sessions, chf.change_minor, chf.revenue_before_minor,
                chf.break_even_sessions) == (0, 0, 0, 3000, 0)


def test_sites_not_stations_make_a_fleet(db: Database) -> None:
    # S1 and S2 at one site: b's three stations are two sites, so it is occasional (no night,
    # no commute); a (14 a month) stays fleet-like
    with db.engine.begin() as conn:
        conn.execute(update(terminals).where(terminals.c.id.in_(("S1", "S2")))
                     .values(site="mall"))
    f = compute_customers(db, Period(*PERIOD))
    assert (seg(f, "fleet").tokens, seg(f, "occasional").tokens) == (1, 3)
    b = next(c for c in f.top if c.card_token == TOKEN["b"])
    assert (b.segment, b.stations, b.sites) == ("occasional", 3, 2)


def test_a_plan_is_simulated_on_the_tariffs_price(db: Database) -> None:
    # a's sessions already had a plan (15 % off: 2000 paid as 1700, 300 discount): the fleet
    # plan's effect starts from the tariff's 2000 again, not from what the member paid
    with db.engine.begin() as conn:
        conn.execute(update(charging_sessions)
                     .where(charging_sessions.c.card_token == TOKEN["a"])
                     .values(amount_minor=1700, discount_minor=300))
    fleet = effect(compute_customers(db, Period(*PERIOD)), "fleet")
    assert (fleet.member_before_minor, fleet.member_after_minor) == (41_500, 35_275)


def test_loyalty_after_more_sessions(db: Database) -> None:
    f = compute_customers(db, Period(*PERIOD), Rules(loyalty_min_sessions=6))
    loyalty = effect(f, "loyalty")
    assert (loyalty.discounted_sessions, loyalty.change_minor) == (1, -80)  # e's Nov 14


def test_members_of_a_segment(db: Database) -> None:
    with snapshot(db) as conn:
        period, rules = Period(*PERIOD), Rules()
        assert list(cu.members(conn, period, rules, "fleet", "EUR")) == [TOKEN["a"], TOKEN["b"]]
        assert list(cu.members(conn, period, rules, "occasional", "CHF")) == [TOKEN["2"]]
        # the paid sessions of November (from Nov 1): e 7, f 5
        nov = dict(month="2026-11", month_from_s=PERIOD[0] - 9 * 86_400)
        assert list(cu.members(conn, period, rules, "commuter", "EUR", **nov,
                               min_sessions=6)) == [TOKEN["e"]]
        assert list(cu.members(conn, period, rules, "commuter", "EUR", **nov,
                               min_sessions=5)) == [TOKEN["e"], TOKEN["f"]]


def test_an_empty_period(db: Database) -> None:
    f = compute_customers(db, Period(0, 86_400))
    assert (f.segments, f.top, f.effects) == ((), (), ())


def test_the_rules_are_stated() -> None:
    text = " ".join(Rules().describe().values())
    for part in ("≥ 12 sessions a month", "≥ 3 sites", "and ≥ 8", "≥ 60 %", "22:00 to 05:59",
                 "06:00 to 08:59 or 16:00 to 18:59", "fleet-like, then night charger, then "
                 "commuter, then occasional"):
        assert part in text
