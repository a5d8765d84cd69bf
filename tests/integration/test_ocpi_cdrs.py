"""The OCPI 2.2.1 CDRs module (Sender interface) over real TCP, on SQLite and PostgreSQL, with a
client of our own (:mod:`tests.support.ocpi_client`) and a hand-made fleet: two terminals upload
signed batches of CDRs (with other records between them) through the importer, and what the
client crawls is compared with the database's rows.

- a crawl (limit 40, over TLS) gets every CDR exactly once, oldest first by creation, each
  as stored but for ``last_updated`` (the time stored, to the millisecond); X-Total-Count,
  X-Limit (lowered), Link (on the public URL, with the filters), discovery through versions;
- date windows: ``date_from`` inclusive, ``date_to`` exclusive, exactly at the stored times
  read from the database, in every accepted spelling (Z, no zone, an offset, a '+' arrived as
  a space, microseconds);
- consecutive polls, each ``date_from`` the previous ``date_to``, while batches arrive between
  them (an offline terminal's old sessions, a gap held then released, a client clock ahead):
  nothing missed, nothing twice;
- HTTP 401 and nothing else for no token, a wrong, revoked or malformed one; 400/2001 naming
  the parameter for bad ones; X-Request-ID and X-Correlation-ID echoed;
- the CLI: ``kiosk-backoffice ocpi-token add | list | revoke`` as subprocesses;
- hypothesis: the parsers, and any query or Authorization header over TCP, answer 200/400/401,
  never a 500.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.ocpi import (
    MAX_PARAM_CHARS,
    CdrQuery,
    QueryError,
    parse_datetime,
    parse_query,
    served_time,
)
from kiosk.backoffice.ocpi_tokens import (
    TokenError,
    add_token,
    authenticate,
    header_candidates,
    list_tokens,
    revoke_token,
)
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.service import ServiceSettings
from kiosk.backoffice.storage import Database, open_db, records
from kiosk.records.batch import Batch, Record, seal
from tests.support.backoffice import ServiceHandle, running_service
from tests.support.ocpi_client import OcpiClient, header_value, ocpi_time, parse_time
from tests.support.records import record

ROOT = Path(__file__).resolve().parents[2]
TERMINALS = ("DEMO-0001", "DEMO-0002")
MAX_LIMIT = 100


# --- the fleet: terminals uploading signed batches through the importer -------------------------

@dataclass
class Fleet:
    db: Database
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    sequence: dict[str, int] = field(default_factory=dict)
    uploaded: list[str] = field(default_factory=list)  # CDR ids, in the order sent
    count: int = 0

    def __post_init__(self) -> None:
        for terminal in TERMINALS:
            key = Ed25519PrivateKey.generate()
            add_terminal(self.db, terminal,
                         key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
            self.keys[terminal], self.sequence[terminal] = key, 0

    def envelope(self, terminal: str, cdrs: int, *, sequence: int | None = None,
                 days_ago: int = 0) -> tuple[bytes, list[str]]:
        """A batch of ``cdrs`` CDRs (a session record before every third, as noise); the next
        sequence unless one is given."""
        if sequence is None:
            self.sequence[terminal] += 1
            sequence = self.sequence[terminal]
        ended = datetime(2026, 12, 1, 20, tzinfo=UTC) - timedelta(days=days_ago)
        items: list[Record] = []
        ids = []
        for i in range(cdrs):
            self.count += 1
            session = f"{terminal}-{self.count:06d}"
            if i % 3 == 0:
                items.append(record("session", session))
            items.append(record(
                "cdr", session,
                start_date_time=ocpi_time(ended - timedelta(hours=1)).replace(".000000", ""),
                end_date_time=ocpi_time(ended).replace(".000000", ""), total_energy=12.5,
                meter_start_wh=1000 * self.count, charging_periods=[
                    {"start_date_time": "2026-12-01T19:00:00Z",
                     "dimensions": [{"type": "ENERGY", "volume": 12.5}]}]))
            ids.append(session)
        return seal(Batch(terminal, sequence, "2026-12-01T20:00:00+00:00", tuple(items)),
                    self.keys[terminal]), ids

    def upload(self, terminal: str, cdrs: int, *, sequence: int | None = None,
               days_ago: int = 0, expect: str = "stored") -> list[str]:
        data, ids = self.envelope(terminal, cdrs, sequence=sequence, days_ago=days_ago)
        result = import_envelope(self.db, data)
        assert result.status == expect, result.line()
        self.uploaded.extend(ids)
        return ids


def stored_cdrs(db: Database) -> list[tuple[dict[str, Any], datetime]]:
    """Every CDR in creation order (records.id) with its stored_at, from the database."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(records.c.payload, records.c.stored_at)
                            .where(records.c.kind == "cdr").order_by(records.c.id)).all()
    return [(json.loads(p), datetime.fromisoformat(s)) for p, s in rows]


def to_millisecond(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@pytest.fixture
def db(backoffice_url: str) -> Iterator[Database]:
    database = open_db(backoffice_url)
    yield database
    database.close()


@pytest.fixture
def fleet(db: Database) -> Fleet:
    return Fleet(db)


@pytest.fixture
def token(db: Database) -> str:
    return add_token(db, "DE-ABC")[1]


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Iterator[ServiceHandle]:
    with running_service(db, tmp_path, tls=False,
                         settings=ServiceSettings(ocpi_max_limit=MAX_LIMIT)) as handle:
        yield handle


@pytest.fixture
def client(token: str) -> Iterator[OcpiClient]:
    with OcpiClient(token) as c:
        yield c


def cdrs_url(service: ServiceHandle) -> str:
    return f"{service.url}/ocpi/2.2.1/cdrs"


# --- the crawl --------------------------------------------------------------------------------

def test_a_crawl_gets_every_cdr_once_in_creation_order(db: Database, fleet: Fleet, token: str,
                                                       tmp_path: Path) -> None:
    sizes = {"DEMO-0001": [30, 45, 20, 35, 20], "DEMO-0002": [25, 40, 10, 25]}
    for i in range(5):
        for terminal in TERMINALS:
            if i < len(sizes[terminal]):
                fleet.upload(terminal, sizes[terminal][i])
    stored = stored_cdrs(db)
    assert len(stored) == 250 and sorted(c["id"] for c, _ in stored) == sorted(fleet.uploaded)

    with running_service(db, tmp_path, tls=True,
                         settings=ServiceSettings(ocpi_max_limit=MAX_LIMIT)) as svc, \
            OcpiClient(token, verify=svc.client_context()) as client:
        url = client.discover(f"{svc.url}/ocpi/versions")
        assert url == f"{svc.url}/ocpi/2.2.1/cdrs" and url.startswith("https://")

        crawl = client.crawl(url, limit=40)
        assert crawl.ids == [c["id"] for c, _ in stored]  # all, once, oldest first
        assert len(set(crawl.ids)) == 250
        assert [len(p.data) for p in crawl.pages] == [40] * 6 + [10]
        assert {(p.total, p.limit) for p in crawl.pages} == {(250, 40)}
        assert [p.next_url for p in crawl.pages] == [
            f"{url}?offset={40 * (i + 1)}&limit=40" for i in range(6)] + [None]
        assert len({p.correlation_id for p in crawl.pages}) == 1
        for served, (cdr, stored_at) in zip(crawl.cdrs, stored, strict=True):
            assert parse_time(served["last_updated"]) == to_millisecond(stored_at)
            assert len(served["last_updated"]) <= 25 and served["last_updated"].endswith("Z")
            # served as stored: every other field as the terminal sent it
            assert {k: v for k, v in served.items() if k != "last_updated"} == {
                k: v for k, v in cdr.items() if k != "last_updated"}

        big = client.get(url, {"limit": "10000"})
        assert (big.http_status, big.total, big.limit, len(big.data)) == (200, 250, 100, 100)
        assert big.next_url == f"{url}?offset=100&limit=100"
        default = client.get(url)
        assert (default.limit, len(default.data)) == (100, 100)
        assert client.get(url + "/", {"limit": "5"}).limit == 5  # the spec's trailing slash
        count_only = client.get(url, {"limit": "0"})
        assert (count_only.data, count_only.total, count_only.next_url) == ([], 250, None)
        tail = client.get(url, {"offset": "245", "limit": "40"})
        assert ([c["id"] for c in tail.data], tail.next_url) == (crawl.ids[245:], None)
        assert client.get(url, {"offset": "1000"}).data == []

        # the Link keeps the filters, in the client's own spelling
        filtered = client.crawl(url, date_from="2000-01-01T00:00:00Z",
                                date_to="2100-01-01T00:00:00", limit=100)
        assert filtered.ids == crawl.ids
        assert filtered.pages[0].next_url == (
            f"{url}?date_from=2000-01-01T00:00:00Z&date_to=2100-01-01T00:00:00"
            f"&offset=100&limit=100")


# --- date windows -----------------------------------------------------------------------------

def test_date_windows_are_inclusive_from_and_exclusive_to(db: Database, fleet: Fleet,
                                                          service: ServiceHandle,
                                                          client: OcpiClient) -> None:
    for i in range(6):
        fleet.upload(TERMINALS[i % 2], 4 + i)
        time.sleep(0.003)  # distinct milliseconds, so that each batch is a boundary of its own
    stored = stored_cdrs(db)
    served = [(c["id"], to_millisecond(t)) for c, t in stored]
    times = sorted({t for _, t in served})
    assert len(times) == 6
    url = cdrs_url(service)

    def ids(**params: str) -> list[str]:
        answer = client.get(url, params)
        assert answer.http_status == 200 and answer.total == len(answer.data), answer.body
        return [c["id"] for c in answer.data]

    def expected(lo: datetime | None = None, hi: datetime | None = None) -> list[str]:
        return [i for i, t in served if (lo is None or lo <= t) and (hi is None or t < hi)]

    def z(t: datetime) -> str:
        return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    for k, t in enumerate(times):
        assert ids(date_from=z(t)) == expected(lo=t)  # inclusive: batch k is in
        assert ids(date_to=z(t)) == expected(hi=t)  # exclusive: batch k is out
        assert ids(date_from=z(t), date_to=z(t)) == []  # an empty window
        assert len(expected(lo=t)) + len(expected(hi=t)) == len(served)
        for later in times[k + 1:]:
            assert ids(date_from=z(t), date_to=z(later)) == expected(t, later)
    t = times[2]
    # other spellings of the same instant
    assert ids(date_from=z(t).removesuffix("Z")) == expected(lo=t)  # no zone: UTC
    plus2 = t.astimezone(timezone(timedelta(hours=2)))
    assert ids(date_from=plus2.isoformat(timespec="milliseconds")) == expected(lo=t)
    raw = client.get(f"{url}?date_from={plus2.isoformat(timespec='milliseconds')}")  # '+' → ' '
    assert [c["id"] for c in raw.data] == expected(lo=t)
    minus = t.astimezone(timezone(-timedelta(hours=5, minutes=30)))
    assert ids(date_to=minus.isoformat(timespec="milliseconds")) == expected(hi=t)
    # finer than the served millisecond: compared with the served last_updated
    for finer in (t + timedelta(microseconds=1), t - timedelta(microseconds=1),
                  t + timedelta(microseconds=999)):
        text = finer.isoformat(timespec="microseconds").replace("+00:00", "Z")
        assert ids(date_from=text) == expected(lo=finer)
        assert ids(date_to=text) == expected(hi=finer)
    assert ids(date_from=z(t).replace("Z", "000001Z")) == expected(lo=t + timedelta(
        microseconds=1))  # nanoseconds: 9 digits
    # the stored time itself (to the microsecond), as read from the database
    stored_at = next(s for _, s in stored if to_millisecond(s) == t)
    text = stored_at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert ids(date_from=text) == expected(lo=stored_at)


# --- consecutive polls ------------------------------------------------------------------------

def test_consecutive_polls_miss_nothing_and_double_nothing(db: Database, fleet: Fleet,
                                                           service: ServiceHandle,
                                                           client: OcpiClient) -> None:
    url = cdrs_url(service)
    seen: list[list[str]] = []
    state: dict[str, str | None] = {"from": None}

    def poll(ahead_s: float = 0.0) -> list[str]:
        date_to = ocpi_time(datetime.now(UTC) + timedelta(seconds=ahead_s))
        crawl = client.crawl(url, date_from=state["from"], date_to=date_to, limit=40)
        state["from"] = date_to
        seen.append(crawl.ids)
        return crawl.ids

    a1 = fleet.upload("DEMO-0001", 30)
    b1 = fleet.upload("DEMO-0002", 20)
    assert poll() == a1 + b1
    old = fleet.upload("DEMO-0001", 15, days_ago=3)  # an offline terminal's old sessions
    held = fleet.upload("DEMO-0002", 7, sequence=3, expect="held")  # a gap: kept aside
    assert poll(ahead_s=0.25) == old  # a client clock ahead: the answer waits for it
    right_after = fleet.upload("DEMO-0001", 10)  # stored the moment the poll was answered
    b2 = fleet.upload("DEMO-0002", 9)  # sequence 2 closes the gap: 3 is stored after it
    fleet.sequence["DEMO-0002"] = 3
    assert poll() == right_after + b2 + held
    assert poll() == []
    many = fleet.upload("DEMO-0001", 50) + fleet.upload("DEMO-0002", 45)
    assert poll() == many  # three pages of 40
    everything = [i for ids in seen for i in ids]
    assert len(everything) == len(set(everything)) == len(fleet.uploaded) == 186
    assert everything == [c["id"] for c, _ in stored_cdrs(db)]


def test_polls_while_terminals_upload_concurrently(backoffice_url: str, db: Database,
                                                   fleet: Fleet, service: ServiceHandle,
                                                   client: OcpiClient) -> None:
    url = cdrs_url(service)
    stop = threading.Event()
    errors: list[BaseException] = []

    lock = threading.Lock()

    def upload(terminal: str) -> None:  # one terminal per thread: its sequence in order
        try:
            while not stop.is_set():
                with lock:
                    data, _ = fleet.envelope(terminal, 3)
                result = import_envelope(db, data)
                assert result.status == "stored", result.line()
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=upload, args=(t,)) for t in TERMINALS]
    for w in writers:
        w.start()
    seen: list[str] = []
    date_from: str | None = None
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            date_to = ocpi_time(datetime.now(UTC))
            seen += client.crawl(url, date_from=date_from, date_to=date_to, limit=100).ids
            date_from = date_to
    finally:
        stop.set()
        for w in writers:
            w.join(30)
    assert not errors, errors
    seen += client.crawl(url, date_from=date_from).ids
    stored = [c["id"] for c, _ in stored_cdrs(db)]
    assert len(stored) > 50
    assert len(seen) == len(set(seen)), "a CDR served twice"
    assert sorted(seen) == sorted(stored), f"{len(set(stored) - set(seen))} CDRs missed"


# --- authorization ----------------------------------------------------------------------------

def test_no_valid_token_gets_401_and_nothing_else(db: Database, fleet: Fleet, token: str,
                                                  service: ServiceHandle) -> None:
    fleet.upload("DEMO-0001", 3)
    other = add_token(db, "NL-XYZ")[1]
    url = cdrs_url(service)
    paths = (url, f"{service.url}/ocpi/versions", f"{service.url}/ocpi/2.2.1")
    good = base64.b64encode(token.encode()).decode()
    with OcpiClient(None) as anonymous:
        def status(authorization: str | None, target: str = url, **params: str) -> int:
            answer = anonymous.get(target, params, authorization=authorization)
            if answer.http_status == 401:
                assert "data" not in answer.body and answer.status_code == 2000
                assert answer.headers["www-authenticate"] == "Token"
                assert "x-total-count" not in answer.headers and "link" not in answer.headers
                assert answer.headers["x-correlation-id"] == answer.correlation_id
            return answer.http_status

        assert [status(None, p) for p in paths] == [401] * 3
        for bad in ("Token " + base64.b64encode(b"not-a-token").decode(), "Token not-a-token",
                    f"Bearer {good}", f"Basic {good}", "Token", f"Token {good} x",
                    f"Token{good}", f"Token {good}=", "Token " + "A" * 600,
                    f"Token {base64.b64encode(token.encode() + b'x').decode()}",
                    f"Token {base64.urlsafe_b64encode(b'?' * 30).decode()}"):
            assert [status(bad, p) for p in paths] == [401] * 3, bad
        assert status(None, date_from="nonsense") == 401  # before the parameters
        # accepted: Base64 (2.2.1), the raw token (2.1.1), any case of the scheme, the
        # newline ``echo token | base64`` adds, several spaces
        echo = base64.b64encode(token.encode() + b"\n").decode()
        for ok in (f"Token {good}", f"Token {token}", f"token {good}", f"TOKEN {token}",
                   f"Token {echo}", f"Token   {good}", f"Token {good.rstrip('=')}",
                   header_value(other)):
            assert [status(ok, p) for p in paths] == [200] * 3, ok
        assert status(f"Token {good}", date_from="nonsense") == 400

        revoke_token(db, "DE-ABC")
        assert [status(f"Token {good}", p) for p in paths] == [401] * 3
        assert status(f"Token {token}") == 401
        assert status(header_value(other)) == 200  # the other party is unaffected
        anonymous_raw = httpx.get(url, headers={b"Authorization": b"Token \xff\xfe"})
        assert anonymous_raw.status_code == 401 and "data" not in anonymous_raw.json()


def test_tokens_are_stored_hashed_named_and_revoked_once(db: Database) -> None:
    party, secret = add_token(db, "DE-ABC")
    assert (party.name, party.status, party.revoked_at) == ("DE-ABC", "active", None)
    assert len(secret) == 43 and secret not in repr(list_tokens(db))
    with db.engine.connect() as conn:
        dump = repr(conn.exec_driver_sql("SELECT * FROM ocpi_tokens").all())
    assert secret not in dump and base64.b64encode(secret.encode()).decode() not in dump
    with pytest.raises(TokenError, match=r"^DE-ABC: already exists \(active\)$"):
        add_token(db, "DE-ABC")
    for bad in ("", "a" * 65, "DE ABC", "DE/ABC", "dé", "x\n"):
        with pytest.raises(TokenError, match=r"^party name: 1 to 64 of"):
            add_token(db, bad)
    assert authenticate(db, header_value(secret)) == party
    revoked = revoke_token(db, "DE-ABC")
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    assert authenticate(db, header_value(secret)) is None
    with pytest.raises(TokenError, match=r"^DE-ABC: already revoked$"):
        revoke_token(db, "DE-ABC")
    with pytest.raises(TokenError, match=r"^NL-XYZ: no such party$"):
        revoke_token(db, "NL-XYZ")
    with pytest.raises(TokenError, match=r"revoked at .*; choose another name\)$"):
        add_token(db, "DE-ABC")
    assert [p.name for p in list_tokens(db)] == ["DE-ABC"]


# --- bad parameters ---------------------------------------------------------------------------

BAD = [
    ("date_from=yesterday", "date_from"), ("date_from=2026-12-01", "date_from"),
    ("date_from=2026-13-01T00:00:00Z", "date_from"), ("date_to=2026-02-30T00:00:00Z", "date_to"),
    ("date_from=2026-12-01T24:00:00Z", "date_from"),
    ("date_from=2026-12-01T20:00:60Z", "date_from"),
    ("date_from=2026-12-01T20:00:00.1234567890Z", "date_from"),
    ("date_from=2026-12-01T20:00:00%2B25:00", "date_from"),
    ("date_from=0001-01-01T00:00:00%2B01:00", "date_from"),
    ("date_to=9999-12-31T23:59:59.9999Z", "date_to"), ("date_from=", "date_from"),
    ("date_from=2026-12-02T00:00:00Z&date_to=2026-12-01T00:00:00Z", "date_to"),
    ("date_from=2026-12-01T00:00:00Z&date_from=2026-12-01T00:00:00Z", "date_from"),
    ("offset=-1", "offset"), ("offset=1.5", "offset"), ("offset=abc", "offset"),
    ("offset=%2B5", "offset"), ("offset=1_000", "offset"), ("offset=%205", "offset"),
    ("offset=1234567890123456789", "offset"), ("limit=-5", "limit"), ("limit=", "limit"),
    ("limit=1e3", "limit"), ("limit=0x10", "limit"), ("limit=%EF%BC%91", "limit"),
    ("limit=1&limit=2", "limit"), ("date_to=" + "1" * (MAX_PARAM_CHARS + 1), "date_to"),
    ("x=" + "y" * 2100, "query"),
]


def test_bad_parameters_get_400_and_2001_naming_them(fleet: Fleet, service: ServiceHandle,
                                                     client: OcpiClient) -> None:
    fleet.upload("DEMO-0001", 2)
    url = cdrs_url(service)
    for query, parameter in BAD:
        answer = client.get(f"{url}?{query}")
        assert (answer.http_status, answer.status_code) == (400, 2001), (query, answer.body)
        assert answer.body["status_message"].startswith(f"{parameter}: "), (query, answer.body)
        assert "data" not in answer.body and "x-total-count" not in answer.headers
        assert answer.headers["x-correlation-id"] == answer.correlation_id
    fine = client.get(f"{url}?unknown=1&offset=0001&limit=00&date_from=2000-01-01T00:00:00.5")
    assert (fine.http_status, fine.total, fine.data) == (200, 2, [])


def test_request_and_correlation_ids_are_echoed(service: ServiceHandle,
                                                client: OcpiClient) -> None:
    url = cdrs_url(service)
    for target, params in ((url, {}), (url, {"offset": "-1"}),
                           (f"{service.url}/ocpi/versions", {})):
        answer = client.get(target, params, request_id="req-1", correlation_id="corr-1")
        assert answer.headers["x-request-id"] == "req-1"
        assert answer.headers["x-correlation-id"] == "corr-1"
    unauthorized = client.get(url, request_id="req-2", correlation_id="corr-2",
                              authorization="Token nope")
    assert unauthorized.http_status == 401
    assert (unauthorized.headers["x-request-id"], unauthorized.headers["x-correlation-id"]) == (
        "req-2", "corr-2")
    # a correlation id that cannot be echoed safely is replaced by a new one
    for bad in (b"x" * 65, b"a b", b"<script>", "é".encode(), b"a\tb"):
        auth = header_value(client.token or "").encode()
        response = httpx.get(url, headers={b"Authorization": auth, b"X-Correlation-ID": bad})
        new = response.headers["x-correlation-id"]
        assert response.status_code == 200 and len(new) == 32 and int(new, 16) >= 0
    plain = httpx.get(url, headers={"Authorization": header_value(client.token or "")})
    assert plain.status_code == 200 and len(plain.headers["x-correlation-id"]) == 32


# --- the CLI ----------------------------------------------------------------------------------

def _cli(url: str, *args: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "kiosk-backoffice"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "kiosk.backoffice.cli"]
    done = subprocess.run([*cmd, "--db", url, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == rc, (done.stdout, done.stderr)
    return done


@pytest.mark.slow
def test_cli_token_add_list_revoke_against_the_service(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'backoffice.sqlite'}"
    added = _cli(url, "ocpi-token", "add", "DE-ABC")
    first, second = added.stdout.splitlines()
    prefix = "DE-ABC: token (give it to the party; it is not shown again): "
    assert first.startswith(prefix) and added.stderr == ""
    secret = first.removeprefix(prefix)
    header = second.strip().removeprefix("Authorization: ")
    assert header == header_value(secret)
    dup = _cli(url, "ocpi-token", "add", "DE-ABC", rc=2)
    assert dup.stderr == "kiosk-backoffice: DE-ABC: already exists (active)\n"

    db = open_db(url)
    try:
        fleet = Fleet(db)
        fleet.upload("DEMO-0001", 3)
        with running_service(db, tmp_path, tls=False) as svc, OcpiClient(None) as client:
            answer = client.get(cdrs_url(svc), authorization=header)
            assert (answer.http_status, len(answer.data)) == (200, 3)
            listed = _cli(url, "ocpi-token", "list").stdout.splitlines()
            assert len(listed) == 1 and listed[0].startswith("DE-ABC\tactive\t")
            revoked = _cli(url, "ocpi-token", "revoke", "DE-ABC")
            assert revoked.stdout.startswith("DE-ABC: revoked at ")
            assert client.get(cdrs_url(svc), authorization=header).http_status == 401
            assert client.get(cdrs_url(svc), authorization=f"Token {secret}").http_status == 401
        assert [(p.name, p.status) for p in list_tokens(db)] == [("DE-ABC", "revoked")]
    finally:
        db.close()


# --- hypothesis -------------------------------------------------------------------------------

PARAM = st.sampled_from(["date_from", "date_to", "offset", "limit", "other"])
TEXT = st.one_of(st.text(max_size=80),
                 st.from_regex(r"\A-?[0-9]{1,20}\Z"),
                 st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                               r"(\.[0-9]{1,10})?(Z|[+ -][0-9]{2}:[0-9]{2})?\Z"))
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                             blacklist_characters="\x7f"),
                      max_size=700).map(lambda s: s.strip(" "))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(PARAM, TEXT), max_size=6))
def test_the_query_parser_answers_a_query_or_a_typed_error(pairs: list[tuple[str, str]]) -> None:
    try:
        query = parse_query(pairs)
    except QueryError as exc:
        assert exc.parameter in ("date_from", "date_to", "offset", "limit")
        assert str(exc).startswith(f"{exc.parameter}: ")
        return
    assert isinstance(query, CdrQuery) and query.offset >= 0
    assert query.limit is None or query.limit >= 0
    for t in (query.date_from, query.date_to):
        assert t is None or (t.tzinfo is not None and t.microsecond % 1000 == 0)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)))
def test_served_times_and_query_times_agree(t: datetime) -> None:
    served = served_time(t)
    assert len(served) == 24 and served.endswith("Z")
    assert parse_time(served) == to_millisecond(t)  # floored
    back = parse_datetime(t.isoformat(timespec="microseconds"), "date_from")
    assert back >= t and back - t < timedelta(milliseconds=1) and back.microsecond % 1000 == 0
    assert parse_datetime(served, "date_to") == to_millisecond(t)


@settings(max_examples=400, deadline=None)
@given(HEADER_TEXT)
def test_the_authorization_parser_answers_candidates_or_none(header: str) -> None:
    found = header_candidates(header)
    assert len(found) <= 2
    for candidate in found:
        assert 1 <= len(candidate) <= 256 and candidate.isascii() and candidate.isprintable()
        assert " " not in candidate


def test_any_query_or_header_over_tcp_is_200_400_or_401(tmp_path: Path) -> None:
    db = open_db(f"sqlite:///{tmp_path / 'fuzz.sqlite'}")
    try:
        Fleet(db).upload("DEMO-0001", 5)
        token = add_token(db, "DE-ABC")[1]
        with running_service(db, tmp_path, tls=False) as svc, OcpiClient(token) as client:
            url = cdrs_url(svc)

            @settings(max_examples=120, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])
            @given(st.lists(st.tuples(PARAM, TEXT), max_size=5))
            def queries(pairs: list[tuple[str, str]]) -> None:
                answer = client.get(url, pairs)
                assert answer.http_status in (200, 400), answer.body
                if answer.http_status == 400:
                    assert answer.status_code == 2001 and "data" not in answer.body
                else:
                    assert answer.status_code == 1000 and isinstance(answer.data, list)

            @settings(max_examples=120, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])
            @given(HEADER_TEXT)
            def headers(header: str) -> None:
                response = httpx.get(url, headers={b"Authorization": header.encode("latin-1")})
                assert response.status_code == 401, header
                body = response.json()
                assert body["status_code"] == 2000 and "data" not in body

            queries()
            headers()
    finally:
        db.close()
