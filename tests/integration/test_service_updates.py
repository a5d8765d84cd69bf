"""Terminals polling for their updates through the real service (uvicorn over TLS on real TCP,
on SQLite and on PostgreSQL): a good poll gets the published bundles' exact bytes, which the
kiosk's own read_update takes; every hostile poll (not JSON, too large, a stranger's key, a
forged signature, a revoked terminal, a clock off, garbage) gets its status and a JSON reason,
never a 500 and never a bundle; a database that fails is a 503. Then ``kiosk-backoffice update
publish|list|withdraw`` as a real process, with a bundle the operator's real ``kiosk update
sign`` made."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.backoffice import updates as bo
from kiosk.backoffice.registry import add_terminal, revoke_terminal
from kiosk.backoffice.service import ServiceSettings
from kiosk.backoffice.storage import Database, open_db
from kiosk.maintenance.updates import BUNDLE_MAX_BYTES, make_update, read_update
from kiosk.records.batch import public_key_raw
from kiosk.records.update_poll import MAX_POLL_BYTES, Offered, make_poll, read_answer
from kiosk.security.keys import load_signing_key
from tests.support.backoffice import ServiceHandle, running_service, stalled_post
from tests.support.postgres import new_database

OPERATOR = Ed25519PrivateKey.generate()
OPERATOR_HEX = public_key_raw(OPERATOR.public_key()).hex()
JSON = {"Content-Type": "application/json"}
HAVE_NONE = {"config": 0, "tariff": 0}
TARIFF = b'{"id": "T1", "currency": "EUR"}'
_terminals = iter(range(10 ** 9))


def bundle(terminal: str, sequence: int, kind: str = "tariff", content: bytes = TARIFF,
           *, issued_at: datetime | None = None) -> bytes:
    issued = issued_at or datetime.now(UTC) - timedelta(minutes=1)
    return make_update(OPERATOR, kind, terminal, sequence, content, issued_at=issued,
                       expires_at=issued + timedelta(days=7))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceHandle]:
    tmp = tmp_path_factory.mktemp("service")
    url = (f"sqlite:///{tmp / 'bo.sqlite'}" if request.param == "sqlite"
           else new_database(request.getfixturevalue("postgres_server")))
    db = open_db(url)
    with running_service(db, tmp, settings=ServiceSettings(body_timeout_s=0.5)) as svc:
        yield svc
    db.close()


@pytest.fixture
def client(service: ServiceHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, verify=service.client_context(),
                      timeout=10) as c:
        yield c


class Terminal:
    """A terminal of its own for each test (one database per module)."""

    def __init__(self, db: Database) -> None:
        self.id = f"T-{next(_terminals):04d}"
        self.key = Ed25519PrivateKey.generate()
        add_terminal(db, self.id, public_key_raw(self.key.public_key()))

    def poll(self, have: dict[str, int] | None = None, at: datetime | None = None,
             key: Ed25519PrivateKey | None = None) -> bytes:
        return make_poll(key or self.key, self.id, have or HAVE_NONE, at or datetime.now(UTC))


@pytest.fixture
def terminal(service: ServiceHandle) -> Terminal:
    return Terminal(service.db)


def post(client: httpx.Client, data: bytes, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, Any]]:
    answer = client.post("/v1/updates", content=data, headers=headers or JSON)
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    return answer.status_code, answer.json()


def publish(db: Database, data: bytes) -> None:
    assert bo.publish(db, data, OPERATOR_HEX, now=datetime.now(UTC)).status == "published"


# --- the good poll ----------------------------------------------------------------------------

def test_a_good_poll_gets_the_bundles_byte_for_byte(service: ServiceHandle,
                                                   client: httpx.Client,
                                                   terminal: Terminal) -> None:
    t5, t6 = bundle(terminal.id, 5), bundle(terminal.id, 6)
    config = bundle(terminal.id, 2, "config", b'schema_version = 1\n[station]\nid = "x"\n')
    for data in (t5, t6, config):
        publish(service.db, data)
    publish(service.db, bundle(Terminal(service.db).id, 9))  # another terminal's: not ours

    answer = client.post("/v1/updates", content=terminal.poll({"config": 0, "tariff": 5}),
                         headers=JSON)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    have = {"config": 0, "tariff": 5}
    offers = read_answer(answer.content, terminal_id=terminal.id, have=have)
    assert offers == [Offered("config", 2, config), Offered("tariff", 6, t6)]
    for offer in offers:  # what the kiosk does with them next
        taken = read_update(offer.bundle, OPERATOR_HEX, terminal=terminal.id,
                            now=datetime.now(UTC))
        assert (taken.kind, taken.sequence) == (offer.kind, offer.sequence)

    up_to_date = client.post("/v1/updates", content=terminal.poll({"config": 2, "tariff": 6}),
                             headers=JSON)
    assert up_to_date.status_code == 200
    assert json.loads(up_to_date.content)["updates"] == []
    bo.withdraw(service.db, terminal.id, "tariff", 6)
    after = client.post("/v1/updates", content=terminal.poll({"config": 2, "tariff": 0}),
                        headers=JSON)
    assert read_answer(after.content, terminal_id=terminal.id,
                       have={"config": 2, "tariff": 0}) == [Offered("tariff", 5, t5)]


# --- hostile polls ----------------------------------------------------------------------------

def test_every_hostile_poll_gets_its_status_and_a_reason(service: ServiceHandle,
                                                        client: httpx.Client,
                                                        terminal: Terminal) -> None:
    publish(service.db, bundle(terminal.id, 1))
    neighbour = Terminal(service.db)
    now = datetime.now(UTC)
    good = json.loads(terminal.poll())
    forged = {**good, "have": {"config": 0, "tariff": 1}}  # the signature covers other fields
    extra = {**good, "bundle": "x"}
    cases: list[tuple[str, bytes, int, str | None, str]] = [
        ("not JSON", b"this is not json", 422, "invalid", "not valid JSON"),
        ("empty", b"", 422, "invalid", "not valid JSON"),
        ("a list", b"[]", 422, "invalid", "not a JSON object"),
        ("unknown field", json.dumps(extra).encode(), 422, "invalid", "unknown field"),
        ("a float", terminal.poll().replace(b'"tariff":0', b'"tariff":0.0'), 422, "invalid",
         "fraction"),
        ("too large", b" " * (MAX_POLL_BYTES + 1), 413, "invalid", "at most"),
        ("forged", json.dumps(forged).encode(), 403, "not_authentic", "does not verify"),
        ("a stranger's key", terminal.poll(key=Ed25519PrivateKey.generate()), 403,
         "not_authentic", "registered key"),
        ("the neighbour's key", terminal.poll(key=neighbour.key), 403, "not_authentic",
         "registered key"),
        ("unknown terminal", make_poll(neighbour.key, "NOBODY-1", HAVE_NONE, now), 403,
         "unknown_terminal", "not registered"),
        ("clock behind", terminal.poll(at=now - timedelta(minutes=6)), 422, "clock",
         "check the terminal's clock"),
        ("clock ahead", terminal.poll(at=now + timedelta(minutes=6)), 422, "clock",
         "more than 5 minutes"),
        ("clock off and a stranger", terminal.poll(at=now - timedelta(hours=1),
                                                   key=Ed25519PrivateKey.generate()),
         403, "not_authentic", "registered key"),
    ]
    for case, data, code, refusal, words in cases:
        got, body = post(client, data)
        assert (got, body["status"], body["refusal"]) == (code, "rejected", refusal), \
            (case, body)
        assert words in body["reason"], (case, body)
    got, body = post(client, terminal.poll(), {"Content-Type": "text/plain"})
    assert (got, body["status"]) == (415, "rejected")

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        for _ in range(3):
            yield b" " * MAX_POLL_BYTES

    assert client.post("/v1/updates", content=chunks(), headers=JSON).status_code == 413
    assert post(client, terminal.poll())[0] == 200  # the good one still gets through

    revoke_terminal(service.db, terminal.id)
    got, body = post(client, terminal.poll())
    assert (got, body["refusal"]) == (403, "revoked") and "revoked" in body["reason"]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.one_of(
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.tuples(st.sampled_from(["format", "terminal_id", "key_id", "at", "have", "signature",
                               "extra"]), _json_values)))
def test_garbage_never_gets_a_500_or_a_bundle(service: ServiceHandle, client: httpx.Client,
                                             terminal: Terminal,
                                             garbage: bytes | tuple[str, Any]) -> None:
    if isinstance(garbage, tuple):  # a good poll with one field replaced by anything
        name, value = garbage
        obj = json.loads(terminal.poll())
        obj[name] = value
        garbage = json.dumps(obj).encode()
    code, body = post(client, garbage)
    assert code in (403, 413, 422), (code, body)
    assert body["status"] == "rejected" and body["reason"]


def test_a_client_that_stalls_mid_body_gets_408(service: ServiceHandle) -> None:
    answer = stalled_post(service, "/v1/updates", 500)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_failing_database_is_503(tmp_path: Path) -> None:
    db = open_db(f"sqlite:///{tmp_path / 'bo.sqlite'}")
    t = Terminal(db)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE updates")  # the registry answers, the offers fail
    try:
        with running_service(db, tmp_path) as svc, \
                httpx.Client(base_url=svc.url, verify=svc.client_context(), timeout=10) as c:
            code, body = post(c, t.poll())
    finally:
        db.close()
    assert (code, body["status"], body["reason"]) == (503, "error", "database unavailable")


# --- the CLI ----------------------------------------------------------------------------------

BIN = Path(sys.executable).parent


def cli(*args: str, url: str, rc: int = 0, tool: str = "kiosk-backoffice",
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVKIOSK_BACKOFFICE_DB": url}
    done = subprocess.run([str(BIN / tool), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd)
    assert done.returncode == rc, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


@pytest.mark.slow
def test_cli_publish_list_withdraw(backoffice_url: str, tmp_path: Path) -> None:
    url = backoffice_url
    key = Ed25519PrivateKey.generate()
    cli("terminal", "add", "DEMO-0001", "--public-key", public_key_raw(key.public_key()).hex(),
        url=url)
    made = cli("update", "keygen", "--out", str(tmp_path / "operator.key"), url=url,
               tool="kiosk")
    operator_hex = made.stdout.split('operator_key = "')[1].split('"')[0]
    (tmp_path / "tariff.json").write_bytes(TARIFF)
    cli("update", "sign", "--kind", "tariff", "--key", str(tmp_path / "operator.key"),
        "--file", str(tmp_path / "tariff.json"), "--terminal", "DEMO-0001", "--sequence", "3",
        "--out", str(tmp_path / "t3.evkupdate"), url=url, tool="kiosk")
    signed_by_tool = (tmp_path / "t3.evkupdate").read_bytes()

    operator = load_signing_key(tmp_path / "operator.key")
    now, old = datetime.now(UTC), datetime.now(UTC) - timedelta(days=10)

    def signed(key: Ed25519PrivateKey, sequence: int, issued: datetime, days: int = 1,
               kind: str = "tariff", content: bytes = TARIFF) -> bytes:
        return make_update(key, kind, "DEMO-0001", sequence, content, issued_at=issued,
                           expires_at=issued + timedelta(days=days))

    files = {"wrong-key": signed(Ed25519PrivateKey.generate(), 4, now),
             "expired": signed(operator, 4, old),
             "older": signed(operator, 2, now),
             "big": b" " * (BUNDLE_MAX_BYTES + 1),
             "config": signed(operator, 1, now, kind="config",
                              content=b"schema_version = 1\n")}
    for name, data in files.items():
        (tmp_path / f"{name}.evkupdate").write_bytes(data)
    os.mkfifo(tmp_path / "fifo.evkupdate")

    done = cli("update", "publish", str(tmp_path / "t3.evkupdate"),
               str(tmp_path / "config.evkupdate"), str(tmp_path / "t3.evkupdate"),
               "--operator-key", operator_hex, url=url)
    lines = done.stdout.splitlines()
    assert [ln.split(": ")[1] for ln in lines] == ["published", "published",
                                                   "already published"], lines
    assert "DEMO-0001 tariff sequence 3, expires " in lines[0]

    hostile = cli("update", "publish", *(str(tmp_path / f"{n}.evkupdate") for n in (
        "wrong-key", "expired", "older", "big", "fifo", "missing")),
        "--operator-key", operator_hex, url=url, rc=2)
    out = hostile.stdout.splitlines()
    assert len(out) == 6 and all(": refused: " in ln for ln in out), out
    for line, words in zip(out, ("wrongly signed", "expired at", "is not above the last one "
                                 "published (3)", "too large", "named pipe", "no such file"),
                           strict=True):
        assert words in line, (line, words)

    for bad in ("00" * 31, "zz" * 32):
        refused = cli("update", "publish", str(tmp_path / "t3.evkupdate"), "--operator-key",
                      bad, url=url, rc=2)
        assert refused.stdout == ""
        assert refused.stderr.startswith("kiosk-backoffice: operator key: ")
        assert refused.stderr.count("\n") == 1
    assert cli("update", "publish", str(tmp_path / "t3.evkupdate"), url=url, rc=2).stdout == ""

    listed = cli("update", "list", url=url).stdout.splitlines()
    assert [ln.split("\t")[:4] for ln in listed] == [["DEMO-0001", "config", "1", "valid"],
                                                     ["DEMO-0001", "tariff", "3", "valid"]]
    assert cli("update", "list", "--terminal", "NOBODY", url=url).stdout == ""

    gone = cli("update", "withdraw", "DEMO-0001", "tariff", "3", url=url)
    assert gone.stdout.startswith("DEMO-0001 tariff sequence 3: withdrawn at ")
    for args, words in ((("DEMO-0001", "tariff", "3"), "withdrawn already at"),
                        (("DEMO-0001", "tariff", "7"), "not published")):
        again = cli("update", "withdraw", *args, url=url, rc=2)
        assert again.stderr.startswith("kiosk-backoffice: ") and words in again.stderr
        assert again.stderr.count("\n") == 1
    after = cli("update", "list", "--terminal", "DEMO-0001", url=url).stdout.splitlines()
    assert after[1].split("\t")[3] == "withdrawn" and "\twithdrawn " in after[1]
    repub = cli("update", "publish", str(tmp_path / "t3.evkupdate"), "--operator-key",
                operator_hex, url=url, rc=2)
    assert "refused: DEMO-0001 tariff sequence 3 was withdrawn at " in repub.stdout

    check = open_db(url)
    try:
        (offer,) = bo.offers_for(check, "DEMO-0001", HAVE_NONE, datetime.now(UTC))
        assert offer == Offered("config", 1, files["config"])
        (stored,) = [u for u in bo.list_updates(check) if u.kind == "tariff"]
        assert stored.sha256 == hashlib.sha256(signed_by_tool).hexdigest()
    finally:
        check.close()
