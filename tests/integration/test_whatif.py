"""The tariff what-if on real SQLite and real PostgreSQL: a small fleet whose re-priced figures
are computed by hand, the CLI (its table, its files, its one-line errors for a bad tariff file),
and the backfill of the facts' time zone and last reading when an older database is upgraded.

The fleet: Monday 2026-06-15 (Berlin is UTC+2), the period that day (UTC). The proposed tariff
(``NIGHT``): energy 0.20 EUR/kWh from 22:00 to 06:00 local, else 0.40 EUR/kWh, both + 19 % VAT;
parking 6 EUR/h (no VAT) in steps of 60 s.

=====  =======  ======  ==================================  =======  ========  ===============
id     station  token   charge start – stop (UTC), last     energy   recorded  proposed
=====  =======  ======  ==================================  =======  ========  ===============
s1     ST-A     tokA-…  08:00 – 09:00                       10 kWh   300       10 × 0.40 × 1.19
                                                                               = 476
s2     ST-B     tokB-…  18:00 – 22:00 (20:00 – 00:00 local)  40 kWh  1600      20 × 0.40 + 20 ×
                                                                               0.20 = 12 × 1.19
                                                                               = 1428
s3     ST-A     tokA-…  10:00 – 11:00, last 11:30:30         10 kWh   500       476 + 1830 s →
                                                                               1860 s × 6/h =
                                                                               310 → 786
s4     ST-B     tokC-…  paid in CHF                          5 kWh    900       another currency
s5     ST-A     tokC-…  paid, no charge start                5 kWh    900       no charge start
s6     ST-A     tokD-…  declined                             0        0         not paid
s7     ST-A     tokA-…  the day before                       10 kWh   300       not in the period
s8     ST-B     ""      12:00 – 13:00 (no card token)        5 kWh    238       5 × 0.40 × 1.19
                                                                               = 238
=====  =======  ======  ==================================  =======  ========  ===============

ST-A's zone is UTC, ST-B's Europe/Berlin.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, insert, select, update

from kiosk.backoffice.analytics.queries import Period
from kiosk.backoffice.analytics.whatif import reprice, short_token, text, write
from kiosk.backoffice.storage import (
    MIGRATIONS,
    Database,
    batches,
    charging_sessions,
    open_db,
    records,
    terminals,
)
from kiosk.billing.tariff import Tariff, parse_tariff
from tests.support.postgres import backoffice_url, postgres_server  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 6, 15)
T = int(datetime(2026, 6, 15, tzinfo=UTC).timestamp())
H = 3600
TOK_A, TOK_B, TOK_C, TOK_D = ("tokA-0123456789", "tokB-0123456789", "tokC-0123456789",
                              "tokD-0123456789")
NIGHT: dict[str, Any] = {
    "id": "night", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.2, "vat": 19, "step_size": 1}],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.4, "vat": 19, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 6, "step_size": 60}]}]}
ZONES = {"ST-A": "UTC", "ST-B": "Europe/Berlin"}


def row(sid: str, station: str, token: str, start: int | None, stop: int | None,
        last: int | None, wh: int, amount: int, result: str = "paid", currency: str = "EUR",
        created: int | None = None) -> dict[str, Any]:
    made = created if created is not None else (start if start is not None else T + 6 * H)
    return {
        "terminal_id": station, "session_id": sid, "station_id": station, "connector": 1,
        "created_s": made, "charge_start_s": start, "charge_stop_s": stop,
        "ended_s": max(x for x in (made, start, stop, last) if x is not None),
        "local_date": DAY.isoformat(), "local_dow": 0, "local_hour": 0, "energy_wh": wh,
        "amount_minor": amount, "currency": currency,
        "outcome": "captured" if result == "paid" else "declined", "result": result,
        "say": "", "scheme": "visa", "interface": "contactless", "card_token": token,
        "timezone": ZONES[station], "last_reading_s": last, "discount_minor": 0}


FLEET = [
    row("s1", "ST-A", TOK_A, T + 8 * H, T + 9 * H, T + 9 * H, 10_000, 300),
    row("s2", "ST-B", TOK_B, T + 18 * H, T + 22 * H, T + 22 * H, 40_000, 1600),
    row("s3", "ST-A", TOK_A, T + 10 * H, T + 11 * H, T + 11 * H + 1830, 10_000, 500),
    row("s4", "ST-B", TOK_C, T + 14 * H, T + 15 * H, T + 15 * H, 5_000, 900, currency="CHF"),
    row("s5", "ST-A", TOK_C, None, None, None, 5_000, 900),
    row("s6", "ST-A", TOK_D, None, None, None, 0, 0, result="declined"),
    row("s7", "ST-A", TOK_A, T - 10 * H, T - 9 * H, T - 9 * H, 10_000, 300),
    row("s8", "ST-B", "", T + 12 * H, T + 13 * H, T + 13 * H, 5_000, 238),
]


@pytest.fixture
def fleet(backoffice_url: str) -> Any:  # noqa: F811
    db = open_db(backoffice_url)
    with db.engine.begin() as conn:
        conn.execute(insert(charging_sessions), FLEET)
    yield db
    db.close()


def tariff(data: dict[str, Any]) -> Tariff:
    return parse_tariff(json.dumps(data))


def period() -> Period:
    return Period.of_dates(DAY, DAY)


def test_the_figures_are_the_hand_computed_ones(fleet: Database) -> None:
    w = reprice(fleet, period(), [tariff(NIGHT)], top=5)
    assert w.currency == "EUR" and w.tariff_ids == ("night",) and w.bills_parking
    t = w.total
    assert (t.sessions, t.energy_wh, t.recorded_minor, t.proposed_minor) == \
        (4, 65_000, 300 + 1600 + 500 + 238, 476 + 1428 + 786 + 238)
    assert t.difference_minor == 290
    assert t.change == pytest.approx(290 / 2638)
    assert t.recorded_per_kwh == Decimal("40.5846")  # 2638 cents / 65 kWh
    assert t.proposed_per_kwh == Decimal("45.0462")  # 2928 / 65
    by = {sid: (f.sessions, f.energy_wh, f.recorded_minor, f.proposed_minor)
          for sid, f in w.stations}
    assert by == {"ST-A": (2, 20_000, 800, 1262), "ST-B": (2, 45_000, 1838, 1666)}
    assert [(c.card_token, c.figures.difference_minor) for c in w.increases] == [(TOK_A, 462)]
    assert [(c.card_token, c.figures.difference_minor) for c in w.decreases] == [(TOK_B, -172)]
    assert w.customers == 2  # tokA, tokB: the empty token is nobody's
    assert w.unpriced == (("another currency (CHF)", 1), ("no charge start", 1))
    assert w.excluded == (("declined", 1),)


def test_a_members_session_counts_at_the_tariffs_price(fleet: Database) -> None:
    # s1's driver was a member: 300 at the tariff, 45 off, 255 paid; both sides compare the
    # tariffs' prices, the discount is named apart
    with fleet.engine.begin() as conn:
        conn.execute(update(charging_sessions).where(charging_sessions.c.session_id == "s1")
                     .values(amount_minor=255, discount_minor=45))
    w = reprice(fleet, period(), [tariff(NIGHT)], top=5)
    assert (w.total.recorded_minor, w.total.proposed_minor) == (2638, 2928)
    assert (w.member_sessions, w.member_discount_minor) == (1, 45)
    assert "1 sessions had a member plan's discount (0.45 EUR in all)" in text(w)


def test_one_station_and_a_tariff_valid_later(fleet: Database) -> None:
    w = reprice(fleet, period(), [tariff(NIGHT)], station="ST-B")
    assert [s for s, _ in w.stations] == ["ST-B"]
    assert (w.total.sessions, w.total.proposed_minor) == (2, 1666)
    assert w.unpriced == (("another currency (CHF)", 1),) and w.excluded == ()
    # from 15:00 UTC a flat 0.50 (no VAT): s2 (18:00) is priced by it, s8 (12:00) by NIGHT
    later = {"id": "later", "currency": "EUR", "start_date_time": "2026-06-15T15:00:00Z",
             "elements": [{"price_components": [{"type": "ENERGY", "price": 0.5,
                                                 "step_size": 1}]}]}
    first = {**NIGHT, "end_date_time": "2026-06-15T15:00:00Z"}
    w = reprice(fleet, period(), [tariff(first), tariff(later)],
                station="ST-B")
    assert w.total.proposed_minor == 40 * 50 + 238
    assert w.bills_parking  # the book bills parking (its first tariff does)


def test_the_output(fleet: Database, tmp_path: Path) -> None:
    w = reprice(fleet, period(), [tariff(NIGHT)])
    shown = text(w)
    assert "+2.90 EUR" in shown and "+4.62 EUR" in shown and "-1.72 EUR" in shown
    assert short_token(TOK_A) in shown and TOK_A not in shown
    assert "1 another currency (CHF)" in shown and "1 declined" in shown
    index, files = write(w, tmp_path / "out")
    html = index.read_text(encoding="utf-8")
    assert "Tariff what-if" in html and "29.28 EUR" in html and TOK_A not in html
    with (tmp_path / "out" / "whatif_stations.csv").open(encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [(r["station_id"], r["recorded_minor"], r["proposed_minor"]) for r in got] == [
        ("all stations", "2638", "2928"), ("ST-A", "800", "1262"), ("ST-B", "1838", "1666")]
    with (tmp_path / "out" / "whatif_customers.csv").open(encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [(r["direction"], r["card_token"], r["difference_minor"]) for r in got] == [
        ("increase", TOK_A, "462"), ("decrease", TOK_B, "-172")]
    assert {p.name for p in files} == {"whatif_stations.csv", "whatif_customers.csv",
                                       "whatif_not_repriced.csv"}


# --- the CLI -----------------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.backoffice.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_cli(fleet: Database, tmp_path: Path) -> None:
    tariff = tmp_path / "night.json"
    tariff.write_text(json.dumps(NIGHT), encoding="utf-8")
    done = cli("what-if", "--db", fleet.engine.url.render_as_string(hide_password=False),
               "--tariff", str(tariff), "--from", DAY.isoformat(), "--to", DAY.isoformat(),
               "--out", str(tmp_path / "out"), "--top", "1")
    assert done.returncode == 0, done.stderr
    assert "+2.90 EUR" in done.stdout and (tmp_path / "out" / "whatif.html").is_file()


@pytest.mark.parametrize(("content", "expected"), [
    (None, "no such file"),
    (b"{not json", "night.json"),
    (json.dumps({**NIGHT, "elements": []}).encode(), "$.elements"),
    (json.dumps({**NIGHT, "colour": "red"}).encode(), "$.colour: unknown key"),
    (json.dumps([NIGHT, {**NIGHT, "currency": "CHF"}]).encode(), "one currency"),
    (b"[" * 100_000, "night.json"),
    (b" " * (2 << 20), "night.json"),
])
def test_a_bad_tariff_file_is_one_line_and_exit_2(tmp_path: Path, content: bytes | None,
                                                  expected: str) -> None:
    tariff = tmp_path / "night.json"
    if content is not None:
        tariff.write_bytes(content)
    done = cli("what-if", "--db", f"sqlite:///{tmp_path / 'b.sqlite'}", "--tariff",
               str(tariff))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kiosk-backoffice: "), done.stderr
    assert expected in lines[0] and "Traceback" not in done.stderr


@pytest.mark.parametrize("dates", [("--from", "2026-02-30"), ("--to", "yesterday"),
                                   ("--from", "2026-06-16", "--to", "2026-06-15"),
                                   ("--top", "-1")])
def test_bad_dates_are_one_line_and_exit_2(tmp_path: Path, dates: tuple[str, ...]) -> None:
    tariff = tmp_path / "night.json"
    tariff.write_text(json.dumps(NIGHT), encoding="utf-8")
    done = cli("what-if", "--db", f"sqlite:///{tmp_path / 'b.sqlite'}", "--tariff",
               str(tariff), *dates)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


# --- the backfill of a bo0005 database ---------------------------------------------------------

def _payload(sid: str, **more: Any) -> dict[str, Any]:
    base = {"record_version": 3, "session_id": sid, "connector": 1, "station_id": "ST-B",
            "created_at": "2026-06-15T10:00:00+00:00", "outcome": "captured",
            "energy_wh": 10_000, "amount_minor": 500, "currency": "EUR",
            "charge_started_at": "2026-06-15T10:01:00+00:00",
            "charge_stopped_at": "2026-06-15T11:30:30+00:00",
            "parking_since": "2026-06-15T11:01:00+00:00",
            "ended_at": "2026-06-15T11:31:00+00:00", "timezone": "Europe/Berlin",
            "card_token": "tok", "scheme": "visa", "interface": "contact", "say": ""}
    base.update(more)
    return {k: v for k, v in base.items() if v is not None}


def test_an_older_database_gets_the_zone_and_the_last_reading(
        backoffice_url: str) -> None:  # noqa: F811
    kept = {
        "berlin": _payload("berlin"),
        "mars": _payload("mars", timezone="Mars/Olympus_Mons"),  # unknown: UTC
        "v2": _payload("v2", timezone=None, parking_since=None, record_version=2),
        "bad-stop": _payload("bad-stop", charge_stopped_at="yesterday"),  # a wrong time: none
        "stepped": _payload("stepped", charge_stopped_at="2026-06-15T10:30:00+00:00"),
        "no-start": _payload("no-start", charge_started_at=None, parking_since=None),
        "member": _payload("member", amount_minor=425, discount_minor=75, plan="night"),
        "bad-discount": _payload("bad-discount", discount_minor=-5),  # wrong: none
    }
    engine = create_engine(backoffice_url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "bo0003")
        conn.execute(insert(terminals).values(
            id="ST-B", public_key=bytes(32), key_id="0" * 64, status="active",
            added_at="2026-01-01T00:00:00+00:00", revoked_at=None))
        conn.execute(insert(batches).values(terminal_id="ST-B", sequence=1,
                                            received_at="2026-06-15T12:00:00+00:00",
                                            body_sha256="0" * 64, envelope=b"{}"))
        conn.execute(insert(records), [
            {"terminal_id": "ST-B", "record_id": f"{sid}:session", "session_id": sid,
             "kind": "session", "created_at": "2026-06-15T11:31:00+00:00", "batch_sequence": 1,
             "payload": json.dumps(p), "stored_at": "2026-06-15T12:00:00+00:00"}
            for sid, p in kept.items()])
        command.upgrade(cfg, "bo0005")  # the facts, as bo0004 made them: no zone, no reading
        before = conn.execute(select(charging_sessions.c.session_id)).all()
        assert len(before) == len(kept)
    engine.dispose()

    db = open_db(backoffice_url)  # bo0006 and on
    try:
        with db.engine.connect() as conn:
            got = {r.session_id: (r.timezone, r.last_reading_s, r.charge_stop_s) for r in
                   conn.execute(select(charging_sessions.c.session_id,
                                       charging_sessions.c.timezone,
                                       charging_sessions.c.last_reading_s,
                                       charging_sessions.c.charge_stop_s))}
            discounts = dict(conn.execute(select(charging_sessions.c.session_id,
                                                 charging_sessions.c.discount_minor)).all())
    finally:
        db.close()

    def at(clock: str) -> int:
        return int(datetime.fromisoformat(f"2026-06-15T{clock}+00:00").timestamp())

    assert got == {
        "berlin": ("Europe/Berlin", at("11:30:30"), at("11:01:00")),
        "mars": ("UTC", at("11:30:30"), at("11:01:00")),
        "v2": ("UTC", at("11:30:30"), at("11:30:30")),
        "bad-stop": ("Europe/Berlin", None, at("11:01:00")),
        "stepped": ("Europe/Berlin", at("11:01:00"), at("11:01:00")),  # clamped to the stop
        "no-start": ("Europe/Berlin", None, None),
        "member": ("Europe/Berlin", at("11:30:30"), at("11:01:00")),
        "bad-discount": ("Europe/Berlin", at("11:30:30"), at("11:01:00")),
    }
    # a member plan's discount (issue #18): the tariff's price is amount + discount
    assert discounts == {**dict.fromkeys(got, 0), "member": 75}
