"""A real PostgreSQL for the tests, from Debian's binaries, in a temp dir, as an unprivileged
user (``postgres`` when the tests run as root: initdb refuses root), on a free port of
127.0.0.1 with its socket in the same dir; stopped (``-m fast``) and removed after the session.

``postgres_server`` is session-scoped; ``new_database(server)`` makes an empty database per test
(``CREATE DATABASE``, a fraction of a second), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(os.environ.get("EVKIOSK_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "kiosk"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PostgresServer:
    dir: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def start_server() -> PostgresServer:
    if not (BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries not found in {BIN} (apt-get install "
                    f"postgresql; the Makefile's TEST_PACKAGES has it)")
    root = Path(tempfile.mkdtemp(prefix="evkiosk-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    subprocess.run(_as_owner([str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", USER,
                              "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True, timeout=60)
    for _ in range(5):  # a free port may be taken between the probe and the start
        port = _free_port()
        done = subprocess.run(_as_owner([
            str(BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o",
            f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off", "-w", "start"]),
            capture_output=True, timeout=60, check=False)
        if done.returncode == 0:
            return PostgresServer(root, port)
    log = (root / "server.log").read_text(errors="replace")[-2000:]
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start: {log}")


def stop_server(server: PostgresServer) -> None:
    subprocess.run(_as_owner([str(BIN / "pg_ctl"), "-D", str(server.dir / "data"), "-m", "fast",
                              "-w", "stop"]), capture_output=True, timeout=60, check=False)
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        stop_server(server)


def new_database(server: PostgresServer) -> str:
    """The URL of a new, empty database on ``server``."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    server.admin(f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backoffice_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty back-office database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'backoffice.sqlite'}"
    return new_database(request.getfixturevalue("postgres_server"))
