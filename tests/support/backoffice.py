"""The back office service on real TCP for tests: uvicorn in a thread of the test process, over
TLS with a CA made for the run (the terminal pins it), on a free port of 127.0.0.1.

``running_service(db, tls=...)`` is a context manager yielding a :class:`ServiceHandle` with
``url``, ``ca_file`` and ``stop()``/``start()`` (the same port again: a back office that restarts).
Waits are on uvicorn's own ``started`` flag and on the thread ending, never fixed sleeps.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.backoffice.service import ServiceSettings, create_app
from kiosk.backoffice.storage import Database

START_TIMEOUT_S = 30.0
App = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[MutableMapping[str, Any]]],
                Callable[[MutableMapping[str, Any]], Awaitable[None]]], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TestPki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_pki(folder: Path, host: str = "127.0.0.1") -> TestPki:
    """A CA and a server certificate for ``host`` (an IP or a name), PEM files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evkiosk test back office CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pki = TestPki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return pki


@dataclass
class ServiceHandle:
    db: Database
    port: int
    pki: TestPki | None
    settings: ServiceSettings
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _errors: list[BaseException] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{'https' if self.pki else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        return None if self.pki is None else self.pki.ca_file

    def client_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        return ssl.create_default_context(cafile=str(self.pki.ca_file))

    def start(self) -> None:
        assert self._thread is None, "already running"
        config = uvicorn.Config(
            create_app(self.db, self.settings), host="127.0.0.1", port=self.port,
            log_level="warning", access_log=False, lifespan="on",
            ssl_certfile=str(self.pki.cert_file) if self.pki else None,
            ssl_keyfile=str(self.pki.key_file) if self.pki else None,
            timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)  # in a thread: uvicorn leaves the signals alone

        def run() -> None:
            try:
                server.run()
            except BaseException as exc:  # reported by start() / stop()
                self._errors.append(exc)

        thread = threading.Thread(target=run, name=f"backoffice:{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"back office did not start: {self._errors!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("back office did not start in time")
            thread.join(0.01)  # wakes at once when the thread ends
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)
        if self._thread.is_alive():
            raise TimeoutError("back office did not stop in time")
        self._server = self._thread = None


@contextmanager
def running_service(db: Database, tmp: Path, *, tls: bool = True,
                    settings: ServiceSettings | None = None) -> Iterator[ServiceHandle]:
    pki = make_pki(tmp / "pki") if tls else None
    port = free_port()
    base = settings or ServiceSettings()
    if not base.public_url:
        base = ServiceSettings(**{**base.__dict__,
                                  "public_url": f"{'https' if tls else 'http'}://127.0.0.1:{port}"})
    handle = ServiceHandle(db, port, pki, base)
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


@dataclass
class TlsServer:
    """An ASGI app under uvicorn in a thread, over TLS with ``pki``, on ``port``; stop() and
    start() again on the same port (with another ``pki`` if wanted)."""

    app: App
    pki: TestPki
    port: int = field(default_factory=free_port)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="critical",
                                access_log=False, lifespan="on",
                                ssl_certfile=str(self.pki.cert_file),
                                ssl_keyfile=str(self.pki.key_file), timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        thread = threading.Thread(target=server.run, name=f"scripted:{self.port}", daemon=True)
        thread.start()
        end = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            assert thread.is_alive(), "the test server did not start"
            assert time.monotonic() < end, "the test server did not start in time"
            thread.join(0.01)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)
        assert not self._thread.is_alive(), "the test server did not stop"
        self._server = self._thread = None


def stalled_post(service: ServiceHandle, path: str, length: int) -> bytes:
    """POST the headers and a part of a body of ``length`` bytes, then nothing: the head of
    the service's answer (it must answer 408 after ``body_timeout_s`` and close; the wait is
    on the socket, not on a clock)."""
    assert service.ca_file is not None
    ctx = ssl.create_default_context(cafile=str(service.ca_file))
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                    f"application/json\r\nContent-Length: {length}\r\n\r\n".encode()
                    + b'{"fo')
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = tls.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer
