"""The back office's import on real SQLite and real PostgreSQL: stored, replay, gap held and
released, hostile uploads rejected with nothing stored (rows counted), concurrent importers in
threads and in processes storing every record exactly once, and the CLI end to end."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.registry import add_terminal, revoke_terminal
from kiosk.backoffice.storage import Database, batches, held_batches, open_db, records
from kiosk.records.batch import (
    FORMAT,
    MAX_ENVELOPE_BYTES,
    Batch,
    Record,
    canonical,
    key_id,
    seal,
)
from tests.support.postgres import backoffice_url, postgres_server  # noqa: F401 - fixtures
from tests.support.records import KINDS
from tests.support.records import record as sample_record

ROOT = Path(__file__).resolve().parents[2]

T0 = "2026-12-01T20:00:00+00:00"
TERMINAL = "DEMO-0001"


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def records_for(sequence: int, n: int = 3) -> tuple[Record, ...]:
    return tuple(sample_record(KINDS[i % 5], f"S{sequence:05d}-{i}", 595 + i,
                               number=f"{TERMINAL}-{sequence:05d}{i:03d}", seq=sequence)
                 for i in range(n))


def envelope(key: Ed25519PrivateKey, sequence: int, n: int = 3,
             terminal: str = TERMINAL, records: tuple[Record, ...] | None = None) -> bytes:
    return seal(Batch(terminal, sequence, T0, records or records_for(sequence, n)), key)


def signed(key: Ed25519PrivateKey, body: bytes, terminal: str = TERMINAL,
           **override: Any) -> bytes:
    """An envelope around any ``body`` bytes, correctly signed (for bodies of the wrong form)."""
    env = {"format": FORMAT, "terminal_id": terminal, "key_id": key_id(key.public_key()),
           "batch": base64.b64encode(body).decode("ascii"),
           "signature": base64.b64encode(key.sign(body)).decode("ascii")}
    env.update(override)
    return canonical(env)


def body(sequence: Any = 1, terminal: str = TERMINAL, **override: Any) -> bytes:
    obj: dict[str, Any] = {"format": FORMAT, "terminal_id": terminal, "sequence": sequence,
                           "created_at": T0, "records": [r.to_json() for r in records_for(1)]}
    obj.update(override)
    return canonical(obj)


# --- fixtures and counting ------------------------------------------------------------------

@pytest.fixture
def key() -> Ed25519PrivateKey:
    return new_key()


@pytest.fixture
def db(backoffice_url: str, key: Ed25519PrivateKey) -> Any:  # noqa: F811
    database = open_db(backoffice_url)
    add_terminal(database, TERMINAL, public_raw(key))
    yield database
    database.close()


def counts(db: Database) -> tuple[int, int, int]:
    """(batches, records, held batches)."""
    with db.engine.connect() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                     for t in (batches, records, held_batches))  # type: ignore[return-value]


# --- in order, replay, gap ------------------------------------------------------------------

def test_stored_then_replay(db: Database, key: Ed25519PrivateKey) -> None:
    first = import_envelope(db, envelope(key, 1))
    assert (first.status, first.sequence, first.acked, first.records) == ("stored", 1, 1, 3)
    again = import_envelope(db, envelope(key, 1))
    assert (again.status, again.acked, again.records) == ("replay", 1, 0)
    assert counts(db) == (1, 3, 0)
    with db.engine.connect() as conn:
        row = conn.execute(select(records).order_by(records.c.id)).first()
    assert row is not None
    assert json.loads(row.payload) == records_for(1)[0].payload  # stored whole, as sent
    assert (row.terminal_id, row.kind, row.batch_sequence) == (TERMINAL, "session", 1)


def test_gap_is_held_then_released_in_order(db: Database, key: Ed25519PrivateKey) -> None:
    assert import_envelope(db, envelope(key, 1)).status == "stored"
    held4 = import_envelope(db, envelope(key, 4))
    assert (held4.status, held4.acked) == ("held", 1)
    assert "sequence 2 to 3 missing" in held4.reason
    held3 = import_envelope(db, envelope(key, 3))
    assert held3.status == "held" and "sequence 2 missing" in held3.reason
    assert import_envelope(db, envelope(key, 3)).status == "held"  # held again: a no-op
    assert counts(db) == (1, 3, 2)
    closing = import_envelope(db, envelope(key, 2))
    assert (closing.status, closing.acked, closing.released) == ("stored", 4, 2)
    assert counts(db) == (4, 12, 0)
    assert import_envelope(db, envelope(key, 4)).status == "replay"
    with db.engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(select(batches.c.sequence).order_by(batches.c.id))]
    assert seqs == [1, 2, 3, 4]


def test_same_sequence_other_content_is_rejected(db: Database, key: Ed25519PrivateKey) -> None:
    assert import_envelope(db, envelope(key, 1)).status == "stored"
    other = import_envelope(db, envelope(key, 1, n=2 + 3))
    assert other.status == "rejected" and "other content" in other.reason
    assert import_envelope(db, envelope(key, 3)).status == "held"
    assert import_envelope(db, envelope(key, 3, n=1)).status == "rejected"
    assert counts(db) == (1, 3, 1)


def test_a_record_sent_again_in_a_later_batch_is_kept_once(db: Database,
                                                           key: Ed25519PrivateKey) -> None:
    assert import_envelope(db, envelope(key, 1)).records == 3
    again = records_for(1)[:1] + records_for(2, 2)[1:]
    second = import_envelope(db, envelope(key, 2, records=again))
    assert (second.status, second.records) == ("stored", 1)
    assert counts(db) == (2, 4, 0)


# --- hostile uploads: rejected, nothing stored ----------------------------------------------

def _flip_signature(data: bytes) -> bytes:
    env = json.loads(data)
    sig = bytearray(base64.b64decode(env["signature"]))
    sig[0] ^= 1
    env["signature"] = base64.b64encode(bytes(sig)).decode()
    return canonical(env)


def _hostile(key: Ed25519PrivateKey) -> dict[str, tuple[bytes, str]]:
    good = envelope(key, 1)
    rec = records_for(1)[0].to_json()
    return {
        "bad signature": (_flip_signature(good), "envelope.signature: does not verify"),
        "other key": (envelope(new_key(), 1), "envelope.key_id"),
        "unknown terminal": (envelope(key, 1, terminal="NOBODY-9"), "not registered"),
        "truncated": (good[: len(good) // 2], "envelope: not valid JSON"),
        "empty": (b"", "envelope: not valid JSON"),
        "oversized": (b" " * (MAX_ENVELOPE_BYTES + 1), "more than"),
        "not utf-8": (b"\xff\xfe{}", "not UTF-8"),
        "malformed JSON envelope": (b'{"format": "evkiosk-batch/1",', "not valid JSON"),
        "malformed JSON batch": (signed(key, b'{"format": "evkiosk-batch/1", "seq'),
                                 "batch: not valid JSON"),
        "nested too deep": (signed(key, b"[" * 40 + b"]" * 40), "nested more than"),
        "sequence as text": (signed(key, body(sequence="1")), "batch.sequence"),
        "sequence 0": (signed(key, body(sequence=0)), "batch.sequence"),
        "records not a list": (signed(key, body(records={"a": 1})), "batch.records"),
        "no records": (signed(key, body(records=[])), "batch.records"),
        "payload a list": (signed(key, body(records=[{**rec, "payload": [1, 2]}])),
                           "payload: not an object"),
        "payload text": (signed(key, body(records=[{**rec, "payload": "{}"}])),
                         "payload: not an object"),
        "unknown kind": (signed(key, body(records=[{**rec, "kind": "coupon"}])),
                         "kind: unknown kind"),
        "created_at a number": (signed(key, body(created_at=1764619200)),
                                "batch.created_at"),
        "naive timestamp": (signed(key, body(records=[{**rec,
                                                       "created_at": "2026-12-01T20:00:00"}])),
                            "created_at"),
        "record id twice": (signed(key, body(records=[rec, rec])), "twice in the batch"),
        "extra key": (signed(key, body(extra=1)), "unknown key"),
        "other terminal inside": (signed(key, body(terminal="DEMO-0002")),
                                  "batch.terminal_id"),
        "signature too short": (signed(key, body(), signature=base64.b64encode(b"x" * 10)
                                       .decode()), "envelope.signature"),
        "NaN": (signed(key, body().replace(b'"amount_minor":595', b'"amount_minor":NaN')),
                "not valid JSON"),
    }


HOSTILE_CASES = sorted(_hostile(Ed25519PrivateKey.generate()))


@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_hostile_upload_is_rejected_and_stores_nothing(db: Database, key: Ed25519PrivateKey,
                                                       case: str) -> None:
    data, reason = _hostile(key)[case]
    result = import_envelope(db, data)
    assert result.status == "rejected", result
    assert reason in result.reason
    assert "595" not in result.reason  # never a record's content
    assert counts(db) == (0, 0, 0)
    assert import_envelope(db, envelope(key, 1)).status == "stored"  # still takes sequence 1


def test_hostile_upload_after_a_gap_stores_nothing(db: Database, key: Ed25519PrivateKey) -> None:
    assert import_envelope(db, envelope(key, 1)).status == "stored"
    assert import_envelope(db, _flip_signature(envelope(key, 3))).status == "rejected"
    assert counts(db) == (1, 3, 0)


def test_revoked_terminal_is_rejected(db: Database, key: Ed25519PrivateKey) -> None:
    assert import_envelope(db, envelope(key, 1)).status == "stored"
    revoke_terminal(db, TERMINAL)
    for seq in (1, 2, 5):
        result = import_envelope(db, envelope(key, seq))
        assert (result.status, result.acked) == ("rejected", 1)
        assert "revoked" in result.reason
    assert counts(db) == (1, 3, 0)


# --- concurrent importers -------------------------------------------------------------------

def test_threads_importing_the_same_batches_store_each_record_once(
        db: Database, key: Ed25519PrivateKey) -> None:
    envelopes = [envelope(key, s, n=5) for s in range(1, 31)]
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        order = list(envelopes)
        random.Random(seed).shuffle(order)
        try:
            for data in order:
                assert import_envelope(db, data).status != "rejected"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert counts(db) == (30, 150, 0)


def _cli(*args: str, url: str, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVKIOSK_BACKOFFICE_DB": url}
    done = subprocess.run([sys.executable, "-m", "kiosk.backoffice.cli", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    if check_rc is not None:
        assert done.returncode == check_rc, (done.stdout, done.stderr)
    return done


@pytest.mark.slow
def test_two_processes_importing_the_same_50_envelopes(db: Database, key: Ed25519PrivateKey,
                                                       backoffice_url: str,  # noqa: F811
                                                       tmp_path: Path) -> None:
    files = []
    for s in range(1, 51):
        path = tmp_path / f"batch-{s:03d}.json"
        path.write_bytes(envelope(key, s, n=4))
        files.append(str(path))
    env = {**os.environ, "EVKIOSK_BACKOFFICE_DB": backoffice_url}
    procs = [subprocess.Popen([sys.executable, "-m", "kiosk.backoffice.cli", "import", *order],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for order in (files, files[::-1])]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert counts(db) == (50, 200, 0)
    with db.engine.connect() as conn:
        distinct = conn.execute(select(func.count(func.distinct(records.c.record_id)))).scalar()
    assert distinct == 200
    for out, _ in outs:
        assert len(out.splitlines()) == 50


# --- the CLI end to end ---------------------------------------------------------------------

@pytest.mark.slow
def test_cli_end_to_end(backoffice_url: str, tmp_path: Path) -> None:  # noqa: F811
    url = backoffice_url
    k = new_key()
    added = _cli("terminal", "add", TERMINAL, "--public-key", public_hex(k), url=url)
    assert key_id(k.public_key()) in added.stdout
    dup = _cli("terminal", "add", TERMINAL, "--public-key", public_hex(k), url=url, check_rc=2)
    assert dup.stderr == f"kiosk-backoffice: terminal {TERMINAL}: already registered\n"
    bad = _cli("terminal", "add", "X", "--public-key", "00" * 31, url=url, check_rc=2)
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr

    for s in (1, 2, 4):
        (tmp_path / f"{s}.json").write_bytes(envelope(k, s))
    (tmp_path / "3.json").write_bytes(envelope(k, 3))
    (tmp_path / "bad.json").write_bytes(_flip_signature(envelope(k, 5)))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_ENVELOPE_BYTES + 1))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    ok = _cli("import", str(tmp_path / "1.json"), str(tmp_path / "2.json"),
              str(tmp_path / "4.json"), str(tmp_path / "1.json"), url=url)
    lines = ok.stdout.splitlines()
    assert [ln.split(": ")[1] for ln in lines] == ["stored", "stored", "held", "replay"]
    assert "gap: sequence 3 missing" in lines[2]
    closing = _cli("import", str(tmp_path / "3.json"), url=url)
    assert "stored: terminal DEMO-0001 sequence 3, acked 4" in closing.stdout

    hostile = _cli("import", str(tmp_path / "bad.json"), str(big), str(fifo),
                   str(tmp_path / "missing.json"), url=url, check_rc=2)
    out = hostile.stdout.splitlines()
    assert len(out) == 4 and all(": rejected: " in ln for ln in out), out
    assert "does not verify" in out[0] and "too large" in out[1]
    assert "named pipe" in out[2] and "no such file" in out[3]
    assert "Traceback" not in hostile.stderr

    listed = _cli("terminal", "list", url=url)
    assert listed.stdout.startswith(f"{TERMINAL}\tactive\t")
    _cli("terminal", "revoke", TERMINAL, url=url)
    again = _cli("terminal", "revoke", TERMINAL, url=url, check_rc=2)
    assert "already revoked" in again.stderr
    after = _cli("import", str(tmp_path / "1.json"), url=url, check_rc=2)
    assert "rejected: terminal DEMO-0001 acked 4 (terminal DEMO-0001: revoked)" in after.stdout
    assert "\trevoked " in _cli("terminal", "list", url=url).stdout

    check = open_db(url)
    try:
        assert counts(check) == (4, 12, 0)
    finally:
        check.close()


def test_cli_database_failures_are_one_line(tmp_path: Path) -> None:
    for url, words in ((f"sqlite:///{tmp_path}/no/such/dir/x.sqlite", "does not exist"),
                       ("mysql://x@y/z", "unsupported database"),
                       ("not a url", "not a database URL"),
                       ("postgresql+psycopg://kiosk@127.0.0.1:1/none", "cannot open")):
        done = _cli("terminal", "list", url=url, check_rc=2)
        assert done.stdout == ""
        assert done.stderr.startswith("kiosk-backoffice: database: ") and words in done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
    pw = _cli("--db", "postgresql+psycopg://kiosk:s3cret@127.0.0.1:1/none", "terminal", "list",
              url="", check_rc=2)
    assert "s3cret" not in pw.stderr
