"""Member plans: the operator's discounts for the cards of its repeat customers (issue #18).

The back office decides who is a member (:mod:`kiosk.backoffice.plans`); the terminals only
read a **member list** and apply it. The list names cards by their token (the keyed HMAC of
the PAN, :func:`kiosk.security.cards.card_token`, under the operator-wide card token key every
terminal is given at provisioning), so no card data leaves a terminal for this.

**The member list** (``members.json`` in the kiosk's data folder) is one UTF-8 JSON object,
read strictly (:mod:`kiosk.strict_json`: no duplicate key, no float), with exactly::

    format       "evkiosk-members/1"
    issued_at    ISO 8601 with an offset: when the back office made it
    valid_until  the same, after issued_at, at most MAX_VALIDITY (62 days) later: after it the
                 list is not used (a loyalty list is for one month; a terminal that stops
                 hearing from the back office stops giving discounts, never gives stale ones)
    currency     the three capitals of the station's currency
    plans        {plan id: plan}, at most MAX_PLANS; a plan id is 1 to 32 of [a-z0-9-]
    members      {card token: plan id}, at most MAX_MEMBERS; a token is 32 lowercase hex
                 digits; every plan id named is in ``plans``

and a plan is exactly ``{"name": ..., "percent_off": ..., "hours": ...}``:

    name         what the driver reads ("Night plan"), 1 to 40 printable characters
    percent_off  a decimal string, above 0 and at most MAX_PERCENT_OFF, at most 2 places
    hours        null (every hour) or [from, to], whole hours 0 to 23, from != to: the plan
                 applies when charging starts at a local hour h with from <= h < to (from > to
                 wraps midnight: [22, 6] is 22:00 to 05:59)

It reaches the terminal as a signed update of kind ``members`` (the operator's key, as a
config or a tariff: :mod:`kiosk.maintenance.updates`), so the back office cannot grant a
discount the operator did not sign.

**The arithmetic** (:func:`discounted`): the tariff's exact total incl. VAT is taken
``percent_off`` off, exactly, and rounded once with the one rounding rule
(:func:`kiosk.billing.money.round_to_minor`); the discount line is the difference between the
total rounded without the plan and the amount paid, so the invoice's lines add up to the cent
and the screen, the capture, the invoice and the record agree. The discount is taken after the
tariff's min/max price (the member pays less than the minimum: that is the discount).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kiosk import strict_json
from kiosk.billing.money import MINOR_UNITS, round_to_minor

__all__ = ["FORMAT", "MAX_MEMBERS", "MAX_PERCENT_OFF", "MAX_PLANS", "MAX_VALIDITY",
           "MemberList", "MembersError", "Plan", "PlanPrice", "discounted", "dumps_members",
           "parse_members"]

FORMAT = "evkiosk-members/1"
MAX_PLANS = 16
MAX_MEMBERS = 100_000
MAX_PERCENT_OFF = Decimal(50)
MAX_VALIDITY = timedelta(days=62)
MAX_BYTES = 4 << 20  # 100,000 members at about 45 bytes each
_PLAN_ID = re.compile(r"[a-z0-9-]{1,32}")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_PERCENT = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2})?")
_FIELDS = frozenset({"format", "issued_at", "valid_until", "currency", "plans", "members"})
_PLAN_FIELDS = frozenset({"name", "percent_off", "hours"})


class MembersError(ValueError):
    """A member list that cannot be used; the message names the field and the problem."""


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    percent_off: Decimal
    hours: tuple[int, int] | None = None

    def applies_at(self, local_hour: int) -> bool:
        """Whether the plan's price applies to a charge that starts at this local hour."""
        if self.hours is None:
            return True
        lo, hi = self.hours
        return lo <= local_hour < hi if lo < hi else (local_hour >= lo or local_hour < hi)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "percent_off": str(self.percent_off),
                "hours": list(self.hours) if self.hours is not None else None}


@dataclass(frozen=True)
class MemberList:
    issued_at: datetime
    valid_until: datetime
    currency: str
    plans: dict[str, Plan]
    members: dict[str, str]

    def plan_for(self, token: str, now: datetime) -> Plan | None:
        """The plan of a card token at ``now`` (aware): None when the token is no member or the
        list is not valid now."""
        if not self.issued_at - timedelta(minutes=5) <= now < self.valid_until:
            return None
        plan_id = self.members.get(token)
        return None if plan_id is None else self.plans[plan_id]


@dataclass(frozen=True)
class PlanPrice:
    """What a member pays: ``full_minor`` (the tariff's price), ``paid_minor`` (after the
    plan) and ``discount_minor`` (the invoice's line: full - paid, never negative)."""

    full_minor: int
    paid_minor: int

    @property
    def discount_minor(self) -> int:
        return self.full_minor - self.paid_minor


def discounted(total_incl: Decimal, currency: str, plan: Plan | None) -> PlanPrice:
    """The tariff's exact total incl. VAT → the full and the member's amount, each rounded once
    (ROUND_HALF_UP to the minor unit)."""
    full = round_to_minor(total_incl, currency)
    if plan is None:
        return PlanPrice(full, full)
    paid = round_to_minor(total_incl * (100 - plan.percent_off) / 100, currency)
    return PlanPrice(full, min(full, max(0, paid)))


# --- reading -----------------------------------------------------------------------------------
def _time(obj: dict[str, Any], name: str) -> datetime:
    value = obj[name]
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise MembersError(f"{name}: not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MembersError(f"{name}: not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise MembersError(f"{name}: no UTC offset")
    return parsed


def _plan(plan_id: object, value: object) -> Plan:
    if not isinstance(plan_id, str) or not _PLAN_ID.fullmatch(plan_id):
        raise MembersError(f"plans: the id {str(plan_id)[:40]!r} is not 1 to 32 of [a-z0-9-]")
    where = f"plans.{plan_id}"
    if not isinstance(value, dict) or value.keys() != _PLAN_FIELDS:
        raise MembersError(f"{where}: expected exactly the fields hours, name, percent_off")
    name = value["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 40 or not name.isprintable() \
            or name.strip() != name:
        raise MembersError(f"{where}.name: 1 to 40 printable characters, no outer spaces")
    pct_text = value["percent_off"]
    if not isinstance(pct_text, str) or not _PERCENT.fullmatch(pct_text):
        raise MembersError(f"{where}.percent_off: a decimal string such as \"10\" or \"12.5\"")
    try:
        pct = Decimal(pct_text)
    except InvalidOperation:  # pragma: no cover - the form above is a decimal
        raise MembersError(f"{where}.percent_off: not a number") from None
    if not 0 < pct <= MAX_PERCENT_OFF:
        raise MembersError(f"{where}.percent_off: {pct_text}, expected above 0 and at most "
                           f"{MAX_PERCENT_OFF}")
    hours = value["hours"]
    span: tuple[int, int] | None = None
    if hours is not None:
        if not isinstance(hours, list) or len(hours) != 2 or not all(
                isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23 for h in hours) \
                or hours[0] == hours[1]:
            raise MembersError(f"{where}.hours: null or [from, to], two different whole hours "
                               f"0 to 23")
        span = (hours[0], hours[1])
    return Plan(plan_id, name, pct, span)


def parse_members(data: bytes, *, currency: str | None = None) -> MemberList:
    """A member list's bytes → :class:`MemberList`, or :class:`MembersError` naming the
    problem (one line). ``currency``: the station's; a list in another is refused."""
    if len(data) > MAX_BYTES:
        raise MembersError(f"{len(data)} bytes, a member list is at most {MAX_BYTES >> 20} MiB")
    try:
        obj = strict_json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MembersError("not UTF-8 text") from None
    except RecursionError:
        raise MembersError("nested too deeply") from None
    except ValueError as exc:
        raise MembersError(f"not JSON: {str(exc).splitlines()[0][:120]}") from None
    if not isinstance(obj, dict) or obj.keys() != _FIELDS:
        raise MembersError("expected one object with exactly the fields currency, format, "
                           "issued_at, members, plans, valid_until")
    if obj["format"] != FORMAT:
        raise MembersError(f"format: {str(obj['format'])[:40]!r}, expected {FORMAT!r}")
    issued, until = _time(obj, "issued_at"), _time(obj, "valid_until")
    if not issued < until <= issued + MAX_VALIDITY:
        raise MembersError(f"valid_until: must be after issued_at and at most "
                           f"{MAX_VALIDITY.days} days later")
    cur = obj["currency"]
    if not isinstance(cur, str) or cur not in MINOR_UNITS:
        raise MembersError(f"currency: {str(cur)[:10]!r} is not a currency the kiosk takes")
    if currency is not None and cur != currency:
        raise MembersError(f"currency: {cur}, the station's is {currency}")
    raw_plans, raw_members = obj["plans"], obj["members"]
    if not isinstance(raw_plans, dict) or len(raw_plans) > MAX_PLANS:
        raise MembersError(f"plans: an object of at most {MAX_PLANS} plans")
    plans = {pid: _plan(pid, value) for pid, value in raw_plans.items()}
    if not isinstance(raw_members, dict) or len(raw_members) > MAX_MEMBERS:
        raise MembersError(f"members: an object of at most {MAX_MEMBERS:,} card tokens")
    for token, pid in raw_members.items():
        if not _TOKEN.fullmatch(token):
            raise MembersError("members: a key is not a card token (32 lowercase hex digits)")
        if not isinstance(pid, str) or pid not in plans:
            raise MembersError(f"members: a card's plan {str(pid)[:40]!r} is not in plans")
    return MemberList(issued, until, cur, plans, dict(raw_members))


def dumps_members(*, issued_at: datetime, valid_until: datetime, currency: str,
                  plans: list[Plan], members: dict[str, str]) -> bytes:
    """A member list's canonical bytes (sorted keys, no spaces); it reads back with
    :func:`parse_members` (a ``MembersError`` here for what it would refuse)."""
    import json

    data = json.dumps({
        "format": FORMAT, "issued_at": issued_at.isoformat(),
        "valid_until": valid_until.isoformat(), "currency": currency,
        "plans": {p.id: p.as_json() for p in plans}, "members": members,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    parse_members(data)
    return data
