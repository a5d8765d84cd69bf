"""Hostile uploads through the real service (uvicorn over TLS on real TCP): every bad envelope
of the importer's list, an unknown or revoked terminal, a conflict, a truncated, oversized,
mistyped or stalled body; each answered with its HTTP status and a JSON reason, and nothing
stored (rows counted); the good batch after them is still taken. Replay and gap answers too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.backoffice.registry import add_terminal, revoke_terminal
from kiosk.backoffice.service import ServiceSettings
from kiosk.backoffice.storage import Database, open_db
from kiosk.records.batch import MAX_ENVELOPE_BYTES
from tests.integration.test_backoffice_import import (
    TERMINAL,
    _hostile,
    counts,
    envelope,
    public_raw,
)
from tests.support.backoffice import ServiceHandle, running_service, stalled_post

KEY = Ed25519PrivateKey.generate()
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceHandle]:
    tmp = tmp_path_factory.mktemp("service")
    db = open_db(f"sqlite:///{tmp / 'bo.sqlite'}")
    with running_service(db, tmp, settings=ServiceSettings(body_timeout_s=0.5)) as svc:
        yield svc
    db.close()


@pytest.fixture
def fresh(service: ServiceHandle, tmp_path: Path) -> Iterator[Database]:
    """A new, empty database behind the running service for each test (same address)."""
    db = open_db(f"sqlite:///{tmp_path / 'bo.sqlite'}")
    add_terminal(db, TERMINAL, public_raw(KEY))
    old = service.db
    service.stop()
    service.db = db
    service.start()
    try:
        yield db
    finally:
        service.stop()
        service.db = old
        service.start()
        db.close()


@pytest.fixture
def client(service: ServiceHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, verify=service.client_context(),
                      timeout=10) as c:
        yield c


def post(client: httpx.Client, data: bytes, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, Any]]:
    answer = client.post("/v1/batches", content=data, headers=headers or JSON)
    assert answer.headers["content-type"].startswith("application/json")
    return answer.status_code, answer.json()


HOSTILE = _hostile(KEY)


def test_every_hostile_envelope_is_422_and_stores_nothing(fresh: Database,
                                                          client: httpx.Client) -> None:
    for case, (data, reason) in sorted(HOSTILE.items()):
        code, body = post(client, data)
        expected, refusal = {"oversized": (413, "invalid"),  # refused before it is read
                             "unknown terminal": (403, "unknown_terminal")}.get(
            case, (422, "invalid"))
        assert (code, body["status"], body["refusal"]) == (expected, "rejected", refusal), case
        assert reason in body["reason"] or expected == 413, (case, body)
        assert "595" not in body["reason"]  # never a record's content
    assert counts(fresh) == (0, 0, 0)
    code, body = post(client, envelope(KEY, 1))
    assert (code, body["status"], body["acked"]) == (200, "stored", 1)


def test_replay_gap_and_conflict(fresh: Database, client: httpx.Client) -> None:
    assert post(client, envelope(KEY, 1))[0] == 200
    code, body = post(client, envelope(KEY, 1))
    assert (code, body["status"], body["acked"]) == (200, "replay", 1)
    code, body = post(client, envelope(KEY, 3))
    assert (code, body["status"], body["acked"]) == (202, "held", 1)
    assert "sequence 2 missing" in body["reason"]
    code, body = post(client, envelope(KEY, 1, n=2))  # sequence 1, other bytes
    assert (code, body["refusal"]) == (409, "conflict")
    code, body = post(client, envelope(KEY, 2))
    assert (code, body["status"], body["acked"]) == (200, "stored", 3)  # 3 released
    assert counts(fresh) == (3, 9, 0)


def test_unknown_and_revoked_terminals_are_403(fresh: Database, client: httpx.Client) -> None:
    stranger = Ed25519PrivateKey.generate()
    code, body = post(client, envelope(stranger, 1, terminal="DEMO-0099"))
    assert (code, body["refusal"]) == (403, "unknown_terminal")
    assert post(client, envelope(KEY, 1))[0] == 200
    revoke_terminal(fresh, TERMINAL)
    code, body = post(client, envelope(KEY, 2))
    assert (code, body["refusal"], body["acked"]) == (403, "revoked", 1)
    assert counts(fresh) == (1, 3, 0)


def test_truncated_mistyped_and_oversized_bodies(fresh: Database, client: httpx.Client) -> None:
    good = envelope(KEY, 1)
    code, body = post(client, good[: len(good) // 2])
    assert (code, body["refusal"]) == (422, "invalid") and "not valid JSON" in body["reason"]
    code, body = post(client, b"")
    assert code == 422
    code, body = post(client, good, {"Content-Type": "text/plain"})
    assert code == 415
    code, body = post(client, b" " * (MAX_ENVELOPE_BYTES + 1))
    assert code == 413 and "at most" in body["reason"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        for _ in range(3):
            yield b" " * (MAX_ENVELOPE_BYTES // 2)

    answer = client.post("/v1/batches", content=chunks(), headers=JSON)
    assert answer.status_code == 413
    assert counts(fresh) == (0, 0, 0)
    assert post(client, good)[0] == 200


def test_a_client_that_stalls_mid_body_gets_408(fresh: Database,
                                                service: ServiceHandle) -> None:
    """Headers and a part of the body, then nothing: the service answers 408 after
    body_timeout_s (0.5 s here) and closes; the test waits on the socket, not on a clock."""
    answer = stalled_post(service, "/v1/batches", 1000)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert counts(fresh) == (0, 0, 0)
