"""The outbox sealed at rest (AES-GCM, bound to its session and kind) and grouped in signed
upload batches: resent byte for byte until acknowledged, stored in one transaction, nothing
dropped."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event

from kiosk.journal.store import (
    SEALED,
    Journal,
    JournalWriteError,
    OutboxRowError,
)
from kiosk.records.batch import open_envelope, verify
from kiosk.records.outbox import Outbox, OutboxError
from kiosk.session import events as ev
from tests.support.machine import T0, Driver

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
PAN = "4761739001010010"
SECRET = "a-payload-text-that-must-not-be-on-disk"


def add(journal: Journal, sid: str, records: list[tuple[str, dict[str, Any]]]) -> None:
    s, _ = Driver().m.start(sid, 1, T0)
    journal.commit(None, s, ev.Started(1), [], T0, records)


def clock():
    t = [T0]

    def now():
        t[0] += timedelta(seconds=1)
        return t[0]
    return now


@pytest.fixture
def journal(tmp_path: Path):
    j = Journal(tmp_path / "journal.sqlite", outbox_key=KEY)
    yield j
    j.close()


@pytest.fixture
def signing() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def raw_payloads(path: Path) -> list[tuple[int, str, str, str]]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT id, session_id, kind, payload FROM outbox "
                           "ORDER BY id").fetchall()
    finally:
        con.close()


def test_payloads_are_sealed_on_disk_and_read_back(journal: Journal) -> None:
    from kiosk.session import effects as fx

    s, _ = Driver().m.start("s1", 1, T0)
    job = fx.Settle("s1", "ref-1", fx.SettleKind.CAPTURE, 5000)
    journal.commit(None, s, ev.Started(1), [], T0,
                   [("session", {"note": SECRET, "pan": PAN, "field_xyz": 1})], settle=[job])
    [row] = journal.pending_settlements()
    journal.settlement_finished(row.id, status="done", at=T0, response_code="00", error="",
                                record={"session_id": "s1", "status": "done", "note": SECRET})
    rows = journal.outbox()
    assert [r.payload for r in rows] == [{"note": SECRET, "pan": PAN, "field_xyz": 1},
                                         {"session_id": "s1", "status": "done", "note": SECRET}]
    stored = raw_payloads(journal.path)
    assert len(stored) == 2 and all(p.startswith(SEALED) for *_, p in stored)
    journal.close()
    for f in journal.path.parent.iterdir():
        data = f.read_bytes()
        assert SECRET.encode() not in data and PAN.encode() not in data, f.name
        assert b"field_xyz" not in data, f.name


def test_a_row_moved_to_another_session_or_kind_does_not_open(journal: Journal) -> None:
    add(journal, "s1", [("session", {"a": 1})])
    add(journal, "s2", [("session", {"b": 2}), ("cdr", {"c": 3})])
    con = sqlite3.connect(journal.path)
    with con:
        con.execute("UPDATE outbox SET session_id = 's2', kind = 'invoice' WHERE id = 1")
    con.close()
    with pytest.raises(OutboxRowError, match="outbox row 1: does not open") as info:
        journal.outbox()
    assert info.value.row_id == 1
    con = sqlite3.connect(journal.path)
    with con:  # swapped payloads between two rows of one session
        con.execute("UPDATE outbox SET session_id = 's1', kind = 'session' WHERE id = 1")
        p2, p3 = (r[0] for r in con.execute("SELECT payload FROM outbox WHERE id IN (2, 3) "
                                            "ORDER BY id"))
        con.execute("UPDATE outbox SET payload = ? WHERE id = 2", (p3,))
        con.execute("UPDATE outbox SET payload = ? WHERE id = 3", (p2,))
    con.close()
    with pytest.raises(OutboxRowError, match="outbox row 2: ") as info:
        journal.outbox()
    assert info.value.row_id == 2


def test_the_wrong_key_or_no_key_is_a_typed_error_old_plain_rows_still_read(
        tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    plain = Journal(path, outbox_key=None)  # an older kiosk: plain JSON
    add(plain, "old", [("session", {"old": True})])
    plain.close()
    j = Journal(path, outbox_key=KEY)  # opening with the key seals the old plain row
    add(j, "new", [("session", {"new": True})])
    assert [r.payload for r in j.outbox()] == [{"old": True}, {"new": True}]
    j.close()
    wrong = Journal(path, outbox_key=bytes(32))
    with pytest.raises(OutboxRowError, match="outbox row 1: does not open with the outbox key"):
        wrong.outbox()
    wrong.close()
    keyless = Journal(path, outbox_key=None)
    assert keyless.session("new") is not None  # everything else works
    with pytest.raises(OutboxRowError, match=r"outbox row 1: sealed .* without the outbox key"):
        keyless.outbox()
    keyless.close()
    ro = Journal.open_readonly(path)
    with pytest.raises(OutboxRowError, match="outbox row 1"):
        ro.outbox()
    ro.close()


def test_plain_rows_and_batches_of_an_older_journal_are_sealed_when_opened_with_the_key(
        tmp_path: Path, signing: Ed25519PrivateKey) -> None:
    path = tmp_path / "j.sqlite"
    plain = Journal(path, outbox_key=None)  # a journal an older kiosk or a keyless tool wrote
    for i in range(3):
        add(plain, f"s{i}", [("session", {"n": i})])
    ob = Outbox(plain, "DEMO-0001", signing, clock())
    first = ob.next_batch(max_records=2)  # a plain batch, not yet acknowledged
    assert first is not None
    plain.close()

    def stored() -> list[str]:
        con = sqlite3.connect(path)
        try:
            return [r[0] for r in con.execute(
                "SELECT payload FROM outbox UNION ALL SELECT envelope FROM batches")]
        finally:
            con.close()

    assert not any(v.startswith("aesgcm1:") for v in stored())
    j = Journal(path, outbox_key=KEY)
    assert all(v.startswith("aesgcm1:") for v in stored())  # 3 rows and 1 batch, sealed
    assert [r.payload for r in j.outbox()] == [{"n": 0}, {"n": 1}, {"n": 2}]
    again = Outbox(j, "DEMO-0001", signing, clock()).next_batch(max_records=2)
    assert again == first  # still resent byte for byte as signed
    assert j.reseal_plain_rows() == 0  # nothing left to seal
    j.close()
    with pytest.raises(ValueError, match="32 bytes"):
        Journal(path, outbox_key=b"short")


def test_next_batch_resends_the_same_bytes_until_acknowledged(journal: Journal,
                                                              signing: Ed25519PrivateKey) -> None:
    for i in range(5):
        add(journal, f"s{i}", [("session", {"n": i}), ("cdr", {"n": i, "pan": "masked"})])
    ob = Outbox(journal, "DEMO-0001", signing, clock())
    assert ob.pending_count() == 10
    first = ob.next_batch(max_records=4)
    assert first is not None
    assert ob.next_batch(max_records=4) == first  # resent byte for byte, not rebuilt
    batch = verify(open_envelope(first), signing.public_key())
    assert (batch.terminal_id, batch.sequence) == ("DEMO-0001", 1)
    assert [r.id for r in batch.records] == ["s0:session", "s0:cdr", "s1:session", "s1:cdr"]
    assert [r.payload for r in batch.records] == [r.payload for r in journal.outbox()[:4]]
    assert all(r.created_at == T0.isoformat() for r in batch.records)
    assert ob.acknowledge(1) == 4
    assert ob.pending_count() == 6
    second = ob.next_batch(max_records=4)
    assert second is not None and second != first
    assert verify(open_envelope(second), signing.public_key()).sequence == 2
    assert ob.acknowledge(1) == 0  # a replayed acknowledgement: nothing more
    assert ob.next_batch(max_records=4) == second
    third = ob.next_batch(max_records=4) if ob.acknowledge(2) else None
    assert third is not None
    b3 = verify(open_envelope(third), signing.public_key())
    assert b3.sequence == 3 and len(b3.records) == 2
    ob.acknowledge(3)
    assert ob.next_batch() is None and ob.pending_count() == 0
    assert all(r.sent_at is not None for r in journal.outbox())
    with sqlite3.connect(journal.path) as con:  # the stored envelopes are sealed too
        stored = [r[0] for r in con.execute("SELECT envelope FROM batches ORDER BY sequence")]
        seqs = [r[0] for r in con.execute("SELECT DISTINCT batch_seq FROM outbox ORDER BY 1")]
    con.close()
    assert len(stored) == 3 and all(s.startswith(SEALED) for s in stored)
    assert seqs == [1, 2, 3]


def test_acknowledgement_bounds(journal: Journal, signing: Ed25519PrivateKey) -> None:
    ob = Outbox(journal, "DEMO-0001", signing, clock())
    assert ob.acknowledge(0) == 0
    with pytest.raises(OutboxError, match="acknowledgement of batch 1, but the last batch "
                                          "built is 0"):
        ob.acknowledge(1)
    add(journal, "s1", [("session", {"a": 1})])
    assert ob.next_batch() is not None
    with pytest.raises(OutboxError, match="last batch built is 1"):
        ob.acknowledge(2)
    for bad in (-1, True, "1"):
        with pytest.raises(OutboxError, match="not a sequence number"):
            ob.acknowledge(bad)  # type: ignore[arg-type]
    assert ob.pending_count() == 1  # nothing marked by a refused one
    assert ob.acknowledge(1) == 1


def test_a_failure_while_storing_a_batch_leaves_no_half_batch(
        journal: Journal, signing: Ed25519PrivateKey) -> None:
    add(journal, "s1", [("session", {"a": 1}), ("cdr", {"b": 2})])
    ob = Outbox(journal, "DEMO-0001", signing, clock())

    def fails(conn, cursor, statement, parameters, context, executemany):
        # the second write of the batch's transaction fails (as a full disk's would), after
        # the batch row went in
        if statement.lstrip().upper().startswith("UPDATE OUTBOX SET BATCH_SEQ"):
            return "UPDATE no_such_table SET x = 1", ()
        return statement, parameters

    event.listen(journal.engine, "before_cursor_execute", fails, retval=True)
    with pytest.raises(JournalWriteError, match="write failed"):
        ob.next_batch()
    event.remove(journal.engine, "before_cursor_execute", fails)
    with sqlite3.connect(journal.path) as con:
        assert con.execute("SELECT COUNT(*) FROM batches").fetchone() == (0,)
        assert con.execute("SELECT COUNT(*) FROM outbox WHERE batch_seq IS NOT NULL"
                           ).fetchone() == (0,)
    con.close()
    assert ob.pending_count() == 2  # nothing dropped
    envelope = ob.next_batch()
    assert envelope is not None
    batch = verify(open_envelope(envelope), signing.public_key())
    assert batch.sequence == 1 and len(batch.records) == 2  # the sequence was not used up


def test_a_row_that_cannot_go_into_a_batch_is_reported_and_kept(
        journal: Journal, signing: Ed25519PrivateKey) -> None:
    add(journal, "s1", [("session", {"a": 1})])
    add(journal, "s2", [("bogus", {"b": 2}), ("session", {"c": 3})])
    ob = Outbox(journal, "DEMO-0001", signing, clock())
    first = ob.next_batch()
    assert first is not None  # the good row before it still goes
    assert [r.id for r in verify(open_envelope(first), signing.public_key()).records] == [
        "s1:session"]
    ob.acknowledge(1)
    with pytest.raises(OutboxRowError, match=r"outbox row 2: cannot go into a batch: "
                                             r".*kind: unknown kind") as info:
        ob.next_batch()
    assert info.value.row_id == 2
    assert ob.pending_count() == 2  # kept, not skipped
    con = sqlite3.connect(journal.path)
    with con:  # a damaged row: reported by its id, nothing built past it
        con.execute("UPDATE outbox SET payload = 'aesgcm1:AAAA', kind = 'cdr' WHERE id = 2")
    con.close()
    with pytest.raises(OutboxRowError, match="outbox row 2: sealed, but too short"):
        ob.next_batch()
    assert ob.pending_count() == 2 and ob.unacknowledged() == []


def test_a_batch_too_large_is_split(journal: Journal, signing: Ed25519PrivateKey) -> None:
    big = "x" * 400_000
    for i in range(3):
        add(journal, f"s{i}", [("session", {"blob": big})])
    ob = Outbox(journal, "DEMO-0001", signing, clock())
    sizes = []
    while (envelope := ob.next_batch()) is not None:
        batch = verify(open_envelope(envelope), signing.public_key())
        sizes.append(len(batch.records))
        ob.acknowledge(batch.sequence)
    assert sizes == [1, 2]  # 3 do not fit in 1 MiB: halved


def test_seal_all_builds_every_batch_and_a_bad_terminal_id_is_refused(
        journal: Journal, signing: Ed25519PrivateKey) -> None:
    for i in range(5):
        add(journal, f"s{i}", [("session", {"n": i})])
    ob = Outbox(journal, "DEMO-0001", signing, clock())
    out = ob.seal_all(max_records=2)
    assert [s for s, _ in out] == [1, 2, 3]
    assert ob.seal_all(max_records=2) == out  # nothing new: the same bytes
    assert ob.next_batch() == out[0][1]
    with pytest.raises(OutboxError, match="batch 1 is terminal 'DEMO-0001'"):
        Outbox(journal, "OTHER", signing, clock()).next_batch()
    with pytest.raises(OutboxError, match="terminal id"):
        Outbox(journal, "no spaces", signing, clock())
    with pytest.raises(ValueError, match="max_records"):
        ob.next_batch(max_records=0)


def test_the_backoffice_export_opens_sealed_rows_with_the_key_beside(tmp_path: Path) -> None:
    from kiosk.backoffice.export import ExportError, export_lines
    from kiosk.security.keys import create_key

    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    key = create_key(folder / "outbox.key")
    path = folder / "journal.sqlite"
    j = Journal(path)  # the key beside the journal is taken
    assert j.outbox_key == key
    add(j, "s1", [("session", {"secret": SECRET})])
    j.close()
    assert raw_payloads(path)[0][3].startswith(SEALED)
    lines = export_lines(path)
    assert len(lines) == 1 and SECRET in lines[0] and '"kind": "session"' in lines[0]
    (folder / "outbox.key").unlink()
    with pytest.raises(ExportError, match=r"outbox row 1: payload is sealed .* no outbox\.key"):
        export_lines(path)


def test_kiosk_export_batches_writes_the_files(tmp_path: Path) -> None:
    from kiosk.config import DEFAULT_CONFIG_PATH, load_config
    from kiosk.security.provisioning import load_terminal_keys

    cfg = load_config(DEFAULT_CONFIG_PATH, demo=True)
    folder = tmp_path / "data"
    keys = load_terminal_keys(cfg, folder, demo=True)
    assert keys.signing_key is not None
    path = folder / "journal.sqlite"
    j = Journal(path, outbox_key=keys.outbox_key)
    for i in range(3):
        add(j, f"s{i}", [("session", {"n": i})])
    j.close()
    out = tmp_path / "usb"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "kiosk.cli", "export-batches", "--config",
           str(DEFAULT_CONFIG_PATH), "--demo", "--journal", str(path), "--to", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote 1 batch file to {out}")
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"{cfg.station.id}-00000001.batch"]
    assert files[0].stat().st_mode & 0o777 == 0o600
    data = files[0].read_bytes()
    batch = verify(open_envelope(data), keys.signing_key.public_key())
    assert [r.payload for r in batch.records] == [{"n": 0}, {"n": 1}, {"n": 2}]
    j = Journal(path, outbox_key=keys.outbox_key)
    add(j, "s9", [("session", {"n": 9})])
    j.close()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert again.returncode == 0 and again.stdout.startswith("wrote 2 batch files")
    names = sorted(f.name for f in out.iterdir())
    assert names == [f"{cfg.station.id}-00000001.batch", f"{cfg.station.id}-00000002.batch"]
    assert (out / names[0]).read_bytes() == data  # not acknowledged: the same batch again
    j = Journal(path, outbox_key=keys.outbox_key)
    assert j.pending_count() == 4  # nothing acknowledged by an export
    j.close()
    bad = subprocess.run([*cmd[:-1], str(tmp_path / "missing")], capture_output=True,
                         text=True, timeout=60, env=env, check=False)
    assert bad.returncode == 2 and "not a folder" in bad.stderr
