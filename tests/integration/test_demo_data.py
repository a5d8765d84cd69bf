"""Demo data on real SQLite and real PostgreSQL: the fleet's records go through the import as
a terminal's uploads do (signed batches of at most 500 records, sequences from what is stored,
the kiosk's own record shapes), the same plan makes the same facts, and the facts show the
patterns the demo promises: weekly and daily rhythms, growth, congested and idle stations,
repeat customers, a mix of failures, no session while a station is out of service."""

from __future__ import annotations

import base64
import collections
import itertools
import json
import statistics
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from kiosk.backoffice import cli
from kiosk.backoffice.demo_data import (
    DemoError,
    DemoPlan,
    Fleet,
    build_fleet,
    demo_key,
    make_demo,
)
from kiosk.backoffice.importer import acked
from kiosk.backoffice.registry import add_terminal, list_terminals
from kiosk.backoffice.storage import (
    Database,
    batches,
    charging_sessions,
    health_events,
    open_db,
    records,
)
from kiosk.records.batch import public_key_raw
from kiosk.records.record import RECORD_VERSION, session_record
from tests.support.machine import Driver
from tests.support.postgres import (  # noqa: F401 - fixtures
    backoffice_url,
    new_database,
    postgres_server,
)

SMALL = DemoPlan(stations=6, sessions=1200, seed=7, start=date(2026, 3, 2), days=21)
# moderate demand (about five sessions a station a day), eight weeks from a Monday
PATTERNS = DemoPlan(stations=20, sessions=6000, seed=1, start=date(2026, 2, 2), days=56)


def facts_of(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every fact row without its id, in a stable order."""
    with db.engine.connect() as conn:
        s = conn.execute(select(*(c for c in charging_sessions.c if c.name != "id"))).all()
        h = conn.execute(select(*(c for c in health_events.c if c.name != "id"))).all()
    return sorted(tuple(r) for r in s), sorted(tuple(r) for r in h)


@pytest.fixture
def db(backoffice_url: str) -> Any:  # noqa: F811
    database = open_db(backoffice_url)
    yield database
    database.close()


def test_the_same_plan_makes_the_same_facts(db: Database, tmp_path: Path) -> None:
    done = make_demo(db, SMALL)
    assert (done.asked, done.sessions) == (1200, 1200)
    other = open_db(f"sqlite:///{tmp_path / 'again.sqlite'}")
    try:
        make_demo(other, SMALL)
        assert facts_of(other) == facts_of(db)  # on either database
    finally:
        other.close()
    third = open_db(f"sqlite:///{tmp_path / 'seed.sqlite'}")
    try:
        make_demo(third, DemoPlan(stations=6, sessions=1200, seed=8, start=SMALL.start,
                                  days=SMALL.days))
        assert facts_of(third)[0] != facts_of(db)[0]
    finally:
        third.close()


def test_the_records_go_through_the_import(db: Database) -> None:
    done = make_demo(db, SMALL)
    fleet = build_fleet(SMALL)
    with db.engine.connect() as conn:
        kinds = collections.Counter(r[0] for r in conn.execute(select(records.c.kind)))
        stored = conn.execute(select(batches.c.terminal_id, batches.c.sequence,
                                     batches.c.envelope)).all()
        one = json.loads(conn.execute(select(records.c.payload).where(
            records.c.kind == "session").limit(1)).scalar_one())
    assert kinds == {"session": 1200, "audit": done.health_events}
    assert done.records_stored == 1200 + done.health_events
    by_terminal = collections.defaultdict(list)
    for terminal_id, sequence, envelope in stored:
        body = json.loads(base64.b64decode(json.loads(bytes(envelope))["batch"]))
        assert 1 <= len(body["records"]) <= 500
        by_terminal[terminal_id].append(sequence)
    assert sorted(by_terminal) == sorted(s.id for s in fleet.stations)
    for seqs in by_terminal.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
    # the kiosk's own shape: every field session_record writes, version 3
    assert set(one) == set(session_record(Driver().s, station_id="x", currency="EUR"))
    assert one["record_version"] == RECORD_VERSION == 3
    terminals = {t.id: t for t in list_terminals(db)}
    for st in fleet.stations:
        assert terminals[st.id].site == st.site.name
        assert terminals[st.id].public_key == public_key_raw(demo_key(st.id).public_key())

    # again: the demo terminals are reused, their sequences go on, nothing is stored twice
    before = facts_of(db)
    ack = {st.id: acked(db, st.id) for st in fleet.stations}
    again = make_demo(db, SMALL)
    assert again.records_stored == 0 and again.batches == done.batches
    assert facts_of(db) == before
    assert all(acked(db, st.id) == 2 * ack[st.id] for st in fleet.stations)


def test_a_terminal_of_the_demos_name_with_another_key_is_refused(db: Database) -> None:
    first = build_fleet(SMALL).stations[0].id
    add_terminal(db, first, public_key_raw(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(DemoError, match="not demo terminals"):
        make_demo(db, SMALL)
    with db.engine.connect() as conn:
        assert conn.execute(select(records.c.id)).first() is None


def test_demo_data_never_goes_into_a_database_with_real_terminals(db: Database) -> None:
    """Demo terminals' keys are derived from their ids: beside a real terminal, anyone could
    upload as them into the operator's figures."""
    add_terminal(db, "SITE-0007", public_key_raw(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(DemoError, match=r"not demo terminals \(SITE-0007\)"):
        make_demo(db, SMALL)
    with db.engine.connect() as conn:
        assert conn.execute(select(records.c.id)).first() is None


def test_a_plan_out_of_bounds_is_refused() -> None:
    for plan in (DemoPlan(stations=0), DemoPlan(sessions=-1), DemoPlan(days=0),
                 DemoPlan(start=date(1999, 1, 1)), DemoPlan(seed=-1)):
        with pytest.raises(ValueError):
            plan.check()


# --- the patterns --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def patterns(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The PATTERNS fleet's facts, read back from either database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'patterns.sqlite'}"
    else:
        url = new_database(request.getfixturevalue("postgres_server"))
    db = open_db(url)
    make_demo(db, PATTERNS)
    with db.engine.connect() as conn:
        sessions = [dict(r._mapping) for r in conn.execute(select(charging_sessions))]
        health = [dict(r._mapping) for r in conn.execute(
            select(health_events).order_by(health_events.c.at_s, health_events.c.id))]
    db.close()
    return build_fleet(PATTERNS), sessions, health


def peak_occupancy(fleet: Fleet, sessions: list[dict[str, Any]]) -> dict[str, float]:
    """Per station, the occupancy (plugged-in time ÷ connector time) of its busiest hour of
    the week, averaged over the plan's weeks."""
    plugged: dict[str, collections.Counter[tuple[int, int]]] = collections.defaultdict(
        collections.Counter)
    for s in sessions:
        t = s["charge_start_s"]
        while t is not None and t < s["ended_s"]:
            hour = t // 3600
            end = min(s["ended_s"], (hour + 1) * 3600)
            plugged[s["station_id"]][((hour // 24 + 3) % 7, hour % 24)] += end - t
            t = end
    weeks = PATTERNS.days / 7
    return {st.id: max(plugged[st.id].values(), default=0) / (weeks * 3600 * st.connectors)
            for st in fleet.stations}


def test_congested_stations_are_full_at_their_peak(patterns: Any) -> None:
    fleet, sessions, _ = patterns
    peak = peak_occupancy(fleet, sessions)
    congested = [st for st in fleet.stations if st.congested]
    assert len(congested) == 2
    for st in congested:
        assert peak[st.id] >= 0.85, (st.id, peak[st.id])  # the threshold of "congested"
        others = [peak[o.id] for o in fleet.stations
                  if o.site.kind == st.site.kind and not (o.congested or o.idle)]
        if others:
            assert peak[st.id] > statistics.median(others)
    for st in fleet.stations:
        if st.idle:
            assert peak[st.id] < 0.35


def test_congested_stations_have_back_to_back_sessions(patterns: Any) -> None:
    """A session starting within ten minutes of the previous one ending on its connector."""
    fleet, sessions, _ = patterns
    on: dict[tuple[str, int], list[tuple[int, int]]] = collections.defaultdict(list)
    for s in sessions:
        on[s["station_id"], s["connector"]].append((s["created_s"], s["ended_s"]))
    share: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for (station, _), spans in on.items():
        spans.sort()
        for (_, ended), (created, _) in itertools.pairwise(spans):
            assert created >= ended  # a connector takes one session at a time
            share[station][0] += created - ended <= 600
            share[station][1] += 1
    ratio = {k: a / b for k, (a, b) in share.items() if b}
    normal = [ratio[st.id] for st in fleet.stations
              if not (st.congested or st.idle) and st.id in ratio]
    for st in fleet.stations:
        if st.congested:
            assert ratio[st.id] > statistics.median(normal), (st.id, ratio[st.id])


def test_the_weekly_and_daily_rhythms(patterns: Any) -> None:
    fleet, sessions, _ = patterns
    kind = {st.id: st.site.kind for st in fleet.stations}
    by_dow: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    by_hour: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for s in sessions:
        by_dow[kind[s["station_id"]]][s["local_dow"]] += 1
        by_hour[kind[s["station_id"]]][s["local_hour"]] += 1
    office = by_dow["office"]
    assert min(office[d] for d in range(5)) > 3 * max(office[5], office[6])  # commuters
    assert by_dow["retail"].most_common(1)[0][0] == 5  # Saturday
    assert by_dow["retail"][6] < by_dow["retail"][5] / 2  # shops shut on Sunday
    assert by_hour["office"].most_common(1)[0][0] in (7, 8)
    assert by_hour["residential"].most_common(1)[0][0] in range(17, 22)
    assert sum(by_hour["residential"][h] for h in range(1, 5)) < 0.02 * sum(
        by_hour["residential"].values())
    assert by_hour["highway"].most_common(1)[0][0] in range(10, 19)


def test_growth(patterns: Any) -> None:
    _, sessions, _ = patterns
    cut = date.fromordinal(PATTERNS.start.toordinal() + PATTERNS.days // 2).isoformat()
    first = sum(s["local_date"] < cut for s in sessions)
    assert len(sessions) - first > 1.02 * first  # 60 % a year: about 7 % in eight weeks


def test_repeat_customers_and_cards(patterns: Any) -> None:
    _, sessions, _ = patterns
    per_card = collections.Counter(s["card_token"] for s in sessions)
    assert "" not in per_card
    once = sum(1 for n in per_card.values() if n == 1)
    assert once > 0.5 * len(per_card)  # most cards come once
    assert sum(1 for n in per_card.values() if n >= 10) >= 10  # commuters, night, fleet
    interfaces = collections.Counter(s["interface"] for s in sessions)
    assert interfaces["contactless"] > 2 * interfaces["contact"] > 0
    schemes = collections.Counter(s["scheme"] for s in sessions)
    assert set(schemes) == {"visa", "mastercard", "maestro"}


def test_the_mix_of_results(patterns: Any) -> None:
    _, sessions, _ = patterns
    results = collections.Counter(s["result"] for s in sessions)
    assert set(results) == {"paid", "declined", "card", "host", "charger", "driver", "none"}
    assert 0.78 < results["paid"] / len(sessions) < 0.92
    for s in sessions:
        if s["result"] == "paid":
            assert s["amount_minor"] > 0 and s["energy_wh"] > 0
            assert s["charge_start_s"] is not None
        else:
            assert s["amount_minor"] == 0
    paid_per_kwh = [s["amount_minor"] / s["energy_wh"] * 1000 for s in sessions
                    if s["result"] == "paid" and s["energy_wh"] > 5000]
    assert min(paid_per_kwh) > 44 and max(paid_per_kwh) < 70  # 0.45 to 0.69 EUR/kWh


def test_no_session_starts_while_its_station_is_out_of_service(patterns: Any) -> None:
    _, sessions, health = patterns
    down: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    charger: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    since: dict[str, int] = {}
    fault: dict[str, int] = {}
    parts: collections.Counter[tuple[str, bool]] = collections.Counter()
    standing: dict[str, dict[str, bool]] = collections.defaultdict(dict)  # part → planned
    for e in health:
        st = e["station_id"]
        parts[e["part"], e["planned"]] += 1
        if e["ok"]:
            standing[st].pop(e["part"], None)
        else:
            standing[st][e["part"]] = e["planned"]
        assert e["in_service"] == (not standing[st])  # what stands after the change
        assert e["faulted"] == any(not planned for planned in standing[st].values())
        if not e["in_service"]:
            since.setdefault(st, e["at_s"])
        elif st in since:
            down[st].append((since.pop(st), e["at_s"]))
        if e["part"] == "charger":
            if not e["ok"]:
                fault[st] = e["at_s"]
            else:
                charger[st].append((fault.pop(st), e["at_s"]))
    for st, at in since.items():  # still out of service at the end
        down[st].append((at, float("inf")))
    for st, at in fault.items():
        charger[st].append((at, float("inf")))
    assert parts["host", False] and parts["charger", False] and parts["maintenance", True]
    for s in sessions:
        for a, b in down[s["station_id"]]:
            assert not a <= s["created_s"] < b, s
        if s["charge_start_s"] is not None:  # nothing charges through a charger fault
            for a, b in charger[s["station_id"]]:
                assert s["charge_stop_s"] <= a or s["charge_start_s"] >= b, s


# --- the command ---------------------------------------------------------------------------

def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    rc = cli.main(["--db", url, "demo-data", "--stations", "3", "--sessions", "300",
                   "--from", "2026-02-02", "--days", "14", "--seed", "5"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out[0].startswith("demo-data: 3 stations at 2 sites, 300 sessions and ")
    assert "from 2026-02-02 to 2026-02-15" in out[0]
    assert out[1].startswith("300 sessions in ") and out[1].endswith(" sessions/s)")
    assert cli.main(["--db", url, "demo-data", "--from", "02/02/2026"]) == 2
    assert capsys.readouterr().err == "kiosk-backoffice: --from: not a date (YYYY-MM-DD)\n"
    assert cli.main(["--db", url, "demo-data", "--stations", "0"]) == 2
    assert capsys.readouterr().err == "kiosk-backoffice: stations: 1 to 9999\n"
    assert cli.main(["--db", url, "terminal", "list"]) == 0
    assert capsys.readouterr().out.count("\tsite ") == 3


def test_a_worker_process_makes_the_same_records(tmp_path: Path) -> None:
    """From WORKER_FROM sessions on, a worker process makes and seals the next station's
    records while this one imports: the same envelopes, so the same facts."""
    here = open_db(f"sqlite:///{tmp_path / 'here.sqlite'}")
    there = open_db(f"sqlite:///{tmp_path / 'there.sqlite'}")
    try:
        a = make_demo(here, SMALL, worker=False)
        b = make_demo(there, SMALL, worker=True)
        assert a == b
        assert facts_of(here) == facts_of(there)
        with here.engine.connect() as c1, there.engine.connect() as c2:
            q = select(batches.c.terminal_id, batches.c.sequence, batches.c.body_sha256)
            assert sorted(c1.execute(q).all()) == sorted(c2.execute(q).all())
    finally:
        here.close()
        there.close()
