"""The billing analytics, computed in the database.

Every figure is an aggregate in SQL over the facts tables (``charging_sessions``,
``health_events``, ``terminals.site``; :mod:`kiosk.backoffice.storage`), built with SQLAlchemy
Core without a branch on the dialect: the statements compile to the same text on SQLite and
PostgreSQL (up to psycopg's ``::TYPE`` casts on bound parameters; checked by the tests). They
use integer arithmetic on epoch seconds, ``CASE`` for the minimum and the maximum (SQLite has no
``LEAST``/``GREATEST``, PostgreSQL no two-argument ``MIN``), ``LAG``/``LEAD`` and one recursive
common table expression. No query returns the sessions themselves: Python only shapes the
small results (merges currencies, rolls days up into ISO weeks and months, divides).

Definitions (the report prints them beside each figure; :data:`DEFINITIONS`):

- The **period** is ``[from_s, to_s)`` in epoch seconds (UTC). A session *belongs* to it when
  it was created (the driver pressed Start) in it: sessions, energy, revenue, outcomes, peaks,
  averages count those, whole (a session's energy and amount are not split at the period's
  edges). **Times** are different: charging, occupancy and idle time are the overlap of each
  session's interval with the period, so a car plugged in across midnight of the period's start
  counts only its part inside.
- **Charging** is ``[charge_start_s, charge_stop_s]``, **occupancy** (plugged in)
  ``[charge_start_s, ended_s]``, **idle after charging** (blocking) ``[charge_stop_s,
  ended_s]``. A session without ``charge_start_s`` (the car never drew power) occupies nothing;
  one without ``charge_stop_s`` has no charging and no idle time.
- **Shares** are those seconds ÷ (connectors × period seconds). A station's **connectors** are
  the connectors that have had a session before the period's end (the schema keeps no list of
  connectors). The dataclasses keep the integer seconds; the shares are ``float`` properties
  computed from them, rounded only when shown.
- **Availability** comes from ``health_events``: the state after an event holds until the
  station's next event; before a period, the state of the last event before its start; a
  station with no event before the period's end is in service for all of it. In service,
  out of service (= period − in service) and faulted (an unplanned problem stands; it may
  overlap either) are shares of the period. **Availability-adjusted utilization** = charging
  seconds ÷ (connectors × seconds in service).
- **Attempts** are the sessions whose ``result`` is neither ``driver`` (cancelled, no car, walked
  away) nor ``none`` (nothing known): the sessions where the kiosk, the card, the bank or the
  charger had their chance. **Success rate** = ``paid`` ÷ attempts; the failures are the other
  attempts (``declined``, ``card``, ``host``, ``charger``), by result and by ``say``.
- **Revenue** is ``amount_minor`` of the ``paid`` sessions, integer minor units per currency.
  **Price per kWh** = revenue ÷ energy of the paid sessions (minor units per kWh, a rate: a
  ``Decimal`` to 0.01 of a minor unit). **Average session** = over the paid sessions: energy,
  minutes charging (those with both charge times), amount (rounded half up to a minor unit).
- **Days** are the stations' local dates of the sessions' start (``local_date``), **weeks** the
  ISO weeks of those dates, **months** their calendar months. The period's bounds are UTC
  instants: with a station east of UTC its first local day lacks the hours before the bound
  and a day after the last appears with them; such buckets, and weeks and months that the period
  cuts, are marked ``partial``. **Growth** is against the previous bucket, both whole (the
  previous may lie before the period: it is read too); none for a bucket cut by the period's
  end, or after a bucket without revenue.
- **Peak hours** are the sessions and energy by the local weekday and hour of their start.
- **Under-used**: charging share below :attr:`Thresholds.underused_share` over the period.
  **Congested**: occupancy above :attr:`Thresholds.congested_occupancy` in the station's peak
  hour of the week (the local weekday × hour with the highest occupancy share over the period;
  a session's hours are placed in the station's week by the UTC offset of its start, so a
  session across a DST change is off by an hour after it, and zones of half hours are placed to
  the hour), or at least :attr:`Thresholds.back_to_back_share` of its sessions (of at least
  :attr:`Thresholds.back_to_back_min_sessions`) **back to back**: created at most
  :attr:`Thresholds.back_to_back_gap_s` after the previous session on the same connector ended
  (the previous by creation, before the period too; LAG).
- **Trends**: sessions and energy of the period against the previous period of equal length.
- Pending settlements are not in the facts (the settlement records' payload is JSON, not a
  column) and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    func,
    select,
    union,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from kiosk.backoffice.analytics.forecast import Forecast, forecast
from kiosk.backoffice.storage import Database, charging_sessions, health_events, terminals

__all__ = [
    "ATTEMPT_EXCLUDED", "DEFAULT_DAYS", "DEFINITIONS", "FAILURE_RESULTS", "RESULTS",
    "Analytics", "Availability", "Averages", "DayOccupancy", "Growth", "HourCell", "Money",
    "Outcomes", "PaymentHealth", "Period", "RevenueBucket", "SchemeCount", "StationLoad",
    "Thresholds", "UnknownStation", "Usage", "availability", "averages", "compute",
    "daily_occupancy", "fleet", "outcomes", "payment_health", "peak_hours", "revenue_series",
    "site_availability", "snapshot", "station_loads", "trends", "usage",
]

HOUR_S = 3_600
DAY_S = 86_400
WEEK_H = 168
EPOCH_HOW = 72  # 1970-01-01 00:00 UTC, a Thursday: hour 72 of a week from Monday 00:00
HISTORY_DAYS = 62  # read before the period for the growth of its first week and month
DEFAULT_DAYS = 30  # the report's period unless told: the 30 whole UTC days before today
RESULTS = ("paid", "declined", "card", "host", "charger", "driver", "none")
ATTEMPT_EXCLUDED = ("driver", "none")
FAILURE_RESULTS = ("declined", "card", "host", "charger")

cs = charging_sessions.c
he = health_events.c

# the bound values of every statement (execute(stmt, params)): one text per statement
_FROM = bindparam("from_s", type_=BigInteger)
_TO = bindparam("to_s", type_=BigInteger)


# --- the period and the thresholds ---------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """``[from_s, to_s)``, whole seconds since the epoch (UTC)."""

    from_s: int
    to_s: int

    def __post_init__(self) -> None:
        if self.to_s <= self.from_s:
            raise ValueError("the period ends before it begins")

    @classmethod
    def of_dates(cls, first: date, last: date) -> Period:
        """The UTC days ``first`` to ``last``, both included."""
        if last < first:
            raise ValueError(f"the period ends ({last}) before it begins ({first})")
        return cls(_epoch(first), _epoch(last + timedelta(days=1)))

    @classmethod
    def last_days(cls, days: int, today: date) -> Period:
        """The ``days`` whole UTC days before ``today`` (today not included)."""
        return cls.of_dates(today - timedelta(days=days), today - timedelta(days=1))

    @property
    def seconds(self) -> int:
        return self.to_s - self.from_s

    @property
    def days(self) -> float:
        return self.seconds / DAY_S

    def previous(self) -> Period:
        """The period of equal length just before this one."""
        return Period(self.from_s - self.seconds, self.from_s)

    def params(self, **more: Any) -> dict[str, Any]:
        return {"from_s": self.from_s, "to_s": self.to_s, **more}

    @property
    def first_date(self) -> date:
        return datetime.fromtimestamp(self.from_s, UTC).date()

    @property
    def last_date(self) -> date:
        """The date of the period's last second (UTC)."""
        return datetime.fromtimestamp(self.to_s - 1, UTC).date()

    def label(self) -> str:
        def at(s: int) -> str:
            t = datetime.fromtimestamp(s, UTC)
            return t.strftime("%Y-%m-%d" if t.time() == time() else "%Y-%m-%d %H:%M:%S")

        days = f"{self.days:g} day{'s' if self.days != 1 else ''}"
        return f"{at(self.from_s)} to {at(self.to_s)} UTC, end excluded ({days})"


def _epoch(d: date) -> int:
    return int(datetime.combine(d, time(), UTC).timestamp())


@dataclass(frozen=True)
class Thresholds:
    """The limits that make a station under-used or congested, and the forecast's; every chart
    and table that uses one states it."""

    underused_share: float = 0.05  # charging share of the period below it: under-used
    congested_occupancy: float = 0.80  # occupancy in the peak hour of the week above it
    back_to_back_gap_s: int = 300  # created within 5 minutes of the previous one's end
    back_to_back_share: float = 0.20  # that share of the sessions back to back: congested
    back_to_back_min_sessions: int = 10  # ... of at least that many sessions
    forecast_occupancy: float = 0.80  # the 7-day mean of the daily occupancy share forecast
    forecast_horizon_days: int = 180
    forecast_min_days: int = 14  # fewer days of history: no forecast

    def describe(self) -> dict[str, str]:
        return {
            "under-used": f"charging share < {self.underused_share:.0%} of the period",
            "congested": (f"occupancy > {self.congested_occupancy:.0%} in the peak hour of "
                          f"the week, or ≥ {self.back_to_back_share:.0%} of the sessions (of "
                          f"at least {self.back_to_back_min_sessions}) created ≤ "
                          f"{self.back_to_back_gap_s / 60:g} min after the previous one on "
                          f"the connector ended"),
            "forecast": (f"the 7-day mean of the daily occupancy share reaches "
                         f"{self.forecast_occupancy:.0%}, within {self.forecast_horizon_days} "
                         f"days; at least {self.forecast_min_days} days of history"),
        }


# --- results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Money:
    currency: str
    minor: int


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(frozen=True)
class Usage:
    """Utilization of a connector, a station or a site (``level``) over ``period_s``.

    ``connectors`` is 1 for a connector; the shares divide by ``connectors × period_s``, the
    adjusted one by ``in_service_s``: connector-seconds in service (each connector counts the
    time its station was in service). ``station_id`` is "" for a site, ``connector`` 0 above a
    connector."""

    level: str  # connector | station | site
    site: str
    station_id: str
    connector: int
    connectors: int
    period_s: int
    sessions: int
    energy_wh: int
    revenue: tuple[Money, ...]
    charging_s: int
    occupied_s: int
    idle_s: int
    in_service_s: int

    @property
    def capacity_s(self) -> int:
        return self.connectors * self.period_s

    @property
    def charging_share(self) -> float | None:
        return _share(self.charging_s, self.capacity_s)

    @property
    def occupancy_share(self) -> float | None:
        return _share(self.occupied_s, self.capacity_s)

    @property
    def idle_share(self) -> float | None:
        return _share(self.idle_s, self.capacity_s)

    @property
    def adjusted_share(self) -> float | None:
        """Charging ÷ time in service (availability-adjusted utilization)."""
        return _share(self.charging_s, self.in_service_s)

    @property
    def energy_kwh(self) -> float:
        return self.energy_wh / 1000


@dataclass(frozen=True)
class Availability:
    """A station's (or a site's: ``stations`` > 1, ``station_id`` "") health over the period:
    seconds in service and faulted of ``stations × period_s``; ``faults`` is the number of
    unplanned problems that began in the period, ``events`` the health changes in it."""

    site: str
    station_id: str
    stations: int
    period_s: int
    in_service_s: int
    faulted_s: int
    faults: int
    events: int

    @property
    def in_service_share(self) -> float | None:
        return _share(self.in_service_s, self.stations * self.period_s)

    @property
    def out_of_service_share(self) -> float | None:
        return _share(self.stations * self.period_s - self.in_service_s,
                      self.stations * self.period_s)

    @property
    def faulted_share(self) -> float | None:
        return _share(self.faulted_s, self.stations * self.period_s)


@dataclass(frozen=True)
class Outcomes:
    """What the sessions of a station (``station_id`` "" for all) came to. ``by_result`` and
    ``by_say`` count every session of the period; ``attempts`` excludes
    :data:`ATTEMPT_EXCLUDED`."""

    station_id: str
    sessions: int
    attempts: int
    paid: int
    by_result: tuple[tuple[str, int], ...]  # (result, sessions), RESULTS order, zeros kept
    by_say: tuple[tuple[str, str, int], ...]  # (result, say, sessions) of the failed attempts

    @property
    def failed(self) -> int:
        return self.attempts - self.paid

    @property
    def success_rate(self) -> float | None:
        return _share(self.paid, self.attempts)


@dataclass(frozen=True)
class HourCell:
    dow: int  # 0 Monday .. 6 Sunday, the station's local time
    hour: int
    sessions: int
    energy_wh: int


@dataclass(frozen=True)
class RevenueBucket:
    """Revenue of one day, ISO week or month (``granularity``) and currency: ``revenue_minor``
    of the period's paid sessions in it; ``whole_minor`` of all its paid sessions (the period
    may cut it: ``partial``); ``growth`` against the previous bucket's whole revenue."""

    granularity: str  # day | week | month
    label: str  # 2026-11-03 | 2026-W45 | 2026-11
    first_date: date
    last_date: date
    currency: str
    sessions: int  # every session of the period started in it
    paid: int
    energy_wh: int  # of the paid sessions
    revenue_minor: int
    whole_minor: int
    previous_minor: int | None  # the previous bucket's whole revenue (None: not read)
    partial: bool
    growth: float | None


@dataclass(frozen=True)
class Averages:
    """The paid sessions of one currency: sums to average (the averages are properties)."""

    currency: str
    paid: int
    energy_wh: int
    revenue_minor: int
    timed: int  # paid sessions with both charge times
    charging_s: int  # of the timed ones
    idle_s: int  # of those with charge_stop_s

    @property
    def avg_kwh(self) -> float | None:
        return self.energy_wh / 1000 / self.paid if self.paid else None

    @property
    def avg_charging_min(self) -> float | None:
        return self.charging_s / 60 / self.timed if self.timed else None

    @property
    def avg_idle_min(self) -> float | None:
        return self.idle_s / 60 / self.timed if self.timed else None

    @property
    def avg_amount_minor(self) -> int | None:
        if not self.paid:
            return None
        return int((Decimal(self.revenue_minor) / self.paid).quantize(Decimal(1),
                                                                      ROUND_HALF_UP))

    @property
    def price_per_kwh_minor(self) -> Decimal | None:
        """Minor units per kWh (a rate, to 0.01 of a minor unit)."""
        if not self.energy_wh:
            return None
        return (Decimal(self.revenue_minor) * 1000 / self.energy_wh).quantize(
            Decimal("0.01"), ROUND_HALF_UP)


@dataclass(frozen=True)
class StationLoad:
    """Under-use and congestion of a station over the period (:class:`Thresholds`)."""

    site: str
    station_id: str
    connectors: int
    sessions: int
    charging_share: float | None
    peak_dow: int | None  # the hour of the week with the highest occupancy share
    peak_hour: int | None
    peak_occupancy: float | None
    back_to_back: int
    under_used: bool
    congested: bool
    reasons: tuple[str, ...]

    @property
    def back_to_back_share(self) -> float | None:
        return _share(self.back_to_back, self.sessions)


@dataclass(frozen=True)
class SchemeCount:
    """Sessions by card scheme and interface (either "" when unknown)."""

    scheme: str
    interface: str
    sessions: int
    attempts: int
    paid: int
    declined: int
    revenue: tuple[Money, ...]

    @property
    def success_rate(self) -> float | None:
        return _share(self.paid, self.attempts)


@dataclass(frozen=True)
class PaymentHealth:
    declines_by_say: tuple[tuple[str, int], ...]
    reversals: int  # outcome reversed: captured, then given back
    reversed_stations: tuple[tuple[str, int], ...]
    schemes: tuple[SchemeCount, ...]  # by scheme and interface
    by_scheme: tuple[SchemeCount, ...]  # interface ""
    by_interface: tuple[SchemeCount, ...]  # scheme ""


@dataclass(frozen=True)
class Growth:
    """Sessions and energy of the period against the previous one of equal length."""

    level: str  # station | site
    site: str
    station_id: str
    sessions: int
    previous_sessions: int
    energy_wh: int
    previous_energy_wh: int

    @property
    def sessions_growth(self) -> float | None:
        return _growth(self.sessions, self.previous_sessions)

    @property
    def energy_growth(self) -> float | None:
        return _growth(self.energy_wh, self.previous_energy_wh)


def _growth(now: int, before: int | None) -> float | None:
    return (now - before) / before if before else None


@dataclass(frozen=True)
class DayOccupancy:
    station_id: str
    day: date
    sessions: int
    occupied_s: int  # of the sessions started that day, whole
    capacity_s: int  # connectors × a day

    @property
    def share(self) -> float:
        return self.occupied_s / self.capacity_s if self.capacity_s else 0.0


# --- SQL helpers -------------------------------------------------------------------------

def _max(a: Any, b: Any) -> ColumnElement[Any]:
    return case((a > b, a), else_=b)


def _min(a: Any, b: Any) -> ColumnElement[Any]:
    return case((a < b, a), else_=b)


def _overlap(start: Any, stop: Any, lo: Any = _FROM, hi: Any = _TO) -> ColumnElement[Any]:
    """Seconds of ``[start, stop]`` inside ``[lo, hi)``; 0 when either end is NULL."""
    a, b = _max(start, lo), _min(stop, hi)
    return case((and_(start.is_not(None), stop.is_not(None), b > a), b - a), else_=0)


def _sum(expr: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(expr), 0)


def _count_if(cond: Any) -> ColumnElement[Any]:
    return _sum(case((cond, 1), else_=0))


def _i(value: Any) -> int:
    """An integer from the driver (PostgreSQL's SUM of BIGINT is NUMERIC: a Decimal)."""
    return int(value or 0)


def _scoped(q: Select[Any], column: Any, station: str | None) -> Select[Any]:
    return q.where(column == station) if station is not None else q


def _in_period() -> ColumnElement[bool]:
    return and_(cs.created_s >= _FROM, cs.created_s < _TO)


# --- the statements (each a function of the station filter only; values are bound) --------

def usage_statement(station: str | None) -> Select[Any]:
    """Per station, connector and currency: the period's sessions, energy and revenue, and the
    seconds charging, occupied and idle inside the period of every session that overlaps it."""
    created_in = cs.created_s >= _FROM
    q = (select(cs.station_id, cs.connector, cs.currency,
                _count_if(created_in).label("sessions"),
                _sum(case((created_in, cs.energy_wh), else_=0)).label("energy_wh"),
                _sum(case((and_(created_in, cs.result == "paid"), cs.amount_minor),
                          else_=0)).label("revenue"),
                _sum(_overlap(cs.charge_start_s, cs.charge_stop_s)).label("charging_s"),
                _sum(_overlap(cs.charge_start_s, cs.ended_s)).label("occupied_s"),
                _sum(_overlap(cs.charge_stop_s, cs.ended_s)).label("idle_s"))
         .where(cs.created_s < _TO, cs.ended_s > _FROM)
         .group_by(cs.station_id, cs.connector, cs.currency))
    return _scoped(q, cs.station_id, station)


def connectors_statement(station: str | None) -> Select[Any]:
    """Every (station, connector) that had a session before the period's end."""
    q = (select(cs.station_id, cs.connector).where(cs.created_s < _TO)
         .group_by(cs.station_id, cs.connector))
    return _scoped(q, cs.station_id, station)


def stations_statement(station: str | None) -> Any:
    """The stations registered and active, or with a health event before the period's end,
    with their site (those with a session come with their connectors:
    :func:`connectors_statement`; the registry's sites: :func:`sites_statement`)."""
    known = union(
        _scoped(select(terminals.c.id.label("station_id"))
                .where(terminals.c.status == "active"), terminals.c.id, station),
        _scoped(select(he.station_id).where(he.at_s < _TO), he.station_id, station),
    ).subquery("known")
    return (select(known.c.station_id, func.coalesce(terminals.c.site, "").label("site"))
            .select_from(known.outerjoin(terminals, terminals.c.id == known.c.station_id)))


def sites_statement(station: str | None) -> Select[Any]:
    """Every registered terminal's site (revoked ones too: their sessions keep their site)."""
    return _scoped(select(terminals.c.id, func.coalesce(terminals.c.site, "").label("site")),
                   terminals.c.id, station)


def availability_statement(station: str | None) -> Select[Any]:
    """Per station: seconds of the period covered by its events' intervals (the state after
    each event until the next, LEAD), of them in service and faulted; the events and the
    faults that began in the period (LAG: faulted after it, not before)."""
    order = (he.at_s, he.id)
    ev = _scoped(select(
        he.station_id, he.at_s,
        cast(he.in_service, Integer).label("in_service"),
        cast(he.faulted, Integer).label("faulted"),
        func.lead(he.at_s).over(partition_by=he.station_id, order_by=order).label("next_s"),
        func.lag(cast(he.faulted, Integer)).over(partition_by=he.station_id,
                                                 order_by=order).label("was_faulted"),
    ).where(he.at_s < _TO), he.station_id, station).subquery("ev")
    lo = _max(ev.c.at_s, _FROM)
    hi = _min(func.coalesce(ev.c.next_s, _TO), _TO)
    length = case((hi > lo, hi - lo), else_=0)
    began = ev.c.at_s >= _FROM
    return (select(ev.c.station_id,
                   _sum(length).label("covered_s"),
                   _sum(length * ev.c.in_service).label("in_service_s"),
                   _sum(length * ev.c.faulted).label("faulted_s"),
                   _count_if(began).label("events"),
                   _count_if(and_(began, ev.c.faulted == 1,
                                  func.coalesce(ev.c.was_faulted, 0) == 0)).label("faults"))
            .group_by(ev.c.station_id))


def outcomes_statement(station: str | None) -> Select[Any]:
    q = (select(cs.station_id, cs.result, cs.say, cs.outcome, func.count().label("n"))
         .where(_in_period()).group_by(cs.station_id, cs.result, cs.say, cs.outcome))
    return _scoped(q, cs.station_id, station)


def schemes_statement(station: str | None) -> Select[Any]:
    q = (select(cs.scheme, cs.interface, cs.result, cs.currency, func.count().label("n"),
                _sum(case((cs.result == "paid", cs.amount_minor), else_=0)).label("revenue"))
         .where(_in_period()).group_by(cs.scheme, cs.interface, cs.result, cs.currency))
    return _scoped(q, cs.station_id, station)


def peak_statement(station: str | None) -> Select[Any]:
    q = (select(cs.local_dow, cs.local_hour, func.count().label("n"),
                _sum(cs.energy_wh).label("energy_wh"))
         .where(_in_period()).group_by(cs.local_dow, cs.local_hour))
    return _scoped(q, cs.station_id, station)


def revenue_statement(station: str | None) -> Select[Any]:
    """Per local date and currency, from :data:`HISTORY_DAYS` before the period (``since_s``)
    to its end: the period's sessions, paid sessions, their energy and revenue, and the paid
    revenue of every session read (the whole bucket, for growth)."""
    created_in = cs.created_s >= _FROM
    paid = cs.result == "paid"
    q = (select(cs.local_date, cs.currency,
                _count_if(created_in).label("sessions"),
                _count_if(and_(created_in, paid)).label("paid"),
                _sum(case((and_(created_in, paid), cs.energy_wh), else_=0)).label("energy_wh"),
                _sum(case((and_(created_in, paid), cs.amount_minor),
                          else_=0)).label("revenue"),
                _sum(case((paid, cs.amount_minor), else_=0)).label("whole"))
         .where(cs.created_s >= bindparam("since_s", type_=BigInteger), cs.created_s < _TO)
         .group_by(cs.local_date, cs.currency))
    return _scoped(q, cs.station_id, station)


def averages_statement(station: str | None) -> Select[Any]:
    timed = and_(cs.charge_start_s.is_not(None), cs.charge_stop_s.is_not(None))
    q = (select(cs.currency, func.count().label("paid"), _sum(cs.energy_wh).label("energy_wh"),
                _sum(cs.amount_minor).label("revenue"), _count_if(timed).label("timed"),
                _sum(case((timed, cs.charge_stop_s - cs.charge_start_s),
                          else_=0)).label("charging_s"),
                _sum(case((and_(timed, cs.ended_s > cs.charge_stop_s),
                           cs.ended_s - cs.charge_stop_s), else_=0)).label("idle_s"))
         .where(_in_period(), cs.result == "paid").group_by(cs.currency))
    return _scoped(q, cs.station_id, station)


def trends_statement(station: str | None) -> Select[Any]:
    """Per station: sessions and energy of the period and of the one before (``since_s``)."""
    now = cs.created_s >= _FROM
    q = (select(cs.station_id,
                _count_if(now).label("sessions"),
                _sum(case((now, cs.energy_wh), else_=0)).label("energy_wh"),
                _count_if(cs.created_s < _FROM).label("previous_sessions"),
                _sum(case((cs.created_s < _FROM, cs.energy_wh),
                          else_=0)).label("previous_energy_wh"))
         .where(cs.created_s >= bindparam("since_s", type_=BigInteger), cs.created_s < _TO)
         .group_by(cs.station_id))
    return _scoped(q, cs.station_id, station)


def back_to_back_statement(station: str | None) -> Select[Any]:
    """Per station: the period's sessions, and those created at most ``gap_s`` after the
    previous session on the same connector ended (LAG over the sessions created before the
    period's end that ended at most ``gap_s`` before its start: a previous session that ended
    earlier cannot make one of the period back to back, so the window sorts the period's
    sessions and a few before, not the whole history; exact unless sessions on one connector
    overlap)."""
    gap = bindparam("gap_s", type_=BigInteger)
    prev = _scoped(select(
        cs.station_id, cs.created_s,
        func.lag(cs.ended_s).over(partition_by=(cs.station_id, cs.connector),
                                  order_by=(cs.created_s, cs.id)).label("prev_end"),
    ).where(cs.created_s < _TO, cs.ended_s >= _FROM - gap), cs.station_id,
        station).subquery("prev")
    close = and_(prev.c.prev_end.is_not(None), prev.c.created_s - prev.c.prev_end <= gap)
    return (select(prev.c.station_id, func.count().label("sessions"),
                   _count_if(close).label("back_to_back"))
            .where(prev.c.created_s >= _FROM).group_by(prev.c.station_id))


def week_occupancy_statement(station: str | None) -> Select[Any]:
    """Per station, UTC offset (whole hours, of the session's start) and local hour of the
    week (0 = Monday 00:00): occupied seconds inside the period. Each occupancy interval,
    clipped to the period, is cut at the UTC hours by a recursive CTE (one row per hour
    touched: linear in the hours occupied)."""
    utc_how = (cs.created_s // HOUR_S + EPOCH_HOW) % WEEK_H
    offset = (cs.local_dow * 24 + cs.local_hour - utc_how + WEEK_H) % WEEK_H
    lo, hi = _max(cs.charge_start_s, _FROM), _min(cs.ended_s, _TO)
    occ = _scoped(select(cs.station_id, lo.label("lo"), hi.label("hi"),
                         offset.label("off_h"))
                  .where(cs.charge_start_s.is_not(None), cs.created_s < _TO,
                         cs.ended_s > _FROM, hi > lo), cs.station_id, station).subquery("occ")
    first = select(occ.c.station_id, occ.c.off_h, occ.c.lo.label("s"),
                   _min(occ.c.hi, (occ.c.lo // HOUR_S + 1) * HOUR_S).label("e"),
                   occ.c.hi).cte("pieces", recursive=True)
    pieces = first.union_all(
        select(first.c.station_id, first.c.off_h, first.c.e,
               _min(first.c.hi, (first.c.e // HOUR_S + 1) * HOUR_S), first.c.hi)
        .where(first.c.e < first.c.hi))
    how = ((pieces.c.s // HOUR_S + EPOCH_HOW + pieces.c.off_h) % WEEK_H).label("how")
    return (select(pieces.c.station_id, pieces.c.off_h, how,
                   _sum(pieces.c.e - pieces.c.s).label("occupied_s"))
            .group_by(pieces.c.station_id, pieces.c.off_h, how))


def daily_occupancy_statement(station: str | None) -> Select[Any]:
    """Per station and local date of the start: sessions and their whole occupied seconds."""
    occupied = case((cs.charge_start_s.is_not(None), cs.ended_s - cs.charge_start_s), else_=0)
    q = (select(cs.station_id, cs.local_date, func.count().label("n"),
                _sum(occupied).label("occupied_s"))
         .where(_in_period()).group_by(cs.station_id, cs.local_date))
    return _scoped(q, cs.station_id, station)


STATEMENTS = (usage_statement, connectors_statement, stations_statement, sites_statement,
              availability_statement, outcomes_statement, schemes_statement, peak_statement,
              revenue_statement, averages_statement, trends_statement, back_to_back_statement,
              week_occupancy_statement, daily_occupancy_statement)


# --- the figures -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Fleet:
    """The stations (id → site) and their connectors, read once per computation."""

    sites: Mapping[str, str]
    connectors: Mapping[str, tuple[int, ...]]

    def count(self, station: str) -> int:
        return len(self.connectors.get(station, ()))


def fleet(conn: Connection, period: Period, station: str | None = None) -> _Fleet:
    sites = {str(r.station_id): str(r.site)
             for r in conn.execute(stations_statement(station), period.params())}
    registered = {str(r.id): str(r.site) for r in conn.execute(sites_statement(station))}
    found: dict[str, list[int]] = defaultdict(list)
    for r in conn.execute(connectors_statement(station), period.params()):
        found[str(r.station_id)].append(int(r.connector))
        sites.setdefault(str(r.station_id), registered.get(str(r.station_id), ""))
    return _Fleet(dict(sorted(sites.items())),
                  {k: tuple(sorted(v)) for k, v in found.items()})


def availability(conn: Connection, period: Period, station: str | None = None,
                 stations: _Fleet | None = None) -> tuple[Availability, ...]:
    """Per station (every station of the fleet; one without events: in service)."""
    f = stations or fleet(conn, period, station)
    rows = {str(r.station_id): r for r in conn.execute(availability_statement(station),
                                                       period.params())}
    out = []
    for sid, site in f.sites.items():
        r = rows.get(sid)
        covered = _i(r.covered_s) if r else 0
        in_service = (_i(r.in_service_s) if r else 0) + period.seconds - covered
        out.append(Availability(site, sid, 1, period.seconds, in_service,
                                _i(r.faulted_s) if r else 0, _i(r.faults) if r else 0,
                                _i(r.events) if r else 0))
    return tuple(out)


def site_availability(rows: Iterable[Availability]) -> tuple[Availability, ...]:
    by_site: dict[str, list[Availability]] = defaultdict(list)
    for a in rows:
        by_site[a.site].append(a)
    return tuple(Availability(site, "", len(v), v[0].period_s, sum(a.in_service_s for a in v),
                              sum(a.faulted_s for a in v), sum(a.faults for a in v),
                              sum(a.events for a in v))
                 for site, v in sorted(by_site.items()))


def usage(conn: Connection, period: Period, station: str | None = None,
          stations: _Fleet | None = None,
          health: Sequence[Availability] | None = None) -> tuple[Usage, ...]:
    """Utilization per connector, then per station, then per site (``level``)."""
    f = stations or fleet(conn, period, station)
    in_service = {a.station_id: a.in_service_s for a in
                  (health if health is not None else availability(conn, period, station, f))}
    acc: dict[tuple[str, int], dict[str, Any]] = {}

    def slot(sid: str, connector: int) -> dict[str, Any]:
        return acc.setdefault((sid, connector), {"sessions": 0, "energy_wh": 0, "charging_s": 0,
                                                 "occupied_s": 0, "idle_s": 0,
                                                 "revenue": defaultdict(int)})

    for sid, connectors in f.connectors.items():
        for c in connectors:
            slot(sid, c)
    for r in conn.execute(usage_statement(station), period.params()):
        a = slot(str(r.station_id), int(r.connector))
        for k in ("sessions", "energy_wh", "charging_s", "occupied_s", "idle_s"):
            a[k] += _i(getattr(r, k))
        if _i(r.revenue):
            a["revenue"][str(r.currency)] += _i(r.revenue)

    def make(level: str, site: str, sid: str, connector: int, n: int,
             parts: list[dict[str, Any]], service_s: int) -> Usage:
        revenue: dict[str, int] = defaultdict(int)
        for p in parts:
            for cur, minor in p["revenue"].items():
                revenue[cur] += minor
        return Usage(level, site, sid, connector, n, period.seconds,
                     sum(p["sessions"] for p in parts), sum(p["energy_wh"] for p in parts),
                     tuple(Money(c, m) for c, m in sorted(revenue.items())),
                     sum(p["charging_s"] for p in parts), sum(p["occupied_s"] for p in parts),
                     sum(p["idle_s"] for p in parts), service_s)

    out: list[Usage] = []
    stations_out: list[tuple[Usage, list[dict[str, Any]]]] = []
    for (sid, connector), a in sorted(acc.items()):
        site = f.sites.get(sid, "")
        out.append(make("connector", site, sid, connector, 1, [a],
                        in_service.get(sid, period.seconds)))
    for sid in f.sites:
        parts = [a for (s, _), a in sorted(acc.items()) if s == sid]
        u = make("station", f.sites[sid], sid, 0, len(parts), parts,
                 len(parts) * in_service.get(sid, period.seconds))
        out.append(u)
        stations_out.append((u, parts))
    for site in sorted(set(f.sites.values())):
        members = [(u, p) for u, p in stations_out if u.site == site]
        out.append(make("site", site, "", 0, sum(u.connectors for u, _ in members),
                        [x for _, p in members for x in p],
                        sum(u.in_service_s for u, _ in members)))
    return tuple(out)


def outcomes(conn: Connection, period: Period,
             station: str | None = None) -> tuple[Outcomes, ...]:
    """The fleet's (``station_id`` "") first, then each station's."""
    counts: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for r in conn.execute(outcomes_statement(station), period.params()):
        for key in ("", str(r.station_id)):
            counts[key][(str(r.result), str(r.say))] += int(r.n)
    counts.setdefault("", defaultdict(int))

    def make(sid: str, c: Mapping[tuple[str, str], int]) -> Outcomes:
        by_result = {res: 0 for res in RESULTS}
        for (res, _), n in c.items():
            by_result[res] = by_result.get(res, 0) + n
        sessions = sum(by_result.values())
        attempts = sessions - sum(by_result[r] for r in ATTEMPT_EXCLUDED)
        failed = sorted(((res, say, n) for (res, say), n in c.items()
                         if res not in ATTEMPT_EXCLUDED and res != "paid"),
                        key=lambda x: (-x[2], x[0], x[1]))
        return Outcomes(sid, sessions, attempts, by_result["paid"], tuple(by_result.items()),
                        tuple(failed))

    return tuple(make(sid, counts[sid]) for sid in sorted(counts))


def payment_health(conn: Connection, period: Period,
                   station: str | None = None) -> PaymentHealth:
    declines: dict[str, int] = defaultdict(int)
    reversed_at: dict[str, int] = defaultdict(int)
    for r in conn.execute(outcomes_statement(station), period.params()):
        if r.result == "declined":
            declines[str(r.say)] += int(r.n)
        if r.outcome == "reversed":
            reversed_at[str(r.station_id)] += int(r.n)
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for r in conn.execute(schemes_statement(station), period.params()):
        for key in ((str(r.scheme), str(r.interface)), (str(r.scheme), "*"),
                    ("*", str(r.interface))):
            a = acc.setdefault(key, {"sessions": 0, "attempts": 0, "paid": 0, "declined": 0,
                                     "revenue": defaultdict(int)})
            n = int(r.n)
            a["sessions"] += n
            a["attempts"] += n if r.result not in ATTEMPT_EXCLUDED else 0
            a["paid"] += n if r.result == "paid" else 0
            a["declined"] += n if r.result == "declined" else 0
            if _i(r.revenue):
                a["revenue"][str(r.currency)] += _i(r.revenue)

    def make(key: tuple[str, str]) -> SchemeCount:
        a = acc[key]
        return SchemeCount(key[0] if key[0] != "*" else "", key[1] if key[1] != "*" else "",
                           a["sessions"], a["attempts"], a["paid"], a["declined"],
                           tuple(Money(c, m) for c, m in sorted(a["revenue"].items())))

    keys = sorted(acc, key=lambda k: (-acc[k]["sessions"], k))
    return PaymentHealth(
        tuple(sorted(declines.items(), key=lambda x: (-x[1], x[0]))),
        sum(reversed_at.values()), tuple(sorted(reversed_at.items())),
        tuple(make(k) for k in keys if "*" not in k),
        tuple(make(k) for k in keys if k[1] == "*"),
        tuple(make(k) for k in keys if k[0] == "*"))


def peak_hours(conn: Connection, period: Period,
               station: str | None = None) -> tuple[HourCell, ...]:
    """All 7 × 24 cells, Monday 00:00 first."""
    found = {(int(r.local_dow), int(r.local_hour)): (int(r.n), _i(r.energy_wh))
             for r in conn.execute(peak_statement(station), period.params())}
    return tuple(HourCell(d, h, *found.get((d, h), (0, 0))) for d in range(7) for h in range(24))


def revenue_series(conn: Connection, period: Period,
                   station: str | None = None) -> tuple[RevenueBucket, ...]:
    """Days, then ISO weeks, then months (each in date order, then by currency)."""
    since = period.from_s - HISTORY_DAYS * DAY_S
    days: dict[tuple[date, str], tuple[int, int, int, int, int]] = {}
    for r in conn.execute(revenue_statement(station), period.params(since_s=since)):
        days[(date.fromisoformat(str(r.local_date)), str(r.currency))] = (
            int(r.sessions), int(r.paid), _i(r.energy_wh), _i(r.revenue), _i(r.whole))
    # the dates the period holds whole (see the module's docstring on the zones)
    first_whole = period.first_date + timedelta(
        days=0 if period.from_s % DAY_S == 0 else 1)
    last_whole = period.last_date - timedelta(days=0 if period.to_s % DAY_S == 0 else 1)
    read_from = datetime.fromtimestamp(since, UTC).date() + timedelta(days=1)
    out: list[RevenueBucket] = []
    for granularity in ("day", "week", "month"):
        buckets: dict[tuple[date, str], list[Any]] = {}
        for (d, cur), (n, paid, energy, revenue, whole) in days.items():
            first, last, _ = _bucket(granularity, d)
            b = buckets.setdefault((first, cur), [0, 0, 0, 0, 0])
            for i, v in enumerate((n, paid, energy, revenue, whole)):
                b[i] += v
        # every bucket the period's dates touch, and any other with a session of the period
        # (a zone east of UTC puts the last UTC day's late sessions on the next local date)
        touched = {_bucket(granularity, period.first_date + timedelta(days=i))[0]
                   for i in range((period.last_date - period.first_date).days + 1)}
        currencies = sorted({cur for _, cur in buckets})
        for cur in currencies:
            shown = sorted(touched | {first for (first, c), b in buckets.items()
                                      if c == cur and b[0] > 0})
            for first in shown:
                _, last, label = _bucket(granularity, first)
                n, paid, energy, revenue, whole = buckets.get((first, cur), [0, 0, 0, 0, 0])
                prev_first = _bucket(granularity, first - timedelta(days=1))[0]
                previous: int | None = None
                if prev_first >= read_from:
                    previous = buckets.get((prev_first, cur), [0, 0, 0, 0, 0])[4]
                partial = first < first_whole or last > last_whole
                growth = None if last > last_whole else _growth(whole, previous)
                out.append(RevenueBucket(granularity, label, first, last, cur, n, paid, energy,
                                         revenue, whole, previous, partial, growth))
    return tuple(out)


def _bucket(granularity: str, d: date) -> tuple[date, date, str]:
    """The first and last date of the bucket that holds ``d``, and its label."""
    if granularity == "day":
        return d, d, d.isoformat()
    if granularity == "week":
        first = d - timedelta(days=d.weekday())
        year, week, _ = d.isocalendar()
        return first, first + timedelta(days=6), f"{year}-W{week:02d}"
    first = d.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1), f"{d.year}-{d.month:02d}"


def averages(conn: Connection, period: Period,
             station: str | None = None) -> tuple[Averages, ...]:
    return tuple(Averages(str(r.currency), int(r.paid), _i(r.energy_wh), _i(r.revenue),
                          int(r.timed), _i(r.charging_s), _i(r.idle_s))
                 for r in conn.execute(averages_statement(station), period.params()))


def trends(conn: Connection, period: Period, station: str | None = None,
           stations: _Fleet | None = None) -> tuple[Growth, ...]:
    """Per station, then per site."""
    f = stations or fleet(conn, period, station)
    rows = {str(r.station_id): r for r in conn.execute(
        trends_statement(station), period.params(since_s=period.previous().from_s))}

    def vals(sid: str) -> tuple[int, int, int, int]:
        r = rows.get(sid)
        return ((int(r.sessions), int(r.previous_sessions), _i(r.energy_wh),
                 _i(r.previous_energy_wh)) if r else (0, 0, 0, 0))

    per_station = [Growth("station", site, sid, *vals(sid))
                   for sid, site in f.sites.items()]
    per_site = []
    for site in sorted(set(f.sites.values())):
        members = [g for g in per_station if g.site == site]
        per_site.append(Growth("site", site, "", sum(g.sessions for g in members),
                               sum(g.previous_sessions for g in members),
                               sum(g.energy_wh for g in members),
                               sum(g.previous_energy_wh for g in members)))
    return (*per_station, *per_site)


def station_loads(conn: Connection, period: Period, thresholds: Thresholds,
                  station: str | None = None, stations: _Fleet | None = None,
                  used: Sequence[Usage] | None = None) -> tuple[StationLoad, ...]:
    f = stations or fleet(conn, period, station)
    per_station = {u.station_id: u for u in (used if used is not None else usage(
        conn, period, station, f)) if u.level == "station"}
    b2b = {str(r.station_id): (int(r.sessions), _i(r.back_to_back)) for r in conn.execute(
        back_to_back_statement(station), period.params(gap_s=thresholds.back_to_back_gap_s))}
    occupied: dict[str, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for r in conn.execute(week_occupancy_statement(station), period.params()):
        occupied[str(r.station_id)][int(r.off_h)][int(r.how)] = _i(r.occupied_s)
    slot_cache: dict[int, list[int]] = {}
    out = []
    for sid, site in f.sites.items():
        u = per_station.get(sid)
        n_conn = f.count(sid)
        sessions, back = b2b.get(sid, (0, 0))
        peak: tuple[float, int] | None = None
        by_offset = occupied.get(sid, {})
        if by_offset and n_conn:
            # the week's slots in the station's zone: its predominant offset (most seconds)
            off = max(by_offset, key=lambda o: (sum(by_offset[o].values()), -o))
            if off not in slot_cache:
                slot_cache[off] = _slot_seconds(period, off)
            slots = slot_cache[off]
            total: dict[int, int] = defaultdict(int)
            for cells in by_offset.values():
                for how, s in cells.items():
                    total[how] += s
            shares = [(total.get(k, 0) / (n_conn * slots[k]), k) for k in range(WEEK_H)
                      if slots[k]]
            peak = max(shares, key=lambda x: (x[0], -x[1])) if shares else None
        charging = u.charging_share if u else None
        under = n_conn == 0 or (charging is not None
                                and charging < thresholds.underused_share)
        full = peak is not None and peak[0] > thresholds.congested_occupancy
        queued = (sessions >= max(1, thresholds.back_to_back_min_sessions)
                  and back / sessions >= thresholds.back_to_back_share)
        reasons = []
        if n_conn == 0:
            reasons.append("no session before the period's end")
        elif under:
            reasons.append(f"charging {charging:.1%} < {thresholds.underused_share:.0%}")
        if full and peak is not None:
            reasons.append(f"peak-hour occupancy {peak[0]:.0%} > "
                           f"{thresholds.congested_occupancy:.0%}")
        if queued:
            reasons.append(f"{back / sessions:.0%} back to back ≥ "
                           f"{thresholds.back_to_back_share:.0%}")
        out.append(StationLoad(
            site, sid, n_conn, sessions, charging,
            None if peak is None else peak[1] // 24, None if peak is None else peak[1] % 24,
            None if peak is None else peak[0], back, under, full or queued, tuple(reasons)))
    return tuple(out)


def _slot_seconds(period: Period, off_h: int) -> list[int]:
    """Seconds of the period in each local hour of the week (UTC offset ``off_h`` hours)."""
    slots = [0] * WEEK_H
    for h in range(period.from_s // HOUR_S, (period.to_s - 1) // HOUR_S + 1):
        lo, hi = max(h * HOUR_S, period.from_s), min((h + 1) * HOUR_S, period.to_s)
        slots[(h + EPOCH_HOW + off_h) % WEEK_H] += hi - lo
    return slots


def daily_occupancy(conn: Connection, period: Period, station: str | None = None,
                    stations: _Fleet | None = None) -> dict[str, tuple[DayOccupancy, ...]]:
    """Per station: every UTC date of the period (zeros kept), the occupancy of the sessions
    started that local date."""
    f = stations or fleet(conn, period, station)
    found: dict[tuple[str, date], tuple[int, int]] = {}
    for r in conn.execute(daily_occupancy_statement(station), period.params()):
        found[(str(r.station_id), date.fromisoformat(str(r.local_date)))] = (
            int(r.n), _i(r.occupied_s))
    n_days = (period.last_date - period.first_date).days + 1
    dates = [period.first_date + timedelta(days=i) for i in range(n_days)]
    return {sid: tuple(DayOccupancy(sid, d, *found.get((sid, d), (0, 0)),
                                    f.count(sid) * DAY_S) for d in dates)
            for sid in f.sites}


# --- everything at once -----------------------------------------------------------------

@dataclass(frozen=True)
class Analytics:
    """Every figure of one period (and station filter), from one snapshot of the database."""

    period: Period
    station: str | None
    thresholds: Thresholds
    computed_at: str
    usage: tuple[Usage, ...]
    availability: tuple[Availability, ...]  # per station
    site_availability: tuple[Availability, ...]
    outcomes: tuple[Outcomes, ...]  # the fleet first
    payment: PaymentHealth
    peak: tuple[HourCell, ...]
    revenue: tuple[RevenueBucket, ...]
    averages: tuple[Averages, ...]
    loads: tuple[StationLoad, ...]
    trends: tuple[Growth, ...]
    previous_period: Period
    daily: Mapping[str, tuple[DayOccupancy, ...]] = field(default_factory=dict)
    forecasts: Mapping[str, Forecast] = field(default_factory=dict)

    def level(self, level: str) -> tuple[Usage, ...]:
        return tuple(u for u in self.usage if u.level == level)


class UnknownStation(ValueError):
    """The station filter names no station the back office knows."""


def snapshot(db: Database) -> Any:
    """A connection whose reads see one state: REPEATABLE READ on PostgreSQL; on SQLite the
    transaction every connection begins (``BEGIN IMMEDIATE``, :mod:`kiosk.backoffice.storage`)."""
    conn = db.engine.connect()
    if db.dialect == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def compute(db: Database, period: Period, station: str | None = None,
            thresholds: Thresholds | None = None) -> Analytics:
    """Every figure of the report, in one snapshot; forecasts per station
    (:func:`kiosk.backoffice.analytics.forecast.forecast`)."""
    th = thresholds or Thresholds()
    with snapshot(db) as conn:
        f = fleet(conn, period, station)
        if station is not None and not f.sites:
            raise UnknownStation(f"station {station!r}: not registered, and no session or "
                                 f"health event of it before the period's end")
        health = availability(conn, period, station, f)
        used = usage(conn, period, station, f, health)
        result = Analytics(
            period=period, station=station, thresholds=th,
            computed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            usage=used, availability=health, site_availability=site_availability(health),
            outcomes=outcomes(conn, period, station),
            payment=payment_health(conn, period, station),
            peak=peak_hours(conn, period, station),
            revenue=revenue_series(conn, period, station),
            averages=averages(conn, period, station),
            loads=station_loads(conn, period, th, station, f, used),
            trends=trends(conn, period, station, f),
            previous_period=period.previous(),
            daily=daily_occupancy(conn, period, station, f))
    forecasts = {sid: forecast([(d.day, d.share) for d in days], th.forecast_occupancy,
                               th.forecast_horizon_days, th.forecast_min_days)
                 for sid, days in result.daily.items() if f.count(sid)}
    return _with(result, forecasts=forecasts)


def _with(a: Analytics, **changes: Any) -> Analytics:
    from dataclasses import replace

    return replace(a, **changes)


DEFINITIONS: dict[str, str] = {
    "period": ("[from, to) in UTC. Sessions, energy, revenue, outcomes, peaks and averages "
               "count the sessions created (Start pressed) in the period, whole; charging, "
               "occupancy and idle time count the part of each session's interval inside it."),
    "utilization": ("Charging share = seconds charging [charge start, charge stop] ÷ "
                    "(connectors × period). Occupancy share = seconds plugged in [charge "
                    "start, session end] ÷ (connectors × period). Idle share = seconds plugged "
                    "in after charging [charge stop, session end] ÷ (connectors × period). "
                    "Connectors: those that have had a session before the period's end."),
    "availability": ("From the health events: the state after an event holds until the "
                     "station's next one; before the period, that of the last event before "
                     "it; no event at all: in service. In service + out of service = 100 %; "
                     "faulted (an unplanned problem stands) may overlap either. "
                     "Availability-adjusted utilization = charging ÷ (connectors × time in "
                     "service)."),
    "success": ("Attempts = sessions whose result is not 'driver' (cancelled, no car, walked "
                "away) nor 'none' (nothing known). Success rate = paid ÷ attempts. Failures = "
                "the other attempts: declined (bank or card declines), card (card, PIN, "
                "reader), host (the payment service), charger."),
    "revenue": ("Revenue = captured amounts of the paid sessions, in minor units per currency, "
                "by the stations' local date of the session's start, ISO week and month. "
                "Growth = the bucket's whole revenue against the previous bucket's (read "
                "before the period if need be); none for a bucket the period's end cuts. "
                "Partial = the period does not hold the whole bucket (the bounds are UTC)."),
    "averages": ("Over the paid sessions: energy, minutes charging (sessions with both charge "
                 "times), minutes idle after charging, amount (rounded to a minor unit). Price "
                 "per kWh = revenue ÷ energy of the paid sessions."),
    "peak": ("Sessions and energy by the station's local weekday and hour of the session's "
             "start (Monday first)."),
    "loads": ("Under-used and congested stations over the period (thresholds below). Peak hour "
              "of the week = the local weekday × hour with the highest occupancy share "
              "(occupied seconds in that hour over the period ÷ connectors × the period's "
              "seconds in that hour). Back to back = created within the gap after the "
              "previous session on the same connector ended."),
    "payment": ("Declines by the reason code (say) of the declined sessions; reversals = "
                "sessions whose outcome is 'reversed' (captured, then given back); card "
                "schemes and interfaces (contact, contactless; '' unknown) with their attempts "
                "and success. Pending settlements are not in the facts and not shown."),
    "trends": ("Sessions and energy of the period against the previous period of equal "
               "length, per station and site."),
    "forecast": ("Daily occupancy share (occupied seconds of the sessions started that local "
                 "date ÷ connectors × 24 h) fitted by least squares with a linear trend and a "
                 "weekday pattern. Crossing = the first day the 7-day mean of the forecast "
                 "reaches the threshold; earliest and latest = the first days the upper and "
                 "lower edges of its 95 % band reach it (the band: seven days' noise averaged "
                 "and the fitted trend's own uncertainty, wider the further ahead)."),
}
