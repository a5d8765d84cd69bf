"""A small fleet of repeat customers for the segments and plans' tests, inserted straight into
the facts tables; every figure is computed by hand in tests/unit/test_customers.py.

The period is the 30 days 2026-11-09 (a Monday) to 2026-12-09 00:00 UTC, end excluded: a
card's sessions a month are its sessions. Stations S1, S2, S3 (UTC) and S4 (UTC+1: its local
hour is the UTC hour + 1) in EUR, Z1 in CHF. Times below are the stations' local times.

=========  ==============================================================  ===========
card       paid sessions (local)                                           segment
=========  ==============================================================  ===========
``a``      14: Nov 9 to Nov 22 daily, S1 × 8 then S2 × 6; 23:00 × 10 then  fleet-like
           10:00 × 4; 2000 each                                            (14 ≥ 12)
``b``      9: Nov 10 to Nov 18 daily, S1 S2 S3 in turn, 12:00; 1500 each   fleet-like
                                                                           (3 st., 9 ≥ 8)
``c``      Nov 16 22:00 1003 S3, Nov 17 23:00 1000 S3, Nov 19 00:30 1000   night
           S3, Nov 20 05:10 1000 S4, Nov 21 14:00 1200 S3 (4 of 5 at       (80 %, 5 ≥ 2)
           night); and a declined attempt Nov 18 23:00 S3 (not counted)
``d``      Nov 23 23:00 900 S4 (all at night, but 1 a month < 2)           occasional
``e``      S2: Nov 3 08:00 700 and Nov 5 08:00 700 (before the period);    commuter
           Nov 9 07:00 800, Nov 10 08:00 800, Nov 11 17:00 805, Nov 12     (6 of 7)
           18:00 805, Nov 14 (a Saturday) 08:00 805, Dec 1 07:00 800,
           Dec 2 17:00 800
``f``      S4: Nov 16 16:00, Nov 17 06:00, Nov 18 08:00, Nov 19 12:00,     commuter
           Nov 20 12:00; 600 each (3 of 5 = exactly 60 %)                  (60 %, 5 ≥ 4)
``1``      S1: Nov 20 12:00 1100, Dec 5 12:00 1100                         occasional
(none)     S1: Nov 25 12:00 500, no card token (in the revenue only)
``2``      Z1: Nov 25 12:00 3000 CHF                                       occasional
=========  ==============================================================  ===========

Card tokens are the letter repeated 32 times (``TOKEN["a"]``). Energy is 10 Wh per minor unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from kiosk.backoffice.storage import Database, charging_sessions, open_db, terminals

PERIOD = (int(datetime(2026, 11, 9, tzinfo=UTC).timestamp()),
          int(datetime(2026, 12, 9, tzinfo=UTC).timestamp()))
OFFSET_H = {"S1": 0, "S2": 0, "S3": 0, "S4": 1, "Z1": 0}
CURRENCY = {"S1": "EUR", "S2": "EUR", "S3": "EUR", "S4": "EUR", "Z1": "CHF"}
TOKEN = {k: k * 32 for k in "abcdef12"}


def _t(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute)


def _sessions() -> list[tuple[str, str, datetime, int, str]]:
    """(card, station, local start, amount, result)."""
    out: list[tuple[str, str, datetime, int, str]] = []
    for i in range(14):
        out.append(("a", "S1" if i < 8 else "S2", _t(11, 9 + i, 23 if i < 10 else 10), 2000,
                    "paid"))
    for i in range(9):
        out.append(("b", ("S1", "S2", "S3")[i % 3], _t(11, 10 + i, 12), 1500, "paid"))
    out += [("c", "S3", _t(11, 16, 22), 1003, "paid"), ("c", "S3", _t(11, 17, 23), 1000, "paid"),
            ("c", "S3", _t(11, 19, 0, 30), 1000, "paid"),
            ("c", "S4", _t(11, 20, 5, 10), 1000, "paid"),
            ("c", "S3", _t(11, 21, 14), 1200, "paid"), ("c", "S3", _t(11, 18, 23), 0, "declined"),
            ("d", "S4", _t(11, 23, 23), 900, "paid")]
    out += [("e", "S2", when, amount, "paid") for when, amount in (
        (_t(11, 3, 8), 700), (_t(11, 5, 8), 700), (_t(11, 9, 7), 800), (_t(11, 10, 8), 800),
        (_t(11, 11, 17), 805), (_t(11, 12, 18), 805), (_t(11, 14, 8), 805), (_t(12, 1, 7), 800),
        (_t(12, 2, 17), 800))]
    out += [("f", "S4", when, 600, "paid") for when in (
        _t(11, 16, 16), _t(11, 17, 6), _t(11, 18, 8), _t(11, 19, 12), _t(11, 20, 12))]
    out += [("1", "S1", _t(11, 20, 12), 1100, "paid"), ("1", "S1", _t(12, 5, 12), 1100, "paid"),
            ("", "S1", _t(11, 25, 12), 500, "paid"), ("2", "Z1", _t(11, 25, 12), 3000, "paid")]
    return out


def session_rows() -> list[dict[str, Any]]:
    rows = []
    for i, (card, station, local, amount, result) in enumerate(_sessions()):
        created = int(local.replace(tzinfo=UTC).timestamp()) - OFFSET_H[station] * 3600
        rows.append({
            "terminal_id": station, "session_id": f"s{i}", "station_id": station,
            "connector": 1, "created_s": created, "charge_start_s": created + 60,
            "charge_stop_s": created + 3600, "ended_s": created + 3700,
            "local_date": local.date().isoformat(), "local_dow": local.weekday(),
            "local_hour": local.hour, "energy_wh": 10 * amount, "amount_minor": amount,
            "currency": CURRENCY[station],
            "outcome": "captured" if result == "paid" else "declined", "result": result,
            "say": "" if result == "paid" else "declined_by_bank", "scheme": "visa",
            "interface": "contactless", "card_token": TOKEN[card] if card else "",
        })
    return rows


def insert_customers(db: Database, public_key: bytes = bytes(32),
                     extra_terminals: tuple[str, ...] = ()) -> None:
    """The sessions, and the stations registered (active) with ``public_key``."""
    with db.engine.begin() as conn:
        conn.execute(insert(terminals), [
            {"id": t, "public_key": public_key, "key_id": "0" * 64, "status": "active",
             "added_at": "2026-01-01T00:00:00+00:00", "revoked_at": None, "site": None}
            for t in (*OFFSET_H, *extra_terminals)])
        conn.execute(insert(charging_sessions), session_rows())


@contextmanager
def customers_db(url: str) -> Iterator[Database]:
    database = open_db(url)
    try:
        insert_customers(database)
        yield database
    finally:
        database.close()


def at(month: int, day: int, hour: int = 0) -> datetime:
    """An aware UTC time of 2026."""
    return datetime(2026, month, day, hour, tzinfo=UTC) + timedelta()
