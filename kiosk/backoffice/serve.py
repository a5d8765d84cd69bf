"""``kiosk-backoffice serve``: the back office service (:mod:`kiosk.backoffice.service`) under
uvicorn, over TLS.

Checked before anything listens, each problem one line ``kiosk-backoffice: serve: ...`` and
exit status 2 (never a traceback):

- TLS is the default: ``--tls-cert`` and ``--tls-key`` (PEM, regular files of at most 1 MiB,
  a key that matches the certificate, not encrypted). ``--plain-http`` serves HTTP instead, for
  a TLS-terminating proxy in front; it warns on standard error, and on an address that is not
  loopback it also needs ``--behind-proxy`` (the proxy is on another machine of a private
  network: say so explicitly);
- the database is opened once (created and migrated) and closed again: each process opens
  its own. ``--workers N`` (N > 1) needs PostgreSQL (SQLite is for one process) and runs
  uvicorn's factory :func:`app_from_environment` in N processes, the settings passed in the
  environment (:data:`ENV_DB`, :data:`ENV_PUBLIC_URL`);
- the address and port are bound once to see that they can be (taken, not allowed, unknown).

``SIGTERM`` or ``SIGINT`` stops it gracefully (requests under way finish), exit status 0. No
access log: invoice links carry their token in the path.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.config import one_line
from kiosk.files import FileRefused, read_regular_file

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ENV_DB", "ENV_PUBLIC_URL", "ServeError", "ServeOptions", "app_from_environment",
           "check", "serve"]

ENV_DB = "EVKIOSK_BACKOFFICE_DB"  # as kiosk.backoffice.cli reads it
ENV_PUBLIC_URL = "EVKIOSK_BACKOFFICE_PUBLIC_URL"
PEM_MAX_BYTES = 1024 * 1024
MAX_WORKERS = 64
GRACEFUL_S = 10  # requests under way get this long after SIGTERM


class ServeError(Exception):
    """The service cannot start as asked; the message says why (one line)."""


@dataclass(frozen=True)
class ServeOptions:
    db_url: str
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str = ""
    workers: int = 1
    plain_http: bool = False
    behind_proxy: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _pem(path: Path, what: str) -> None:
    try:
        read_regular_file(path, PEM_MAX_BYTES)
    except FileRefused as exc:
        raise ServeError(f"{what} {path}: {exc}") from None


def check(options: ServeOptions) -> list[str]:
    """Check the options (not the database); the warnings to print. Raises
    :class:`ServeError`."""
    warnings: list[str] = []
    if not 1 <= options.port <= 65535:
        raise ServeError(f"--port {options.port}: from 1 to 65535")
    if not 1 <= options.workers <= MAX_WORKERS:
        raise ServeError(f"--workers {options.workers}: from 1 to {MAX_WORKERS}")
    if options.workers > 1 and not options.db_url.startswith("postgresql"):
        raise ServeError(f"--workers {options.workers}: several processes need PostgreSQL "
                         f"(--db postgresql+psycopg://...); SQLite is for one process")
    if options.public_url and not options.public_url.startswith(("https://", "http://")):
        raise ServeError(f"--public-url {one_line(options.public_url, 80)!r}: not an "
                         f"http(s):// URL")
    if options.plain_http:
        if options.tls_cert or options.tls_key:
            raise ServeError("--plain-http and --tls-cert/--tls-key: choose one")
        if not is_loopback(options.host) and not options.behind_proxy:
            raise ServeError(f"--plain-http on {options.host}, not a loopback address: only "
                             f"behind a TLS-terminating proxy; add --behind-proxy to say so")
        warnings.append(f"WARNING: plain HTTP on {options.host}:{options.port}: uploads, "
                        f"invoice pages and OCPI tokens travel in clear unless a TLS proxy "
                        f"terminates in front")
        return warnings
    if options.tls_cert is None or options.tls_key is None:
        raise ServeError("--tls-cert and --tls-key are needed (PEM files), or --plain-http "
                         "behind a TLS-terminating proxy")
    _pem(options.tls_cert, "--tls-cert")
    _pem(options.tls_key, "--tls-key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(str(options.tls_cert), str(options.tls_key), password=_no_password)
    except ssl.SSLError as exc:
        raise ServeError(f"--tls-cert {options.tls_cert} / --tls-key {options.tls_key}: not a "
                         f"PEM certificate and its unencrypted key "
                         f"({exc.reason or exc})") from None
    except (OSError, ValueError, TypeError) as exc:
        raise ServeError(f"--tls-cert {options.tls_cert} / --tls-key {options.tls_key}: "
                         f"cannot use: {getattr(exc, 'strerror', None) or exc}") from None
    return warnings


def _no_password() -> str:
    raise ValueError("the key is encrypted (give an unencrypted key, readable only by the "
                     "service's user)")


def _check_bind(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(address)
        except OSError as exc:
            raise ServeError(f"{host}:{port}: cannot listen: {exc.strerror or exc}") from None


def _check_db(url: str) -> str:
    """Open (create, migrate) and close the database; its dialect."""
    from sqlalchemy.exc import SQLAlchemyError

    from kiosk.backoffice.storage import StorageError, _reason, open_db

    try:
        db = open_db(url)
    except StorageError as exc:
        raise ServeError(f"database: {exc}") from None
    except SQLAlchemyError as exc:
        raise ServeError(f"database: {_reason(exc)}") from None
    try:
        return db.dialect
    finally:
        db.close()


def app_from_environment() -> FastAPI:
    """The app of one worker process: the database URL from :data:`ENV_DB`, the public URL
    from :data:`ENV_PUBLIC_URL` (uvicorn's ``factory``)."""
    from kiosk.backoffice.service import ServiceSettings, create_app
    from kiosk.backoffice.storage import open_db

    url = os.environ.get(ENV_DB, "")
    if not url:
        raise RuntimeError(f"{ENV_DB} is not set")
    return create_app(open_db(url), ServiceSettings(public_url=os.environ.get(ENV_PUBLIC_URL,
                                                                              "")))


def serve(options: ServeOptions) -> int:
    """Check, then serve until SIGTERM/SIGINT; the exit status. Raises :class:`ServeError`
    for what is found before anything listens."""
    for line in check(options):
        print(f"kiosk-backoffice: {line}", file=sys.stderr)
    dialect = _check_db(options.db_url)
    _check_bind(options.host, options.port)
    scheme = "http" if options.plain_http else "https"
    print(f"kiosk-backoffice: serving on {scheme}://{options.host}:{options.port} "
          f"({dialect}, {options.workers} process{'es' if options.workers > 1 else ''})",
          file=sys.stderr, flush=True)
    try:
        if options.workers > 1:
            os.environ[ENV_DB] = options.db_url
            os.environ[ENV_PUBLIC_URL] = options.public_url
            _run("kiosk.backoffice.serve:app_from_environment", options, factory=True)
            return 0
        from kiosk.backoffice.service import ServiceSettings, create_app
        from kiosk.backoffice.storage import open_db

        db = open_db(options.db_url)
        try:
            _run(create_app(db, ServiceSettings(public_url=options.public_url)), options)
        finally:
            db.close()
    except SystemExit as exc:  # uvicorn could not start (it logged why)
        if exc.code in (0, None):
            return 0
        raise ServeError(f"{options.host}:{options.port}: the server did not start (see the "
                         f"lines above)") from None
    return 0


def _run(app: FastAPI | str, options: ServeOptions, *, factory: bool = False) -> None:
    import uvicorn

    # uvicorn raises the signal that stopped it again once it has shut down (the process would
    # end "killed by SIGTERM", or with a KeyboardInterrupt): a stop asked for is a clean exit
    stopped: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopped.append(signum))
    plain = options.plain_http
    uvicorn.run(app, host=options.host, port=options.port, factory=factory,
                workers=options.workers if factory else None, access_log=False,
                log_level="info", timeout_graceful_shutdown=GRACEFUL_S, server_header=False,
                ssl_certfile=None if plain else str(options.tls_cert),
                ssl_keyfile=None if plain else str(options.tls_key))
