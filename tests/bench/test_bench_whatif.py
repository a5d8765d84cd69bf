"""The tariff what-if's speed: :func:`kiosk.backoffice.analytics.whatif.reprice` over a year of
N synthetic sessions, on SQLite and PostgreSQL, for a flat tariff and for a night tariff with
parking (time-of-day restrictions in the stations' zones, the parking time billed).

``EVKIOSK_BENCH_WHATIF_SESSIONS`` sets N (default 1,000,000, the issue's size: a few minutes in
all); ``EVKIOSK_BENCH_WHATIF_ROUNDS`` the rounds (default 1). The sessions are the analytics
bench's (tests/bench/test_bench_analytics.py ``rows``: 80 % paid, 365 days before its ``END``),
with each station's zone (a third Europe/Berlin, the rest UTC) and a last reading up to 30
minutes after the charge stop; filled straight (SQLite ``executemany``, PostgreSQL COPY), then
ANALYZE.

Printed: sessions/s of the what-if (sessions read ÷ wall time, the query, the pricing and the
aggregation), beside the floor measured in the same run: the same query's rows streamed and
unpacked in the same chunks without pricing (what reading the rows costs), and the pricing
alone (:class:`kiosk.billing.fastprice.CompiledBook` over the same rows held in memory, the
rows of the first 100,000 sessions). Target (the issue): ≥ 20,000 sessions/s at 1,000,000 on
both. No assert on time. Under ``--benchmark-disable`` one round on 5,000 sessions.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kiosk.backoffice.analytics.queries import Period
from kiosk.backoffice.analytics.whatif import CHUNK, reprice
from kiosk.backoffice.storage import Database, charging_sessions, open_db
from kiosk.billing.fastprice import CompiledBook
from kiosk.billing.tariff import Tariff, parse_tariffs
from tests.bench.test_bench_analytics import COLUMNS, END, bulk_sessions, rows, station_ids
from tests.support.postgres import new_database

SMOKE = 5_000
FLAT = {"id": "flat", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": 0.49, "vat": 19, "step_size": 1},
    {"type": "FLAT", "price": 0.5, "vat": 19, "step_size": 1}]}]}
NIGHT = {"id": "night", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": 0.29, "vat": 19, "step_size": 1}],
     "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
    {"price_components": [{"type": "ENERGY", "price": 0.49, "vat": 19, "step_size": 1},
                          {"type": "PARKING_TIME", "price": 6, "vat": 19, "step_size": 60}],
     "restrictions": {"day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 19, "step_size": 1},
                          {"type": "PARKING_TIME", "price": 3, "vat": 19, "step_size": 60}]}]}
ALL = ((*COLUMNS, "timezone", "last_reading_s"))


def sessions_wanted(enabled: bool) -> int:
    return int(os.environ.get("EVKIOSK_BENCH_WHATIF_SESSIONS", "1000000")) if enabled \
        else SMOKE


def with_zone(n: int) -> Iterator[tuple[Any, ...]]:
    stations = {s: ("Europe/Berlin" if i % 3 == 0 else "UTC")
                for i, s in enumerate(station_ids(n))}
    for r in rows(n):
        stop = r[6]
        last = None if stop is None else stop + (int(r[1][-7:]) * 37) % 1_800
        yield (*r, stations[r[2]], last)


def fill(db: Database, n: int) -> None:
    bulk_sessions(db, ALL, with_zone(n))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, benchmark: Any) -> Iterator[tuple[Database, int]]:
    n = sessions_wanted(benchmark.enabled)
    with ExitStack() as stack:
        if request.param == "sqlite":
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-whatif-"))
            url = f"sqlite:///{Path(folder) / 'backoffice.sqlite'}"
        else:
            server = request.getfixturevalue("postgres_server")
            url = new_database(server)
            stack.callback(server.admin, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')
        db = open_db(url)
        stack.callback(db.close)
        t = time.perf_counter()
        fill(db, n)
        print(f"\n({request.param}: {n:,} sessions filled in {time.perf_counter() - t:.1f} s)")
        yield db, n


def _statement(period: Period) -> Any:
    cs = charging_sessions.c
    return select(cs.station_id, cs.card_token, cs.charge_start_s, cs.charge_stop_s,
                  cs.last_reading_s, cs.energy_wh, cs.amount_minor, cs.currency,
                  cs.timezone).where(cs.created_s >= period.from_s, cs.created_s < period.to_s,
                                     cs.result == "paid")


def fetch_rate(db: Database, period: Period) -> tuple[float, list[tuple[Any, ...]]]:
    """The floor: the what-if's rows streamed and unpacked, nothing priced (rows/s), and the
    first 100,000 of them."""
    kept: list[tuple[Any, ...]] = []
    n = 0
    t = time.perf_counter()
    with db.engine.connect() as conn:
        result = conn.execute(_statement(period).execution_options(yield_per=CHUNK))
        for part in result.partitions():
            for _sid, _token, start, stop, last, wh, _paid, _cur, tz in part:
                n += 1
                if len(kept) < 100_000:
                    kept.append((start, stop, last, wh, tz))
    return n / (time.perf_counter() - t), kept


def pricing_rate(tariffs: list[Tariff], kept: list[tuple[Any, ...]]) -> float:
    books = {z: CompiledBook.of(tariffs, ZoneInfo(z)) for z in ("UTC", "Europe/Berlin")}
    t = time.perf_counter()
    for start, stop, last, wh, tz in kept:
        books[tz].price(start, stop, last if last is not None else stop, wh)
    return len(kept) / (time.perf_counter() - t)


@pytest.mark.timeout(3600)  # the fill and the rounds at 1,000,000 sessions
def test_bench_whatif(benchmark: Any, database: tuple[Database, int]) -> None:
    db, n = database
    year = Period.last_days(365, END)
    rounds = int(os.environ.get("EVKIOSK_BENCH_WHATIF_ROUNDS", "1")) if benchmark.enabled \
        else 1
    tariffs = {name: parse_tariffs(json.dumps(t)) for name, t in (("flat", FLAT),
                                                                   ("night", NIGHT))}
    rates: dict[str, list[float]] = {name: [] for name in tariffs}
    floors: list[float] = []
    found: dict[str, Any] = {}
    kept: list[tuple[Any, ...]] = []

    def run() -> None:
        floor, got = fetch_rate(db, year)
        floors.append(floor)
        kept[:] = got
        for name, ts in tariffs.items():
            w = reprice(db, year, ts)
            found[name] = w
            rates[name].append(w.rate)

    benchmark.pedantic(run, rounds=rounds, iterations=1)
    med = statistics.median
    flat, night = found["flat"], found["night"]
    assert flat.total.sessions > 0.75 * n and flat.total.sessions == night.total.sessions
    assert night.total.proposed_minor != flat.total.proposed_minor
    priced = {name: pricing_rate(ts, kept) for name, ts in tariffs.items()}
    benchmark.extra_info.update(sessions=n, paid=flat.total.sessions,
                                flat_per_s=med(rates["flat"]), night_per_s=med(rates["night"]),
                                fetch_per_s=med(floors))
    print(f"\nbench what-if {db.dialect}: {n:,} sessions ({flat.total.sessions:,} paid, "
          f"365 days): flat tariff {med(rates['flat']):,.0f} sessions/s "
          f"({flat.seconds:.1f} s), night tariff with parking {med(rates['night']):,.0f} "
          f"sessions/s ({night.seconds:.1f} s); floor: the rows streamed without pricing "
          f"{med(floors):,.0f} rows/s; the pricing alone (in memory) flat "
          f"{priced['flat']:,.0f}/s, night {priced['night']:,.0f}/s; target ≥ 20,000 "
          f"sessions/s at 1,000,000")
