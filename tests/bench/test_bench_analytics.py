"""The analytics report's cost: every query of the report (``compute``) and the whole report
(queries, charts, CSVs, HTML) on a database of N synthetic sessions, on SQLite and PostgreSQL.

``EVKIOSK_BENCH_ANALYTICS_SESSIONS`` sets N (default 100,000: a minute in all). The sessions fill
``charging_sessions`` straight (SQLite: ``executemany`` in one transaction; PostgreSQL: COPY),
one row per session over the 365 days before ``END``: N ÷ 5,000 stations (at least 10) of two
connectors at sites of five, one after the other on each connector (the same number a
connector, Start to Start every 365 days ÷ sessions), 80 % paid, times and energy drawn from a
fixed seed; 30 health changes per station. Then ANALYZE (PostgreSQL: VACUUM ANALYZE, as
autovacuum would after a bulk load).

Timed: ``compute`` over the last 30 days (the report's default) and over the whole year, and
``write_report`` over the 30 days; each statement's own time for the 30 days. The floor beside
them, measured in the same run: ``SELECT count(*), sum(energy_wh) FROM charging_sessions`` (the
whole table: what reading every row once costs the database). Target (the issue): the report
within 10 s on PostgreSQL at 1,000,000 sessions. Medians of three rounds; no assert on time.
Under ``--benchmark-disable`` (``make test``) one round on 5,000 sessions, a smoke test.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text

from kiosk.backoffice.analytics import Period, compute
from kiosk.backoffice.analytics import queries as q
from kiosk.backoffice.analytics.report import write_report
from kiosk.backoffice.storage import Database, health_events, open_db, terminals
from tests.support.postgres import new_database

END = date(2026, 12, 1)  # the data's and the reports' end (excluded)
ROUNDS = 3
SMOKE = 5_000
COLUMNS = ("terminal_id", "session_id", "station_id", "connector", "created_s",
           "charge_start_s", "charge_stop_s", "ended_s", "local_date", "local_dow", "local_hour",
           "energy_wh", "amount_minor", "currency", "outcome", "result", "say", "scheme",
           "interface", "card_token")
FAILURES = (("declined", "declined_by_bank", "declined"), ("declined", "insufficient_funds",
            "declined"), ("card", "card_unreadable", "aborted"),
            ("host", "service_timeout", "aborted"), ("charger", "charger_fault", "aborted"),
            ("driver", "cancelled", "aborted"), ("none", "", "aborted"))


def sessions_wanted(enabled: bool) -> int:
    return int(os.environ.get("EVKIOSK_BENCH_ANALYTICS_SESSIONS", "100000")) if enabled \
        else SMOKE


def station_ids(n: int) -> list[str]:
    return [f"BENCH-{i:04d}" for i in range(max(10, n // 5_000))]


def rows(n: int, seed: int = 1) -> Iterator[tuple[Any, ...]]:
    """``n`` sessions, connector by connector, over the 365 days before END."""
    rng = random.Random(seed)
    stations = station_ids(n)
    connectors = [(s, c) for s in stations for c in (1, 2)]
    end = int(datetime(END.year, END.month, END.day, tzinfo=UTC).timestamp())
    start = end - 365 * 86_400
    per = -(-n // len(connectors))
    step = 365 * 86_400 // per
    dates: dict[int, str] = {}
    made = 0
    for k, (station, connector) in enumerate(connectors):
        offset = 3_600 if k % 3 else 0  # some stations at UTC+1
        t = start + rng.randrange(step)
        for i in range(per):
            if made == n:
                return
            made += 1
            created = t + rng.randrange(step // 2)
            local = created + offset
            day = local // 86_400
            if day not in dates:
                dates[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
            r = rng.random()
            if r < 0.8:
                result, say, outcome = "paid", "", "captured"
            else:
                result, say, outcome = FAILURES[int((r - 0.8) / 0.2 * len(FAILURES))]
            charged = result == "paid"
            cs = created + 60 if charged else None
            charge_s = rng.randrange(900, 7_200)
            stop = cs + charge_s if cs is not None else None
            ended = (stop + rng.randrange(0, 1_800)) if stop is not None else created + 90
            energy = charge_s * 3 if charged else 0
            yield (station, f"s{k:05d}-{i:07d}", station, connector, created, cs, stop, ended,
                   dates[day], (day + 3) % 7, (local % 86_400) // 3_600, energy,
                   energy // 2 if charged else 0, "EUR", outcome, result, say,
                   ("visa", "mastercard", "maestro")[i % 3],
                   ("contact", "contactless")[i % 2 or (i % 5 == 0)], f"tok{i % 997}")
            t += step


def fill(db: Database, n: int) -> None:
    stations = station_ids(n)
    with db.engine.begin() as conn:
        conn.execute(insert(terminals), [
            {"id": s, "public_key": bytes(32), "key_id": "0" * 64, "status": "active",
             "added_at": "2025-01-01T00:00:00+00:00", "site": f"site-{i // 5:03d}"}
            for i, s in enumerate(stations)])
        end = int(datetime(END.year, END.month, END.day, tzinfo=UTC).timestamp())
        conn.execute(insert(health_events), [
            {"terminal_id": s, "record_id": f"h{j}", "station_id": s,
             "at_s": end - 365 * 86_400 + j * 12 * 86_400 + i * 600, "part": "charger",
             "ok": j % 2 == 1, "planned": j % 4 == 2, "in_service": j % 2 == 1,
             "faulted": j % 4 == 0} for i, s in enumerate(stations) for j in range(30)])
    bulk_sessions(db, COLUMNS, rows(n))


def bulk_sessions(db: Database, columns: Sequence[str], made: Iterable[tuple[Any, ...]]) -> None:
    """``made`` into charging_sessions as fast as each database takes rows (one executemany
    transaction on SQLite, COPY on PostgreSQL), then the planner's statistics (ANALYZE)."""
    cols = ", ".join(columns)
    with db.engine.connect() as sa_conn:
        raw: Any = sa_conn.connection.driver_connection
        if db.dialect == "sqlite":
            raw.execute("BEGIN")
            raw.executemany(f"INSERT INTO charging_sessions ({cols}) VALUES "
                            f"({', '.join('?' * len(columns))})", made)
            raw.execute("COMMIT")
            raw.execute("ANALYZE")
        else:
            with raw.cursor() as cur, cur.copy(
                    f"COPY charging_sessions ({cols}) FROM STDIN") as copy:
                for row in made:
                    copy.write_row(row)
            raw.commit()
            raw.autocommit = True
            raw.execute("VACUUM ANALYZE charging_sessions")
            raw.execute("VACUUM ANALYZE health_events")
            raw.autocommit = False


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, benchmark: Any) -> Iterator[tuple[Database, int]]:
    n = sessions_wanted(benchmark.enabled)
    with ExitStack() as stack:
        if request.param == "sqlite":
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-analytics-"))
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


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def floor_seconds(db: Database) -> float:
    with db.engine.connect() as conn:
        return timed(lambda: conn.execute(text(
            "SELECT count(*), sum(energy_wh) FROM charging_sessions")).all())


def statement_seconds(db: Database, period: Period) -> list[tuple[float, str]]:
    """Each statement of the report on its own (its params as compute binds them)."""
    params = period.params(since_s=period.from_s - q.HISTORY_DAYS * 86_400,
                           gap_s=300)
    out = []
    with q.snapshot(db) as conn:
        for make in q.STATEMENTS:
            stmt = make(None)
            out.append((timed(lambda s=stmt: conn.execute(s, params).all()), make.__name__))
    return sorted(out, reverse=True)


@pytest.mark.timeout(3600)  # the fill and three rounds at 1,000,000 sessions
def test_bench_analytics_report(benchmark: Any, database: tuple[Database, int],
                                tmp_path: Path) -> None:
    db, n = database
    month = Period.last_days(30, END)
    year = Period.last_days(365, END)
    rounds = ROUNDS if benchmark.enabled else 1
    floors: list[float] = []
    months: list[float] = []
    years: list[float] = []
    reports: list[float] = []

    def run() -> None:
        floors.append(floor_seconds(db))
        months.append(timed(lambda: compute(db, month)))
        years.append(timed(lambda: compute(db, year)))
        reports.append(timed(lambda: write_report(db, tmp_path / "report", month)))

    benchmark.pedantic(run, rounds=rounds, iterations=1)
    a = compute(db, month)
    assert a.outcomes[0].sessions > 0 and (tmp_path / "report" / "index.html").is_file()
    med = statistics.median
    slowest = ", ".join(f"{name.removesuffix('_statement')} {s:.2f}"
                        for s, name in statement_seconds(db, month)[:4])
    benchmark.extra_info.update(sessions=n, compute_30d_s=med(months), compute_365d_s=med(years),
                                report_30d_s=med(reports), floor_s=med(floors))
    target = "; target: report ≤ 10 s at 1,000,000" if db.dialect == "postgresql" else ""
    print(f"\nbench analytics-report {db.dialect}: {n:,} sessions "
          f"({len(station_ids(n))} stations × 2 connectors, 365 days): compute "
          f"{med(months):.2f} s for the last 30 days ({a.outcomes[0].sessions:,} sessions), "
          f"{med(years):.2f} s for the whole year; the report (queries, charts, CSV, HTML) "
          f"{med(reports):.2f} s for 30 days; floor: count(*) + sum(energy_wh) of the whole "
          f"table {med(floors):.3f} s{target}. Slowest statements (30 days, s): {slowest}")
