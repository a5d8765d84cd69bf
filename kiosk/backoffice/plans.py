"""The member plans an operator enables, and the signed member lists the back office publishes
for the terminals (issue #18; the list's format and the discount arithmetic are
:mod:`kiosk.billing.plans`').

**Plans** (table ``plans``; ``kiosk-backoffice plan enable|disable|list``): an id (the member
list's plan id, 1 to 32 of ``[a-z0-9-]``), a name (what the driver reads), the segment whose
cards it is for (:data:`kiosk.backoffice.analytics.customers.SEGMENTS`), ``percent_off`` (a
decimal string above 0 and at most 50, at most 2 places), optional hours (``[from, to)``
local, wrapping midnight when from > to), an optional ``min_sessions_month`` (a loyalty plan:
only cards with at least that many paid sessions in the current calendar month) and a
currency (default: the fleet's, the currency of most paid sessions of the last 90 days).
Enabling an id that exists replaces its terms; disabling keeps the row. Every value is checked
here and once more by :func:`kiosk.billing.plans.dumps_members`, so a plan that is stored is a
plan a terminal takes.

**Members** (:func:`member_lists`): per currency, each enabled plan of it gets the cards
currently in its segment (the segments of :mod:`kiosk.backoffice.analytics.customers` over
the last :data:`WINDOW_DAYS` days, up to now); a loyalty plan only those with at least N paid
sessions in the current calendar month (the month of the sessions' local date, this UTC
month's). A card is in at most one plan: **the largest discount wins** (a tie: the smaller
plan id). **Validity**: a list with a monthly plan is valid until the end of the current month
(UTC: the counts start again with the month), any other for ``valid_days`` (default 30, at
most :data:`kiosk.billing.plans.MAX_VALIDITY`). Publish again (daily, e.g. from cron) to add
the cards that reached N since, and at the start of every month.

**Publishing** (:func:`publish_members`, ``kiosk-backoffice plan publish --signing-key
FILE``): one bundle of kind ``members`` per active registered terminal, with the list of its
currency (the currency of its latest session; a terminal without one gets the list of the
enabled plans' currency when they have only one, the fleet's when none is enabled, else it is
skipped), signed with the
operator's Ed25519 private key read from FILE (the format ``kiosk update keygen`` writes;
read for this command only, never stored) and published through
:func:`kiosk.backoffice.updates.publish` under the next sequence of that terminal and kind.
A terminal whose currency has no enabled plan gets an empty list: that is how disabling the
last plan takes the discounts back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from kiosk.backoffice.analytics.customers import SEGMENT_NAMES, SEGMENTS, Rules, members
from kiosk.backoffice.analytics.queries import DAY_S, Period
from kiosk.backoffice.storage import Database, charging_sessions, plans, terminals, updates
from kiosk.backoffice.storage import now as now_text
from kiosk.billing.money import MINOR_UNITS
from kiosk.billing.plans import (
    MAX_MEMBERS,
    MAX_PERCENT_OFF,
    MAX_PLANS,
    MAX_VALIDITY,
    MembersError,
    Plan,
    dumps_members,
)
from kiosk.config import one_line

__all__ = ["DEFAULT_VALID_DAYS", "WINDOW_DAYS", "MemberListDraft", "PlanError", "StoredPlan",
           "disable_plan", "enable_plan", "list_plans", "member_lists", "parse_hours",
           "publish_members"]

log = logging.getLogger(__name__)

WINDOW_DAYS = 90  # the segments of a member list: the last 90 days' sessions
DEFAULT_VALID_DAYS = 30
MAX_MIN_SESSIONS = 1000
ENABLED, DISABLED = "enabled", "disabled"
_PLAN_ID = re.compile(r"[a-z0-9-]{1,32}")
_PERCENT = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2})?")
_HOURS = re.compile(r"([0-9]{1,2})-([0-9]{1,2})")
DEFAULT_NAMES = {"fleet": "Fleet plan", "night": "Night plan", "commuter": "Loyalty plan",
                 "occasional": "Welcome plan"}


class PlanError(ValueError):
    """A plan or a publication that cannot be made; the message is one line."""


@dataclass(frozen=True)
class StoredPlan:
    id: str
    name: str
    segment: str
    percent_off: str
    hours: tuple[int, int] | None
    min_sessions_month: int | None
    currency: str
    status: str
    created_at: str

    def plan(self) -> Plan:
        return Plan(self.id, self.name, Decimal(self.percent_off), self.hours)

    def line(self) -> str:
        hours = "every hour" if self.hours is None else f"hours {self.hours[0]}-{self.hours[1]}"
        monthly = (f", from {self.min_sessions_month} paid sessions this month"
                   if self.min_sessions_month else "")
        return (f"{self.id}\t{self.status}\t{SEGMENT_NAMES[self.segment]}\t"
                f"{self.percent_off} % off\t{hours}{monthly}\t{self.currency}\t{self.name!r}")


def _stored(row: Any) -> StoredPlan:
    m = row._mapping
    hours = None if m["hours_from"] is None else (int(m["hours_from"]), int(m["hours_to"]))
    return StoredPlan(m["id"], m["name"], m["segment"], m["percent_off"], hours,
                      m["min_sessions_month"], m["currency"], m["status"], m["created_at"])


# --- checks ----------------------------------------------------------------------------------

def check_plan_id(value: str) -> str:
    if not _PLAN_ID.fullmatch(value):
        raise PlanError(f"plan id {one_line(value, 40)!r}: 1 to 32 of a-z 0-9 -")
    return value


def check_segment(value: str) -> str:
    if value not in SEGMENTS:
        raise PlanError(f"segment {one_line(value, 40)!r}: one of {', '.join(SEGMENTS)}")
    return value


def parse_percent(value: str) -> str:
    text = value.strip()
    if not _PERCENT.fullmatch(text):
        raise PlanError(f"percent {one_line(value, 20)!r}: a number such as 10 or 12.5 (at "
                        f"most 2 places)")
    try:
        pct = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the form above is a decimal
        raise PlanError(f"percent {one_line(value, 20)!r}: not a number") from None
    if not 0 < pct <= MAX_PERCENT_OFF:
        raise PlanError(f"percent {text}: above 0 and at most {MAX_PERCENT_OFF}")
    return str(int(pct)) if pct == pct.to_integral_value() else text


def parse_hours(value: str) -> tuple[int, int]:
    """``FROM-TO``, whole local hours 0 to 23, different (``22-6``: 22:00 to 05:59)."""
    m = _HOURS.fullmatch(value.strip())
    if not m:
        raise PlanError(f"hours {one_line(value, 20)!r}: FROM-TO in whole hours, e.g. 22-6")
    lo, hi = int(m.group(1)), int(m.group(2))
    if not (0 <= lo <= 23 and 0 <= hi <= 23) or lo == hi:
        raise PlanError(f"hours {lo}-{hi}: two different hours from 0 to 23")
    return lo, hi


def check_min_sessions(value: int) -> int:
    if not 1 <= value <= MAX_MIN_SESSIONS:
        raise PlanError(f"min sessions {value}: from 1 to {MAX_MIN_SESSIONS}")
    return value


def check_name(value: str) -> str:
    if not 1 <= len(value) <= 40 or not value.isprintable() or value.strip() != value:
        raise PlanError("name: 1 to 40 printable characters, no outer spaces")
    return value


def check_currency(value: str) -> str:
    if value not in MINOR_UNITS:
        raise PlanError(f"currency {one_line(value, 10)!r}: one of "
                        f"{', '.join(sorted(MINOR_UNITS))}")
    return value


def fleet_currency(conn: Connection, now: datetime) -> str | None:
    """The currency of most paid sessions of the last :data:`WINDOW_DAYS` days (then of any
    session); None without a session."""
    cs = charging_sessions.c
    since = int(now.timestamp()) - WINDOW_DAYS * DAY_S
    for where in ((cs.result == "paid", cs.created_s >= since), ()):
        row = conn.execute(select(cs.currency, func.count().label("n")).where(*where)
                           .group_by(cs.currency).order_by(func.count().desc(), cs.currency)
                           .limit(1)).first()
        if row is not None:
            return str(row.currency)
    return None


# --- the plans table -------------------------------------------------------------------------

def enable_plan(db: Database, plan_id: str, *, segment: str, percent: str,
                hours: str | None = None, min_sessions: int | None = None,
                name: str | None = None, currency: str | None = None,
                now: datetime | None = None) -> StoredPlan:
    """Create or replace the plan ``plan_id`` and enable it (every value checked)."""
    pid, seg, pct = check_plan_id(plan_id), check_segment(segment), parse_percent(percent)
    span = parse_hours(hours) if hours is not None else None
    minimum = check_min_sessions(min_sessions) if min_sessions is not None else None
    label = check_name(name if name is not None else DEFAULT_NAMES[seg])
    at = now or datetime.now(UTC)
    with db.engine.begin() as conn:
        cur = currency if currency is not None else fleet_currency(conn, at)
        if cur is None:
            raise PlanError("no session yet tells the fleet's currency: give --currency")
        cur = check_currency(cur)
        try:  # what the terminals will read: the same checks
            dumps_members(issued_at=at, valid_until=at + timedelta(days=1), currency=cur,
                          plans=[Plan(pid, label, Decimal(pct), span)], members={})
        except MembersError as exc:
            raise PlanError(str(exc)) from None
        values = {"name": label, "segment": seg, "percent_off": pct,
                  "hours_from": span[0] if span else None, "hours_to": span[1] if span else None,
                  "min_sessions_month": minimum, "currency": cur, "status": ENABLED}
        exists = conn.execute(select(plans.c.id).where(plans.c.id == pid)
                              .with_for_update()).first()
        if exists is None:
            enabled = conn.execute(select(func.count()).select_from(plans)
                                   .where(plans.c.status == ENABLED)).scalar_one()
            if enabled >= MAX_PLANS:
                raise PlanError(f"{enabled} plans are enabled already, a member list holds at "
                                f"most {MAX_PLANS}")
            conn.execute(insert(plans).values(id=pid, created_at=now_text(), **values))
        else:
            conn.execute(update(plans).where(plans.c.id == pid).values(**values))
        row = conn.execute(select(plans).where(plans.c.id == pid)).one()
    log.info("plan enabled: %s", pid)
    return _stored(row)


def disable_plan(db: Database, plan_id: str) -> StoredPlan:
    pid = check_plan_id(plan_id)
    with db.engine.begin() as conn:
        row = conn.execute(select(plans).where(plans.c.id == pid)).first()
        if row is None:
            raise PlanError(f"plan {pid}: no such plan (kiosk-backoffice plan list)")
        conn.execute(update(plans).where(plans.c.id == pid).values(status=DISABLED))
        row = conn.execute(select(plans).where(plans.c.id == pid)).one()
    log.info("plan disabled: %s", pid)
    return _stored(row)


def list_plans(db: Database) -> list[StoredPlan]:
    with db.engine.connect() as conn:
        return [_stored(r) for r in conn.execute(select(plans).order_by(plans.c.id))]


# --- the member lists ------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberListDraft:
    currency: str
    plans: tuple[StoredPlan, ...]
    members: dict[str, str]
    issued_at: datetime
    valid_until: datetime
    content: bytes

    def counts(self) -> dict[str, int]:
        out = {p.id: 0 for p in self.plans}
        for pid in self.members.values():
            out[pid] += 1
        return out


def _month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(at: datetime) -> datetime:
    first = _month_start(at)
    return (first + timedelta(days=32)).replace(day=1)


def member_lists(db: Database, now: datetime, currencies: set[str], *,
                 valid_days: int = DEFAULT_VALID_DAYS, rules: Rules | None = None,
                 window_days: int = WINDOW_DAYS) -> dict[str, MemberListDraft]:
    """The member list of each currency in ``currencies`` and of each enabled plan's (see
    the module)."""
    if not 1 <= valid_days <= MAX_VALIDITY.days:
        raise PlanError(f"valid days {valid_days}: from 1 to {MAX_VALIDITY.days}")
    r = rules or Rules()
    issued = now.astimezone(UTC).replace(microsecond=0)
    now_s = int(issued.timestamp())
    window = Period(now_s - window_days * DAY_S, now_s)
    month = issued.strftime("%Y-%m")
    month_from_s = int(_month_start(issued).timestamp()) - DAY_S  # local dates east of UTC
    enabled = [p for p in list_plans(db) if p.status == ENABLED]
    out: dict[str, MemberListDraft] = {}
    with db.engine.connect() as conn:
        for cur in sorted(currencies | {p.currency for p in enabled}):
            mine = sorted((p for p in enabled if p.currency == cur),
                          key=lambda p: (-Decimal(p.percent_off), p.id))
            chosen: dict[str, str] = {}
            for p in mine:  # the largest discount first: it keeps a card it claims
                for token in members(conn, window, r, p.segment, cur, month=month,
                                     month_from_s=month_from_s,
                                     min_sessions=p.min_sessions_month or 0):
                    if token not in chosen:
                        chosen[token] = p.id
                        if len(chosen) > MAX_MEMBERS:
                            raise PlanError(f"{cur}: more than {MAX_MEMBERS:,} members, a "
                                            f"member list holds at most that many")
            monthly = any(p.min_sessions_month for p in mine)
            until = (_next_month(issued) if monthly
                     else issued + timedelta(days=valid_days))
            members_sorted = dict(sorted(chosen.items()))
            try:
                content = dumps_members(issued_at=issued, valid_until=until, currency=cur,
                                        plans=[p.plan() for p in mine],
                                        members=members_sorted)
            except MembersError as exc:
                raise PlanError(f"{cur}: the member list: {exc}") from None
            out[cur] = MemberListDraft(cur, tuple(mine), members_sorted, issued, until, content)
    return out


def _terminal_currencies(db: Database) -> dict[str, str | None]:
    """Every active terminal and the currency of its latest session (None: no session)."""
    cs = charging_sessions.c
    out: dict[str, str | None] = {}
    with db.engine.connect() as conn:
        ids = [str(r[0]) for r in conn.execute(select(terminals.c.id)
                                               .where(terminals.c.status == "active")
                                               .order_by(terminals.c.id))]
        for tid in ids:
            out[tid] = conn.execute(select(cs.currency).where(cs.station_id == tid)
                                    .order_by(cs.created_s.desc(), cs.id.desc())
                                    .limit(1)).scalar()
    return out


def load_operator_key(path: Path) -> Any:
    """The operator's Ed25519 private key from a file (``kiosk update keygen``'s format)."""
    from kiosk.security.keys import KeyError_, load_signing_key

    try:
        return load_signing_key(path)
    except KeyError_ as exc:
        raise PlanError(f"signing key: {one_line(str(exc))}") from None


def publish_members(db: Database, signing_key: Any, *, now: datetime | None = None,
                    valid_days: int = DEFAULT_VALID_DAYS, rules: Rules | None = None,
                    window_days: int = WINDOW_DAYS, say: Callable[[str], None] = print) -> int:
    """Build, sign and publish a member list for every active terminal (see the module): one
    line per terminal through ``say``; the number of terminals refused or skipped."""
    from kiosk.backoffice.updates import PublishError, publish
    from kiosk.maintenance.updates import make_update
    from kiosk.records.batch import public_key_raw

    at = (now or datetime.now(UTC)).astimezone(UTC)
    key_hex = public_key_raw(signing_key.public_key()).hex()
    wanted = _terminal_currencies(db)
    enabled_currencies = {p.currency for p in list_plans(db) if p.status == ENABLED}
    fallback = next(iter(enabled_currencies)) if len(enabled_currencies) == 1 else None
    if not enabled_currencies:  # nothing enabled: the fleet's currency's (empty) list
        with db.engine.connect() as conn:
            fallback = fleet_currency(conn, at)
    lists = member_lists(db, at, {c for c in wanted.values() if c}, valid_days=valid_days,
                         rules=rules, window_days=window_days)
    problems = 0
    if not wanted:
        say("no active terminal registered: nothing published")
    for tid, seen in wanted.items():
        cur = seen or fallback
        if cur is None:
            say(f"{tid}: skipped: no session yet tells its currency")
            problems += 1
            continue
        draft = lists[cur]
        with db.engine.connect() as conn:
            last = conn.execute(select(func.max(updates.c.sequence))
                                .where(updates.c.terminal_id == tid,
                                       updates.c.kind == "members")).scalar()
        sequence = int(last or 0) + 1
        try:
            bundle = make_update(signing_key, "members", tid, sequence, draft.content,
                                 issued_at=draft.issued_at, expires_at=draft.valid_until)
            done = publish(db, bundle, key_hex, now=at)
        except (ValueError, PublishError) as exc:
            say(f"{tid}: refused: {one_line(str(exc))}")
            problems += 1
            continue
        counts = ", ".join(f"{pid} {n}" for pid, n in draft.counts().items()) or "no plan"
        say(f"{tid}: {done.status}: members sequence {sequence}, {cur}, "
            f"{len(draft.members)} members ({counts}), valid until "
            f"{draft.valid_until.isoformat()}")
    return problems
