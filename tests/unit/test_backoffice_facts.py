"""The analytics' facts from the kiosk's own records (kiosk.records.record on sessions walked
through the real session machine), version 2 and 3, and from hostile payloads: every Say is
mapped, the result is decided on the outcome and the say code, a wrong field skips the fact or
takes its default with one warning naming the record, and nothing ever raises."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.backoffice import facts
from kiosk.backoffice.facts import (
    RESULTS,
    SAY_RESULT,
    derive,
    health_fact,
    result_of,
    rows_of,
    session_fact,
    zone,
)
from kiosk.records.batch import Record
from kiosk.records.record import health_record, session_record
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, SessionMachine, State
from kiosk.session.says import Say
from tests.support.machine import T0, Driver, policy

TERMINAL = "DEMO-0001"
QUEUED = "2026-11-24T12:30:00+00:00"  # when the kiosk queued the record (the frame's time)
V3_ONLY = ("say", "interface", "ended_at", "parking_since", "timezone")


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def record_of(s: Session, tz: str = "Europe/Berlin") -> dict[str, Any]:
    return session_record(s, station_id=TERMINAL, currency="EUR", timezone=tz)


def v2(payload: dict[str, Any]) -> dict[str, Any]:
    """The same session as a version 2 kiosk recorded it."""
    old = {k: v for k, v in payload.items() if k not in V3_ONLY}
    old["record_version"] = 2
    return old


def fact(payload: Any, created_at: str = QUEUED) -> dict[str, Any]:
    row, problems = session_fact(TERMINAL, "sess-1:session", created_at, payload)
    assert row is not None, problems
    return row


def captured() -> Session:
    d = Driver().to(State.RECEIPT)
    assert d.s.outcome is Outcome.CAPTURED
    return d.s


# --- the result table ------------------------------------------------------------------------

def test_every_say_has_a_result() -> None:
    """A new Say fails here until facts.SAY_RESULT says what a session ending with it came
    to."""
    assert set(SAY_RESULT) == {s.value for s in Say}
    assert set(SAY_RESULT.values()) <= set(RESULTS)


@pytest.mark.parametrize(("outcome", "say", "amount", "result"), [
    ("captured", "", 702, "paid"),
    ("captured", "hold_used_up", 5000, "paid"),  # stopped early, paid for what it had
    ("captured", "increment_declined", 4500, "paid"),
    ("captured", "charger_fault_stopped", 120, "paid"),
    ("captured", "", 0, "none"),  # a capture of nothing moves no money
    ("captured", "nothing_to_pay", 0, "none"),
    ("reversed", "nothing_to_pay", 0, "none"),
    ("reversed", "no_energy", 0, "charger"),
    ("reversed", "charger_fault", 0, "charger"),
    ("reversed", "restart_before_charging", 0, "charger"),
    ("reversed", "restart_during_payment", 0, "host"),
    ("reversed", "service_timeout", 0, "host"),
    ("declined", "service_unreachable", 0, "host"),
    ("declined", "payment_failed", 0, "host"),
    ("declined", "declined_by_bank", 0, "declined"),
    ("declined", "insufficient_funds", 0, "declined"),
    ("declined", "limit_exceeded", 0, "declined"),
    ("declined", "card_expired", 0, "declined"),
    ("declined", "declined_wrong_pin", 0, "declined"),
    ("reversed", "declined_by_card", 0, "declined"),  # the card refused after the approval
    ("declined", "card_not_supported", 0, "card"),
    ("declined", "pin_blocked", 0, "card"),
    ("aborted", "card_unreadable", 0, "card"),
    ("aborted", "reader_unavailable", 0, "card"),
    ("aborted", "card_timeout", 0, "driver"),
    ("aborted", "pin_timeout", 0, "driver"),
    ("reversed", "cancelled", 0, "driver"),
    ("reversed", "no_car", 0, "driver"),
    ("declined", "", 0, "declined"),  # a version 2 decline: the outcome says it
    ("reversed", "", 0, "none"),
    ("aborted", "", 0, "none"),
    ("declined", "a_say_from_a_newer_kiosk", 0, "declined"),
    ("reversed", "a_say_from_a_newer_kiosk", 0, "none"),
])
def test_result_of(outcome: str, say: str, amount: int, result: str) -> None:
    assert result_of(outcome, say, amount) == result


def test_the_message_text_decides_nothing() -> None:
    payload = record_of(captured())
    payload["message"] = "declined by the bank: insufficient funds"
    assert fact(payload)["result"] == "paid"
    payload.update(outcome="declined", say="", amount_minor=0, message="cancelled by driver")
    assert fact(payload)["result"] == "declined"


# --- facts of real kiosk records -------------------------------------------------------------

def test_a_paid_session_v3() -> None:
    s = captured()
    row = fact(record_of(s))
    assert row == {
        "terminal_id": TERMINAL, "session_id": s.id, "station_id": TERMINAL, "connector": 1,
        "created_s": epoch(T0), "charge_start_s": epoch(s.charge_started_at),  # type: ignore[arg-type]
        "charge_stop_s": epoch(s.last_reading_at),  # type: ignore[arg-type]
        "ended_s": epoch(s.updated_at), "local_date": "2026-11-24", "local_dow": 1,
        "local_hour": 13,  # 12:00 UTC is 13:00 in Berlin in November
        "energy_wh": 10_000, "amount_minor": s.final_minor, "currency": "EUR",
        "outcome": "captured", "result": "paid", "say": "", "scheme": "visa",
        "interface": "", "card_token": "tok", "timezone": "Europe/Berlin",
        "last_reading_s": epoch(s.last_reading_at),  # type: ignore[arg-type]
        "discount_minor": 0}
    assert s.final_minor > 0


def test_a_members_discount_is_kept_only_when_it_was_paid() -> None:
    payload = record_of(captured())
    payload.update(discount_minor=82, plan="night")
    assert fact(payload)["discount_minor"] == 82
    for wrong in (-1, "82", 1.5, True, 10**13):
        payload["discount_minor"] = wrong
        assert fact(payload)["discount_minor"] == 0
    payload.update(discount_minor=82, outcome="reversed")
    assert fact(payload)["discount_minor"] == 0


def test_local_time_is_the_stations_zone() -> None:
    payload = record_of(captured(), tz="America/Los_Angeles")
    row = fact(payload)
    assert (row["local_date"], row["local_dow"], row["local_hour"]) == ("2026-11-24", 1, 4)
    payload["created_at"] = "2026-11-24T06:30:00+00:00"  # 22:30 on Monday the 23rd there
    row = fact(payload)
    assert (row["local_date"], row["local_dow"], row["local_hour"]) == ("2026-11-23", 0, 22)


def test_a_summer_time_day() -> None:
    payload = record_of(captured())
    payload.update(created_at="2026-07-05T22:15:00+00:00",  # Monday 00:15 in Berlin (CEST)
                   charge_started_at="2026-07-05T22:16:00+00:00",
                   charge_stopped_at="2026-07-05T23:16:00+00:00",
                   ended_at="2026-07-05T23:16:01+00:00")
    row = fact(payload)
    assert (row["local_date"], row["local_dow"], row["local_hour"]) == ("2026-07-06", 0, 0)


def test_a_parked_car_stops_charging_at_parking_since() -> None:
    """Under a tariff that bills idle time the session runs until the car is unplugged: its
    last reading is the unplugging, the charge stopped when the car stopped drawing."""
    d = Driver(SessionMachine(policy(bills_parking=True))).to(State.CHARGING)
    d.reading(11_000)
    d.send(ev.ChargingStopped(1, 11_000, d.now + timedelta(seconds=1)))
    assert d.s.parking_since is not None
    d.reading(11_000, after_s=1800, power_w=0)
    d.send(ev.CarUnplugged(1, d.now))
    d.send(ev.ChargingStopped(1, 11_000, d.now))
    assert d.s.state is State.RECEIPT
    row = fact(record_of(d.s))
    assert row["charge_stop_s"] == epoch(d.s.parking_since)
    assert row["ended_s"] == epoch(d.s.updated_at)
    assert row["ended_s"] - row["charge_stop_s"] >= 1800  # the idle time after charging
    assert row["result"] == "paid"


def test_a_decline() -> None:
    d = Driver()
    d.send(ev.CardRead("sess-1", "476173******0010", "tok", "visa", interface="contactless"))
    d.send(ev.HostDeclined("sess-1", "51", "no funds"))
    assert d.s.outcome is Outcome.DECLINED
    row = fact(record_of(d.s))
    assert (row["outcome"], row["say"], row["result"]) == ("declined", "insufficient_funds",
                                                           "declined")
    assert (row["charge_start_s"], row["charge_stop_s"], row["amount_minor"]) == (None, None, 0)
    assert row["interface"] == "contactless"


@pytest.mark.parametrize(("walk", "say", "result"), [
    ("no_car", Say.NO_CAR, "driver"),
    ("cancel", Say.CANCELLED, "driver"),
    ("fault", Say.CHARGER_FAULT, "charger"),
    ("no_energy", Say.NO_ENERGY, "charger"),
    ("host_timeout", Say.SERVICE_TIMEOUT, "host"),
])
def test_reversed_sessions(walk: str, say: Say, result: str) -> None:
    d = Driver()
    if walk == "host_timeout":
        d.send(ev.CardRead("sess-1", "476173******0010", "tok", "visa"))
        d.send(ev.HostTimedOut("sess-1"))
    elif walk == "no_energy":
        d.to(State.CHARGING)
        d.send(ev.ChargingStopped(1, 1000, d.now))
    else:
        d.to(State.WAIT_PLUG)
        d.send({"no_car": ev.Tick(d.now + timedelta(seconds=181)),
                "cancel": ev.Cancelled("sess-1"),
                "fault": ev.ChargerFault(1, "ground fault", d.now)}[walk])
    assert (d.s.outcome, d.s.say) == (Outcome.REVERSED, say)
    row = fact(record_of(d.s))
    assert (row["outcome"], row["say"], row["result"], row["amount_minor"]) == (
        "reversed", say.value, result, 0)


def test_a_version_2_record() -> None:
    s = captured()
    row = fact(v2(record_of(s)), created_at=QUEUED)
    assert row["ended_s"] == epoch(datetime.fromisoformat(QUEUED))  # queued at the end
    assert (row["say"], row["interface"], row["result"]) == ("", "", "paid")
    assert (row["local_hour"], row["local_date"]) == (12, "2026-11-24")  # UTC before v3


def test_a_version_2_decline_gives_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    d = Driver()
    d.send(ev.CardRead("sess-1", "476173******0010", "tok", "visa"))
    d.send(ev.HostDeclined("sess-1", "05", "do not honour"))
    with caplog.at_level(logging.WARNING):
        got = derive(TERMINAL, "sess-1:session", "session", QUEUED, v2(record_of(d.s)))
    assert got is not None and got[1]["result"] == "declined"
    assert caplog.records == []


def test_a_health_record() -> None:
    at = datetime(2026, 11, 30, 9, 0, 0, 123456, tzinfo=UTC)
    payload = health_record(station_id=TERMINAL, at=at, part="charger", ok=False,
                            planned=False, in_service=False, faulted=True, detail="RAPI: $NK")
    row, problems = health_fact(TERMINAL, "health-x:audit", QUEUED, payload)
    assert problems == []
    assert row == {"terminal_id": TERMINAL, "record_id": "health-x:audit",
                   "station_id": TERMINAL, "at_s": epoch(at), "part": "charger", "ok": False,
                   "planned": False, "in_service": False, "faulted": True}


def test_other_kinds_and_events_give_no_fact(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert derive(TERMINAL, "x:audit", "audit", QUEUED, {"event": "login"}) is None
        assert derive(TERMINAL, "x:cdr", "cdr", QUEUED, {"id": "x"}) is None
        assert derive(TERMINAL, "x:invoice", "invoice", QUEUED, {}) is None
    assert caplog.records == []


def test_rows_of_a_batch_in_column_order() -> None:
    s = captured()
    h = health_record(station_id=TERMINAL, at=T0, part="host", ok=True, planned=False,
                      in_service=True, faulted=False, detail="")
    recs = [Record(f"{s.id}:session", s.id, "session", QUEUED, record_of(s)),
            Record("h1:audit", "h1", "audit", QUEUED, h),
            Record("x:cdr", "x", "cdr", QUEUED, {})]
    sessions, health = rows_of(TERMINAL, recs)
    assert [dict(zip(facts.SESSION_COLUMNS, r, strict=True)) for r in sessions] == \
        [fact(record_of(s))]
    assert [r[1] for r in health] == ["h1:audit"]


# --- hostile payloads ------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value"), [
    ("session_id", 7), ("session_id", "a b"), ("session_id", "x" * 129),
    ("connector", "1"), ("connector", True), ("connector", -1), ("connector", 256),
    ("connector", 1.0), ("created_at", "2026-11-24T12:00:00"),  # naive
    ("created_at", "1999-12-31T23:00:00+00:00"), ("created_at", "tomorrow"),
    ("created_at", None), ("created_at", ["2026"]),
    ("outcome", "won"), ("outcome", ["captured"]), ("outcome", {"a": 1}),
    ("energy_wh", -5), ("energy_wh", 10**30), ("energy_wh", "10"), ("energy_wh", 1.5),
    ("amount_minor", 10**13), ("amount_minor", False), ("currency", "eur"),
    ("currency", 978),
])
def test_a_field_it_cannot_do_without_skips_the_fact(key: str, value: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    payload = record_of(captured())
    payload[key] = value
    with caplog.at_level(logging.WARNING, logger="kiosk.backoffice.facts"):
        assert derive(TERMINAL, "sess-1:session", "session", QUEUED, payload) is None
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "sess-1:session" in line and "no fact" in line and key in line
    assert repr(value) not in line or isinstance(value, bool | int)  # names, not values


@pytest.mark.parametrize(("key", "value", "column", "default"), [
    ("station_id", "bad station id", "station_id", TERMINAL),
    ("station_id", 12, "station_id", TERMINAL),
    ("timezone", "Mars/Olympus", "local_hour", 12),
    ("timezone", "../../etc/passwd", "local_hour", 12),
    ("timezone", "localtime", "local_hour", 12),
    ("timezone", ["Europe/Berlin"], "local_hour", 12),
    ("ended_at", "never", "ended_s", epoch(datetime.fromisoformat(QUEUED))),
    ("charge_started_at", 5, "charge_start_s", None),
    ("say", "Not A Code!", "say", ""),
    ("say", ["declined"], "say", ""),
    ("interface", "telepathy", "interface", ""),
    ("scheme", "x" * 17, "scheme", ""),
    ("card_token", "tok with spaces", "card_token", ""),
])
def test_a_wrong_optional_field_takes_its_default(key: str, value: Any, column: str,
                                                 default: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    payload = record_of(captured())
    payload[key] = value
    with caplog.at_level(logging.WARNING, logger="kiosk.backoffice.facts"):
        got = derive(TERMINAL, "sess-1:session", "session", QUEUED, payload)
    assert got is not None
    assert got[1][column] == default
    assert len(caplog.records) == 1
    assert "fact with defaults" in caplog.records[0].getMessage()
    assert key in caplog.records[0].getMessage()


def test_times_never_run_backwards() -> None:
    payload = record_of(captured())
    payload.update(charge_started_at="2026-11-24T11:00:00+00:00",  # before Start
                   charge_stopped_at="2026-11-24T10:00:00+00:00",  # before that
                   ended_at="2026-11-24T09:00:00+00:00")
    row = fact(payload)
    assert row["created_s"] <= row["charge_start_s"] <= row["charge_stop_s"] <= row["ended_s"]


def test_a_session_of_weeks_is_not_a_charging_session() -> None:
    payload = record_of(captured())
    payload["ended_at"] = "2026-12-24T12:00:00+00:00"
    assert session_fact(TERMINAL, "sess-1:session", QUEUED, payload)[0] is None


def test_no_amount_without_a_capture() -> None:
    payload = record_of(captured())
    payload["outcome"] = "reversed"
    assert fact(payload)["amount_minor"] == 0


@pytest.mark.parametrize("key", ["at", "part", "ok", "planned", "in_service", "faulted"])
def test_a_wrong_health_field_skips_the_fact(key: str) -> None:
    payload = health_record(station_id=TERMINAL, at=T0, part="reader", ok=True, planned=False,
                            in_service=True, faulted=False, detail="")
    payload[key] = "yes" if key != "part" else "Reader!"
    row, problems = health_fact(TERMINAL, "h:audit", QUEUED, payload)
    assert row is None and problems == [key]


def test_zone_names() -> None:
    assert zone("Europe/Berlin") is not None
    for name in ("", "localtime", "Factory", "../x", "/etc/localtime", "Europe/Berlin\x00",
                 "x" * 65, None, 3):
        assert zone(name) is None


def test_an_unforeseen_error_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(facts, "session_fact", broken)
    with caplog.at_level(logging.ERROR, logger="kiosk.backoffice.facts"):
        assert derive(TERMINAL, "s:session", "session", QUEUED, {}) is None
    assert "s:session" in caplog.text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8)
TIMES = st.one_of(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1),
                 timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()),
    st.text(max_size=45))
FIELDS = {
    "session_id": st.one_of(st.text(max_size=130), JSON),
    "connector": st.one_of(st.integers(-5, 300), JSON),
    "created_at": st.one_of(TIMES, JSON), "ended_at": st.one_of(TIMES, JSON),
    "charge_started_at": st.one_of(TIMES, JSON), "charge_stopped_at": st.one_of(TIMES, JSON),
    "parking_since": st.one_of(TIMES, JSON), "at": st.one_of(TIMES, JSON),
    "outcome": st.one_of(st.sampled_from(["captured", "declined", "reversed", "aborted", ""]),
                         JSON),
    "say": st.one_of(st.sampled_from([s.value for s in Say]), JSON),
    "energy_wh": st.one_of(st.integers(-10, 10**20), JSON),
    "amount_minor": st.one_of(st.integers(-10, 10**20), JSON),
    "currency": st.one_of(st.sampled_from(["EUR", "eur", ""]), JSON),
    "timezone": st.one_of(st.sampled_from(["Europe/Berlin", "UTC", "Nope/Nope", "localtime"]),
                          JSON),
    "station_id": JSON, "scheme": JSON, "interface": JSON, "card_token": JSON,
    "event": st.one_of(st.just("health"), JSON), "part": JSON, "ok": JSON,
    "planned": JSON, "in_service": JSON, "faulted": JSON,
}
PAYLOADS = st.one_of(st.fixed_dictionaries({}, optional=FIELDS), JSON)


@settings(max_examples=600, deadline=None)
@given(payload=PAYLOADS, kind=st.sampled_from(["session", "audit", "cdr"]),
       created_at=TIMES, record_id=st.text(max_size=140))
def test_any_payload_gives_a_bounded_fact_or_none(payload: Any, kind: str, created_at: str,
                                                  record_id: str) -> None:
    got = derive(TERMINAL, record_id, kind, created_at, payload)
    if got is None:
        return
    table, row = got
    if table == facts.SESSIONS:
        assert tuple(row) == facts.SESSION_COLUMNS
        assert 0 <= row["connector"] <= 255 and 0 <= row["energy_wh"] <= 10**8
        assert 0 <= row["amount_minor"] <= 10**12
        assert row["result"] in RESULTS and row["outcome"] in facts.OUTCOMES
        assert row["created_s"] <= row["ended_s"] <= row["created_s"] + facts.MAX_SESSION_S
        for key in ("charge_start_s", "charge_stop_s"):
            assert row[key] is None or row["created_s"] <= row[key] <= row["ended_s"]
        assert 0 <= row["local_dow"] <= 6 and 0 <= row["local_hour"] <= 23
        for key, width in (("session_id", 128), ("station_id", 36), ("currency", 3),
                           ("say", 40), ("scheme", 16), ("interface", 16),
                           ("card_token", 64), ("local_date", 10)):
            assert isinstance(row[key], str) and len(row[key]) <= width
    else:
        assert tuple(row) == facts.HEALTH_COLUMNS
        assert all(isinstance(row[k], bool) for k in ("ok", "planned", "in_service",
                                                      "faulted"))
        assert len(row["part"]) <= 32 and len(row["station_id"]) <= 36


BASE = record_of(captured())


@settings(max_examples=600, deadline=None)
@given(changes=st.fixed_dictionaries({}, optional=FIELDS), created_at=TIMES)
def test_a_real_record_with_any_fields_changed(changes: dict[str, Any], created_at: str) -> None:
    """From a real record, some fields replaced by anything: a fact when what it cannot do
    without is still right, bounded as always; never an exception."""
    payload = {**BASE, **changes}
    row, problems = session_fact(TERMINAL, "sess-1:session", created_at, payload)
    if row is None:
        assert problems
        return
    test_any_payload_gives_a_bounded_fact_or_none.hypothesis.inner_test(  # type: ignore[attr-defined]
        payload=payload, kind="session", created_at=created_at, record_id="sess-1:session")
    assert set(problems) <= set(changes)
