"""After full sessions (approved, with online PIN, declined), no PAN, track data or PIN is in
the journal, its WAL, the outbox records, the logs or the back office's database the records are
imported into: the files are scanned byte by byte. The outbox records are sealed at rest
(AES-GCM): not one of them is on disk as text in the terminal's files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.sim.cards import TEST_CARDS
from drivers.sim.host import HostSimulator
from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.storage import open_db
from kiosk.config import parse_config
from kiosk.journal.store import SEALED, Journal
from kiosk.records.batch import public_key_raw
from kiosk.records.outbox import Outbox
from kiosk.security.provisioning import load_terminal_keys

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("scripted_kiosk.py")


@pytest.mark.parametrize(("card", "vpcd"), [
    ("visa_contactless", False), ("mastercard_pin", False), ("declined_funds", False),
    ("visa_contactless", True), ("mastercard_contact_cda", True)])
def test_no_card_data_on_disk_after_a_session(card: str, vpcd: bool, host: HostSimulator,
                                              tmp_path: Path, request) -> None:
    """``vpcd``: the card on the real reader stack, with every APDU in the DEBUG log."""
    if vpcd:
        request.getfixturevalue("pcscd")
    journal, log = tmp_path / "journal.sqlite", tmp_path / "kiosk.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--journal", str(journal), "--host-port", str(host.port),
         "--card", card, "--log", str(log), *(["--vpcd"] if vpcd else [])],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pan = TEST_CARDS[card].pan

    j = Journal(journal)  # with the outbox key beside it, as the kiosk made it
    try:
        sessions = j.all_sessions()
        assert len(sessions) == 1 and sessions[0].masked_pan == pan[:6] + "******" + pan[-4:]
        records = {r.kind: r.payload for r in j.outbox()}
        paid = TEST_CARDS[card].host_rule == "00"
        assert set(records) == ({"session", "invoice", "cdr", "settlement"} if paid
                                else {"session"})
        masked = sessions[0].masked_pan
        assert records["session"]["masked_pan"] == masked
        if paid:
            assert records["invoice"]["masked_pan"] == masked
            assert records["cdr"]["cdr_token"]["contract_id"] == masked
        plain = [json.dumps(r.payload, sort_keys=True, separators=(",", ":")).encode()
                 for r in j.outbox()]
    finally:
        j.close()
    con = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        stored = [r[0] for r in con.execute("SELECT payload FROM outbox")]
    finally:
        con.close()
    assert stored and all(p.startswith(SEALED) for p in stored)
    log_lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert any("READING_CARD" in x["msg"] for x in log_lines)  # the log did record the session
    if vpcd:  # the APDUs were logged, card data redacted
        apdus = [x["msg"] for x in log_lines if x["msg"].startswith("APDU")]
        assert any("00B2" in a for a in apdus) and any("5A[8 bytes redacted]" in a for a in apdus)

    # the records in the back office too: batched, signed, imported into its database, whose
    # file is scanned below with the rest (the invoice's number: its page's lookup)
    keys = load_terminal_keys(parse_config("schema_version = 1\n", demo=True), journal.parent,
                              demo=True)
    assert keys.signing_key is not None
    j = Journal(journal)
    try:
        envelopes = Outbox(j, "DEMO-0001", keys.signing_key, lambda: datetime.now(UTC)).seal_all()
    finally:
        j.close()
    bo = open_db(f"sqlite:///{tmp_path / 'backoffice.sqlite'}")
    try:
        add_terminal(bo, "DEMO-0001", public_key_raw(keys.signing_key.public_key()))
        assert [import_envelope(bo, e).status for _, e in envelopes] == ["stored"] * len(envelopes)
    finally:
        bo.close()

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {journal.name, log.name} <= {p.name for p in files}
    forms = [pan.encode(), pan.encode("utf-16-le"), bytes.fromhex(pan),  # BCD, as in tag 5A
             " ".join(pan[i:i + 4] for i in range(0, 16, 4)).encode()]
    assert any(p.name == "backoffice.sqlite" for p in files)
    for p in files:
        data = p.read_bytes()
        if not p.name.startswith("backoffice.sqlite"):  # the back office reads its records
            for record in plain:
                assert record not in data, f"an outbox record in plain text in {p.name}"
        for form in forms:
            assert form not in data, f"card number found in {p.name}"
        if TEST_CARDS[card].pin:
            assert b'"pin"' not in data and b"pin_block" not in data.lower()
    assert pan not in proc.stdout + proc.stderr
