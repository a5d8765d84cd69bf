"""Demo data: a realistic fleet's sessions and health changes, imported as the terminals would
upload them.

:func:`make_demo` builds a fleet (:func:`build_fleet`), registers its terminals (or reuses the
demo terminals registered before), makes every station's records and imports them through
:func:`kiosk.backoffice.importer.import_envelope`, the path of every upload: kiosk records (the
session record exactly as :func:`kiosk.records.record.session_record` makes it, version 3, from
a :class:`~kiosk.session.machine.Session`; health changes as
:func:`kiosk.records.record.health_record`), in time order, sealed with
:func:`kiosk.records.batch.seal` in batches of at most 500 records, each terminal's sequence
continuing from what the database holds. Everything is drawn from :class:`random.Random`
streams seeded by the plan (one per station, one for the fleet): the same plan makes the same
records, byte for byte, and so the same facts.

Only what the analytics read is made: session records and health records. Demo sessions have
no invoice, OCPI CDR or settlement record (the invoice pages and the OCPI module show none of
them), and like the kiosk the demo makes no record of an attempt that ended before an
authorization was asked (a card the reader could not read, a PIN not entered): such attempts
leave no session record on a real terminal either.

The fleet
---------
Sites of five kinds, each in its time zone (most in Europe/Berlin, some in Amsterdam, Vienna,
Paris and London): ``office`` (commuters arrive 7 to 9 on weekdays and leave after 16; visitors
in the day), ``retail`` (shoppers from 9 to 20, Saturday the busiest day, Sunday quiet, the
weeks before Christmas busier), ``residential`` (night chargers arrive 17 to 22 and leave in the
morning), ``highway`` (DC, travellers all day with peaks at noon and 17, busier on Friday and
Sunday and in the summer holidays) and ``depot`` (a fleet of vans back at 17 to 19, out at 6).
Stations have 1 to 4 connectors, AC (11 or 22 kW) or DC (50 or 150 kW), a price of 0.45 to
0.69 EUR/kWh (DC dearer); about a tenth are congested (demand enough to take every connector
at the peak: drivers wait and plug in minutes after the previous car left; together at most a
third of all the sessions), a tenth idle, an eighth unreliable (charger faults five times as
often), and some open during the period. Demand grows 60 % a year,
commuters take holidays in July, August and at Christmas; cars take more energy in winter and
DC chargers give less power then.

Drivers: occasional ones (most with a card seen once, some returning), commuters (their site's
pool, each coming most weekdays, mostly to the same station), night chargers (every second or
third night) and fleet cards (the depot's vans nightly, sometimes a top-up elsewhere). Cards
are Visa, Mastercard or Maestro, mostly read contactless. About 85 % of the sessions are paid;
the rest are declines (by the bank: no funds, a limit, expired, a wrong PIN; by the card),
card problems (not supported, PIN blocked), the payment service (no answer, unreachable), the
driver (cancelled, no car plugged in) and the station (a charger fault, no energy, a restart).

Every station keeps a session until the car is unplugged (as a kiosk whose tariff bills idle
time does: ``parking_since`` marks the end of charging, ``ended_at`` the unplugging); the demo
tariff has no idle price, so the amount is the energy's: ``round(kWh × price)`` in cents,
ROUND_HALF_UP (:func:`kiosk.billing.money.round_to_minor`), within the hold (50 EUR, raised by
25 EUR at 90 % up to 150 EUR; a few increments are declined and stop the charge).

Health: the payment service fails for everyone at once now and then (minutes), chargers fault
(hours; a session charging then stops with ``charger_fault_stopped``), card readers fail
(hours), the operator switches a station off for works (days, planned), and a technician
services each station every four to six weeks on a weekday when no car is plugged in
(planned). No session starts while its station is out of service.

A driver who finds every connector taken (or the station out of service) waits a few minutes
(15 for an occasional driver, up to an hour for a fleet's van) and plugs in right after the car
before left, or comes on another busy day at the usual hour; when none has a free connector
either, a shorter stay in a gap, another hour of such a day, and last (more demand asked for
than the station takes in its busy hours) any hour of any day; only a station full all the
time makes fewer sessions than asked (the result says how many were made). When the demand asked for
cannot fit the connectors at all, stays are shortened to keep a station about 60 % occupied
in its busy hours on average (90 % for a congested one).
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
import random
from bisect import bisect_right
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.backoffice.importer import acked, import_envelope
from kiosk.backoffice.registry import add_terminal, get_terminal, list_terminals, set_site
from kiosk.backoffice.storage import Database
from kiosk.billing.money import round_to_minor
from kiosk.records.batch import MAX_RECORDS, Batch, Record, public_key_raw, seal
from kiosk.records.record import health_record, session_record
from kiosk.session.effects import SettleKind
from kiosk.session.machine import Outcome, Session, State
from kiosk.session.says import Say

__all__ = ["DemoError", "DemoPlan", "DemoResult", "Fleet", "Site", "Station", "build_fleet",
           "demo_key", "make_demo", "sealed", "station_records"]

log = logging.getLogger(__name__)

PREFIX = "DEMO-"
CURRENCY = "EUR"
HOLD_MINOR, INCREMENT_MINOR, MAX_HOLD_MINOR = 5000, 2500, 15000
HOST_TIMEOUT_S, PLUG_TIMEOUT_S = 30, 180
GROWTH_PER_YEAR = 0.6
_KEY_CONTEXT = b"evkiosk-demo-terminal-key/1:"
_DAY = 86_400


class DemoError(Exception):
    """Demo data cannot be made in this database (a terminal of the demo's ids is registered
    with another key or revoked, an import did not store a batch)."""


@dataclass(frozen=True)
class DemoPlan:
    """What to make: ``sessions`` in all over ``stations``, on ``days`` days from ``start``."""

    stations: int = 20
    sessions: int = 10_000
    seed: int = 1
    start: date = date(2026, 1, 1)
    days: int = 90

    def check(self) -> None:
        if not 1 <= self.stations <= 9_999:
            raise ValueError("stations: 1 to 9999")
        if not 0 <= self.sessions <= 50_000_000:
            raise ValueError("sessions: 0 to 50,000,000")
        if not 1 <= self.days <= 3_660:
            raise ValueError("days: 1 to 3660")
        if not 0 <= self.seed < 2**63:
            raise ValueError("seed: 0 to 2^63 - 1")
        if not (date(2001, 1, 1) <= self.start
                and self.start + timedelta(days=self.days) <= date(2099, 12, 1)):
            raise ValueError("from: the period must lie between 2001 and 2099")

    @property
    def namespace(self) -> str:
        """Of the whole plan: another plan's session ids differ from this one's."""
        text = (f"evkiosk-demo/1|{self.seed}|{self.start.isoformat()}|{self.days}|"
                f"{self.stations}|{self.sessions}")
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Site:
    name: str
    kind: str  # office | retail | residential | highway | depot
    timezone: str


@dataclass(frozen=True)
class Station:
    id: str  # the terminal id, and the records' station_id
    site: Site
    connectors: int
    dc: bool
    power_kw: int
    price: Decimal  # EUR per kWh, VAT included
    congested: bool
    idle: bool
    unreliable: bool
    opened_day: int  # the first day (from the plan's start) it takes sessions
    sessions: int  # how many it makes


@dataclass(frozen=True)
class Card:
    token: str
    scheme: str
    masked_pan: str
    contactless: float  # how often it is read contactless
    kind: str  # occasional | commuter | night | fleet


@dataclass(frozen=True)
class Fleet:
    plan: DemoPlan
    sites: tuple[Site, ...]
    stations: tuple[Station, ...]
    pools: dict[tuple[str, str], tuple[tuple[Card, ...], tuple[float, ...]]]  # cum. weights


@dataclass(frozen=True)
class DemoResult:
    stations: int
    sites: int
    asked: int  # the plan's sessions
    sessions: int  # made: fewer only when a station is full all the time
    health_events: int
    batches: int
    records_stored: int
    first: date
    last: date

    def line(self) -> str:
        return (f"demo-data: {self.stations} stations at {self.sites} sites, "
                f"{self.sessions:,} sessions and {self.health_events:,} health changes from "
                f"{self.first.isoformat()} to {self.last.isoformat()}: {self.batches:,} "
                f"batches imported, {self.records_stored:,} records stored"
                + (f" ({self.asked - self.sessions:,} sessions fewer than asked: stations full "
                   f"all the time)" if self.sessions < self.asked else ""))


# --- the fleet -------------------------------------------------------------------------------

KINDS = ("office", "retail", "residential", "highway", "depot")
_SITE_NAMES = {
    "office": ("Riverside Offices", "Tech Campus North", "Harbour Business Park",
               "Station Quarter Offices", "Science Park West"),
    "retail": ("Market Square Mall", "Retail Park South", "Old Town Arcade",
               "Garden Centre Ring", "Outlet Village East"),
    "residential": ("Elm Street Residences", "Lakeside Apartments", "Maple Court",
                    "Canal Side Homes", "Hillview Estate"),
    "highway": ("A7 Services North", "A9 Rest Area Lindenau", "A2 Truck Stop Hohenfeld",
                "E40 Services Brabant", "A1 Rasthof Weststadt"),
    "depot": ("City Logistics Depot", "Parcel Hub East", "Municipal Fleet Yard",
              "Bus and Van Depot", "Delivery Centre Port"),
}
_ZONES = ("Europe/Berlin",) * 6 + ("Europe/Amsterdam", "Europe/Vienna", "Europe/Paris",
                                   "Europe/London")
# the share of each kind of driver at a kind of site
_MIX = {
    "office": {"commuter": 0.65, "occasional": 0.30, "fleet": 0.05},
    "retail": {"occasional": 0.90, "commuter": 0.05, "fleet": 0.05},
    "residential": {"night": 0.65, "occasional": 0.35},
    "highway": {"occasional": 0.92, "fleet": 0.08},
    "depot": {"fleet": 0.85, "occasional": 0.15},
}
# Monday .. Sunday
_DOW = {
    "commuter": (1.0, 1.0, 1.0, 1.0, 0.85, 0.08, 0.04),
    "night": (1.0, 1.0, 1.0, 1.0, 0.9, 0.8, 0.95),
    "fleet": (1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.15),
    ("occasional", "office"): (1.0, 1.0, 1.0, 1.0, 0.9, 0.2, 0.1),
    ("occasional", "retail"): (0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 0.25),
    ("occasional", "residential"): (0.8, 0.8, 0.8, 0.85, 1.0, 1.3, 1.2),
    ("occasional", "highway"): (0.85, 0.8, 0.8, 0.9, 1.3, 1.1, 1.35),
    ("occasional", "depot"): (1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.5),
}


def _hours(spec: dict[int, float]) -> tuple[float, ...]:
    """Cumulative weights of the 24 arrival hours."""
    out, total = [], 0.0
    for h in range(24):
        total += spec.get(h, 0.0)
        out.append(total)
    return tuple(out)


_ARRIVAL = {
    "commuter": _hours({6: 3, 7: 10, 8: 12, 9: 6, 10: 2, 11: 1, 12: 1, 13: 1}),
    "night": _hours({16: 1, 17: 4, 18: 8, 19: 9, 20: 7, 21: 5, 22: 3, 23: 1}),
    "fleet": _hours({15: 1, 16: 4, 17: 8, 18: 9, 19: 6, 20: 3, 21: 1}),
    ("occasional", "office"): _hours({8: 2, 9: 4, 10: 5, 11: 5, 12: 4, 13: 5, 14: 5, 15: 4,
                                      16: 3, 17: 2, 18: 1}),
    ("occasional", "retail"): _hours({8: 1, 9: 3, 10: 6, 11: 8, 12: 8, 13: 7, 14: 7, 15: 8,
                                      16: 9, 17: 9, 18: 7, 19: 4, 20: 2}),
    ("occasional", "residential"): _hours({7: 1, 8: 2, 9: 3, 10: 4, 11: 4, 12: 4, 13: 4,
                                           14: 4, 15: 4, 16: 5, 17: 5, 18: 5, 19: 4, 20: 3,
                                           21: 2, 22: 1}),
    ("occasional", "highway"): _hours({0: 1, 1: 1, 2: 0.5, 3: 0.5, 4: 0.7, 5: 1.5, 6: 3,
                                       7: 5, 8: 6, 9: 7, 10: 8, 11: 9, 12: 10, 13: 9, 14: 8,
                                       15: 8, 16: 9, 17: 10, 18: 9, 19: 7, 20: 5, 21: 4,
                                       22: 3, 23: 2}),
    ("occasional", "depot"): _hours({7: 1, 8: 2, 9: 3, 10: 3, 11: 3, 12: 3, 13: 3, 14: 3,
                                     15: 2, 16: 1}),
}
# sessions a connector takes on a usual day, by the kind of site (DC: two and a half times)
_TURNOVER = {"office": 1.0, "retail": 2.2, "residential": 1.0, "highway": 3.0, "depot": 0.9}
# sessions a connector of a congested station takes a day (DC: two and a half times): its
# connectors are taken at the peak
_CONGESTED_RATE = {"office": 1.4, "retail": 3.6, "residential": 1.4, "highway": 5.6,
                   "depot": 1.2}
# how long a driver waits for a free connector before coming back later (seconds)
_MAX_WAIT = {"occasional": 15 * 60, "commuter": 30 * 60, "night": 45 * 60, "fleet": 60 * 60}
_TRIES = 40  # the second pass's draws for one driver, of each kind
_FAVOUR = (1.0, 0.8, 0.7, 0.6)  # drivers take the first connectors more often
# the hours of a day in which most drivers come (to size the demand against the connectors)
_BUSY_H = {"office": 11, "retail": 12, "residential": 24, "highway": 18, "depot": 24}
# the mean stay in hours (to size a station's demand against its connectors)
_MEAN_STAY_H = {"commuter": 8.5, "night": 11.5, "fleet": 11.5}
# an occasional driver's stay in minutes: (shortest, longest, most often), a triangle
_VISIT_MIN = {"retail": (20, 120, 50), "highway": (12, 55, 25), "office": (45, 240, 90),
              "residential": (40, 300, 120), "depot": (30, 180, 60)}
_VISIT_DC_MIN = (12, 60, 28)  # at a DC charger elsewhere than on the highway


def _visit(station: Station) -> tuple[int, int, int]:
    kind = station.site.kind
    return _VISIT_DC_MIN if station.dc and kind != "highway" else _VISIT_MIN[kind]


def _key(kind: str, site_kind: str) -> Any:
    return (kind, site_kind) if kind == "occasional" else kind


def _season(kind: str, site_kind: str, day: date) -> float:
    """How much of the usual demand a kind of driver brings on ``day``."""
    m, d = day.month, day.day
    christmas = (m == 12 and d >= 22) or (m == 1 and d <= 6)
    if kind == "commuter":
        return 0.35 if christmas else 0.8 if m in (7, 8) else 1.0
    if kind == "occasional" and site_kind == "highway":
        return 1.25 if m in (6, 7, 8) else 1.2 if christmas else 1.0
    if kind == "occasional" and site_kind == "retail":
        return 1.35 if (m == 11 and d >= 25) or (m == 12 and d <= 23) else 1.0
    return 1.0


def _winter(day: date) -> float:
    return 1.12 if day.month in (12, 1, 2) else 0.94 if day.month in (6, 7, 8) else 1.0


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` exactly (the largest remainders round up;
    ties to the lower index)."""
    s = sum(weights)
    if total == 0 or s <= 0:
        return [0] * len(weights)
    shares = [total * w / s for w in weights]
    counts = [math.floor(x) for x in shares]
    rest = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in order[:rest]:
        counts[i] += 1
    return counts


def build_fleet(plan: DemoPlan) -> Fleet:
    """The plan's sites, stations (with their share of the sessions) and card pools."""
    plan.check()
    rng = random.Random(f"{plan.namespace}:fleet")  # noqa: S311 - demo data, not a secret
    n_sites = max(1, min(plan.stations, round(math.sqrt(plan.stations) * 1.1)))
    sites = []
    named = dict.fromkeys(KINDS, 0)
    for i in range(n_sites):
        kind = KINDS[i] if i < len(KINDS) else rng.choices(KINDS, weights=(3, 3, 2, 2, 1))[0]
        names, n = _SITE_NAMES[kind], named[kind]
        named[kind] += 1
        name = names[n % len(names)] + (f" {n // len(names) + 1}" if n >= len(names) else "")
        sites.append(Site(name, kind, rng.choice(_ZONES) if i else "Europe/Berlin"))
    # every site gets a station, then the rest go where a kind of site has more
    per_site = [1] * n_sites
    for _ in range(plan.stations - n_sites):
        per_site[rng.choices(range(n_sites), weights=[
            {"office": 3, "retail": 2, "residential": 2, "highway": 3, "depot": 2}[s.kind]
            for s in sites])[0]] += 1
    drafts: list[dict[str, Any]] = []
    for si, site in enumerate(sites):
        for k in range(per_site[si]):
            dc = site.kind == "highway" or (site.kind == "retail" and rng.random() < 0.25)
            connectors = (rng.choice((2, 2, 3, 4)) if dc else 4 if site.kind == "depot"
                          else rng.choice((1, 2, 2, 2, 3, 4)))
            power = rng.choice((50, 150)) if dc else rng.choice((11, 11, 22))
            cents = rng.randint(59, 69) if dc else rng.randint(45, 62)
            drafts.append({
                "id": f"{PREFIX}S{si + 1:02d}-{k + 1:02d}" if n_sites < 100
                else f"{PREFIX}S{si + 1:03d}-{k + 1:02d}",
                "site": site, "connectors": connectors, "dc": dc, "power_kw": power,
                "price": Decimal(cents) / 100, "weight": rng.lognormvariate(0, 0.35),
                "unreliable": rng.random() < 0.125,
                "opened_day": (rng.randint(plan.days // 6, plan.days * 2 // 3)
                               if plan.days >= 30 and rng.random() < 0.12 else 0)})
    # a tenth congested, a tenth idle (at least one of each in a fleet of five or more)
    order = list(range(len(drafts)))
    rng.shuffle(order)
    tenth = max(1, round(len(drafts) / 10)) if len(drafts) >= 5 else 0
    for i in order[:tenth]:
        drafts[i].update(congested=True, opened_day=0)
    for i in order[tenth:2 * tenth]:
        drafts[i].update(idle=True)
    # a congested station gets what fills its connectors at the peak (at most a third of all
    # the sessions between them), the others share the rest
    busy = [d["connectors"] * plan.days * _CONGESTED_RATE[d["site"].kind]
            * (2.5 if d["dc"] else 1.0) if d.get("congested") else 0.0 for d in drafts]
    if sum(busy) > plan.sessions / 3:
        busy = [b * plan.sessions / 3 / sum(busy) for b in busy]
    congested = _largest_remainder(round(sum(busy)), busy)
    weights = []
    for d in drafts:
        open_share = (plan.days - d["opened_day"]) / plan.days
        turnover = _TURNOVER[d["site"].kind] * (2.5 if d["dc"] else 1.0)
        spread = (0.0 if d.get("congested") else 0.08 if d.get("idle")
                  else min(max(d["weight"], 0.5), 1.4))
        weights.append(spread * turnover * d["connectors"] * open_share)
    counts = [a + b for a, b in zip(
        congested, _largest_remainder(plan.sessions - sum(congested), weights), strict=True)]
    stations = tuple(
        Station(d["id"], d["site"], d["connectors"], d["dc"], d["power_kw"], d["price"],
                bool(d.get("congested")), bool(d.get("idle")), d["unreliable"],
                d["opened_day"], n) for d, n in zip(drafts, counts, strict=True))
    return Fleet(plan, tuple(sites), stations, _pools(plan, sites, stations, rng))


def _card(rng: random.Random, kind: str) -> Card:
    token = f"{rng.getrandbits(128):032x}"
    r = rng.random()
    scheme, first = (("visa", "4") if r < 0.55 else ("mastercard", "5") if r < 0.93
                     else ("maestro", "6"))
    bin_ = first + f"{rng.randrange(10**5):05d}"
    masked = f"{bin_}******{rng.randrange(10**4):04d}"
    contactless = 0.93 if rng.random() < 0.82 else 0.15
    return Card(token, scheme, masked, contactless, kind)


def _pools(plan: DemoPlan, sites: list[Site], stations: tuple[Station, ...],
           rng: random.Random) -> dict[tuple[str, str], tuple[tuple[Card, ...],
                                                          tuple[float, ...]]]:
    """The repeat customers: per site, its commuters and night chargers; the fleet's cards and
    the returning occasional drivers for all. Each card has a weight (how often it comes)."""
    pools: dict[tuple[str, str], tuple[tuple[Card, ...], tuple[float, ...]]] = {}
    days = max(plan.days, 1)

    def pool(key: tuple[str, str], size: int, kind: str, spread: float) -> None:
        cards = tuple(_card(rng, kind) for _ in range(max(size, 1)))
        weights, total = [], 0.0
        for _ in cards:
            total += rng.lognormvariate(0, spread)
            weights.append(total)
        pools[key] = (cards, tuple(weights))

    for site in sites:
        demand = sum(s.sessions for s in stations if s.site is site) / days
        pool(("commuter", site.name), round(demand * _MIX[site.kind].get("commuter", 0) / 0.7),
             "commuter", 0.4)
        pool(("night", site.name), round(demand * _MIX[site.kind].get("night", 0) / 0.45),
             "night", 0.5)
    fleet_demand = sum(s.sessions * _MIX[s.site.kind].get("fleet", 0) for s in stations) / days
    pool(("fleet", ""), round(fleet_demand / 0.8), "fleet", 0.3)
    pool(("occasional", ""), round(plan.sessions * 0.01) + 20, "occasional", 1.2)
    return pools


def demo_key(terminal_id: str) -> Ed25519PrivateKey:
    """A demo terminal's signing key: derived from its id (anyone can make it: demo only)."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(_KEY_CONTEXT + terminal_id.encode("ascii")).digest())


# --- one station's records -------------------------------------------------------------------

@dataclass(slots=True)
class _Charge:
    """One session being made (times in epoch seconds)."""

    kind: str
    card: Card
    created: int
    connector: int = 0
    approved: int = 0
    ended: int = 0
    outcome: Outcome = Outcome.NONE
    interface: str = ""
    charge_start: int | None = None
    last_reading: int | None = None
    parking: int | None = None
    energy: int = 0
    amount: int = 0
    held: int = 0
    meter_start: int = 0
    say: Say = Say.NONE
    settle: SettleKind | None = None
    stop_reason: str = ""
    message: str = ""


# how an unpaid session ends, and how often (of all sessions): the rest is paid
_FAILURES: tuple[tuple[Say, float], ...] = (
    (Say.DECLINED_BY_BANK, 0.30 * 0.045), (Say.INSUFFICIENT_FUNDS, 0.25 * 0.045),
    (Say.LIMIT_EXCEEDED, 0.12 * 0.045), (Say.CARD_EXPIRED, 0.06 * 0.045),
    (Say.DECLINED_WRONG_PIN, 0.08 * 0.045), (Say.DECLINED_BY_CARD, 0.09 * 0.045),
    (Say.CARD_NOT_SUPPORTED, 0.07 * 0.045), (Say.PIN_BLOCKED, 0.03 * 0.045),
    (Say.SERVICE_TIMEOUT, 0.004), (Say.SERVICE_UNREACHABLE, 0.0025),
    (Say.PAYMENT_FAILED, 0.0015), (Say.RESTART_DURING_PAYMENT, 0.0006),
    (Say.NO_CAR, 0.014), (Say.CANCELLED, 0.021),
    (Say.CHARGER_FAULT, 0.0055), (Say.NO_ENERGY, 0.0045),
    (Say.RESTART_BEFORE_CHARGING, 0.0012), (Say.NOTHING_TO_PAY, 0.002),
)
_DECLINES = frozenset({Say.DECLINED_BY_BANK, Say.INSUFFICIENT_FUNDS, Say.LIMIT_EXCEEDED,
                       Say.CARD_EXPIRED, Say.DECLINED_WRONG_PIN, Say.DECLINED_BY_CARD,
                       Say.CARD_NOT_SUPPORTED, Say.PIN_BLOCKED})
_STATION_FAULTS = frozenset({Say.CHARGER_FAULT, Say.NO_ENERGY, Say.RESTART_BEFORE_CHARGING})
_CODES = {Say.DECLINED_BY_BANK: "05", Say.INSUFFICIENT_FUNDS: "51", Say.LIMIT_EXCEEDED: "65",
          Say.CARD_EXPIRED: "54", Say.DECLINED_WRONG_PIN: "55", Say.CARD_NOT_SUPPORTED: "57",
          Say.PIN_BLOCKED: "75", Say.SERVICE_UNREACHABLE: "91", Say.PAYMENT_FAILED: "12"}
_PLUGGED = frozenset({Say.NO_ENERGY, Say.NOTHING_TO_PAY})
_NEED_AC_KWH = {"commuter": (6, 30, 13), "night": (10, 50, 22), "fleet": (20, 70, 40)}
_AUTH_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_DETAIL = {"charger": ("charger fault: ground fault detected", "charger does not answer (RAPI)",
                       "charger fault: contactor stuck"),
           "reader": ("card reader gone (USB)", "card reader does not answer"),
           "host": ("payment host unreachable: connection refused",
                    "payment host: TLS handshake timed out"),
           "operator": ("switched off by the operator: works on the site",),
           "maintenance": ("scheduled maintenance",)}


@dataclass(frozen=True)
class _Window:
    start: int
    end: int
    part: str
    planned: bool


def _windows(rng: random.Random, part: str, per_day: float, median_s: float,
             low: int, high: int, first: int, last: int, planned: bool) -> list[_Window]:
    """Outages of one part as a Poisson process over [first, last)."""
    out: list[_Window] = []
    t = float(first)
    while per_day > 0:
        t += rng.expovariate(per_day / _DAY)
        if t >= last:
            break
        length = int(min(max(median_s * rng.lognormvariate(0, 0.9), low), high))
        out.append(_Window(int(t), int(t) + length, part, planned))
        t += length
    return out


def host_outages(plan: DemoPlan) -> list[_Window]:
    """The payment service's outages: every station at once (from a day before the period to
    a day after it, in UTC: every station's local period is inside)."""
    rng = random.Random(f"{plan.namespace}:host")  # noqa: S311 - demo data
    first = int(datetime(plan.start.year, plan.start.month, plan.start.day,
                         tzinfo=UTC).timestamp()) - _DAY
    last = first + (plan.days + 2) * _DAY
    return _windows(rng, "host", 1 / 25, 20 * 60, 3 * 60, 3 * 3600, first, last, False)


def station_records(fleet: Fleet, station: Station,
                    host: list[_Window] | None = None) -> tuple[list[Record], int, int]:
    """``station``'s records in the order the terminal queued them: (records, sessions,
    health changes)."""
    return _StationRun(fleet, station, host).run()


class _StationRun:
    def __init__(self, fleet: Fleet, station: Station, host: list[_Window] | None) -> None:
        plan = fleet.plan
        self.fleet, self.station, self.plan = fleet, station, plan
        self.rng = random.Random(f"{plan.namespace}:{station.id}")  # noqa: S311 - demo data
        self.zone = ZoneInfo(station.site.timezone)
        self.end_s = self._local(plan.start + timedelta(days=plan.days), 0)
        self.open_s = self._local(plan.start + timedelta(days=station.opened_day), 0)
        if host is None:
            host = host_outages(plan)
        self.host = [w for w in host if self.open_s <= w.start < self.end_s]

    def _local(self, day: date, seconds: float) -> int:
        h, rest = divmod(int(seconds), 3600)
        m, s = divmod(rest, 60)
        when = datetime(day.year, day.month, day.day, tzinfo=self.zone) + timedelta(
            hours=h, minutes=m, seconds=s)
        # wall-clock arithmetic: 08:00 is 08:00 on the days the clocks change too
        return int(when.timestamp())

    def run(self) -> tuple[list[Record], int, int]:
        rng, st = self.rng, self.station
        outages = (self.host
                   + _windows(rng, "charger", (5.0 if st.unreliable else 1.0) / 75, 3 * 3600,
                              20 * 60, 60 * 3600, self.open_s, self.end_s, False)
                   + _windows(rng, "reader", 1 / 120, 2 * 3600, 10 * 60, 24 * 3600,
                              self.open_s, self.end_s, False)
                   + _windows(rng, "operator", 1 / 365, 36 * 3600, 20 * 3600, 72 * 3600,
                              self.open_s, self.end_s, True))
        outages.sort(key=lambda w: (w.start, w.part))
        self.blocked = self._merge(outages)
        charges = self._sessions()
        for w in outages:
            if w.part == "charger":
                self._cut(charges, w.start)
        self._meters(charges)
        outages += self._maintenance(charges)
        return self._records(charges, outages)

    # -- when the station is out of service ----------------------------------------------
    @staticmethod
    def _merge(windows: list[_Window]) -> tuple[list[int], list[int]]:
        starts: list[int] = []
        ends: list[int] = []
        for w in sorted(windows, key=lambda w: w.start):
            if ends and w.start <= ends[-1]:
                ends[-1] = max(ends[-1], w.end)
            else:
                starts.append(w.start)
                ends.append(w.end)
        return starts, ends

    def _after_outage(self, t: int) -> int:
        starts, ends = self.blocked
        i = bisect_right(starts, t) - 1
        if i >= 0 and t < ends[i]:
            return ends[i] + self.rng.randint(60, 900)  # drivers come back after it
        return t

    # -- the sessions ----------------------------------------------------------------------
    def _capacity_scale(self, per_day: float, mix: dict[str, float]) -> float:
        """Stays shortened so the demand fits the connectors (see the module)."""
        site = self.station.site.kind
        stay_s = sum(share * (60 * sum(_visit(self.station)) / 3 if k == "occasional"
                              else 3600 * _MEAN_STAY_H[k]) for k, share in mix.items())
        target = 0.9 if self.station.congested else 0.6
        need = per_day * stay_s / (self.station.connectors * 3600 * _BUSY_H[site])
        return min(1.0, target / need) if need > 0 else 1.0

    def _sessions(self) -> list[_Charge]:
        rng, st, plan = self.rng, self.station, self.plan
        site = st.site.kind
        mix = _MIX[site]
        kinds = tuple(mix)
        open_days = plan.days - st.opened_day
        day_weights, day_mixes = [], []
        for d in range(plan.days):
            day = plan.start + timedelta(days=d)
            dow = day.weekday()
            growth = (1 + GROWTH_PER_YEAR) ** (d / 365)
            parts = [mix[k] * _DOW[_key(k, site)][dow] * _season(k, site, day) for k in kinds]
            day_mixes.append(parts)
            day_weights.append(0.0 if d < st.opened_day else
                               growth * sum(parts) * rng.lognormvariate(0, 0.12))
        counts = _largest_remainder(st.sessions, day_weights)
        scale = self._capacity_scale(st.sessions / max(open_days, 1), mix)
        arrivals: list[tuple[int, str, date]] = []
        for d, n in enumerate(counts):
            if not n:
                continue
            day = plan.start + timedelta(days=d)
            cum, total = [], 0.0
            for w in day_mixes[d]:
                total += w
                cum.append(total)
            for kind in rng.choices(kinds, cum_weights=cum, k=n):
                hours = _ARRIVAL[_key(kind, site)]
                hour = rng.choices(range(24), cum_weights=hours)[0]
                t = self._local(day, hour * 3600 + rng.random() * 3600)
                arrivals.append((t, kind, day))
        arrivals.sort(key=lambda a: a[0])
        self.free_at = [self.open_s] * st.connectors
        self.starts: list[list[int]] = [[] for _ in range(st.connectors)]
        self.ends: list[list[int]] = [[] for _ in range(st.connectors)]
        out: list[_Charge] = []
        # in time order: a driver waits for a connector (and for the station in service) up
        # to _MAX_WAIT[kind]; one who would wait longer comes another day (the second pass)
        later: list[str] = []
        for arrived, kind, _day in arrivals:
            t = self._after_outage(arrived)
            while True:
                soonest = min(self.free_at)
                if soonest <= t:
                    break
                t = self._after_outage(soonest + rng.randint(30, 300))  # right after the car
            if t - arrived > _MAX_WAIT[kind]:
                later.append(kind)
                continue
            free = [i for i in range(st.connectors) if self.free_at[i] <= t]
            out.append(self._place(kind, t, free, scale))
        # the second pass: on another of the station's busy days (not a commuter on a Sunday),
        # at the kind's usual hour where a connector is free for the stay; else for a shorter
        # stay; else at another hour of the day (a top-up); else, the station full in its busy
        # hours (more demand asked for than it can take), at any hour of any day it is open
        days = range(plan.days)
        busiest = max(day_weights, default=0.0)
        cum_busy, cum_open, busy_total, open_total = [], [], 0.0, 0.0
        for w in day_weights:
            busy_total += w if w >= 0.4 * busiest else 0.0
            open_total += 1.0 if w > 0 else 0.0
            cum_busy.append(busy_total)
            cum_open.append(open_total)
        self.dropped = 0
        for kind in later:
            hours = _ARRIVAL[_key(kind, site)]
            for attempt in range(4 * _TRIES if busy_total > 0 else 0):
                anytime = attempt >= 3 * _TRIES
                d = rng.choices(days, cum_weights=cum_open if anytime else cum_busy)[0]
                hour = (rng.choices(range(24), cum_weights=hours)[0] if attempt < 2 * _TRIES
                        else rng.randint(0, 23) if anytime else rng.randint(7, 20))
                t = self._local(plan.start + timedelta(days=d), hour * 3600 + rng.random() * 3600)
                if self._after_outage(t) != t:
                    continue
                gaps = [(i, self._gap_end(i, t)) for i in range(st.connectors)]
                free = [i for i, end in gaps if end - t >= (20 if anytime else 30) * 60]
                if not free:  # taken then: no need to make the session to know
                    continue
                if attempt < _TRIES:  # the whole stay where a connector is free for it
                    charge = self._place(kind, t, free, scale, fit=True)
                else:  # full whenever this driver would come: a shorter stay in a gap
                    i = free[0]
                    charge = self._place(kind, t, [i], scale, fit=True,
                                         leave_by=dict(gaps)[i] - 120)
                if charge is not None:
                    out.append(charge)
                    break
            else:
                self.dropped += 1  # full all the time: the driver charges elsewhere
        out.sort(key=lambda c: c.created)
        return out

    def _meters(self, charges: list[_Charge]) -> None:
        """Each connector's meter, from session to session in time order."""
        meters = [self.rng.randrange(1_000_000, 40_000_000)
                  for _ in range(self.station.connectors)]
        for c in charges:
            if c.charge_start is not None:
                c.meter_start = meters[c.connector - 1]
                meters[c.connector - 1] += c.energy

    def _place(self, kind: str, t: int, connectors: list[int], scale: float, *,
               fit: bool = False, leave_by: int | None = None) -> Any:
        """A session of a ``kind`` of driver starting at ``t`` on one of ``connectors`` (all
        free at ``t``; ``fit``: the one free for the whole stay, else None), leaving by
        ``leave_by`` if given."""
        rng = self.rng
        c = _Charge(kind, self._card_for(kind), t)
        leave = self._stay(kind, t, scale)
        if leave_by is not None:
            leave = max(min(leave, leave_by - 300), t + 600)
        self._outcome(c, leave, datetime.fromtimestamp(t, self.zone).date())
        plugged = c.outcome is Outcome.CAPTURED or c.say in _PLUGGED
        until = max(leave if plugged else c.ended, c.ended) + rng.randint(20, 180)
        if fit:
            connectors = [i for i in connectors if self._fits(i, t, until)]
            if not connectors:
                return None
        i = connectors[0] if len(connectors) == 1 else rng.choices(
            connectors, weights=[_FAVOUR[i] for i in connectors])[0]
        c.connector = i + 1
        j = bisect_right(self.starts[i], t)
        self.starts[i].insert(j, t)
        self.ends[i].insert(j, until)
        self.free_at[i] = max(self.free_at[i], until)
        return c

    def _gap_end(self, i: int, t: int) -> int:
        """Until when connector ``i`` is free from ``t`` (``t`` itself when it is taken)."""
        starts, ends = self.starts[i], self.ends[i]
        j = bisect_right(starts, t)
        if j and ends[j - 1] > t:
            return t
        return starts[j] if j < len(starts) else self.end_s

    def _fits(self, i: int, t: int, until: int) -> bool:
        """Connector ``i`` is free from ``t`` to ``until``."""
        starts, ends = self.starts[i], self.ends[i]
        j = bisect_right(starts, t)
        return (j == 0 or ends[j - 1] <= t) and (j == len(starts) or starts[j] >= until)

    def _card_for(self, kind: str) -> Card:
        rng = self.rng
        pools = self.fleet.pools
        if kind == "occasional":
            if rng.random() < 0.06:  # a fleet's car topping up on its way
                cards, cum = pools[("fleet", "")]
            elif rng.random() < 0.3:
                cards, cum = pools[("occasional", "")]
            else:
                return _card(rng, "occasional")
        elif kind == "fleet":
            cards, cum = pools[("fleet", "")]
        else:
            cards, cum = pools[(kind, self.station.site.name)]
        return rng.choices(cards, cum_weights=cum)[0]

    def _stay(self, kind: str, start: int, scale: float) -> int:
        """When the car leaves."""
        rng = self.rng
        local = datetime.fromtimestamp(start, self.zone)
        day = local.date()
        if kind == "commuter":
            leave = self._local(day, 3600 * min(max(rng.gauss(17.0, 0.8), 14.5), 20.0))
        elif kind in ("night", "fleet"):
            mean = 7.2 if kind == "night" else 6.0
            morning = day + timedelta(days=1) if local.hour >= 12 else day
            leave = self._local(morning, 3600 * max(rng.gauss(mean, 0.6), 4.5))
        else:
            lo, hi, mode = _visit(self.station)
            leave = start + int(60 * rng.triangular(lo, hi, mode))
        stay = max(leave - start, 20 * 60)
        # the cars of the period's last evening leave before its end: no record is later
        return min(start + max(int(stay * scale), 10 * 60), max(self.end_s - 60, start + 600))

    def _outcome(self, c: _Charge, leave: int, day: date) -> None:
        rng, st = self.rng, self.station
        card = c.card
        c.interface = "contactless" if rng.random() < card.contactless else "contact"
        read = c.created + rng.randint(4, 15)
        c.approved = read + rng.randint(1, 4)
        r = rng.random()
        say = Say.NONE
        for candidate, base in _FAILURES:
            share = base
            if candidate in _DECLINES and card.kind == "fleet":
                share *= 0.3
            elif candidate in _STATION_FAULTS and st.unreliable:
                share *= 4
            if r < share:
                say = candidate
                break
            r -= share
        if say is Say.LIMIT_EXCEEDED and c.interface != "contactless":
            say = Say.DECLINED_BY_BANK
        if say is Say.NONE:
            self._charge(c, leave, day)
            return
        c.say = say
        c.outcome = Outcome.REVERSED
        c.held, c.settle = HOLD_MINOR, SettleKind.REVERSAL
        if say in _CODES:  # the host declined
            c.outcome, c.held, c.settle = Outcome.DECLINED, 0, None
            c.ended = c.approved
            c.message = f"declined by the host ({_CODES[say]}): declined"
        elif say is Say.DECLINED_BY_CARD:
            if rng.random() < 0.5:  # the card refused offline
                c.outcome, c.held, c.settle = Outcome.DECLINED, 0, None
                c.ended, c.message = read, "the card declined offline"
            else:  # the card refused after the host approved: the hold is released
                c.ended, c.stop_reason = c.approved + rng.randint(1, 4), "card declined"
                c.message = "the card refused after the host approved: no reason given"
        elif say in (Say.SERVICE_TIMEOUT, Say.RESTART_DURING_PAYMENT):
            c.held, c.settle = 0, SettleKind.ADVICE
            if say is Say.SERVICE_TIMEOUT:
                c.ended, c.stop_reason = read + HOST_TIMEOUT_S, "host timeout"
                c.message = (f"no answer from the payment host within {HOST_TIMEOUT_S} s; "
                             "reversal advice queued")
            else:
                c.ended, c.stop_reason = read + rng.randint(60, 240), \
                    "restart during authorization"
                c.message = ("the terminal restarted during the authorization; reversal "
                             "advice queued")
        elif say is Say.NO_CAR:
            c.ended, c.stop_reason = c.approved + PLUG_TIMEOUT_S, "car not plugged in"
            c.message = f"no car plugged in within {PLUG_TIMEOUT_S} s; reversal queued"
        elif say is Say.CANCELLED:
            c.ended, c.stop_reason = c.approved + rng.randint(10, 120), "cancelled by driver"
            c.message = "StopRequested before charging began; reversal queued"
        elif say is Say.CHARGER_FAULT:
            c.ended, c.stop_reason = c.approved + rng.randint(5, 60), "charger fault"
            c.message = "charger fault: it cannot start; reversal queued"
        elif say is Say.RESTART_BEFORE_CHARGING:
            c.ended, c.stop_reason = c.approved + rng.randint(60, 200), "restart before charging"
            c.message = ("the terminal restarted after the approval, before charging began; "
                         "reversal queued")
        else:  # NO_ENERGY, NOTHING_TO_PAY: plugged in, charging began
            c.charge_start = c.approved + rng.randint(15, 90)
            c.last_reading = c.charge_start + rng.randint(60, 600)
            c.ended = c.last_reading + rng.randint(2, 8)
            if say is Say.NO_ENERGY:
                c.stop_reason = "car finished"
                c.message = "no energy delivered (car finished); reversal queued"
            else:
                c.energy = rng.randint(1, 6)
                c.stop_reason = "stopped by driver"
                c.message = (f"{c.energy} Wh priced at 0 minor units: nothing to capture; "
                             "reversal queued")

    def _charge(self, c: _Charge, leave: int, day: date) -> None:
        """A paid session: plugged in, charged, parked perhaps, unplugged."""
        rng, st = self.rng, self.station
        c.outcome, c.settle = Outcome.CAPTURED, SettleKind.CAPTURE
        c.charge_start = c.approved + rng.randint(15, 90)
        leave = max(leave, c.charge_start + 5 * 60)
        kind = c.kind
        if st.dc:
            need = rng.triangular(12, 55, 28)
            car_kw = rng.choice((50, 75, 100, 135, 170))
            power = min(st.power_kw, car_kw) * rng.uniform(0.65, 0.85) / (
                1.15 if day.month in (12, 1, 2) else 1.0)
        else:
            lo, hi, mode = _NEED_AC_KWH.get(kind, (4, 30, 12))
            need = rng.triangular(lo, hi, mode)
            power = min(st.power_kw, rng.choice((11, 11, 7.4, 22))) * rng.uniform(0.85, 0.97)
        need_wh = need * 1000 * _winter(day)
        full_at = c.charge_start + int(need_wh / (power * 1000) * 3600)
        if full_at < leave:  # full before the driver came back: parked
            c.energy, c.parking = int(need_wh), full_at
            c.stop_reason = "car unplugged"
        else:
            c.energy = int(power * 1000 * (leave - c.charge_start) / 3600)
            c.stop_reason = rng.choice(("car unplugged", "stopped by driver"))
        c.last_reading = leave
        self._price(c, power)
        c.ended = c.last_reading + rng.randint(2, 8)

    def _price(self, c: _Charge, power_kw: float) -> None:
        """The amount of ``c.energy`` within the hold (raised, or declined: charging stops)."""
        rng, st = self.rng, self.station
        amount = round_to_minor(Decimal(c.energy) / 1000 * st.price, CURRENCY)
        held = HOLD_MINOR
        while amount > held * 9 // 10 and held < MAX_HOLD_MINOR:
            if rng.random() < 0.08:  # the bank refuses more: charging stops at 90 %
                stop_minor = held * 9 // 10
                c.energy = int(Decimal(stop_minor) / st.price * 10)  # Wh
                amount = round_to_minor(Decimal(c.energy) / 1000 * st.price, CURRENCY)
                assert c.charge_start is not None
                c.last_reading = c.charge_start + int(c.energy / (power_kw * 1000) * 3600)
                c.parking = None
                c.say, c.stop_reason = Say.INCREMENT_DECLINED, "hold used, increment declined"
                c.message = "increment declined: declined by the host (51)"
                break
            held += INCREMENT_MINOR
        if amount > held:  # the hold is used up: charging stopped at it
            amount = held
            c.say, c.stop_reason = Say.HOLD_USED_UP, "hold used up"
            c.message = "hold used up"
        c.held, c.amount = held, amount

    def _cut(self, charges: list[_Charge], at: int) -> None:
        """A charger fault at ``at``: the sessions charging stop (paid for what they had),
        those about to charge end without."""
        rng, st = self.rng, self.station
        for c in charges:
            if not c.created < at < c.ended or c.outcome is not Outcome.CAPTURED:
                continue
            assert c.charge_start is not None
            charging_until = c.parking if c.parking is not None else c.last_reading
            if c.charge_start >= at:  # not charging yet: ends without a charge
                c.outcome, c.settle, c.amount = Outcome.REVERSED, SettleKind.REVERSAL, 0
                c.held, c.energy = HOLD_MINOR, 0
                c.charge_start = c.last_reading = c.parking = None
                c.say, c.stop_reason = Say.CHARGER_FAULT, "charger fault"
                c.message = "charger fault: it cannot start; reversal queued"
                c.ended = at + rng.randint(2, 20)
            elif charging_until is not None and charging_until > at:
                energy = c.energy * (at - c.charge_start) // max(
                    charging_until - c.charge_start, 1)
                c.energy, c.last_reading, c.parking = energy, at, None
                c.amount = min(round_to_minor(Decimal(energy) / 1000 * st.price, CURRENCY),
                               c.held)
                c.ended = at + rng.randint(2, 20)
                if c.amount == 0:
                    c.outcome, c.settle = Outcome.REVERSED, SettleKind.REVERSAL
                    c.say = Say.NO_ENERGY if energy == 0 else Say.NOTHING_TO_PAY
                    c.stop_reason, c.message = "charger fault", "charger fault: stopped"
                else:
                    c.say, c.stop_reason = Say.CHARGER_FAULT_STOPPED, "charger fault"
                    c.message = "charger fault: stopped"

    def _maintenance(self, charges: list[_Charge]) -> list[_Window]:
        """A technician every four to six weeks, on a weekday between 9 and 16, when no car is
        plugged in and the station is not out of service."""
        rng, plan = self.rng, self.plan
        busy = sorted((c.created, c.ended) for c in charges)
        starts = [b[0] for b in busy]
        ends_max: list[int] = []  # the latest end among the sessions started so far
        for _, e in busy:
            ends_max.append(max(e, ends_max[-1]) if ends_max else e)
        out: list[_Window] = []
        d = self.station.opened_day + rng.randint(3, 30)
        while d < plan.days:
            length = rng.randint(30, 120) * 60
            for offset in range(10):
                day = plan.start + timedelta(days=d + offset)
                if d + offset >= plan.days or day.weekday() >= 5:
                    continue
                placed = None
                for quarter in range(9 * 4, 16 * 4):
                    t = self._local(day, quarter * 900)
                    i = bisect_right(starts, t + length) - 1  # sessions begun before its end
                    free = i < 0 or ends_max[i] < t  # all of them ended before it began
                    if free and self._after_outage(t) == t and \
                            self._after_outage(t + length) == t + length:
                        placed = t
                        break
                if placed is not None:
                    out.append(_Window(placed, placed + length, "maintenance", True))
                    break
            d += rng.randint(28, 42)
        return out

    # -- the records -----------------------------------------------------------------------
    def _records(self, charges: list[_Charge],
                 windows: list[_Window]) -> tuple[list[Record], int, int]:
        st, rng = self.station, self.rng
        tz = st.site.timezone
        keyed: list[tuple[int, int, Record]] = []
        at = _iso
        for c in charges:
            sid = f"{rng.getrandbits(128):032x}"
            card = c.card
            s = Session(
                id=sid, connector=c.connector,
                state=State.RECEIPT if c.outcome is Outcome.CAPTURED else
                State.DECLINED if c.outcome is Outcome.DECLINED else State.ERROR,
                created_at=_dt(c.created), updated_at=_dt(c.ended), seq=0,
                masked_pan=card.masked_pan, token=card.token, scheme=card.scheme,
                interface=c.interface,
                auth_code="" if c.held == 0 else "".join(rng.choices(_AUTH_ALPHABET, k=6)),
                held_minor=c.held,
                charge_started_at=None if c.charge_start is None else _dt(c.charge_start),
                meter_start_wh=c.meter_start, meter_now_wh=c.meter_start + c.energy,
                last_reading_at=None if c.last_reading is None else _dt(c.last_reading),
                cost_minor=c.amount, parking_since=None if c.parking is None else _dt(
                    c.parking), stop_reason=c.stop_reason, final_minor=c.amount,
                outcome=c.outcome, message=c.message, settle_kind=c.settle, say=c.say)
            payload = session_record(s, station_id=st.id, currency=CURRENCY, timezone=tz)
            keyed.append((c.ended, 1, Record(f"{sid}:session", sid, "session", at(c.ended),
                                             payload)))
        events: list[tuple[int, bool, _Window]] = []
        for w in windows:
            events.append((w.start, False, w))
            events.append((w.end, True, w))
        events.sort(key=lambda e: (e[0], e[1]))  # failures before recoveries
        down: dict[str, bool] = {}  # part → planned, while it is not fine
        events = [e for e in events if e[0] < self.end_s]  # an outage at the end goes on
        for t, ok, w in events:
            if ok:
                down.pop(w.part, None)
            else:
                down[w.part] = w.planned
            detail = "" if ok else rng.choice(_DETAIL[w.part])
            rid = f"health-{_dt(t):%Y%m%dT%H%M%S%fZ}-{rng.getrandbits(48):012x}"
            payload = health_record(station_id=st.id, at=_dt(t), part=w.part, ok=ok,
                                    planned=w.planned, in_service=not down,
                                    faulted=any(not p for p in down.values()), detail=detail)
            keyed.append((t, 0, Record(f"{rid}:audit", rid, "audit", at(t), payload)))
        keyed.sort(key=lambda k: (k[0], k[1]))
        return [k[2] for k in keyed], len(charges), len(events)


def _dt(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# --- into the database -----------------------------------------------------------------------

def _register(db: Database, fleet: Fleet) -> None:
    # demo terminals sign with keys anyone can derive from their ids: never beside real ones
    real = [t.id for t in list_terminals(db) if t.public_key != public_key_raw(
        demo_key(t.id).public_key())]
    if real:
        raise DemoError(f"the database holds terminals that are not demo terminals "
                        f"({', '.join(real[:3])}{'…' if len(real) > 3 else ''}): demo data "
                        f"(whose keys anyone can derive) needs a database of its own")
    for st in fleet.stations:
        key = demo_key(st.id)
        raw = public_key_raw(key.public_key())
        known = get_terminal(db, st.id)
        if known is None:
            add_terminal(db, st.id, raw, st.site.name)
            continue
        if known.public_key != raw:
            raise DemoError(f"terminal {st.id}: registered with another key (not a demo "
                            f"terminal); demo data needs a database of its own")
        if not known.active:
            raise DemoError(f"terminal {st.id}: revoked")
        if known.site != st.site.name:
            set_site(db, st.id, st.site.name)


def sealed(plan: DemoPlan, index: int, first_sequence: int) -> tuple[list[bytes], int, int]:
    """The envelopes of the plan's ``index``-th station, its batches numbered from
    ``first_sequence``: (envelopes, sessions, health changes). The same whether it runs here
    or in a worker process (everything comes from the plan)."""
    fleet, host = _fleet_of(plan)
    station = fleet.stations[index]
    recs, sessions, health = station_records(fleet, station, host)
    key = demo_key(station.id)
    envelopes = []
    for n, i in enumerate(range(0, len(recs), MAX_RECORDS)):
        chunk = tuple(recs[i:i + MAX_RECORDS])
        # sealed a little after its last record, as a terminal uploads it
        created = datetime.fromisoformat(chunk[-1].created_at) + timedelta(seconds=30)
        envelopes.append(seal(Batch(station.id, first_sequence + n, created.isoformat(),
                                    chunk), key))
    return envelopes, sessions, health


@lru_cache(maxsize=2)
def _fleet_of(plan: DemoPlan) -> tuple[Fleet, list[_Window]]:
    return build_fleet(plan), host_outages(plan)


def _import(db: Database, station: Station, envelopes: list[bytes]) -> int:
    """Import a station's envelopes in order, as its uploads: the records stored."""
    stored = 0
    for data in envelopes:
        result = import_envelope(db, data)
        if result.status != "stored":
            raise DemoError(f"terminal {station.id}: {result.line()}")
        stored += result.records
    return stored


# Below this many sessions the records are made in this process; from it on one worker process
# makes (and seals) the next station's while this one imports: the import is the slower half.
WORKER_FROM = 20_000


def make_demo(db: Database, plan: DemoPlan, *, worker: bool | None = None) -> DemoResult:
    """Make the plan's fleet and import its records (see the module); raises
    :class:`DemoError` or ValueError (a plan out of bounds). ``worker``: make the records in
    a worker process (default: from :data:`WORKER_FROM` sessions on); the result is the same
    either way."""
    fleet, _ = _fleet_of(plan)
    _register(db, fleet)
    first = [acked(db, st.id) + 1 for st in fleet.stations]
    use_worker = plan.sessions >= WORKER_FROM if worker is None else worker
    sessions = health = batches = stored = 0
    with ExitStack() as stack:
        if use_worker:
            pool = stack.enter_context(
                multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=None))
            # at most two stations ahead: the worker never piles up a fleet's envelopes
            ahead: list[Any] = []
            made = (ahead.pop(0).get() for _ in fleet.stations)

            def submit(i: int) -> None:
                if i < len(fleet.stations):
                    ahead.append(pool.apply_async(sealed, (plan, i, first[i])))

            submit(0)
            submit(1)
        else:
            made = (sealed(plan, i, first[i]) for i in range(len(fleet.stations)))
        for i, st in enumerate(fleet.stations):
            envelopes, n_sessions, n_health = next(made)
            if use_worker:
                submit(i + 2)
            stored += _import(db, st, envelopes)
            sessions, health, batches = (sessions + n_sessions, health + n_health,
                                         batches + len(envelopes))
            log.debug("demo-data: %s: %d sessions, %d health changes", st.id, n_sessions,
                      n_health)
    return DemoResult(len(fleet.stations), len(fleet.sites), plan.sessions, sessions, health,
                      batches, stored, plan.start, plan.start + timedelta(days=plan.days - 1))
