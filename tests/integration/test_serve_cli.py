"""``kiosk-backoffice serve`` as a real process: TLS on a free port, the health check and an
upload over HTTPS with the CA pinned, SIGTERM stops it cleanly (exit status 0); one process on
SQLite, several on PostgreSQL; what it refuses is one line and exit status 2."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.storage import open_db
from kiosk.records.batch import Batch, public_key_raw, seal
from tests.support.backoffice import free_port, make_pki
from tests.support.postgres import PostgresServer, new_database
from tests.support.records import record

ROOT = Path(__file__).resolve().parents[2]
START_S = 60.0  # a deadline, never reached when things work
pytestmark = pytest.mark.slow


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.backoffice.cli", *args],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def refused(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line
    assert proc.stderr.startswith("kiosk-backoffice: serve: "), proc.stderr
    assert message in proc.stderr, proc.stderr


@contextmanager
def serving(tmp_path: Path, db: str, *extra: str) -> Iterator[tuple[str, httpx.Client,
                                                                     subprocess.Popen[str]]]:
    """The service in its own process, until it answers /healthz over HTTPS (pinned CA)."""
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca_file)),
                          trust_env=False, timeout=10)
    err = open(tmp_path / "serve.err", "w+")  # noqa: SIM115 - read after the process ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.backoffice.cli", "serve", "--db", db, "--port", str(port),
         "--tls-cert", str(pki.cert_file), "--tls-key", str(pki.key_file), *extra],
        stdout=subprocess.DEVNULL, stderr=err, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"https://127.0.0.1:{port}"
    try:
        end = time.monotonic() + START_S
        while True:
            assert proc.poll() is None, f"serve ended: {(tmp_path / 'serve.err').read_text()}"
            assert time.monotonic() < end, "serve did not answer in time"
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                proc_wait(proc, 0.05)  # not listening yet: wakes at once if it ends
        yield url, client, proc
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(START_S)
        err.close()


def proc_wait(proc: subprocess.Popen[str], timeout: float) -> None:
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)


def stop(proc: subprocess.Popen[str], client: httpx.Client, tmp_path: Path) -> str:
    """SIGTERM; it must end by itself with exit status 0. Its standard error. (The client's
    idle connection is closed first: the server would wait for it.)"""
    client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(START_S) == 0, (tmp_path / "serve.err").read_text()[-3000:]
    text = (tmp_path / "serve.err").read_text()
    assert "Traceback" not in text, text
    return text


def upload(url: str, client: httpx.Client, db: str, terminal: str) -> None:
    """Register a terminal (as the operator does, in the database the service uses), then
    POST it a signed batch: stored, then a replay."""
    key = Ed25519PrivateKey.generate()
    store = open_db(db)
    try:
        add_terminal(store, terminal, public_key_raw(key.public_key()))
    finally:
        store.close()
    created = datetime(2026, 12, 1, 20, 0, tzinfo=UTC).isoformat()
    envelope = seal(Batch(terminal, 1, created, (record("session", "s-1"),
                                                 record("settlement", "s-1"))), key)
    for expected in ("stored", "replay"):
        r = client.post(f"{url}/v1/batches", content=envelope,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["acked"], body["terminal_id"]) == (expected, 1, terminal)


def test_serve_on_sqlite_over_tls_then_sigterm(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'backoffice.sqlite'}"
    with serving(tmp_path, db) as (url, client, proc):
        health = client.get(f"{url}/healthz")
        assert health.json() == {"status": "ok", "database": "sqlite"}
        upload(url, client, db, "T-0001")
        # plain HTTP on the TLS port: not served
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{url.rsplit(':', 1)[1]}/healthz", timeout=5,
                      trust_env=False)
        err = stop(proc, client, tmp_path)
    assert "serving on https://127.0.0.1:" in err and "(sqlite, 1 process)" in err


def test_several_workers_share_postgresql(tmp_path: Path,
                                          postgres_server: PostgresServer) -> None:
    db = new_database(postgres_server)
    with serving(tmp_path, db, "--workers", "2") as (url, client, proc):
        assert client.get(f"{url}/healthz").json() == {"status": "ok",
                                                       "database": "postgresql"}
        upload(url, client, db, "T-0002")
        err = stop(proc, client, tmp_path)
    assert "(postgresql, 2 processes)" in err


def test_what_serve_refuses_is_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'backoffice.sqlite'}"
    pki = make_pki(tmp_path / "pki")
    refused(cli("serve", "--db", db, "--tls-cert", str(tmp_path / "nope.pem"), "--tls-key",
                str(pki.key_file)), "--tls-cert")
    refused(cli("serve", "--db", db, "--tls-cert", str(pki.cert_file), "--tls-key",
                str(tmp_path / "nope.key")), "nope.key: no such file")
    refused(cli("serve", "--db", db), "--tls-cert and --tls-key are needed")
    refused(cli("serve", "--db", db, "--tls-cert", str(pki.cert_file), "--tls-key",
                str(pki.cert_file)), "not a PEM certificate and its unencrypted key")
    refused(cli("serve", "--db", db, "--tls-cert", "/dev/zero", "--tls-key",
                str(pki.key_file)), "a character device, not a regular file")
    refused(cli("serve", "--db", db, "--plain-http", "--host", "0.0.0.0"),
            "add --behind-proxy")
    refused(cli("serve", "--db", db, "--workers", "2", "--tls-cert", str(pki.cert_file),
                "--tls-key", str(pki.key_file)), "several processes need PostgreSQL")
    refused(cli("serve", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none",
                "--tls-cert", str(pki.cert_file), "--tls-key", str(pki.key_file)),
            "database: ")
    assert not (tmp_path / "backoffice.sqlite").exists()  # refused before the database


def test_help_explains_sqlite_and_postgresql() -> None:
    for args in (("serve", "--help"), ("--help",)):
        proc = cli(*args)
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout.lower()
        assert "sqlite:///" in text and "postgresql+psycopg://" in text, text
    serve = cli("serve", "--help").stdout
    assert "several processes share one" in serve and "--workers" in serve
    assert "--tls-cert" in serve and "--plain-http" in serve
