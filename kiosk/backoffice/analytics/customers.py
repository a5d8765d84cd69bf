"""Customers by card token: segments, suggested plans and their simulated revenue effect
(issue #18), computed in the database.

A **customer** is a card token (:func:`kiosk.security.cards.card_token`: the keyed HMAC of the
PAN under the operator-wide card token key every terminal is given at provisioning, so one card
has one token at every terminal of the operator) within one currency: an operator with stations
in two currencies sees a card that charges in both as two customers. Only the period's **paid**
sessions with a token count (created in the period, :class:`~.queries.Period`).

Per customer, in SQL (grouped by ``card_token`` and ``currency``): sessions, **sessions per
month** (sessions ÷ the period's seconds × 30 days), spend, energy, the share of sessions
starting at **night** (local 22:00 to 05:59), the share starting on a **weekday in commute
hours** (Monday to Friday, local 06:00 to 08:59 and 16:00 to 18:59), distinct stations and
sites (``terminals.site``; a station without one counts as a site of its own) and the **home
station** (the most used; a tie: the smaller id). The **segment** (:class:`Rules`, in
this order of precedence, the first that matches):

1. ``fleet`` (fleet-like): at least ``fleet_per_month`` sessions a month, or at least
   ``fleet_min_sites`` sites and ``fleet_stations_per_month`` sessions a month (sites, not
   stations: a driver who takes whichever of a mall's six stations is free is not a fleet;
   on the demo fleet "3 stations" made half the revenue fleet-like);
2. ``night`` (night charger): at least ``night_percent`` % at night and ``night_per_month``;
3. ``commuter``: at least ``commute_percent`` % in commute hours and ``commute_per_month``;
4. ``occasional``: the rest.

Night and commute hours do not overlap, so 2 and 3 never both match (both need over half of
the sessions); the order matters only for fleet-like cards, which stay fleet-like whenever
they charge. Every comparison is integer arithmetic in SQL (percentages and sessions a month
are whole numbers), so SQLite and PostgreSQL agree exactly.

**Suggested plans** (:func:`suggested_plans`), each a :class:`kiosk.billing.plans.Plan`:
night chargers a night price (``night_plan_percent`` off, hours [22, 6]); commuters a loyalty
discount (``loyalty_percent`` off once a card has ``loyalty_min_sessions`` paid sessions in the
calendar month: the back office lists only such cards, so the discount applies from the next
session of that month on); fleet-like cards a volume discount (``fleet_plan_percent`` off);
occasional drivers none.

**Simulated effect** (:func:`plan_effects`): the plan applied with
:func:`kiosk.billing.plans.discounted` (the kiosk's one discount arithmetic) to each recorded
paid session of the period of the segment's cards where it applies: the plan's hours against
the session's ``local_hour``; a loyalty plan from the session after the card's N-th paid
session of its calendar month (``local_date``'s month; sessions of that month before the
period count towards N). The recorded amount stands for the tariff's total (the exact total
before rounding is not in the facts: at most half a minor unit per session apart). SQL groups
the eligible sessions by (local hour, amount, past N): Python applies the arithmetic once per
group, so no session is read out. **Assumption:** no change in behaviour (the same sessions,
the member list current at each session). **Break-even:** the extra sessions at the members'
average amount after the plan that would earn back what the discount costs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from math import ceil
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select, Subquery

from kiosk.backoffice.analytics.queries import DAY_S, Period, snapshot
from kiosk.backoffice.storage import Database, charging_sessions, terminals
from kiosk.billing.money import MINOR_UNITS
from kiosk.billing.plans import Plan, discounted

__all__ = ["COMMUTE_HOURS", "DEFINITIONS", "MONTH_S", "NIGHT_HOURS", "SEGMENTS",
           "SEGMENT_NAMES", "TOP_CUSTOMERS", "Customer", "CustomerFigures", "PlanEffect",
           "Rules", "Segment", "Suggested", "compute_customers", "customer_statement",
           "members", "plan_effect", "plan_effects", "segment_statement", "segments",
           "suggested_plans", "top_customers"]

SEGMENTS = ("fleet", "night", "commuter", "occasional")  # the order of precedence
SEGMENT_NAMES = {"fleet": "fleet-like", "night": "night charger", "commuter": "commuter",
                 "occasional": "occasional"}
NIGHT_HOURS = (22, 6)  # local [22:00, 06:00)
COMMUTE_HOURS = ((6, 9), (16, 19))  # local, Monday to Friday
MONTH_S = 30 * DAY_S  # "a month" for the sessions a month
TOP_CUSTOMERS = 50
LOYALTY_LOOKBACK_S = 32 * DAY_S  # read before the period for the rank in its first month

cs = charging_sessions.c
_FROM = bindparam("from_s", type_=BigInteger)
_TO = bindparam("to_s", type_=BigInteger)
_PERIOD_S = bindparam("period_s", type_=BigInteger)


@dataclass(frozen=True)
class Rules:
    """The segments' thresholds and the suggested plans (the page states them)."""

    fleet_per_month: int = 12
    fleet_min_sites: int = 3
    fleet_stations_per_month: int = 8
    night_percent: int = 60
    night_per_month: int = 2
    commute_percent: int = 60
    commute_per_month: int = 4
    night_plan_percent: str = "15"
    loyalty_percent: str = "10"
    loyalty_min_sessions: int = 4
    fleet_plan_percent: str = "15"

    def params(self) -> dict[str, int]:
        return {"fleet_pm": self.fleet_per_month, "fleet_st": self.fleet_min_sites,
                "fleet_spm": self.fleet_stations_per_month, "night_pct": self.night_percent,
                "night_pm": self.night_per_month, "commute_pct": self.commute_percent,
                "commute_pm": self.commute_per_month}

    def describe(self) -> dict[str, str]:
        return {
            "fleet-like": (f"≥ {self.fleet_per_month} sessions a month, or ≥ "
                           f"{self.fleet_min_sites} sites (a station without a site counts "
                           f"as one) and ≥ {self.fleet_stations_per_month} sessions a month"),
            "night charger": (f"≥ {self.night_percent} % of the sessions starting at night "
                              f"(local 22:00 to 05:59) and ≥ {self.night_per_month} a month"),
            "commuter": (f"≥ {self.commute_percent} % of the sessions starting on a weekday "
                         f"at local 06:00 to 08:59 or 16:00 to 18:59, and ≥ "
                         f"{self.commute_per_month} a month"),
            "occasional": "every other card",
            "precedence": ("fleet-like, then night charger, then commuter, then occasional: "
                           "each card in exactly one segment"),
            "a month": "30 days: sessions a month = sessions ÷ the period's days × 30",
        }


# --- the statements ----------------------------------------------------------------------

def _p(name: str) -> Any:
    return bindparam(name, type_=BigInteger)


def _count_if(cond: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _night() -> ColumnElement[bool]:
    return or_(cs.local_hour >= NIGHT_HOURS[0], cs.local_hour < NIGHT_HOURS[1])


def _commute() -> ColumnElement[bool]:
    return and_(cs.local_dow < 5, or_(*(and_(cs.local_hour >= lo, cs.local_hour < hi)
                                        for lo, hi in COMMUTE_HOURS)))


def _paid_cards() -> tuple[ColumnElement[bool], ...]:
    return cs.result == "paid", cs.card_token != ""


def _tokens() -> Subquery:
    """Per (card token, currency): the figures of the period's paid sessions, and its
    segment."""
    per = (select(cs.card_token, cs.currency, func.count().label("n"),
                  func.coalesce(func.sum(cs.amount_minor), 0).label("spend"),
                  func.coalesce(func.sum(cs.energy_wh), 0).label("energy_wh"),
                  _count_if(_night()).label("night"), _count_if(_commute()).label("commute"),
                  func.count(cs.station_id.distinct()).label("stations"),
                  (func.count(terminals.c.site.distinct())
                   + func.count(case((terminals.c.site.is_(None), cs.station_id)).distinct())
                   ).label("sites"))
           .select_from(charging_sessions.outerjoin(terminals,
                                                    terminals.c.id == cs.station_id))
           .where(cs.created_s >= _FROM, cs.created_s < _TO, *_paid_cards())
           .group_by(cs.card_token, cs.currency)).subquery("per")
    monthly = per.c.n * MONTH_S

    def per_month_at_least(name: str) -> ColumnElement[bool]:
        at_least: ColumnElement[bool] = monthly >= _p(name) * _PERIOD_S
        return at_least

    segment = case(
        (or_(per_month_at_least("fleet_pm"),
             and_(per.c.sites >= _p("fleet_st"), per_month_at_least("fleet_spm"))), "fleet"),
        (and_(per.c.night * 100 >= _p("night_pct") * per.c.n,
              per_month_at_least("night_pm")), "night"),
        (and_(per.c.commute * 100 >= _p("commute_pct") * per.c.n,
              per_month_at_least("commute_pm")), "commuter"),
        else_="occasional").label("segment")
    return select(*per.c, segment).subquery("tokens")


def segment_statement() -> Select[Any]:
    """Per segment and currency: cards, sessions, revenue, energy."""
    t = _tokens()
    return (select(t.c.segment, t.c.currency, func.count().label("tokens"),
                   func.sum(t.c.n).label("sessions"), func.sum(t.c.spend).label("revenue"),
                   func.sum(t.c.energy_wh).label("energy_wh"))
            .group_by(t.c.segment, t.c.currency))


def _home() -> Subquery:
    """Per (card token, currency): the station with the most of its period's paid sessions."""
    k = (select(cs.card_token, cs.currency, cs.station_id, func.count().label("k"))
         .where(cs.created_s >= _FROM, cs.created_s < _TO, *_paid_cards())
         .group_by(cs.card_token, cs.currency, cs.station_id)).subquery("k")
    ranked = select(k.c.card_token, k.c.currency, k.c.station_id, func.row_number().over(
        partition_by=(k.c.card_token, k.c.currency),
        order_by=(k.c.k.desc(), k.c.station_id)).label("rn")).subquery("ranked")
    return (select(ranked.c.card_token, ranked.c.currency, ranked.c.station_id)
            .where(ranked.c.rn == 1)).subquery("home")


def customer_statement() -> Select[Any]:
    """The customers with the highest spend (``limit``), with their figures and home
    station."""
    t, home = _tokens(), _home()
    ranked = select(*t.c, home.c.station_id.label("home"), func.row_number().over(
        order_by=(t.c.spend.desc(), t.c.card_token, t.c.currency)).label("place")).select_from(
        t.join(home, and_(home.c.card_token == t.c.card_token,
                          home.c.currency == t.c.currency))).subquery("ranked")
    # a window, not LIMIT (SQLite's dialect adds an OFFSET): the same SQL on both
    return (select(ranked).where(ranked.c.place <= bindparam("limit", type_=BigInteger))
            .order_by(ranked.c.place))


def members_statement() -> Select[Any]:
    """The cards of one segment and currency (``segment``, ``currency``), with their paid
    sessions in the calendar month ``month`` (``YYYY-MM`` of ``local_date``) from
    ``month_from_s``: the loyalty plans' condition."""
    t = _tokens()
    month = (select(cs.card_token, cs.currency, func.count().label("m"))
             .where(cs.created_s >= _p("month_from_s"), cs.created_s < _TO, *_paid_cards(),
                    func.substr(cs.local_date, 1, 7) == bindparam("month"))
             .group_by(cs.card_token, cs.currency)).subquery("month")
    return (select(t.c.card_token, func.coalesce(month.c.m, 0).label("month_sessions"))
            .select_from(t.outerjoin(month, and_(month.c.card_token == t.c.card_token,
                                                 month.c.currency == t.c.currency)))
            .where(t.c.segment == bindparam("segment"), t.c.currency == bindparam("currency"))
            .order_by(t.c.card_token))


def effect_statement() -> Select[Any]:
    """The paid sessions of the period by the cards of one segment and currency, counted by
    (local hour, amount, past the card's ``min_rank``-th paid session of its calendar
    month)."""
    # the tariff's price: what was paid plus a plan's discount the session already had
    full = (cs.amount_minor + cs.discount_minor).label("amount_minor")
    ranked = (select(cs.card_token, cs.currency, cs.created_s, cs.local_hour, full,
                     func.row_number().over(
                         partition_by=(cs.card_token, cs.currency,
                                       func.substr(cs.local_date, 1, 7)),
                         order_by=(cs.created_s, cs.id)).label("rank"))
              .where(cs.created_s >= _p("since_s"), cs.created_s < _TO, *_paid_cards(),
                     cs.currency == bindparam("currency"))).subquery("ranked")
    t = _tokens()
    past = case((ranked.c.rank > _p("min_rank"), 1), else_=0).label("past")
    return (select(ranked.c.local_hour, ranked.c.amount_minor, past, func.count().label("n"))
            .select_from(ranked.join(t, and_(t.c.card_token == ranked.c.card_token,
                                             t.c.currency == ranked.c.currency)))
            .where(ranked.c.created_s >= _FROM, t.c.segment == bindparam("segment"))
            .group_by(ranked.c.local_hour, ranked.c.amount_minor, past))


def revenue_statement() -> Select[Any]:
    """Per currency: the period's paid sessions and revenue (with a card token or not)."""
    return (select(cs.currency, func.count().label("n"),
                   func.coalesce(func.sum(cs.amount_minor), 0).label("revenue"))
            .where(cs.created_s >= _FROM, cs.created_s < _TO, cs.result == "paid")
            .group_by(cs.currency))


STATEMENTS = (segment_statement, customer_statement, members_statement, effect_statement,
              revenue_statement)


# --- the figures -------------------------------------------------------------------------

def _params(period: Period, rules: Rules, **more: Any) -> dict[str, Any]:
    return {**period.params(), "period_s": period.seconds, **rules.params(), **more}


def _i(v: Any) -> int:
    return int(v or 0)


@dataclass(frozen=True)
class Segment:
    segment: str
    currency: str
    tokens: int
    sessions: int
    revenue_minor: int
    energy_wh: int
    card_revenue_minor: int  # of every segment of the currency: the share's whole

    @property
    def share(self) -> float | None:
        return self.revenue_minor / self.card_revenue_minor if self.card_revenue_minor else None


@dataclass(frozen=True)
class Customer:
    card_token: str
    currency: str
    segment: str
    sessions: int
    per_month: float
    spend_minor: int
    energy_wh: int
    night_share: float
    commute_share: float
    stations: int
    sites: int
    home_station: str


def segments(conn: Connection, period: Period, rules: Rules) -> tuple[Segment, ...]:
    """Every segment of every currency with cards (zeros kept), in :data:`SEGMENTS` order."""
    found = {(str(r.segment), str(r.currency)): r
             for r in conn.execute(segment_statement(), _params(period, rules))}
    out = []
    for cur in sorted({c for _, c in found}):
        whole = sum(_i(r.revenue) for (_, c), r in found.items() if c == cur)
        for seg in SEGMENTS:
            r = found.get((seg, cur))
            out.append(Segment(seg, cur, _i(r.tokens) if r else 0, _i(r.sessions) if r else 0,
                               _i(r.revenue) if r else 0, _i(r.energy_wh) if r else 0, whole))
    return tuple(out)


def top_customers(conn: Connection, period: Period, rules: Rules,
                  limit: int = TOP_CUSTOMERS) -> tuple[Customer, ...]:
    out = []
    for r in conn.execute(customer_statement(), _params(period, rules, limit=limit)):
        n = int(r.n)
        out.append(Customer(str(r.card_token), str(r.currency), str(r.segment), n,
                            n * MONTH_S / period.seconds, _i(r.spend), _i(r.energy_wh),
                            _i(r.night) / n, _i(r.commute) / n, int(r.stations), int(r.sites),
                            str(r.home)))
    return tuple(out)


def members(conn: Connection, period: Period, rules: Rules, segment: str, currency: str,
            *, month: str = "", month_from_s: int = 0, min_sessions: int = 0) -> Iterator[str]:
    """The cards of ``segment`` in ``currency`` over ``period`` (streamed, by token); with
    ``min_sessions``: only those with at least that many paid sessions in ``month``
    (``YYYY-MM``, of the sessions created from ``month_from_s``)."""
    rows = conn.execute(members_statement().execution_options(yield_per=2000), _params(
        period, rules, segment=segment, currency=currency, month=month,
        month_from_s=month_from_s))
    for r in rows:
        if int(r.month_sessions) >= min_sessions:
            yield str(r.card_token)


@dataclass(frozen=True)
class Suggested:
    segment: str
    plan: Plan
    min_sessions_month: int | None  # a loyalty plan: the month's paid sessions needed first


def suggested_plans(rules: Rules) -> tuple[Suggested, ...]:
    """One plan per segment but the occasional drivers (see the module)."""
    return (
        Suggested("fleet", Plan("fleet", "Fleet plan", Decimal(rules.fleet_plan_percent)),
                  None),
        Suggested("night", Plan("night", "Night plan", Decimal(rules.night_plan_percent),
                                NIGHT_HOURS), None),
        Suggested("commuter", Plan("loyalty", "Loyalty plan", Decimal(rules.loyalty_percent)),
                  rules.loyalty_min_sessions),
    )


@dataclass(frozen=True)
class PlanEffect:
    """A plan applied to the period's paid sessions of its segment's cards (one currency).
    ``revenue_*``: of every paid session of the currency; ``member_*``: of the members'."""

    segment: str
    plan: Plan
    min_sessions_month: int | None
    currency: str
    members: int
    member_sessions: int
    discounted_sessions: int  # the plan applied (its hours, past N)
    member_before_minor: int
    member_after_minor: int
    revenue_before_minor: int

    @property
    def change_minor(self) -> int:
        return self.member_after_minor - self.member_before_minor

    @property
    def revenue_after_minor(self) -> int:
        return self.revenue_before_minor + self.change_minor

    @property
    def change_share(self) -> float | None:
        b = self.revenue_before_minor
        return self.change_minor / b if b else None

    @property
    def avg_member_after_minor(self) -> int | None:
        """What a member pays a session on average under the plan (rounded half up)."""
        if not self.member_sessions:
            return None
        return (2 * self.member_after_minor + self.member_sessions) // (2 * self.member_sessions)

    @property
    def break_even_sessions(self) -> int | None:
        """The extra sessions at :attr:`avg_member_after_minor` that would pay for the
        discount (0 when it costs nothing; None without a member session)."""
        avg = self.avg_member_after_minor
        if self.change_minor == 0:
            return 0
        if not avg:
            return None
        return ceil(-self.change_minor / avg)

    def hours_text(self) -> str:
        h = self.plan.hours
        return "every hour" if h is None else f"{h[0]:02d}:00 to {h[1]:02d}:00"


def plan_effect(conn: Connection, period: Period, rules: Rules, segment: str, plan: Plan,
                currency: str, min_sessions_month: int | None,
                revenue_before_minor: int, member_count: int) -> PlanEffect:
    exp = MINOR_UNITS[currency]
    sessions = applied = before = after = 0
    rows = conn.execute(effect_statement(), _params(
        period, rules, segment=segment, currency=currency,
        since_s=period.from_s - LOYALTY_LOOKBACK_S, min_rank=min_sessions_month or 0))
    for r in rows:
        n, amount = int(r.n), int(r.amount_minor)
        sessions += n
        before += n * amount
        if int(r.past) and plan.applies_at(int(r.local_hour)):
            price = discounted(Decimal(amount).scaleb(-exp), currency, plan)
            applied += n
            after += n * price.paid_minor
        else:
            after += n * amount
    return PlanEffect(segment, plan, min_sessions_month, currency, member_count, sessions,
                      applied, before, after, revenue_before_minor)


def plan_effects(conn: Connection, period: Period, rules: Rules,
                 found: Sequence[Segment]) -> tuple[PlanEffect, ...]:
    revenue = {str(r.currency): _i(r.revenue)
               for r in conn.execute(revenue_statement(), period.params())}
    tokens = {(s.segment, s.currency): s.tokens for s in found}
    out = []
    for cur in sorted({s.currency for s in found}):
        for sug in suggested_plans(rules):
            out.append(plan_effect(conn, period, rules, sug.segment, sug.plan, cur,
                                   sug.min_sessions_month, revenue.get(cur, 0),
                                   tokens.get((sug.segment, cur), 0)))
    return tuple(out)


@dataclass(frozen=True)
class CustomerFigures:
    period: Period
    rules: Rules
    segments: tuple[Segment, ...]
    top: tuple[Customer, ...]
    effects: tuple[PlanEffect, ...]
    computed_at: str = field(default="")


def compute_customers(db: Database, period: Period, rules: Rules | None = None,
                      conn: Connection | None = None) -> CustomerFigures:
    """Segments, the top customers and the suggested plans' effects, in one snapshot."""
    r = rules or Rules()
    if conn is None:
        with snapshot(db) as own:
            return compute_customers(db, period, r, own)
    found = segments(conn, period, r)
    return CustomerFigures(period, r, found, top_customers(conn, period, r),
                           plan_effects(conn, period, r, found),
                           datetime.now(UTC).isoformat(timespec="seconds"))


def by_currency(effects: Sequence[PlanEffect]) -> dict[str, list[PlanEffect]]:
    out: dict[str, list[PlanEffect]] = defaultdict(list)
    for e in effects:
        out[e.currency].append(e)
    return dict(out)


DEFINITIONS: dict[str, str] = {
    "segments": ("A customer is a card token (the same at every terminal of the operator) "
                 "in one currency; only the period's paid sessions with a token count. Per "
                 "card: sessions, sessions a month, spend, energy, the share starting at "
                 "night (local 22:00 to 05:59), the share starting on a weekday at local "
                 "06:00 to 08:59 or 16:00 to 18:59 (commute hours), distinct stations and "
                 "sites (a station without a site counts as one), the home station (the most "
                 "used). Each card is in the first segment whose rule "
                 "it meets (the rules below). Share of revenue = the segment's revenue ÷ the "
                 "revenue of every card of the currency."),
    "plans": ("Each suggested plan applied with the kiosk's own discount arithmetic "
              "(kiosk.billing.plans.discounted: the amount taken percent off, rounded half up "
              "once) to each recorded paid session of the period of its segment's cards where "
              "it applies: its hours against the session's local start hour; the loyalty "
              "plan to the sessions after a card's N-th paid session of its calendar month "
              "(the back office lists a card once it has N). Assumption: no change in "
              "behaviour (the same sessions, the member list current at each one). "
              "Break-even = the extra sessions at the members' average amount after the plan "
              "that would pay for the discount. Revenue before and after: every paid session "
              "of the currency in the period."),
}
