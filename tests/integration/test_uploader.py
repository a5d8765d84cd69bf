"""The uploader, end to end: real kiosk sessions (simulators, the host simulator over TCP), the
uploader thread, the back office service over real HTTPS on SQLite and PostgreSQL.

Whatever happens between them (the back office stopped and started again, 503s, a server that
accepts TCP and never answers, certificates from another CA or for another name, garbage
answers, a refusal, a full disk under the journal, a terminal restarted mid-way) every record
arrives once: at the end the journal has nothing pending and the back office holds exactly the
journal's outbox rows, one batch per sequence built. Waits are on the uploader's condition
(``wait_idle``/``wait_for``) with deadlines, never fixed sleeps; no timing is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.service import create_app
from kiosk.backoffice.storage import Database, batches, held_batches, open_db, records
from kiosk.config import ConfigError, KioskConfig, load_config, parse_config
from kiosk.journal.store import outbox
from kiosk.records.batch import public_key_raw
from kiosk.records.uploader import MAX_ANSWER_BYTES, Uploader, UploadStatus
from kiosk.runtime import Runtime, build_runtime
from kiosk.security.provisioning import load_terminal_keys
from kiosk.session import events as ev
from kiosk.session.machine import State
from tests.support.backoffice import TlsServer, make_pki, running_service
from tests.support.fullfs import fill, unfill
from tests.support.production import host_ca_pem, production_config
from tests.support.rig import Rig

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WAIT_S = 30.0  # a deadline, never reached when things work
PAN = TEST_CARDS["visa_contactless"].pan

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Behaviour = Callable[[Scope, Receive, Send, App], Awaitable[None]]


# --- the terminal ------------------------------------------------------------------------------

def terminal_config(host: HostSimulator, url: str, ca_file: Path | None, *,
                    timeout_s: float = 2.0) -> KioskConfig:
    ca = f'ca_file = "{ca_file}"\n' if ca_file else ""
    return parse_config(
        f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n"
        f'[backoffice]\nurl = "{url}"\n{ca}upload_retry_s = 0.05\nupload_retry_max_s = 0.3\n'
        f"timeout_s = {timeout_s}\n", demo=True)


@dataclass
class Kiosk:
    rt: Runtime
    rig: Rig

    @property
    def up(self) -> Uploader:
        assert self.rt.uploader is not None
        return self.rt.uploader


def start_kiosk(cfg: KioskConfig, journal: Path, clock: SimClock | None = None, *,
                upload: bool = True) -> Kiosk:
    clock = clock or SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    rt = build_runtime(cfg, clock=clock.now, journal_path=journal, card_terminal=terminal,
                       charger=charger, watch=False, upload=upload)
    return Kiosk(rt, Rig(rt, clock, charger, terminal))


@contextlib.contextmanager
def kiosk(cfg: KioskConfig, journal: Path, clock: SimClock | None = None, *,
          upload: bool = True) -> Iterator[Kiosk]:
    k = start_kiosk(cfg, journal, clock, upload=upload)
    try:
        yield k
    finally:
        k.rt.close()


def register(db: Database, cfg: KioskConfig, journal: Path) -> None:
    """The terminal at the back office, with the key provisioning made (demo: made here)."""
    keys = load_terminal_keys(cfg, journal.parent, demo=True)
    assert keys.signing_key is not None
    add_terminal(db, cfg.station.id, public_key_raw(keys.signing_key.public_key()))


def play_sessions(k: Kiosk, n: int) -> None:
    for _ in range(n):
        k.rig.play()
    k.rig.settled()  # the settlement records are queued too


def wait_delivered(up: Uploader, timeout: float = WAIT_S) -> None:
    """Kick, then wait until nothing is pending (through any failures and their backoffs)."""
    end = time.monotonic() + timeout
    up.kick()
    while not up.wait_idle(max(0.0, end - time.monotonic())):
        if time.monotonic() > end:
            raise AssertionError(f"not delivered in time: {up.status()}")


def wait_failures(up: Uploader, n: int, timeout: float = WAIT_S) -> str:
    """Wait for ``n`` more failures; the last error."""
    start = up.status().failed
    up.kick()
    st = up.wait_for(lambda s: s.failed >= start + n, timeout)
    assert st is not None, f"no failure in time: {up.status()}"
    return st.last_error


def wait_error(up: Uploader, *words: str, timeout: float = WAIT_S) -> str:
    """Wait for a new failure whose error says all of ``words`` (an attempt already on its way
    when the test changed the back office may fail otherwise first); that error."""
    start = up.status().failed
    up.kick()
    st = up.wait_for(lambda s: s.failed > start and all(w in s.last_error for w in words),
                     timeout)
    assert st is not None, f"no failure saying {words} in time: {up.status()}"
    return st.last_error


def assert_delivered_once(rt: Runtime, db: Database) -> int:
    """Counted on both sides: nothing pending, the back office holds each outbox row once, in
    as many batches as the terminal built, none held. Returns the record count."""
    rows = rt.journal.outbox()
    assert rows and all(r.sent_at is not None for r in rows)
    assert rt.journal.pending_count() == 0
    with db.engine.connect() as conn:
        ids = list(conn.execute(select(records.c.record_id)).scalars())
        stored = conn.execute(select(func.count()).select_from(batches)).scalar()
        held = conn.execute(select(func.count()).select_from(held_batches)).scalar()
    assert len(ids) == len(set(ids)) == len(rows)
    assert set(ids) == {f"{r.session_id}:{r.kind}" for r in rows}
    assert stored == rt.journal.last_batch_sequence() and held == 0
    return len(rows)


def stored_count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(records)).scalar() or 0)


# --- a back office that misbehaves on purpose ----------------------------------------------

class Scripted:
    """The real service, except that each ``POST /v1/batches`` takes the next behaviour of
    ``plan`` while there is one."""

    def __init__(self, inner: App) -> None:
        self.inner = inner
        self.plan: list[Behaviour] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        behaviour = None
        if scope["type"] == "http" and scope["path"] == "/v1/batches":
            with self.lock:
                behaviour = self.plan.pop(0) if self.plan else None
        if behaviour is None:
            await self.inner(scope, receive, send)
        else:
            await behaviour(scope, receive, send, self.inner)


async def _drain(receive: Receive) -> None:
    while (await receive()).get("more_body"):
        pass


async def _respond(send: Send, status: int, body: bytes, ctype: str = "application/json",
                   *, length: bool = True) -> None:
    headers = [(b"content-type", ctype.encode())]
    if length:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def answer(status: int, body: bytes | dict[str, Any], ctype: str = "application/json"
           ) -> Behaviour:
    """Answer without passing the batch on (nothing stored)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body

    async def run(scope: Scope, receive: Receive, send: Send, inner: App) -> None:
        await _drain(receive)
        await _respond(send, status, data, ctype)
    return run


async def inner_answer(scope: Scope, receive: Receive, inner: App) -> tuple[int, bytes]:
    """Let the real service handle the request; its answer (status, body), not yet sent."""
    start: dict[str, Any] = {}
    body = bytearray()

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await inner(scope, receive, capture)
    return int(start["status"]), bytes(body)


def stored_then(edit: Callable[[int, dict[str, Any]], tuple[int, bytes]]) -> Behaviour:
    """Pass the batch on (the back office stores it), then answer ``edit(status, answer)``
    instead of the real answer."""
    async def run(scope: Scope, receive: Receive, send: Send, inner: App) -> None:
        code, body = await inner_answer(scope, receive, inner)
        status, data = edit(code, json.loads(body))
        await _respond(send, status, data)
    return run


async def huge_chunked(scope: Scope, receive: Receive, send: Send, inner: App) -> None:
    """An answer that never ends (no Content-Length), past the bound."""
    await _drain(receive)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    chunk = b" " * 16384
    for _ in range(MAX_ANSWER_BYTES // len(chunk) + 4):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"{}"})


async def hang(scope: Scope, receive: Receive, send: Send, inner: App) -> None:
    """Read the batch, never answer (ended when the server shuts down)."""
    await _drain(receive)
    await asyncio.sleep(3600)


@dataclass
class Backoffice:
    db: Database
    scripted: Scripted
    server: TlsServer
    ca_file: Path  # what the terminal pins

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def backoffice(tmp_path: Path) -> Iterator[Backoffice]:
    """The real service behind :class:`Scripted`, over TLS, on SQLite."""
    db = open_db(f"sqlite:///{tmp_path / 'backoffice.sqlite'}")
    pki = make_pki(tmp_path / "pki")
    scripted = Scripted(create_app(db))
    server = TlsServer(scripted, pki)
    server.start()
    try:
        yield Backoffice(db, scripted, server, pki.ca_file)
    finally:
        server.stop()
        db.close()


# --- all records arrive once ---------------------------------------------------------------

def test_records_arrive_once_across_a_back_office_restart(host: HostSimulator, tmp_path: Path,
                                                          backoffice_url: str) -> None:
    db = open_db(backoffice_url)
    journal = tmp_path / "kiosk" / "journal.sqlite"
    try:
        with running_service(db, tmp_path) as svc:
            assert svc.ca_file is not None
            cfg = terminal_config(host, svc.url, svc.ca_file)
            register(db, cfg, journal)
            with kiosk(cfg, journal) as k:
                play_sessions(k, 2)
                wait_delivered(k.up)
                first = assert_delivered_once(k.rt, db)
                assert first == 8  # session, cdr, invoice, settlement each
                st = k.up.status()
                assert st.pending == 0 and st.failures == 0 and st.last_error == ""
                assert st.last_success is not None and st.delivered >= 1
                assert k.rt.upload_status() == k.up.status()

                svc.stop()  # the back office goes away mid-way
                play_sessions(k, 1)
                error = wait_failures(k.up, 2)
                assert "cannot reach the back office" in error, error
                st = k.up.status()
                assert st.pending == 4 and st.failures >= 2 and not st.refused
                assert st.next_attempt is not None
                assert stored_count(db) == first  # nothing new arrived, nothing was dropped

                svc.start()  # back on the same port: the backoff brings the rest
                wait_delivered(k.up)
                assert assert_delivered_once(k.rt, db) == first + 4
                assert k.up.status().failures == 0
    finally:
        db.close()


def test_a_terminal_restarted_mid_way_resumes(host: HostSimulator, tmp_path: Path,
                                              backoffice_url: str) -> None:
    """The back office stores a batch but its answer is lost; the terminal stops before it
    learns; the next runtime on the same journal sends that batch again (a replay) and the
    rest: every record once."""
    db = open_db(backoffice_url)
    pki = make_pki(tmp_path / "pki")
    scripted = Scripted(create_app(db))
    server = TlsServer(scripted, pki)
    server.start()
    journal = tmp_path / "kiosk" / "journal.sqlite"
    clock = SimClock(T0)
    try:
        cfg = terminal_config(host, server.url, pki.ca_file)
        register(db, cfg, journal)
        lost = stored_then(lambda code, body: (502, b"<html>bad gateway</html>"))
        scripted.plan = [lost] * 1000  # every answer lost while the first terminal runs
        with kiosk(cfg, journal, clock) as k:
            play_sessions(k, 2)
            wait_failures(k.up, 1)
            assert k.rt.journal.pending_count() == 8 and k.rt.journal.unacknowledged_batches()
        stored = stored_count(db)
        assert stored > 0  # the back office has the batch the terminal did not hear about
        with scripted.lock:
            scripted.plan.clear()
        with kiosk(cfg, journal, clock) as k:  # a new runtime on the same journal
            wait_delivered(k.up)
            assert assert_delivered_once(k.rt, db) == 8
            play_sessions(k, 1)  # and it goes on
            wait_delivered(k.up)
            assert assert_delivered_once(k.rt, db) == 12
    finally:
        server.stop()
        db.close()


# --- an unavailable or misbehaving back office -------------------------------------------

def test_503s_and_garbage_answers_lose_nothing_and_double_nothing(
        host: HostSimulator, tmp_path: Path, backoffice: Backoffice,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.records.uploader")
    journal = tmp_path / "kiosk" / "journal.sqlite"
    cfg = terminal_config(host, backoffice.url, backoffice.ca_file)
    register(backoffice.db, cfg, journal)

    def field(key: str, value: object) -> Callable[[int, dict[str, Any]], tuple[int, bytes]]:
        return lambda code, body: (code, json.dumps({**body, key: value}).encode())

    big = json.dumps({"status": "stored", "pad": "x" * (2 * MAX_ANSWER_BYTES)}).encode()
    plan: list[tuple[Behaviour, str]] = [
        (answer(503, {"status": "error", "acked": None, "reason": "database unavailable"}),
         "back office unavailable"),
        (answer(502, b"<html>bad gateway</html>", "text/html"), "HTTP 502"),
        (answer(200, b"<html>hello</html>", "text/html"), "answer Content-Type: text/html"),
        (answer(200, b"{not json", "application/json"), "answer body: not JSON"),
        (answer(200, big), "answer body: Content-Length"),
        (huge_chunked, f"answer body: more than {MAX_ANSWER_BYTES} bytes"),
        (answer(200, {"status": "maybe", "acked": 1}), "answer status: 'maybe'"),
        (answer(202, {"status": "stored", "acked": 1}), "answer status: 'stored' with HTTP 202"),
        # the back office stored these, but the answers are wrong: nothing acknowledged
        (stored_then(field("acked", "1")), "answer acked: not an integer (str)"),
        (stored_then(field("acked", True)), "answer acked: not an integer (bool)"),
        (stored_then(field("acked", 999)), "answer acked: 999: above the last batch built"),
        (stored_then(field("terminal_id", "OTHER-1")), "answer terminal_id: 'OTHER-1'"),
        (stored_then(field("sequence", 7)), "answer sequence: 7, but batch 1 was sent"),
        (stored_then(lambda code, body: (code, b"[1, 2]")), "answer body: not a JSON object"),
        (stored_then(lambda code, body: (code, b'{"status": "stored", "acked": NaN}')),
         "answer body: not JSON"),
    ]
    backoffice.scripted.plan = [b for b, _ in plan]
    with kiosk(cfg, journal) as k:
        play_sessions(k, 2)
        wait_delivered(k.up)
        count = assert_delivered_once(k.rt, backoffice.db)
        st = k.up.status()
        assert st.failed >= len(plan) and st.failures == 0 and st.pending == 0
        assert not backoffice.scripted.plan
    assert count == 8
    text = caplog.text
    for _, expected in plan:
        assert expected in text, expected
    assert PAN not in text and "signature" not in text  # no card data, no payload


def test_a_server_that_never_answers_times_out_then_delivery_goes_on(
        host: HostSimulator, tmp_path: Path, backoffice: Backoffice) -> None:
    """First a port that accepts TCP and never speaks TLS, then the back office reading the
    batch and never answering: both time out (timeout_s = 0.5), and the records arrive."""
    journal = tmp_path / "kiosk" / "journal.sqlite"
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel accepts the connections; nobody ever reads them
    port = silent.getsockname()[1]
    cfg = terminal_config(host, f"https://127.0.0.1:{port}", backoffice.ca_file, timeout_s=0.5)
    register(backoffice.db, cfg, journal)
    try:
        with kiosk(cfg, journal) as k:
            play_sessions(k, 1)
            wait_error(k.up, "no answer in time (ConnectTimeout)")
            silent.close()
            backoffice.server.stop()
            backoffice.server.port = port  # the back office on the silent port now ...
            backoffice.scripted.plan = [hang]  # ... reading the first batch, not answering
            backoffice.server.start()
            wait_error(k.up, "no answer in time (ReadTimeout)")
            wait_delivered(k.up)
            assert assert_delivered_once(k.rt, backoffice.db) == 4
    finally:
        silent.close()


def test_only_the_pinned_ca_and_the_right_name_are_trusted(host: HostSimulator, tmp_path: Path,
                                                          backoffice: Backoffice) -> None:
    """The terminal pins two CAs (a rollover): the back office first shows a certificate of a
    third CA, then one of a pinned CA for another name: both refused, nothing sent. With its
    real certificate the records arrive."""
    journal = tmp_path / "kiosk" / "journal.sqlite"
    other = make_pki(tmp_path / "other")  # the right name, an unknown CA
    named = make_pki(tmp_path / "named", host="backoffice.example")  # a pinned CA, wrong name
    pinned = tmp_path / "pinned.pem"
    pinned.write_bytes(backoffice.ca_file.read_bytes() + named.ca_file.read_bytes())
    cfg = terminal_config(host, backoffice.url, pinned)
    register(backoffice.db, cfg, journal)
    real = backoffice.server.pki
    with kiosk(cfg, journal) as k:
        # (the test CAs share a name: OpenSSL says "signature failure" for the unknown one)
        for pki, words in ((other, "certificate"), (named, "IP address mismatch")):
            backoffice.server.stop()
            backoffice.server.pki = pki
            backoffice.server.start()
            if k.rt.journal.pending_count() == 0:
                play_sessions(k, 1)
            error = wait_error(k.up, words)
            assert error.startswith("unavailable: batch 1: TLS: the back office's certificate "
                                    "is refused"), error
            assert stored_count(backoffice.db) == 0
        backoffice.server.stop()
        backoffice.server.pki = real
        backoffice.server.start()
        wait_delivered(k.up)
        assert assert_delivered_once(k.rt, backoffice.db) == 4


def test_a_refusal_is_loud_keeps_the_records_and_waits_for_the_operator(
        host: HostSimulator, tmp_path: Path, backoffice: Backoffice,
        caplog: pytest.LogCaptureFixture) -> None:
    """An unregistered terminal: 403, logged as an error, shown in the status as a refusal;
    nothing is dropped. Once the operator registers it, the records arrive."""
    journal = tmp_path / "kiosk" / "journal.sqlite"
    cfg = terminal_config(host, backoffice.url, backoffice.ca_file)
    with kiosk(cfg, journal) as k:
        play_sessions(k, 1)
        error = wait_failures(k.up, 1)
        assert "rejected (HTTP 403, unknown_terminal)" in error and "not registered" in error
        st = k.up.status()
        assert st.refused and st.pending == 4 and st.next_attempt is not None
        refusals = [r for r in caplog.records
                    if r.name == "kiosk.records.uploader" and r.levelno == logging.ERROR]
        assert refusals and "not registered" in refusals[0].getMessage()
        register(backoffice.db, cfg, journal)
        k.up.retry_now()
        wait_delivered(k.up)
        assert assert_delivered_once(k.rt, backoffice.db) == 4
        assert not k.up.status().refused


# --- the journal refusing writes ----------------------------------------------------------

@pytest.mark.slow
def test_a_full_disk_under_the_journal_is_reported_and_nothing_is_lost(
        host: HostSimulator, small_fs: Path, backoffice: Backoffice) -> None:
    """The disk fills while the back office stores a batch: the journal refuses the writes
    that follow (the acknowledgement, the next batch): reported, retried; with room again the
    batch whose acknowledgement was lost goes again (a replay) and the rest follows."""
    journal = small_fs / "kiosk" / "journal.sqlite"
    cfg = terminal_config(host, backoffice.url, backoffice.ca_file)
    scripted = backoffice.scripted

    async def fill_when_stored(scope: Scope, receive: Receive, send: Send, inner: App) -> None:
        code, body = await inner_answer(scope, receive, inner)
        if code == 200:
            fill(small_fs)
        else:  # refused (not registered yet): the next request again
            with scripted.lock:
                scripted.plan.insert(0, fill_when_stored)
        await _respond(send, code, body)

    with kiosk(cfg, journal) as k:
        play_sessions(k, 1)  # not registered yet: refused, so nothing fills the disk mid-session
        scripted.plan = [fill_when_stored]
        register(backoffice.db, cfg, journal)
        k.up.retry_now()
        # (which write fails first depends on the room SQLite's WAL still has: the
        # acknowledgement, or building the next batch; an attempt already on its way before
        # the registration may still come back refused first)

        def journal_failure(after: int) -> UploadStatus:
            st = k.up.wait_for(lambda s: s.failed > after
                               and s.last_error.startswith("journal: "), WAIT_S)
            assert st is not None, f"no journal failure in time: {k.up.status()}"
            assert "write failed" in st.last_error, st.last_error
            return st

        first = journal_failure(0)
        journal_failure(first.failed)  # still full: again
        assert k.rt.journal.pending_count() > 0
        unfill(small_fs)
        wait_delivered(k.up)
        assert assert_delivered_once(k.rt, backoffice.db) == 4


def test_a_row_that_does_not_open_is_reported_and_kept(
        host: HostSimulator, tmp_path: Path, backoffice: Backoffice,
        caplog: pytest.LogCaptureFixture) -> None:
    """A damaged outbox row stops the outbox there (never skipped): the uploader says an
    operator must act, and sends everything once the row is repaired."""
    journal = tmp_path / "kiosk" / "journal.sqlite"
    cfg = terminal_config(host, backoffice.url, backoffice.ca_file)
    register(backoffice.db, cfg, journal)
    with kiosk(cfg, journal, upload=False) as k:  # records queued, not sent
        play_sessions(k, 1)
        with k.rt.journal.engine.begin() as conn:
            row = conn.execute(select(outbox.c.id, outbox.c.payload)
                               .order_by(outbox.c.id)).first()
            assert row is not None
            conn.execute(update(outbox).where(outbox.c.id == row.id)
                         .values(payload=row.payload[:-8] + "AAAAAAAA"))
    with kiosk(cfg, journal) as k:
        error = wait_failures(k.up, 1)
        assert error.startswith(f"outbox: journal {journal}: outbox row {row.id}: "), error
        st = k.up.status()
        assert st.refused and st.pending == 4 and stored_count(backoffice.db) == 0
        assert any(r.levelno == logging.ERROR and f"outbox row {row.id}" in r.getMessage()
                   for r in caplog.records)
        with k.rt.journal.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row.id)
                         .values(payload=row.payload))
        k.up.retry_now()
        wait_delivered(k.up)
        assert assert_delivered_once(k.rt, backoffice.db) == 4


# --- the config: production fails closed -------------------------------------------------

def test_production_needs_https_with_a_pinned_ca_or_offline(tmp_path: Path) -> None:
    cfg = load_config(production_config(tmp_path))
    assert cfg.backoffice.url == "https://backoffice.example:8443" and cfg.backoffice.uploads()
    assert cfg.backoffice.ca_file == str(tmp_path / "backoffice-ca.pem")  # relative to the file
    assert cfg.backoffice.invoice_base() == cfg.backoffice.url
    cases = [
        (["-url"], r"backoffice\.url: missing: outside demo .*offline = true"),
        (["-ca_file"], r"backoffice\.ca_file is needed with an https:// backoffice\.url"),
        (['url = "http://backoffice.example"', "-ca_file"],
         r"backoffice\.url: http:// sends records and invoice links in clear"),
        (['invoice_base_url = "http://invoices.example"'],
         r"backoffice\.invoice_base_url: http:// sends"),
        (['ca_file = "nope.pem"'], r"backoffice\.ca_file: .*nope\.pem: no such file"),
        (['ca_file = "junk.pem"'], r"backoffice\.ca_file: .*junk\.pem: not a PEM CA cert"),
        (['url = "https://user:pw@backoffice.example"'], r"backoffice\.url: .*no user name"),
        (['url = "https://backoffice.example/?x=1"'], r"backoffice\.url: .*no query"),
        (['url = "ftp://backoffice.example"'], r"backoffice\.url: String should match"),
        (["upload_retry_s = 60", "upload_retry_max_s = 10"],
         r"backoffice\.upload_retry_max_s must be at least backoffice\.upload_retry_s"),
        (["upload_retry_s = 'often'"], r"backoffice\.upload_retry_s: "),
        (["offline = 'yes'"], r"backoffice\.offline: .*boolean"),
        (["bogus = 1"], r"backoffice\.bogus: unknown key"),
        (["-url", "-ca_file", "offline = true"],  # the receipt's link would lead nowhere
         r"backoffice\.invoice_base_url: missing: with offline = true"),
    ]
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n")
    for edits, message in cases:
        with pytest.raises(ConfigError, match=message) as err:
            load_config(production_config(tmp_path, backoffice=edits))
        assert str(err.value).startswith(f"{tmp_path / 'kiosk.toml'}: ")
        assert "\n" not in str(err.value)
    p = production_config(tmp_path, drop=("backoffice",))
    with pytest.raises(ConfigError, match=r"backoffice\.url: missing"):
        load_config(p)
    # a site that exports by USB says so; the invoice link may have its own base
    cfg = load_config(production_config(tmp_path, backoffice=[
        "-url", "-ca_file", "offline = true",
        'invoice_base_url = "https://invoices.example/k/"']))
    assert not cfg.backoffice.uploads()
    assert cfg.backoffice.invoice_base() == "https://invoices.example/k"
    # in demo: no URL is no uploads, http:// is allowed, https:// still pins a CA
    assert not parse_config("schema_version = 1\n", demo=True).backoffice.uploads()
    demo = parse_config('schema_version = 1\n[backoffice]\nurl = "http://127.0.0.1:8000"\n',
                        demo=True)
    assert demo.backoffice.uploads()
    with pytest.raises(ConfigError, match=r"backoffice\.ca_file is needed"):
        parse_config('schema_version = 1\n[backoffice]\nurl = "https://127.0.0.1"\n', demo=True)


def test_the_runtime_uploads_only_when_configured(host: HostSimulator, tmp_path: Path) -> None:
    ca = host_ca_pem(tmp_path / "ca.pem")
    journal = tmp_path / "kiosk" / "journal.sqlite"
    for cfg, upload, expected in (
            (parse_config(f"schema_version = 1\n[host]\nport = {host.port}\n", demo=True), True,
             False),
            (terminal_config(host, "https://127.0.0.1:9", ca), False, False),
            (terminal_config(host, "https://127.0.0.1:9", ca), True, True)):
        clock = SimClock(T0)
        rt = build_runtime(cfg, clock=clock.now, journal_path=journal, watch=False,
                           charger=SimCharger((1,), auto=False, clock=clock),
                           card_terminal=SimCardTerminal(), upload=upload)
        try:
            assert (rt.upload_status() is not None) is expected
            assert (rt.uploader is not None) is expected
        finally:
            rt.close()


def test_new_records_are_sent_at_once_not_at_the_next_interval(host: HostSimulator,
                                                              tmp_path: Path) -> None:
    """The session's records (its outcome) and, later, the settlement's record (the queue's
    acknowledgement, here after a capture the host dropped once) each wake the uploader: with
    an interval of an hour, all four arrive without anyone kicking it."""
    db = open_db(f"sqlite:///{tmp_path / 'bo.sqlite'}")
    journal = tmp_path / "kiosk" / "journal.sqlite"
    try:
        with running_service(db, tmp_path) as svc:
            assert svc.ca_file is not None
            cfg = terminal_config(host, svc.url, svc.ca_file)
            cfg = cfg.model_copy(update={
                "backoffice": cfg.backoffice.model_copy(update={"upload_interval_s": 3600}),
                "payment": cfg.payment.model_copy(update={"settle_retry_s": 1})})
            register(db, cfg, journal)
            with kiosk(cfg, journal) as k:
                rig = k.rig
                s = rig.charging()
                rig.charger.advance(900)
                rig.until(lambda: rig.rt.runner.active().energy_wh > 0, "energy")
                host.inject("drop")  # the capture: no answer, sent again a second later
                rig.rt.runner.post(ev.StopRequested(s.id))
                rig.reach(State.RECEIPT)
                first = k.up.wait_for(lambda st: st.pending == 0 and st.delivered >= 1, WAIT_S)
                assert first is not None, f"the session's records not sent: {k.up.status()}"
                rig.rt.runner.post(ev.Dismissed(s.id))
                rig.final()
                rig.until(lambda: any(j.attempts >= 1
                                      for j in rig.rt.journal.pending_settlements()),
                          "the dropped capture")
                rig.clock.advance(5)  # the retry is due (settle_retry_s = 1)
                rig.rt.settlement.kick()
                rig.settled()
                done = k.up.wait_for(lambda st: st.pending == 0 and st.delivered >= 2, WAIT_S)
                assert done is not None, f"the settlement's record not sent: {k.up.status()}"
                assert assert_delivered_once(k.rt, db) == 4
    finally:
        db.close()


def test_a_back_office_restored_from_an_older_backup_gets_the_lost_batches_again(
        host: HostSimulator, tmp_path: Path) -> None:
    """The back office loses batches it acknowledged (a restore from a backup): its 'held'
    answer says what it lacks, and the terminal sends those again from its journal (kept after
    the acknowledgement), byte for byte, then the rest: every record once in the new database."""
    journal = tmp_path / "kiosk" / "journal.sqlite"
    old = open_db(f"sqlite:///{tmp_path / 'bo-old.sqlite'}")
    new = open_db(f"sqlite:///{tmp_path / 'bo-restored.sqlite'}")
    try:
        with running_service(old, tmp_path) as svc:
            assert svc.ca_file is not None
            cfg = terminal_config(host, svc.url, svc.ca_file)
            register(old, cfg, journal)
            register(new, cfg, journal)  # the backup: the registry, none of the batches
            with kiosk(cfg, journal) as k:
                play_sessions(k, 2)
                wait_delivered(k.up)
                assert assert_delivered_once(k.rt, old) == 8
                sent_before = k.rt.journal.last_batch_sequence()
                envelopes = {s: k.rt.journal.batch(s) for s in range(1, sent_before + 1)}
                svc.stop()
                svc.db = new  # restored: same address, an older database
                svc.start()
                play_sessions(k, 1)
                wait_delivered(k.up)
                assert assert_delivered_once(k.rt, new) == 12
                assert k.up.status().failures == 0
                with new.engine.connect() as conn:
                    resent = dict(conn.execute(select(batches.c.sequence, batches.c.envelope)
                                               .where(batches.c.sequence <= sent_before)).all())
                for seq, row in envelopes.items():  # the very bytes signed the first time
                    assert row is not None and bytes(resent[seq]) == row.envelope
    finally:
        old.close()
        new.close()
