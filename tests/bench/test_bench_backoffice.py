"""Back-office figures: the import rate into SQLite and into PostgreSQL, and the upload
throughput end to end (HTTPS POSTs of envelopes to the running service).

Target (the issue): at least 20,000 records/s into PostgreSQL, in batches of 500.

The records are a real session's: one session is played on the kiosk (simulators, the payment
host over TCP) and its outbox records (session, OCPI CDR, invoice, settlement; 0.3 to 1.4 KB
of canonical JSON each) are the templates; every copy gets its own session id and invoice
number, so each record is new to the back office. The envelopes are sealed before the clock
starts: what is timed is the back office's work (open, verify every signature, check every
record, store each batch in one transaction), into a new, empty database each round.

Beside each figure, a floor measured in the same run on the same machine (it is noisy):

- import: the same record rows (the same columns and payload text) written by the bare driver
  (``executemany``, one transaction per 500 rows) into a plain table with no index or
  constraint: what the database takes to write those bytes at all; and the CPU the import
  spends before the database (open + verify + per-kind checks alone);
- upload: the same envelopes imported in process by ``import_envelope`` from as many threads
  as there are HTTP clients: what HTTPS, uvicorn and FastAPI add is the difference.

Figures are medians of three rounds, each floor taken just before its round. Under
``--benchmark-disable`` (``make test``) each test runs once on two batches, as a smoke test of
the benchmark itself (a few seconds).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.schemas import check_batch
from kiosk.backoffice.storage import Database, open_db, records
from kiosk.config import parse_config
from kiosk.records.batch import (
    Batch,
    Record,
    canonical,
    open_envelope,
    public_key_raw,
    seal,
    verify,
)
from kiosk.runtime import build_runtime
from kiosk.session import events as ev
from kiosk.session.machine import State
from tests.support.backoffice import running_service
from tests.support.postgres import PostgresServer, new_database
from tests.support.rig import Rig

PER_BATCH = 500
BATCHES = 40  # 20,000 records a round
ROUNDS = 3
CLIENTS = 4  # upload: one terminal per client, each sending its batches in order
TARGET_PG = 20_000
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CREATED = "2026-12-01T20:00:00+00:00"
_PLAIN = ("CREATE TABLE bench_plain (terminal_id TEXT NOT NULL, record_id TEXT NOT NULL, "
          "session_id TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL, "
          "payload TEXT NOT NULL, batch_sequence BIGINT NOT NULL, stored_at TEXT)")
_PLAIN_COLUMNS = ("terminal_id", "record_id", "session_id", "kind", "created_at", "payload",
                  "batch_sequence", "stored_at")


# --- a real session's records, copied --------------------------------------------------------

@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Record, ...]:
    """The outbox records of one real session on the kiosk (its simulators and host)."""
    host = HostSimulator()
    host.start()
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n",
                       demo=True)
    journal = tmp_path_factory.mktemp("kiosk") / "journal.sqlite"
    rt = build_runtime(cfg, clock=clock.now, journal_path=journal, card_terminal=terminal,
                       charger=charger, watch=False)
    try:
        rig = Rig(rt, clock, charger, terminal)
        s = rig.charging()
        charger.advance(900)
        rig.until(lambda: (a := rt.runner.active()) is not None and a.energy_wh > 0, "energy")
        rt.runner.post(ev.StopRequested(s.id))
        rig.reach(State.RECEIPT)
        rt.runner.post(ev.Dismissed(s.id))
        rig.final()
        rig.settled()
        rows = rt.journal.outbox()
    finally:
        rt.close()
        host.stop()
    assert {r.kind for r in rows} == {"session", "cdr", "invoice", "settlement"}
    return tuple(Record(f"{r.session_id}:{r.kind}", r.session_id, r.kind, r.created_at,
                        r.payload) for r in rows)


def copies(templates: tuple[Record, ...], terminal_id: str, start: int,
           n: int) -> list[Record]:
    """``n`` records from the templates, session by session, each session with an id and an
    invoice number of its own (``start`` numbers the first session)."""
    sid = templates[0].session_id
    number = next(r.payload["number"] for r in templates if r.kind == "invoice")
    texts = [(r.kind, r.created_at, json.dumps(r.payload)) for r in templates]
    out: list[Record] = []
    i = start
    while len(out) < n:
        new_sid, new_number = f"{i:032x}", f"{terminal_id}-{i:08d}"
        for kind, created, text in texts:
            payload = json.loads(text.replace(sid, new_sid).replace(number, new_number))
            out.append(Record(f"{new_sid}:{kind}", new_sid, kind, created, payload))
        i += 1
    return out[:n]


@dataclass(frozen=True)
class Upload:
    """Sealed envelopes of one terminal, in sequence order, and what they hold."""

    terminal_id: str
    key: Ed25519PrivateKey
    envelopes: list[bytes]
    records: list[Record]


def upload(templates: tuple[Record, ...], terminal_id: str, batches: int,
           first_session: int) -> Upload:
    key = Ed25519PrivateKey.generate()
    recs = copies(templates, terminal_id, first_session, batches * PER_BATCH)
    envelopes = [seal(Batch(terminal_id, seq + 1, CREATED,
                            tuple(recs[seq * PER_BATCH:(seq + 1) * PER_BATCH])), key)
                 for seq in range(batches)]
    return Upload(terminal_id, key, envelopes, recs)


# --- fresh databases -------------------------------------------------------------------------

class Databases:
    """New, empty back-office databases of one dialect, each closed (PostgreSQL: dropped) when
    the test ends."""

    def __init__(self, dialect: str, request: pytest.FixtureRequest, stack: ExitStack) -> None:
        self.dialect = dialect
        self.stack = stack
        self.server: PostgresServer | None = None
        self.folder = Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="bench-backoffice-")))
        if dialect == "postgresql":
            self.server = request.getfixturevalue("postgres_server")
        self._n = 0

    def new(self, *uploads: Upload) -> Database:
        self._n += 1
        if self.server is None:
            url = f"sqlite:///{self.folder / f'backoffice-{self._n}.sqlite'}"
        else:
            url = new_database(self.server)
        db = open_db(url)
        self.stack.callback(self._drop, db, url)
        for u in uploads:
            add_terminal(db, u.terminal_id, public_key_raw(u.key.public_key()))
        return db

    def _drop(self, db: Database, url: str) -> None:
        db.close()
        if self.server is not None:
            self.server.admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest) -> Iterator[Databases]:
    with ExitStack() as stack:
        yield Databases(str(request.param), request, stack)


def stored_records(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(records)).scalar() or 0)


# --- the floors ------------------------------------------------------------------------------

def plain_rows(u: Upload) -> list[list[tuple[Any, ...]]]:
    """The rows the importer writes for ``u``'s records, batch by batch, as the driver takes
    them (the payload as canonical JSON text, as stored)."""
    stored_at = datetime.now(UTC).isoformat(timespec="microseconds")
    return [[(u.terminal_id, r.id, r.session_id, r.kind, r.created_at,
              canonical(r.payload).decode("utf-8"), seq + 1, stored_at)
             for r in u.records[seq * PER_BATCH:(seq + 1) * PER_BATCH]]
            for seq in range(len(u.envelopes))]


def plain_insert_seconds(db: Database, batches: list[list[tuple[Any, ...]]]) -> float:
    """Seconds to write ``batches`` with the bare driver into a plain table of ``db``'s
    database: one ``executemany`` and one transaction per batch (SQLite: its own file beside,
    in WAL with synchronous=FULL like the back office's)."""
    columns = ", ".join(_PLAIN_COLUMNS)
    if db.dialect == "sqlite":
        path = Path(str(db.engine.url.database)).with_suffix(".plain.sqlite")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(_PLAIN)
            sql = f"INSERT INTO bench_plain ({columns}) VALUES ({', '.join('?' * 8)})"
            t = time.perf_counter()
            for rows in batches:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            return time.perf_counter() - t
        finally:
            conn.close()
    with db.engine.connect() as sa_conn:
        pg: Any = sa_conn.connection.driver_connection  # psycopg.Connection
        pg.execute(_PLAIN)
        pg.commit()
        sql = f"INSERT INTO bench_plain ({columns}) VALUES ({', '.join(['%s'] * 8)})"
        t = time.perf_counter()
        for rows in batches:
            with pg.cursor() as cur:
                cur.executemany(sql, rows)
            pg.commit()
        return time.perf_counter() - t


def verify_seconds(u: Upload) -> float:
    """Seconds the import spends before the database: open, verify, per-kind checks."""
    public = u.key.public_key()
    t = time.perf_counter()
    for data in u.envelopes:
        check_batch(verify(open_envelope(data), public))
    return time.perf_counter() - t


def med(samples: list[float]) -> float:
    return statistics.median(samples)


# --- (a) the import rate ---------------------------------------------------------------------

def test_bench_backoffice_import(benchmark: Any, templates: tuple[Record, ...],
                                 databases: Databases) -> None:
    n_batches = BATCHES if benchmark.enabled else 2
    u = upload(templates, "BENCH-0001", n_batches, 1)
    rows = plain_rows(u)
    total = len(u.records)
    imports: list[float] = []
    plains: list[float] = []
    verifies: list[float] = []

    def setup() -> tuple[tuple[Database], dict[str, Any]]:
        # the floors of this round, just before it (interleaved: the same machine state)
        plains.append(plain_insert_seconds(databases.new(), rows))
        verifies.append(verify_seconds(u))
        return (databases.new(u),), {}

    def run(db: Database) -> None:
        t = time.perf_counter()
        for data in u.envelopes:
            result = import_envelope(db, data)
            assert result.status == "stored", result
        imports.append(time.perf_counter() - t)
        assert stored_records(db) == total

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS if benchmark.enabled else 1,
                       iterations=1)
    rate = total / med(imports)
    plain, checked = total / med(plains), total / med(verifies)
    size = sum(len(canonical(r.payload)) for r in u.records) / total
    benchmark.extra_info.update(records_per_s=round(rate), plain_rows_per_s=round(plain),
                                verify_records_per_s=round(checked))
    target = f"; target ≥ {TARGET_PG:,}" if databases.dialect == "postgresql" else ""
    print(f"\nbench backoffice-import {databases.dialect}: {rate:,.0f} records/s "
          f"({n_batches} batches × {PER_BATCH} records, {size / 1024:.1f} KB each on average; "
          f"floor: plain INSERT of the same rows {plain:,.0f} rows/s, open+verify+check alone "
          f"{checked:,.0f} records/s{target})")


# --- (b) the upload throughput end to end ----------------------------------------------------

def in_threads(uploads: list[Upload], post: Callable[[Upload, int, bytes], None]) -> float:
    """Seconds for one thread per upload to send its envelopes in order through ``post``."""
    errors: list[BaseException] = []
    go = threading.Barrier(len(uploads) + 1)

    def client(u: Upload) -> None:
        go.wait()
        try:
            for seq, data in enumerate(u.envelopes, 1):
                post(u, seq, data)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(u,)) for u in uploads]
    for th in threads:
        th.start()
    go.wait()
    t = time.perf_counter()
    for th in threads:
        th.join(120)
    seconds = time.perf_counter() - t
    assert not errors, errors
    return seconds


def test_bench_backoffice_upload(benchmark: Any, templates: tuple[Record, ...],
                                 databases: Databases, tmp_path: Path) -> None:
    per_client = BATCHES // CLIENTS if benchmark.enabled else 1
    clients = CLIENTS if benchmark.enabled else 2
    uploads = [upload(templates, f"BENCH-{c + 1:04d}", per_client, 1 + c * 10**6)
               for c in range(clients)]
    total = sum(len(u.records) for u in uploads)
    n_batches = clients * per_client
    posted: list[float] = []
    direct: list[float] = []
    stack = ExitStack()

    def in_process(_u: Upload, _seq: int, data: bytes, db: Database) -> None:
        result = import_envelope(db, data)
        assert result.status == "stored", result

    def setup() -> tuple[tuple[str, Any], dict[str, Any]]:
        stack.close()  # the previous round's service
        floor_db = databases.new(*uploads)
        direct.append(in_threads(uploads, lambda u, s, d: in_process(u, s, d, floor_db)))
        assert stored_records(floor_db) == total
        db = databases.new(*uploads)
        handle = stack.enter_context(running_service(db, tmp_path / f"svc-{len(direct)}"))
        return (handle.url, handle.client_context()), {}

    def run(url: str, ctx: Any) -> None:
        local = threading.local()
        clients_made: list[httpx.Client] = []
        lock = threading.Lock()

        def post(u: Upload, seq: int, data: bytes) -> None:
            client = getattr(local, "client", None)
            if client is None:  # one keep-alive connection per terminal
                client = local.client = httpx.Client(base_url=url, verify=ctx, timeout=60)
                with lock:
                    clients_made.append(client)
            answer = client.post("/v1/batches", content=data,
                                 headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text
            assert (answer.json()["status"], answer.json()["acked"]) == ("stored", seq)

        try:
            posted.append(in_threads(uploads, post))
        finally:
            for c in clients_made:
                c.close()

    try:
        benchmark.pedantic(run, setup=setup, rounds=ROUNDS if benchmark.enabled else 1,
                           iterations=1)
    finally:
        stack.close()
    rate, floor = total / med(posted), total / med(direct)
    benchmark.extra_info.update(records_per_s=round(rate), batches_per_s=n_batches / med(posted),
                                in_process_records_per_s=round(floor))
    print(f"\nbench backoffice-upload {databases.dialect}: {rate:,.0f} records/s, "
          f"{n_batches / med(posted):.1f} batches/s ({clients} HTTPS clients with keep-alive, "
          f"{per_client} batch{'es' if per_client > 1 else ''} × {PER_BATCH} records each; "
          f"floor: the same envelopes "
          f"imported in process from {clients} threads {floor:,.0f} records/s)")


# --- (c) the import rate with several importer processes ----------------------------------

IMPORTERS = 2  # as many as the machine has cores (serve --workers N does the same work)


def write_envelopes(path: Path, envelopes: list[bytes]) -> Path:
    path.write_bytes(b"".join(len(e).to_bytes(8, "big") + e for e in envelopes))
    return path


def parallel_import_seconds(url: str, uploads: list[Upload], folder: Path) -> float:
    """Seconds from the start signal until the last of one importer process per upload has
    stored all its envelopes into ``url`` (the processes start and open the database first)."""
    import os
    import subprocess
    import sys

    child = Path(__file__).with_name("import_child.py")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = []
    try:
        for i, u in enumerate(uploads):
            file = write_envelopes(folder / f"envelopes-{i}.bin", u.envelopes)
            procs.append(subprocess.Popen(
                [sys.executable, str(child), url, str(file)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, env=env))
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        spans = []
        for p in procs:
            assert p.stdout is not None
            line = json.loads(p.stdout.readline())
            assert "error" not in line, line
            spans.append((line["start"], line["end"]))
            assert p.wait(60) == 0
        return max(e for _, e in spans) - min(s for s, _ in spans)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for stream in (p.stdin, p.stdout):
                if stream is not None:
                    stream.close()


@pytest.fixture
def pg_databases(request: pytest.FixtureRequest) -> Iterator[Databases]:
    """PostgreSQL only: SQLite takes one writer at a time (parallel importers would measure
    its lock, not the import)."""
    with ExitStack() as stack:
        yield Databases("postgresql", request, stack)


def test_bench_backoffice_import_parallel(benchmark: Any, templates: tuple[Record, ...],
                                          pg_databases: Databases, tmp_path: Path) -> None:
    databases = pg_databases
    per = BATCHES // IMPORTERS if benchmark.enabled else 1
    uploads = [upload(templates, f"BENCH-P{i + 1:03d}", per, 1 + i * 10**6)
               for i in range(IMPORTERS)]
    total = sum(len(u.records) for u in uploads)
    spans: list[float] = []
    singles: list[float] = []

    def setup() -> tuple[tuple[Database], dict[str, Any]]:
        one = databases.new(*uploads)  # the floor: the same envelopes, one importer
        t = time.perf_counter()
        for u in uploads:
            for data in u.envelopes:
                assert import_envelope(one, data).status == "stored"
        singles.append(time.perf_counter() - t)
        return (databases.new(*uploads),), {}

    def run(db: Database) -> None:
        url = db.engine.url.render_as_string(hide_password=False)
        spans.append(parallel_import_seconds(url, uploads, tmp_path))
        assert stored_records(db) == total

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS if benchmark.enabled else 1,
                       iterations=1)
    rate, floor = total / med(spans), total / med(singles)
    benchmark.extra_info.update(records_per_s=round(rate), one_importer_records_per_s=round(floor))
    print(f"\nbench backoffice-import-parallel {databases.dialect}: {rate:,.0f} records/s "
          f"({IMPORTERS} importer processes, {per} batches × {PER_BATCH} records each; floor: "
          f"the same envelopes by one importer {floor:,.0f} records/s; target ≥ {TARGET_PG:,})")
