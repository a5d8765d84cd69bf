"""Member plans end to end on SQLite and PostgreSQL (the fleet of
tests/support/customer_fleet.py): ``kiosk-backoffice plan enable|list|disable|suggest``, the
member lists built and signed per terminal, published as updates of kind ``members`` that read
back with the kiosk's own ``read_update`` and ``parse_members``; hostile input, each refusal
one line and exit status 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.backoffice import cli
from kiosk.backoffice import plans as bp
from kiosk.backoffice.storage import Database, open_db, terminals, updates
from kiosk.billing.plans import MemberList, parse_members
from kiosk.maintenance.updates import read_update
from kiosk.records.batch import public_key_raw
from kiosk.security.keys import create_signing_key
from tests.support.customer_fleet import TOKEN, at, insert_customers

NOW = at(11, 30, 12)  # a Monday noon; the 30 days before it hold every November session
EUR_TERMINALS = ("S1", "S2", "S3", "S4", "T0")  # T0: no session, the plans' currency


@pytest.fixture
def db(backoffice_url: str) -> Iterator[Database]:
    database = open_db(backoffice_url)
    try:
        insert_customers(database, extra_terminals=("T0", "R1"))
        with database.engine.begin() as conn:
            conn.execute(update(terminals).where(terminals.c.id == "R1")
                         .values(status="revoked", revoked_at="2026-06-01T00:00:00+00:00"))
        yield database
    finally:
        database.close()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "operator.key"
    create_signing_key(path)  # what kiosk update keygen writes
    return path


def run(url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = cli.main([*argv[:2], "--db", url, *argv[2:]])
    out = capsys.readouterr()
    return rc, out.out, out.err


def latest(db: Database, terminal: str) -> tuple[int, bytes]:
    with db.engine.connect() as conn:
        row = conn.execute(select(updates.c.sequence, updates.c.bundle)
                           .where(updates.c.terminal_id == terminal,
                                  updates.c.kind == "members")
                           .order_by(updates.c.sequence.desc()).limit(1)).one()
    return int(row.sequence), bytes(row.bundle)


def read_back(db: Database, key_file: Path, terminal: str, currency: str = "EUR",
              now: datetime = NOW) -> tuple[int, MemberList]:
    from kiosk.security.keys import load_signing_key

    key_hex = public_key_raw(load_signing_key(key_file).public_key()).hex()
    sequence, bundle = latest(db, terminal)
    got = read_update(bundle, key_hex, terminal=terminal, now=now)
    assert (got.kind, got.terminal, got.sequence) == ("members", terminal, sequence)
    return sequence, parse_members(got.content, currency=currency)


def publish(db: Database, key_file: Path, **kw: Any) -> tuple[int, list[str]]:
    from kiosk.security.keys import load_signing_key

    lines: list[str] = []
    problems = bp.publish_members(db, load_signing_key(key_file), now=NOW, window_days=30,
                                  say=lines.append, **kw)
    return problems, lines


def test_enable_list_disable(db: Database, backoffice_url: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(backoffice_url, capsys, "plan", "enable", "night", "--segment", "night",
                       "--percent", "15", "--hours", "22-6")
    assert (rc, err) == (0, "")
    assert out == ("night: enabled: night\tenabled\tnight charger\t15 % off\thours 22-6\tEUR\t"
                   "'Night plan'\n")
    assert run(backoffice_url, capsys, "plan", "enable", "loyalty", "--segment", "commuter",
               "--percent", "12.5", "--min-sessions", "6", "--name", "Stammkunde")[0] == 0
    rc, out, _ = run(backoffice_url, capsys, "plan", "list")
    assert (rc, out.splitlines()) == (0, [
        "loyalty\tenabled\tcommuter\t12.5 % off\tevery hour, from 6 paid sessions this "
        "month\tEUR\t'Stammkunde'",
        "night\tenabled\tnight charger\t15 % off\thours 22-6\tEUR\t'Night plan'"])
    # enabling again replaces the terms; disabling keeps the row
    assert run(backoffice_url, capsys, "plan", "enable", "night", "--segment", "night",
               "--percent", "20", "--currency", "CHF")[0] == 0
    assert run(backoffice_url, capsys, "plan", "disable", "night")[:2] == (
        0, "night: disabled\n")
    stored = {p.id: p for p in bp.list_plans(db)}
    assert (stored["night"].status, stored["night"].percent_off, stored["night"].hours,
            stored["night"].currency) == ("disabled", "20", None, "CHF")


def test_suggest(db: Database, backoffice_url: str,
                 capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(backoffice_url, capsys, "plan", "suggest", "--from", "2026-11-09",
                       "--to", "2026-12-08")
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "customers: 2026-11-09 to 2026-12-09 UTC, end excluded (30 days)"
    assert "segment fleet-like\tEUR\t2 cards\t23 sessions\trevenue 41500\tshare 71.0%" in lines
    assert ("plan fleet for fleet-like (EUR): 15 % off, every hour: 2 members, 23 of 23 "
            "sessions discounted, revenue 58918 -> 52693 (-6225), break-even 5 more "
            "sessions") in lines
    assert ("plan night for night charger (EUR): 15 % off, 22:00 to 06:00: 1 members, 4 of 5 "
            "sessions discounted, revenue 58918 -> 58318 (-600), break-even 1 more "
            "sessions") in lines
    assert ("plan loyalty for commuter (EUR): 10 % off, every hour, after 4 paid sessions a "
            "month: 2 members, 4 of 12 sessions discounted, revenue 58918 -> 58618 (-300), "
            "break-even 1 more sessions") in lines


def test_publish_the_member_lists(db: Database, key_file: Path) -> None:
    bp.enable_plan(db, "fleet", segment="fleet", percent="15", now=NOW)
    bp.enable_plan(db, "night", segment="night", percent="15", hours="22-6", now=NOW)
    bp.enable_plan(db, "loyalty", segment="commuter", percent="10", min_sessions=6, now=NOW)
    problems, lines = publish(db, key_file)
    assert problems == 0
    # one bundle per active terminal (R1 is revoked), Z1 the CHF list
    assert [ln.split(":")[0] for ln in lines] == ["S1", "S2", "S3", "S4", "T0", "Z1"]
    assert lines[0] == ("S1: published: members sequence 1, EUR, 4 members (fleet 2, night 1, "
                        "loyalty 1), valid until 2026-12-01T00:00:00+00:00")
    for tid in EUR_TERMINALS:
        sequence, got = read_back(db, key_file, tid)
        assert sequence == 1
        # a, b fleet-like; c night; e has 7 paid sessions in November (f only 5 < 6)
        assert got.members == {TOKEN["a"]: "fleet", TOKEN["b"]: "fleet", TOKEN["c"]: "night",
                               TOKEN["e"]: "loyalty"}
        assert set(got.plans) == {"fleet", "night", "loyalty"}
        assert got.plans["night"].hours == (22, 6)
        # a monthly plan: valid to the end of the month
        assert (got.issued_at, got.valid_until) == (NOW, datetime(2026, 12, 1, tzinfo=UTC))
    _, chf = read_back(db, key_file, "Z1", "CHF")
    assert (chf.plans, chf.members) == ({}, {})
    with db.engine.connect() as conn:
        assert conn.execute(select(updates.c.id).where(updates.c.terminal_id == "R1")
                            ).first() is None

    # a larger commuter discount takes e (and now f) from the loyalty plan
    bp.enable_plan(db, "commuters", segment="commuter", percent="20", now=NOW)
    assert publish(db, key_file)[0] == 0
    sequence, got = read_back(db, key_file, "S2")
    assert sequence == 2
    assert {t: p for t, p in got.members.items() if p in ("loyalty", "commuters")} == {
        TOKEN["e"]: "commuters", TOKEN["f"]: "commuters"}

    # no monthly plan: valid for --valid-days; none enabled: an empty list takes them back
    bp.disable_plan(db, "loyalty")
    bp.disable_plan(db, "commuters")
    assert publish(db, key_file, valid_days=10)[0] == 0
    _, got = read_back(db, key_file, "S3")
    assert got.valid_until == NOW + timedelta(days=10)
    for pid in ("fleet", "night"):
        bp.disable_plan(db, pid)
    problems, lines = publish(db, key_file)
    assert problems == 0 and len(lines) == 6
    sequence, got = read_back(db, key_file, "T0")
    assert (sequence, got.plans, got.members) == (4, {}, {})


def test_the_publish_command(db: Database, backoffice_url: str, key_file: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run(backoffice_url, capsys, "plan", "enable", "fleet", "--segment", "fleet",
               "--percent", "15")[0] == 0
    rc, out, err = run(backoffice_url, capsys, "plan", "publish", "--signing-key",
                       str(key_file), "--valid-days", "7")
    assert (rc, err) == (0, "")
    assert [ln.split(":")[0] for ln in out.splitlines()] == ["S1", "S2", "S3", "S4", "T0",
                                                             "Z1"]
    now = datetime.now(UTC)
    _, got = read_back(db, key_file, "S1", now=now)
    assert set(got.plans) == {"fleet"} and set(got.members.values()) <= {"fleet"}
    assert timedelta(days=6) < got.valid_until - now <= timedelta(days=7)


def test_the_updates_table_takes_members_only_besides_config_and_tariff(db: Database) -> None:
    row = {"terminal_id": "S1", "kind": "firmware", "sequence": 1, "bundle": b"x",
           "sha256": "0" * 64, "issued_at": "x", "expires_at": "x", "expires_utc": "x",
           "published_at": "x", "withdrawn_at": None}
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(insert(updates).values(**row))
    with db.engine.begin() as conn:
        conn.execute(insert(updates).values(**{**row, "kind": "members"}))


@pytest.mark.parametrize("argv, message", [
    (["enable", "x", "--segment", "night", "--percent", "0"], "percent 0: above 0 and at most 50"),
    (["enable", "x", "--segment", "night", "--percent", "51"], "percent 51: above 0"),
    (["enable", "x", "--segment", "night", "--percent", "12.345"], "percent '12.345': a number"),
    (["enable", "x", "--segment", "night", "--percent", "-5"], "percent '-5': a number"),
    (["enable", "x", "--segment", "night", "--percent", "1e1"], "percent '1e1': a number"),
    (["enable", "x", "--segment", "night", "--percent", "NaN"], "percent 'NaN': a number"),
    (["enable", "x", "--segment", "vip", "--percent", "10"], "segment 'vip': one of fleet, "
                                                             "night, commuter, occasional"),
    (["enable", "x", "--segment", "night\n", "--percent", "10"], "segment 'night"),
    (["enable", "Night!", "--segment", "night", "--percent", "10"], "plan id 'Night!': 1 to"),
    (["enable", "a" * 33, "--segment", "night", "--percent", "10"], "plan id"),
    (["enable", "x", "--segment", "night", "--percent", "10", "--hours", "22-22"],
     "hours 22-22: two different hours"),
    (["enable", "x", "--segment", "night", "--percent", "10", "--hours", "25-3"],
     "hours 25-3: two different hours"),
    (["enable", "x", "--segment", "night", "--percent", "10", "--hours", "night"],
     "hours 'night': FROM-TO"),
    (["enable", "x", "--segment", "night", "--percent", "10", "--min-sessions", "0"],
     "min sessions 0: from 1 to 1000"),
    (["enable", "x", "--segment", "night", "--percent", "10", "--name", "x" * 41],
     "name: 1 to 40 printable"),
    (["enable", "x", "--segment", "night", "--percent", "10", "--name", "a\u202eb"],
     "name: 1 to 40 printable"),
    (["enable", "x", "--segment", "night", "--percent", "10", "--currency", "XXX"],
     "currency 'XXX': one of"),
    (["disable", "nope"], "plan nope: no such plan"),
    (["publish", "--signing-key", "/nonexistent/key"], "signing key: "),
    (["suggest", "--from", "2026-13-01"], "--from: not a date (YYYY-MM-DD)"),
])
def test_hostile_input(db: Database, backoffice_url: str, capsys: pytest.CaptureFixture[str],
                       argv: list[str], message: str) -> None:
    rc, out, err = run(backoffice_url, capsys, "plan", *argv)
    assert (rc, out) == (2, "")
    assert err.startswith(f"kiosk-backoffice: {message}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert bp.list_plans(db) == []


def test_hostile_key_files_and_validity(db: Database, backoffice_url: str, key_file: Path,
                                        tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"not a key at all")
    garbage.chmod(0o600)
    open_key = tmp_path / "open.key"
    open_key.write_bytes(key_file.read_bytes())
    open_key.chmod(0o644)
    for path, message in [(garbage, "neither 32 raw bytes nor a PEM"),
                          (open_key, "mode 0644"), (tmp_path, "not a regular file")]:
        rc, out, err = run(backoffice_url, capsys, "plan", "publish", "--signing-key",
                           str(path))
        assert (rc, out) == (2, ""), err
        assert err.startswith("kiosk-backoffice: signing key: ") and message in err, err
        assert err.count("\n") == 1
    for days in ("0", "63"):
        rc, out, err = run(backoffice_url, capsys, "plan", "publish", "--signing-key",
                           str(key_file), "--valid-days", days)
        assert (rc, out, err) == (2, "", f"kiosk-backoffice: valid days {days}: from 1 to 62\n")
    with db.engine.connect() as conn:
        assert conn.execute(select(updates.c.id)).first() is None
    assert os.stat(key_file).st_mode & 0o777 == 0o600


def test_the_report_shows_the_customers(db: Database, tmp_path: Path) -> None:
    import csv
    import html
    import re

    from kiosk.backoffice.analytics.customers import DEFINITIONS, Rules
    from kiosk.backoffice.analytics.queries import Period
    from kiosk.backoffice.analytics.report import write_report
    from tests.support.customer_fleet import PERIOD

    done = write_report(db, tmp_path, Period(*PERIOD))
    page = done.index.read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "Customers and plans" in text
    for part in (*DEFINITIONS.values(), *Rules().describe().values()):
        assert part in text
    assert 'id="table-customer_plans"' in page and "-62.25 EUR" in page  # the change
    with (tmp_path / "customer_plans.csv").open(newline="") as fh:
        rows = {(r["plan_id"], r["currency"]): r for r in csv.DictReader(fh)}
    fleet = rows[("fleet", "EUR")]
    assert (fleet["members"], fleet["change_minor"], fleet["break_even_sessions"],
            fleet["hours"], fleet["min_sessions_month"]) == ("2", "-6225", "5", "every hour", "")
    assert rows[("loyalty", "EUR")]["min_sessions_month"] == "4"
    with (tmp_path / "customer_segments.csv").open(newline="") as fh:
        segs = [(r["segment"], r["currency"], r["tokens"]) for r in csv.DictReader(fh)]
    assert segs == [("fleet", "CHF", "0"), ("night", "CHF", "0"), ("commuter", "CHF", "0"),
                    ("occasional", "CHF", "1"), ("fleet", "EUR", "2"), ("night", "EUR", "1"),
                    ("commuter", "EUR", "2"), ("occasional", "EUR", "2")]
    with (tmp_path / "customer_top.csv").open(newline="") as fh:
        top = list(csv.DictReader(fh))
    assert (top[0]["card_token"], top[0]["home_station"], top[0]["night_share"]) == (
        TOKEN["a"], "S1", "0.714286")


def test_the_analytics_page_shows_the_customers(db: Database, tmp_path: Path) -> None:
    import base64
    import csv
    import io

    import httpx

    from kiosk.backoffice.operators import add_operator
    from tests.support.backoffice import running_service

    add_operator(db, "ops", "correct horse battery")
    auth = {"Authorization": "Basic " + base64.b64encode(b"ops:correct horse battery").decode()}
    query = {"from": "2026-11-09", "to": "2026-12-08", "station": "S4"}
    with running_service(db, tmp_path) as service, httpx.Client(
            verify=service.client_context(), timeout=60) as client:
        page = client.get(service.url + "/analytics", params=query, headers=auth)
        assert page.status_code == 200, page.text[:300]
        assert 'id="customers"' in page.text and "the station filter does not apply" in page.text
        r = client.get(service.url + "/analytics/customer_segments.csv", params=query,
                       headers=auth)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = {(x["segment"], x["currency"]): x for x in csv.DictReader(io.StringIO(r.text))}
        # fleet-wide: the station filter does not narrow the cards
        assert (rows[("fleet", "EUR")]["tokens"], rows[("fleet", "EUR")]["revenue_minor"]) == (
            "2", "41500")
        assert client.get(service.url + "/analytics/customer_plans.csv", params=query,
                          headers=auth).status_code == 200
