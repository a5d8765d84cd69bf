"""The analytics' facts: a typed row per charging session and per health change, derived from a
stored record (:mod:`kiosk.backoffice.storage`, tables ``charging_sessions`` and
``health_events``), at import and when an older database is upgraded (migration ``bo0004``).

The functions here are pure (no I/O, no clock): a record's terminal id, record id, kind,
``created_at`` (the frame's, when the terminal queued it) and payload in, a row out. A
``session`` record gives a ``charging_sessions`` row; an ``audit`` record of event ``health``
(:func:`kiosk.records.record.health_record`) a ``health_events`` row; every other kind or event
gives none.

Nothing read from a payload is trusted: every field is checked for type, form and range. A
field the fact cannot do without makes the record give no fact (the record itself is stored as
it came; :func:`derive` logs one warning naming the record and the fields, never their values):

- session: ``session_id``, ``connector`` (0 to 255), ``created_at`` (an aware ISO 8601 time,
  years 2000 to 2100), ``outcome`` (aborted, declined, captured, reversed), ``energy_wh``
  (0 to 10^8), ``amount_minor`` (0 to 10^12), ``currency`` (three capitals), and the span
  from ``created_at`` to the end at most :data:`MAX_SESSION_S`;
- health: ``at``, ``part``, and ``ok``, ``planned``, ``in_service``, ``faulted`` (booleans).

Any other field that is present but wrong is replaced by its safe default (and named in the
same warning): ``station_id`` → the terminal id; ``charge_started_at``,
``charge_stopped_at``, ``parking_since`` → none; ``ended_at`` → the record's ``created_at``;
``say``, ``scheme``, ``interface``, ``card_token`` → ``""``; ``timezone`` → UTC. Fields a
version 2 record lacks (``say``, ``interface``, ``ended_at``, ``parking_since``,
``timezone``) take the same defaults without a warning.

Times are whole seconds since the epoch (UTC, rounded down). ``local_date``, ``local_dow``
(0 Monday .. 6 Sunday) and ``local_hour`` are of ``created_at`` in the record's ``timezone``
(an IANA name the system's zone database knows; a missing or unknown one is UTC). The end
(``ended_s``) is ``ended_at`` (version 3), else the record's ``created_at`` (version 2: the
record was queued when the session ended). ``charge_stop_s`` is when the car stopped drawing:
``parking_since`` when the car stayed plugged in after it (the session's last reading,
``charge_stopped_at``, is then the unplugging), else ``charge_stopped_at``. A terminal's clock
step cannot make them run backwards: the charge start is clamped to at least the creation, the
charge stop to at least the charge start, the end to at least all of them.

For the tariff what-if (:mod:`kiosk.backoffice.analytics.whatif`, migration ``bo0006``) the
row keeps the station's ``timezone`` (the IANA name as the record gave it, when the zone
database knows it, else ``"UTC"``) and ``last_reading_s``: the session's last meter reading
(``charge_stopped_at``), clamped to at least the charge stop (the end of the parking time when
the car stayed plugged in after charging); none without a charge start or a valid reading.
``discount_minor`` is a member plan's discount (issue #18; 0 without one, and for a session
not captured): ``amount_minor`` is what was paid, their sum the tariff's price.

``result`` is :func:`result_of`: what the attempt came to, for the success rate and the
failures by reason.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from kiosk.session.machine import Outcome
from kiosk.session.says import Say

__all__ = ["CARD", "CHARGER", "DECLINED", "DRIVER", "HEALTH_COLUMNS", "HOST", "NONE", "PAID",
           "RESULTS", "SAY_RESULT", "SESSION_COLUMNS", "derive", "health_fact", "result_of",
           "rows_of", "session_fact", "zone"]

log = logging.getLogger(__name__)

# --- what a session came to ------------------------------------------------------------------

PAID = "paid"  # captured, an amount above zero
DECLINED = "declined"  # the bank or the card refused the payment
CARD = "card"  # the card or its PIN could not be used (and the card reader)
HOST = "host"  # the payment service: unreachable, no answer, an error, a restart mid-payment
CHARGER = "charger"  # the station: a charger fault, no energy flowed, a restart, a stop
DRIVER = "driver"  # the driver cancelled, plugged no car in, walked away
NONE = "none"  # nothing known, or nobody's failure (a few Wh that cost nothing)
RESULTS = (PAID, DECLINED, CARD, HOST, CHARGER, DRIVER, NONE)

# Every Say code → what an unpaid session that ended with it came to. A session captured with
# an amount above zero is PAID whatever its say (the hold used up, an increment declined, a
# charger fault: charging stopped early, and the energy delivered was paid for). Decisions:
# - NO_ENERGY is CHARGER: the car was plugged in and charging began, but nothing flowed; the
#   kiosk cannot tell the car (full, a timer) from the charger, and the operator wants it among
#   the station's errors.
# - NOTHING_TO_PAY is NONE: energy was delivered but priced below one minor unit; neither paid
#   nor anyone's failure.
# - CARD_TIMEOUT and PIN_TIMEOUT are DRIVER: the driver walked away, the card was not at fault.
# - RESTART_DURING_PAYMENT is HOST (the payment step did not complete); RESTART_BEFORE_CHARGING
#   is CHARGER (the station restarted between the approval and charging).
# - INCREMENT_DECLINED, HOLD_USED_UP and CHARGER_FAULT_STOPPED stop a session that charged:
#   captured, they are PAID; the kiosk never ends one of them unpaid (no energy is NO_ENERGY,
#   too little NOTHING_TO_PAY), so CHARGER here only completes the table.
# - The PIN prompts (PIN_WRONG, PIN_LAST_TRY, PIN_WRONG_LAST_TRY) and CHARGER_NOT_ANSWERING
#   (a passing notice) are not ends; should one be a record's say, they are CARD and CHARGER.
# A new Say must be added here (a test fails until it is).
SAY_RESULT: dict[str, str] = {
    Say.NONE: NONE,
    Say.CARD_UNREADABLE: CARD,
    Say.CARD_NOT_SUPPORTED: CARD,
    Say.CARD_BLOCKED: CARD,
    Say.INSERT_CARD: CARD,
    Say.CARD_REMOVED: CARD,
    Say.CARD_TIMEOUT: DRIVER,
    Say.READER_UNAVAILABLE: CARD,
    Say.PIN_WRONG: CARD,
    Say.PIN_LAST_TRY: CARD,
    Say.PIN_WRONG_LAST_TRY: CARD,
    Say.PIN_BLOCKED: CARD,
    Say.PIN_TIMEOUT: DRIVER,
    Say.DECLINED_WRONG_PIN: DECLINED,
    Say.DECLINED: DECLINED,
    Say.DECLINED_BY_BANK: DECLINED,
    Say.DECLINED_BY_CARD: DECLINED,
    Say.INSUFFICIENT_FUNDS: DECLINED,
    Say.LIMIT_EXCEEDED: DECLINED,
    Say.CARD_EXPIRED: DECLINED,
    Say.SERVICE_UNREACHABLE: HOST,
    Say.SERVICE_TIMEOUT: HOST,
    Say.PAYMENT_FAILED: HOST,
    Say.CANCELLED: DRIVER,
    Say.NO_CAR: DRIVER,
    Say.NO_ENERGY: CHARGER,
    Say.NOTHING_TO_PAY: NONE,
    Say.CHARGER_FAULT: CHARGER,
    Say.CHARGER_FAULT_STOPPED: CHARGER,
    Say.CHARGER_NOT_ANSWERING: CHARGER,
    Say.RESTART_DURING_PAYMENT: HOST,
    Say.RESTART_BEFORE_CHARGING: CHARGER,
    Say.INCREMENT_DECLINED: CHARGER,
    Say.HOLD_USED_UP: CHARGER,
}
# when the say tells nothing (none, a code this back office does not know, a version 2 record)
_BY_OUTCOME = {Outcome.DECLINED.value: DECLINED}
OUTCOMES = frozenset({Outcome.ABORTED.value, Outcome.DECLINED.value, Outcome.CAPTURED.value,
                      Outcome.REVERSED.value})


def result_of(outcome: str, say: str, amount_minor: int = 0) -> str:
    """What a session came to, from its outcome and its machine-readable say code (never the
    message text): ``paid`` when captured with an amount above zero; else the say's entry in
    :data:`SAY_RESULT`; a say that tells nothing (``""``, ``nothing_to_pay``, a code not in the
    table) leaves it to the outcome: ``declined`` for a decline, else ``none``."""
    if outcome == Outcome.CAPTURED.value and amount_minor > 0:
        return PAID
    known = SAY_RESULT.get(say, NONE)
    if known != NONE:
        return known
    return _BY_OUTCOME.get(outcome, NONE)


# --- the rows --------------------------------------------------------------------------------

SESSION_COLUMNS = ("terminal_id", "session_id", "station_id", "connector", "created_s",
                   "charge_start_s", "charge_stop_s", "ended_s", "local_date", "local_dow",
                   "local_hour", "energy_wh", "amount_minor", "currency", "outcome", "result",
                   "say", "scheme", "interface", "card_token", "timezone", "last_reading_s",
                   "discount_minor")
HEALTH_COLUMNS = ("terminal_id", "record_id", "station_id", "at_s", "part", "ok", "planned",
                  "in_service", "faulted")
MAX_SESSION_S = 14 * 86_400  # from Start to the end: longer is not a charging session
MAX_ENERGY_WH = 10**8  # 100 MWh: far above any session
MAX_MINOR = 10**12  # as kiosk.backoffice.schemas
MAX_CONNECTOR = 255

_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # as kiosk.records.batch
_STATION = re.compile(r"[\x21-\x7e]{1,36}")  # the terminals' and OCPI's printable ASCII
_CURRENCY = re.compile(r"[A-Z]{3}")
_SAY = re.compile(r"[a-z0-9_]{1,40}")
_SCHEME = re.compile(r"[A-Za-z0-9._-]{1,16}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PART = re.compile(r"[a-z][a-z0-9_.-]{0,31}")
_OUTCOME = re.compile("|".join(sorted(OUTCOMES)))
_SAYS = frozenset(SAY_RESULT)
_REQUIRED = ("session_id", "connector", "created_at", "outcome", "energy_wh", "amount_minor",
             "currency")
_INTERFACE = re.compile(r"contact|contactless")
Row = dict[str, Any]


def _epoch(value: object) -> int | None:
    """Whole seconds since the epoch of an aware ISO 8601 time (2000 to 2100), else None."""
    parsed = _aware(value)
    return None if parsed is None else int(parsed.timestamp())  # after 1970: int() is floor


def _aware(value: object) -> datetime | None:
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # fromisoformat gives a fixed offset or none: an offset is an aware time
    if parsed.tzinfo is None or not 2000 <= parsed.year <= 2100:
        return None
    return parsed


def _int(value: object, high: int) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        return None
    return value


def _text(value: object, form: re.Pattern[str]) -> str | None:
    if isinstance(value, str) and form.fullmatch(value):
        return value
    return None


def _time(p: dict[str, Any], key: str, problems: list[str]) -> int | None:
    """An optional time: None when absent or null, or wrong (a problem)."""
    value = p.get(key)
    if value is None:
        return None
    parsed = _epoch(value)
    if parsed is None:
        problems.append(key)
    return parsed


def _code(p: dict[str, Any], key: str, problems: list[str], form: re.Pattern[str],
          known: frozenset[str] = frozenset()) -> str:
    """An optional code: ``""`` when absent, null or empty; the text when it is ``known`` or
    of ``form``; else ``""`` (a problem)."""
    value = p.get(key)
    if value is None or value == "":
        return ""
    if isinstance(value, str) and (value in known or form.fullmatch(value)):
        return value
    problems.append(key)
    return ""


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # only names the zone database lists: a hostile name never reaches the file system
    return frozenset(available_timezones()) - {"localtime", "Factory"}


@lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo | None:
    if name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # pragma: no cover - listed but unreadable
        return None


def zone(name: object) -> tzinfo | None:
    """The time zone of an IANA name the system knows, else None (the caller takes UTC)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        return None
    return _zone(name)


def _optional(p: dict[str, Any], key: str, problems: list[str],
              parse: Any, default: Any) -> Any:
    """``p[key]`` parsed; its default when absent or null (no problem), or wrong (a problem)."""
    value = p.get(key)
    if value is None:
        return default
    parsed = parse(value)
    if parsed is None:
        problems.append(key)
        return default
    return parsed


def _station(p: dict[str, Any], terminal_id: str, problems: list[str]) -> str:
    station = _optional(p, "station_id", problems, lambda v: _text(v, _STATION), None)
    return station if station is not None else terminal_id[:36]


def session_fact(terminal_id: str, record_id: str, created_at: str,
                 payload: object) -> tuple[Row | None, list[str]]:
    """The ``charging_sessions`` row of a ``session`` record, and the fields that were wrong
    (skipped: the row is None; defaulted: the row has their defaults). Never raises."""
    if not isinstance(payload, dict):
        return None, ["payload"]
    p = payload
    session_id = _text(p.get("session_id"), _ID)
    connector = _int(p.get("connector"), MAX_CONNECTOR)
    started = _aware(p.get("created_at"))
    outcome = _text(p.get("outcome"), _OUTCOME)
    energy = _int(p.get("energy_wh"), MAX_ENERGY_WH)
    amount = _int(p.get("amount_minor"), MAX_MINOR)
    currency = _text(p.get("currency"), _CURRENCY)
    required = (session_id, connector, started, outcome, energy, amount, currency)
    if None in required or started is None or outcome is None or amount is None:
        return None, [key for key, value in zip(_REQUIRED, required, strict=True)
                      if value is None]
    problems: list[str] = []
    created_s = int(started.timestamp())
    charge_start = _time(p, "charge_started_at", problems)
    last_reading = _time(p, "charge_stopped_at", problems)
    parking = _time(p, "parking_since", problems)
    ended = _time(p, "ended_at", problems)
    if ended is None:  # version 2 (or a wrong ended_at): the record was queued at the end
        ended = _epoch(created_at)
    charge_stop = None
    if charge_start is not None:
        charge_start = max(charge_start, created_s)
        stop = parking if parking is not None else last_reading
        charge_stop = max(stop if stop is not None else charge_start, charge_start)
        if last_reading is not None:  # the end of the parking time when it stayed plugged in
            last_reading = max(last_reading, charge_stop)
    else:
        last_reading = None  # nothing charged: no reading to speak of
    ended_s = max(x for x in (ended, created_s, charge_start, charge_stop) if x is not None)
    if ended_s - created_s > MAX_SESSION_S:
        return None, ["created_at", "ended_at"]
    tz = _optional(p, "timezone", problems, zone, UTC)
    zone_name = p["timezone"] if tz is not UTC else "UTC"
    local = started.astimezone(tz)
    say = _code(p, "say", problems, _SAY, _SAYS)
    interface = _code(p, "interface", problems, _INTERFACE)
    scheme = _code(p, "scheme", problems, _SCHEME)
    token = _code(p, "card_token", problems, _TOKEN)
    discount = _optional(p, "discount_minor", problems, lambda v: _int(v, MAX_MINOR), 0)
    if outcome != Outcome.CAPTURED.value:
        amount = discount = 0  # what a session paid: only a capture moves money
    row = {
        "terminal_id": terminal_id, "session_id": session_id,
        "station_id": _station(p, terminal_id, problems), "connector": connector,
        "created_s": created_s, "charge_start_s": charge_start, "charge_stop_s": charge_stop,
        "ended_s": ended_s, "local_date": local.date().isoformat(),
        "local_dow": local.weekday(), "local_hour": local.hour, "energy_wh": energy,
        "amount_minor": amount, "currency": currency, "outcome": outcome,
        "result": result_of(outcome, say, amount), "say": say, "scheme": scheme,
        "interface": interface, "card_token": token, "timezone": zone_name,
        "last_reading_s": last_reading, "discount_minor": discount,
    }
    return row, problems


def health_fact(terminal_id: str, record_id: str, created_at: str,
                payload: object) -> tuple[Row | None, list[str]]:
    """The ``health_events`` row of an ``audit`` record of event ``health`` (None, no problem,
    for any other event), and the fields that were wrong. Never raises."""
    if not isinstance(payload, dict):
        return None, ["payload"]
    p = payload
    if p.get("event") != "health":
        return None, []
    at_s = _epoch(p.get("at"))
    part = _text(p.get("part"), _PART)
    rid = _text(record_id, _ID)
    flags = {key: p.get(key) for key in ("ok", "planned", "in_service", "faulted")}
    missing = [key for key, value in (("record_id", rid), ("at", at_s), ("part", part))
               if value is None]
    missing += [key for key, value in flags.items() if not isinstance(value, bool)]
    if missing:
        return None, missing
    problems: list[str] = []
    row = {"terminal_id": terminal_id, "record_id": rid,
           "station_id": _station(p, terminal_id, problems), "at_s": at_s, "part": part,
           **flags}
    return row, problems


SESSIONS, HEALTH = "charging_sessions", "health_events"


def derive(terminal_id: str, record_id: str, kind: str, created_at: str,
           payload: object) -> tuple[str, Row] | None:
    """The fact of one stored record: (table name, row), or None. A record whose fact is
    skipped, or filled with defaults, is named in one warning (its fields, never its values);
    nothing raises (an unforeseen error is logged and gives no fact)."""
    try:
        if kind == "session":
            table, (row, problems) = SESSIONS, session_fact(terminal_id, record_id, created_at,
                                                            payload)
        elif kind == "audit":
            table, (row, problems) = HEALTH, health_fact(terminal_id, record_id, created_at,
                                                         payload)
        else:
            return None
    except Exception:  # a bug here must not stop an import: the record is stored regardless
        log.exception("terminal %s record %s: no fact (an error deriving it)",
                      terminal_id[:36], str(record_id)[:128])
        return None
    if problems:
        done = "no fact" if row is None else "fact with defaults"
        log.warning("terminal %s record %s: %s %s (%s: missing or wrong)", terminal_id[:36],
                    str(record_id)[:128], kind, done, ", ".join(problems))
    return None if row is None else (table, row)


_FACT_KINDS = frozenset({"session", "audit"})
_SESSION_ROW = itemgetter(*SESSION_COLUMNS)
_HEALTH_ROW = itemgetter(*HEALTH_COLUMNS)


def rows_of(terminal_id: str, records: Any) -> tuple[list[tuple[Any, ...]],
                                                    list[tuple[Any, ...]]]:
    """The fact rows of ``records`` (objects with ``id``, ``kind``, ``created_at`` and
    ``payload``, as :class:`kiosk.records.batch.Record`) as tuples in :data:`SESSION_COLUMNS`
    and :data:`HEALTH_COLUMNS` order: (sessions, health events)."""
    sessions: list[tuple[Any, ...]] = []
    health: list[tuple[Any, ...]] = []
    for r in records:
        if r.kind not in _FACT_KINDS:
            continue
        fact = derive(terminal_id, r.id, r.kind, r.created_at, r.payload)
        if fact is None:
            continue
        if fact[0] == SESSIONS:
            sessions.append(_SESSION_ROW(fact[1]))
        else:
            health.append(_HEALTH_ROW(fact[1]))
    return sessions, health
