"""Updates from the back office, the kiosk's side: :class:`RemoteUpdates` polls a back office
over real HTTPS (uvicorn in a thread, a CA made for the run and pinned), applies what it is
given with every check of a USB update, audits it, and asks for a restart.

The back office here plays answers on purpose (another terminal's answer, a forged bundle, an
answer without end, one that never comes, 503s): nothing is applied that should not be, no file
changes, the thread lives on and the next good answer is taken. Waits are on the client's
condition with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.charger import SimCharger
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.storage import open_db
from kiosk.backoffice.updates import publish
from kiosk.config import load_config
from kiosk.maintenance.remote import RemoteStatus, RemoteUpdates
from kiosk.maintenance.updates import Updates, make_update
from kiosk.records.batch import public_key_raw
from kiosk.records.update_poll import (
    MAX_ANSWER_BYTES,
    Offered,
    make_answer,
    read_poll,
    verify_poll,
)
from kiosk.runtime import build_runtime
from kiosk.security.audit import AuditLog
from kiosk.security.provisioning import load_terminal_keys, provision
from tests.support.backoffice import TlsServer, make_pki, running_service
from tests.support.production import production_config

WAIT_S = 30.0
TERMINAL = "SITE-0007"
TARIFF = ('{"country_code": "DE", "party_id": "EVK", "id": "T1", "currency": "EUR", '
          '"elements": [{"price_components": [{"type": "ENERGY", "price": PRICE, '
          '"step_size": 1}]}], "last_updated": "2026-11-01T00:00:00Z"}')


def tariff_bytes(price: str) -> bytes:
    return TARIFF.replace("PRICE", price).encode()


class Played:
    """An ASGI back office for ``POST /v1/updates``: checks the poll is the terminal's and
    answers ``next`` (a function of the poll's ``have``), recording every poll."""

    def __init__(self, terminal_key: Ed25519PrivateKey) -> None:
        self.key = terminal_key.public_key()
        self.polls: list[dict[str, int]] = []
        self.next: Any = lambda have: (200, make_answer(TERMINAL, []))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        poll = read_poll(body)
        verify_poll(poll, self.key, datetime.now(UTC))
        assert scope["path"] == "/v1/updates" and poll.terminal_id == TERMINAL
        self.polls.append(poll.have)
        result = self.next(poll.have)
        if result == "hang":
            await asyncio.sleep(3600)
            return
        if result == "endless":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            chunk = b" " * 65536
            for _ in range(MAX_ANSWER_BYTES // len(chunk) + 4):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        status, data, *ctype = result
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type",
                                 (ctype[0] if ctype else "application/json").encode()),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


@dataclass
class Site:
    folder: Path
    config_path: Path
    tariff_path: Path
    operator: Ed25519PrivateKey
    played: Played
    remote: RemoteUpdates
    audit: AuditLog
    restarts: list[str]

    def bundle(self, sequence: int, content: bytes, *, kind: str = "tariff",
               key: Ed25519PrivateKey | None = None, terminal: str = TERMINAL,
               expires: timedelta = timedelta(days=1)) -> bytes:
        now = datetime.now(UTC)
        return make_update(key or self.operator, kind, terminal, sequence, content,
                           issued_at=now - timedelta(minutes=1), expires_at=now + expires)

    def offer(self, *bundles: tuple[str, int, bytes]) -> None:
        self.played.next = lambda have: (200, make_answer(
            TERMINAL, [Offered(k, n, b) for k, n, b in bundles if n > have[k]]))

    def poll(self) -> RemoteStatus:
        before = self.remote.status().polls
        self.remote.check_now()
        return self.remote.wait_for(lambda s: s.polls > before and not s.checking, WAIT_S)

    def actions(self) -> list[tuple[str, str]]:
        return [(e.actor, e.action) for e in self.audit.entries()]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    etc = tmp_path / "etc"
    etc.mkdir()
    operator = Ed25519PrivateKey.generate()
    terminal_key = Ed25519PrivateKey.generate()
    tariff = etc / "tariff.json"
    tariff.write_bytes(tariff_bytes("0.45"))
    config_path = etc / "kiosk.toml"
    op_hex = operator.public_key().public_bytes_raw().hex()
    config_path.write_text(
        f'schema_version = 1\n[station]\nid = "{TERMINAL}"\n[tariff]\nfile = "tariff.json"\n'
        f'[maintenance]\noperator_key = "{op_hex}"\n')
    cfg = load_config(config_path, demo=True)
    pki = make_pki(tmp_path / "pki")
    played = Played(terminal_key)
    server = TlsServer(played, pki)
    server.start()
    audit = AuditLog(folder, terminal_key)
    restarts: list[str] = []
    remote = RemoteUpdates(Updates(folder, config_path, cfg), terminal_id=TERMINAL,
                           signing_key=terminal_key, url=server.url, ca_file=pki.ca_file,
                           clock=lambda: datetime.now(UTC), interval_s=3600, timeout_s=1.0,
                           audit=audit,
                           on_applied=lambda u: restarts.append(f"{u.kind} {u.sequence}"))
    remote.start()  # it asks at once; then every hour, or when told (Site.poll)
    try:
        first = remote.wait_for(lambda s: s.polls >= 1 and not s.checking, WAIT_S)
        assert first.last_result == "no new update", first
        yield Site(folder, config_path, tariff, operator, played, remote, audit, restarts)
    finally:
        remote.close()
        server.stop()
        audit.close()


def test_a_new_tariff_is_applied_audited_and_asks_for_a_restart(site: Site) -> None:
    new = tariff_bytes("0.39")
    site.offer(("tariff", 1, site.bundle(1, new)))
    st = site.poll()
    assert st.last_result == "tariff 1 applied" and st.failures == 0
    assert site.tariff_path.read_bytes() == new
    assert (site.tariff_path.parent / "tariff.json.previous").read_bytes() == tariff_bytes("0.45")
    assert site.restarts == ["tariff 1"] and st.applied == ("tariff 1",)
    assert ("backoffice", "update applied") in site.actions()
    st = site.poll()  # the terminal now says it has 1: nothing new
    assert st.last_result == "no new update"
    assert site.played.polls[-1] == {"config": 0, "tariff": 1, "members": 0}
    assert site.restarts == ["tariff 1"]


def test_a_forged_or_foreign_bundle_is_refused_once_and_changes_nothing(site: Site) -> None:
    old = site.tariff_path.read_bytes()
    forged = site.bundle(1, tariff_bytes("0.01"), key=Ed25519PrivateKey.generate())
    site.offer(("tariff", 1, forged))
    for _ in range(2):  # offered at every poll: audited once
        st = site.poll()
        assert "tariff 1 refused" in st.last_result and "wrongly signed" in st.last_result
    assert site.actions().count(("backoffice", "update refused")) == 1
    foreign = site.bundle(2, tariff_bytes("0.01"), terminal="SITE-0008")
    site.offer(("tariff", 2, foreign))
    assert "not for this terminal" in site.poll().last_result
    expired = site.bundle(3, tariff_bytes("0.01"), expires=timedelta(seconds=-30))
    site.offer(("tariff", 3, expired))
    assert "refused" in site.poll().last_result
    bad = site.bundle(4, b'{"not": "a tariff"}')
    site.offer(("tariff", 4, bad))
    assert "tariff 4 refused" in site.poll().last_result
    assert site.tariff_path.read_bytes() == old and site.restarts == []
    assert not (site.tariff_path.parent / "tariff.json.previous").exists()
    good = site.bundle(5, tariff_bytes("0.40"))
    site.offer(("tariff", 5, good))
    assert site.poll().last_result == "tariff 5 applied"


def test_a_config_and_a_tariff_in_one_answer(site: Site) -> None:
    text = site.config_path.read_text() + "[host]\ntimeout_s = 7\n"
    site.offer(("config", 1, site.bundle(1, text.encode(), kind="config")),
               ("tariff", 1, site.bundle(1, tariff_bytes("0.50"))))
    st = site.poll()
    assert st.last_result == "config 1 applied; tariff 1 applied"
    assert site.config_path.read_text() == text
    assert site.restarts == ["config 1", "tariff 1"]


@pytest.mark.parametrize("answer, words", [
    ((503, b'{"status":"error","reason":"database unavailable"}'),
     "unavailable (HTTP 503): database unavailable"),
    ((403, b'{"status":"rejected","reason":"terminal revoked"}'),
     "refused by the back office (HTTP 403): terminal revoked"),
    ((200, b"<html>hello</html>", "text/html"), "not application/json"),
    ((200, b"{not json"), "not valid JSON"),
    ((200, b'{"format":"evkiosk-updates/1","terminal_id":"SITE-0008","updates":[]}'),
     "not this terminal"),
    ((200, b'{"format":"evkiosk-updates/1","terminal_id":"SITE-0007","updates":'
           b'[{"kind":"tariff","sequence":0,"bundle":""}]}'), "not above"),
    ((200, b'{"format":"evkiosk-updates/1","terminal_id":"SITE-0007","updates":'
           b'[{"kind":"firmware","sequence":1,"bundle":""}]}'), "kind"),
    ("endless", "more than"),
    ("hang", "no answer in time"),
])
def test_hostile_answers_are_failures_that_change_nothing(site: Site, answer: Any,
                                                          words: str) -> None:
    old = site.tariff_path.read_bytes()
    ok_before = site.remote.status().last_ok
    site.played.next = lambda have: answer
    st = site.poll()
    assert words in st.last_result and st.failures == 1 and st.last_ok == ok_before
    assert site.tariff_path.read_bytes() == old and site.restarts == []
    site.offer(("tariff", 1, site.bundle(1, tariff_bytes("0.41"))))
    st = site.poll()  # the thread lives on, and the next good answer is taken
    assert st.last_result == "tariff 1 applied" and st.failures == 0


def test_the_back_office_unreachable_is_a_failure_with_the_reason(site: Site,
                                                                 tmp_path: Path) -> None:
    cfg = load_config(site.config_path, demo=True)
    polls = len(site.played.polls)
    other = make_pki(tmp_path / "other")  # a server whose certificate is from another CA
    server = TlsServer(site.played, other)
    server.start()
    remote = RemoteUpdates(Updates(site.folder, site.config_path, cfg), terminal_id=TERMINAL,
                           signing_key=Ed25519PrivateKey.generate(), url=server.url,
                           ca_file=make_pki(tmp_path / "pinned").ca_file,
                           clock=lambda: datetime.now(UTC), interval_s=3600, timeout_s=1.0)
    remote.start()
    try:
        st = remote.wait_for(lambda s: s.polls >= 1, WAIT_S)
        assert "certificate is refused" in st.last_result and st.failures == 1
    finally:
        remote.close()
        server.stop()
    assert len(site.played.polls) == polls  # nothing reached the server


# --- the runtime: who asks ---------------------------------------------------------------------

def production_terminal(tmp_path: Path, maintenance: str) -> tuple[Path, Path]:
    """A production config (real devices named; the test passes simulators) with the
    ``[maintenance]`` lines given, and its provisioned data folder."""
    p = production_config(tmp_path / "etc")
    p.write_text(p.read_text() + f"[maintenance]\n{maintenance}\n")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    provision(load_config(p), data)
    return p, data


@pytest.mark.parametrize("maintenance, config_path, asks", [
    (f'operator_key = "{"ab" * 32}"', True, True),
    (f'operator_key = "{"ab" * 32}"\nupdate_poll_s = 0', True, False),  # USB only
    ('operator_key = ""', True, False),  # no key: no update is ever taken
    (f'operator_key = "{"ab" * 32}"', False, False),  # no file to update
])
def test_the_runtime_asks_the_back_office_only_when_an_update_can_be_taken(
        tmp_path: Path, maintenance: str, config_path: bool, asks: bool) -> None:
    p, data = production_terminal(tmp_path, maintenance)
    charger = SimCharger((1,))
    rt = build_runtime(load_config(p), journal_path=data / "journal.sqlite",
                       card_terminal=SimCardTerminal(), charger=charger, watch=False,
                       config_path=p if config_path else None)
    try:
        assert (rt.remote_updates is not None) is asks
        if asks:
            assert rt.remote_updates is not None
            assert rt.remote_updates.endpoint == "https://backoffice.example:8443/v1/updates"
    finally:
        rt.close()
        charger.close()


# --- end to end: the operator publishes, the terminal takes it and restarts ----------------------

def test_a_bundle_published_at_the_back_office_reaches_the_terminal(
        tmp_path: Path, backoffice_url: str) -> None:
    """The real service (SQLite and PostgreSQL) over HTTPS, a production terminal provisioned
    and registered: ``kiosk-backoffice update publish``'s function stores the operator's
    bundle, the terminal's poll brings it, the tariff is replaced, audited, a restart asked."""
    operator = Ed25519PrivateKey.generate()
    op_hex = operator.public_key().public_bytes_raw().hex()
    db = open_db(backoffice_url)
    with running_service(db, tmp_path / "bo") as service:
        p, data = production_terminal(tmp_path, f'operator_key = "{op_hex}"')
        text = p.read_text().replace('url = "https://backoffice.example:8443"',
                                     f'url = "{service.url}"')
        text = text.replace('ca_file = "backoffice-ca.pem"', f'ca_file = "{service.ca_file}"')
        tariff = p.parent / "tariff.json"
        tariff.write_bytes(tariff_bytes("0.45"))
        p.write_text(text + '[tariff]\nfile = "tariff.json"\n')
        cfg = load_config(p)
        keys = load_terminal_keys(cfg, data, demo=False)
        assert keys.signing_key is not None
        add_terminal(db, cfg.station.id, public_key_raw(keys.signing_key.public_key()))
        now = datetime.now(UTC)
        new = tariff_bytes("0.38")
        publish(db, make_update(operator, "tariff", cfg.station.id, 1, new,
                                issued_at=now - timedelta(minutes=1),
                                expires_at=now + timedelta(days=7)), op_hex, now=now)
        charger = SimCharger((1,))
        rt = build_runtime(cfg, journal_path=data / "journal.sqlite",
                           card_terminal=SimCardTerminal(), charger=charger, watch=False,
                           config_path=p)
        try:
            remote = rt.remote_updates
            assert remote is not None
            st = remote.wait_for(lambda s: s.polls >= 1 and not s.checking, WAIT_S)
            assert st.last_result == "tariff 1 applied", st
            assert tariff.read_bytes() == new
            assert rt.restart_reason == "the tariff update 1 from the back office"
            assert rt.may_restart()
            assert rt.audit is not None
            actions = [(e.actor, e.action) for e in rt.audit.entries()]
            assert ("backoffice", "update applied") in actions
            assert ("system", "restart asked") in actions
        finally:
            rt.close()
            charger.close()
    db.close()
    load_config(p)  # the kiosk starts again on what it took
