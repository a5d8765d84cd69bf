"""The member list the terminal uses (issue #18): ``members.json`` in the data folder, as the
signed update of kind ``members`` puts it there (:mod:`kiosk.maintenance.updates`).

:meth:`MemberFile.plan_for` is asked at each card read (on the card device's thread). It looks
at the file's (inode, size, mtime) and reads it again only when they changed, so an update
takes effect at the next card without a restart; reading is bounded (a regular file of at most
:data:`kiosk.billing.plans.MAX_BYTES`, parsed by :func:`kiosk.billing.plans.parse_members` in
the station's currency).

Whatever goes wrong, the driver pays the full price and charging goes on: a missing file is no
plan (no member list was ever sent); a bad one (unreadable, malformed, another currency) is
logged once per version of the file and gives no plan, and :meth:`MemberFile.status` says so
for the technician's status page (the terminal stays in service: a member list never stops
charging); an expired list (``valid_until`` passed) or one not yet valid gives no plan either.
A plan applies when the card is read at a local hour of its ``hours`` (the charge starts
within the plug timeout after it).

Nothing about the card is logged: only counts and the file's problem.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.billing.plans import MAX_BYTES, MemberList, MembersError, Plan, parse_members
from kiosk.billing.tariff import Price, Tariff
from kiosk.files import FileRefused, read_regular_file
from kiosk.session.machine import Session

__all__ = ["MEMBERS_FILE", "MemberFile", "MemberStatus", "member_tariff", "plan_of"]

log = logging.getLogger(__name__)

MEMBERS_FILE = "members.json"  # kiosk.maintenance.updates.MEMBERS_FILE (a test holds them equal)


def plan_of(s: Session) -> Plan | None:
    """The plan a session carries (fixed at its card read), for the arithmetic of
    :func:`kiosk.billing.plans.discounted`; None without one (or a snapshot whose percent does
    not read: the full price)."""
    if not s.plan_id:
        return None
    try:
        pct = Decimal(s.plan_percent)
    except ArithmeticError:
        return None
    if not pct.is_finite() or not 0 < pct <= 100:
        return None
    return Plan(s.plan_id, s.plan_name, pct)


@dataclass(frozen=True)
class MemberStatus:
    ok: bool  # False: a file is there and cannot be used
    text: str  # one line for the technician


class MemberFile:
    def __init__(self, path: Path, *, currency: str, zone: ZoneInfo,
                 clock: Callable[[], datetime]) -> None:
        self.path = Path(path)
        self.currency = currency
        self.zone = zone
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int] | None = None  # dev, inode, size, mtime_ns
        self._list: MemberList | None = None
        self._problem = ""

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._list, self._problem = None, None, ""
            return
        except OSError as exc:
            self._set_problem(None, f"cannot read: {exc.strerror or exc}")
            return
        seen = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if seen == self._seen:
            return
        try:
            found = parse_members(read_regular_file(self.path, MAX_BYTES),
                                  currency=self.currency)
        except FileRefused as exc:
            self._set_problem(seen, str(exc))
            return
        except MembersError as exc:
            self._set_problem(seen, str(exc))
            return
        self._seen, self._list, self._problem = seen, found, ""
        log.info("member list: %d plan(s), %d card(s), valid until %s", len(found.plans),
                 len(found.members), found.valid_until.isoformat())

    def _set_problem(self, seen: tuple[int, int, int, int] | None, problem: str) -> None:
        if seen is None or seen != self._seen or problem != self._problem:
            log.error("member list %s: %s: no member prices until a good one comes (the full "
                      "price is charged)", self.path, problem)
        self._seen, self._list, self._problem = seen, None, problem

    def plan_for(self, token: str, now: datetime | None = None) -> Plan | None:
        """The plan of the card ``token`` for a charge starting ``now`` (default: the clock),
        or None (see the module). Never raises for the file's sake."""
        now = now or self.clock()
        with self._lock:
            try:
                self._refresh()
            except Exception as exc:  # never the driver's problem
                log.exception("member list")
                self._list, self._problem = None, f"{type(exc).__name__}"
            found = self._list
        if found is None or not token:
            return None
        plan = found.plan_for(token, now)
        if plan is None or not plan.applies_at(now.astimezone(self.zone).hour):
            return None
        return plan

    def status(self) -> MemberStatus:
        """For the technician's status page (reads the file again when it changed)."""
        now = self.clock()
        with self._lock:
            try:
                self._refresh()
            except Exception as exc:
                log.exception("member list")
                self._list, self._problem = None, f"{type(exc).__name__}"
            found, problem = self._list, self._problem
        if problem:
            return MemberStatus(False, f"{self.path.name}: {problem}: full prices only")
        if found is None:
            return MemberStatus(True, "no member list")
        if now >= found.valid_until:
            return MemberStatus(False, f"expired at {found.valid_until.isoformat()}: full "
                                       f"prices only")
        return MemberStatus(True, f"{len(found.plans)} plan(s), {len(found.members):,} "
                                  f"card(s), valid until {found.valid_until.isoformat()}")


def member_tariff(tariff: Tariff, plan: Plan) -> Tariff:
    """``tariff`` with every price (and its min/max price) taken ``plan.percent_off`` off:
    what the member's screen shows as the unit prices (the amount paid is
    :func:`kiosk.billing.plans.discounted` of the full total, the one arithmetic)."""
    factor = (100 - plan.percent_off) / 100

    def bound(p: Price | None) -> Price | None:
        if p is None:
            return None
        return p.model_copy(update={
            "excl_vat": p.excl_vat * factor,
            "incl_vat": None if p.incl_vat is None else p.incl_vat * factor})

    elements = [el.model_copy(update={"price_components": [
        c.model_copy(update={"price": c.price * factor}) for c in el.price_components]})
        for el in tariff.elements]
    return tariff.model_copy(update={"elements": elements, "min_price": bound(tariff.min_price),
                                     "max_price": bound(tariff.max_price)})
