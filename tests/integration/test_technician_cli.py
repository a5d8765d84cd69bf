"""``kiosk technician`` and ``kiosk audit`` as a technician's installer uses them: real
processes on a real data folder; every change is in the audit log, which ``audit verify``
checks, and finds altered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.config import DEFAULT_CONFIG_PATH
from kiosk.security import technicians as access
from kiosk.security.technicians import Access, TechnicianStore, code_at

ROOT = Path(__file__).resolve().parents[2]
PIN = "482916"


def kiosk(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=60, env=env, check=False, input=stdin)


@pytest.fixture
def where(tmp_path: Path) -> list[str]:
    return ["--config", str(DEFAULT_CONFIG_PATH), "--demo", "--journal",
            str(tmp_path / "data" / "journal.sqlite")]


def refused(proc: subprocess.CompletedProcess[str], message: str, code: int = 2) -> None:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_enrol_log_in_remove_and_the_audit_says_so(tmp_path: Path, where: list[str]) -> None:
    folder = tmp_path / "data"
    added = kiosk("technician", "add", "alice", "--role", "admin", "--pin-stdin", *where,
                  stdin=PIN + "\n")
    assert added.returncode == 0, added.stderr
    assert "enrolled alice (admin)" in added.stdout
    assert "otpauth://totp/" in added.stdout and "█" in added.stdout  # the QR code
    assert PIN not in added.stdout + added.stderr
    tech = TechnicianStore(folder).load()["alice"]
    # the secret printed is the one stored, and it logs in
    assert access.provisioning_uri(tech, "DEMO-0001") in added.stdout
    assert Access(folder).login("alice", PIN, code_at(tech.totp_secret, time.time())).role == \
        "admin"
    listed = kiosk("technician", "list", *where)
    assert listed.returncode == 0 and listed.stdout.strip() == "alice\tadmin"
    assert "secret" not in listed.stdout.lower()
    refused(kiosk("technician", "add", "alice", "--pin-stdin", *where, stdin="735190\n"),
            "alice is enrolled already")
    refused(kiosk("technician", "add", "bob", "--pin-stdin", *where, stdin="123456\n"),
            "too easy to guess")
    removed = kiosk("technician", "remove", "alice", *where)
    assert removed.returncode == 0 and "removed alice" in removed.stdout
    refused(kiosk("technician", "remove", "alice", *where), "no technician alice")
    ok = kiosk("audit", "verify", *where)
    assert ok.returncode == 0, ok.stderr
    assert "audit log intact: 2 entries" in ok.stdout
    shown = kiosk("audit", "show", *where)
    assert "technician added" in shown.stdout and "technician removed" in shown.stdout


def test_an_altered_audit_log_is_found(tmp_path: Path, where: list[str]) -> None:
    for name in ("alice", "bob"):
        assert kiosk("technician", "add", name, "--pin-stdin", *where,
                     stdin=PIN + "\n").returncode == 0
    log = tmp_path / "data" / "audit.log"
    lines = log.read_text().splitlines(keepends=True)
    entry = json.loads(lines[0])
    entry["details"]["name"] = "mallory"
    log.write_text(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
                   + "".join(lines[1:]))
    proc = kiosk("audit", "verify", *where)
    refused(proc, "kiosk: audit log ALTERED", code=1)


def test_unlock_clears_a_lockout_and_is_audited(tmp_path: Path, where: list[str]) -> None:
    assert kiosk("technician", "add", "alice", "--pin-stdin", *where,
                 stdin=PIN + "\n").returncode == 0
    folder = tmp_path / "data"
    a = Access(folder)
    for _ in range(3):
        with pytest.raises(access.AccessError):
            a.login("alice", "999999", "000000")
    assert a.wait_s() > 0
    proc = kiosk("technician", "unlock", *where)
    assert proc.returncode == 0 and "lockout cleared (3 wrong attempts)" in proc.stdout
    assert Access(folder).wait_s() == 0
    assert "lockout cleared" in kiosk("audit", "show", *where).stdout


def test_add_without_a_terminal_or_stdin_pin_is_refused(where: list[str]) -> None:
    refused(kiosk("technician", "add", "alice", *where), "no terminal to ask for the PIN on")


def _site(tmp_path: Path, operator_key: str) -> Path:
    """A copy of the demo config and its files in a folder of its own, with an operator key."""
    import shutil

    site = tmp_path / "site"
    shutil.copytree(ROOT / "kiosk" / "resources" / "tariffs", site / "tariffs")
    shutil.copy(ROOT / "kiosk" / "resources" / "ca_keys.json", site / "ca_keys.json")
    text = (ROOT / "kiosk" / "resources" / "kiosk.toml").read_text()
    assert 'operator_key = ""' in text
    text = text.replace('operator_key = ""', f'operator_key = "{operator_key}"', 1)
    (site / "kiosk.toml").write_text(text)
    return site / "kiosk.toml"


def test_the_operator_signs_a_tariff_the_terminal_applies_and_rolls_back(
        tmp_path: Path) -> None:
    made = kiosk("update", "keygen", "--out", str(tmp_path / "operator.key"))
    assert made.returncode == 0, made.stderr
    public = made.stdout.split('operator_key = "')[1].split('"')[0]
    config = _site(tmp_path, public)
    tariff = config.parent / "tariffs" / "demo.json"
    before = tariff.read_bytes()
    doc = json.loads(before)
    first = doc[0] if isinstance(doc, list) else doc
    first["id"] = "UPDATED-1"
    new = tmp_path / "new-tariff.json"
    new.write_text(json.dumps(doc))
    bundle = tmp_path / "t1.evkupdate"
    signed = kiosk("update", "sign", "--kind", "tariff", "--key", str(tmp_path / "operator.key"),
                   "--file", str(new), "--terminal", "DEMO-0001", "--sequence", "1",
                   "--out", str(bundle))
    assert signed.returncode == 0, signed.stderr
    where = ["--config", str(config), "--demo", "--journal",
             str(tmp_path / "data" / "journal.sqlite")]
    applied = kiosk("update", "apply", str(bundle), *where)
    assert applied.returncode == 0, applied.stderr
    assert "UPDATED-1" in tariff.read_text()
    assert (config.parent / "tariffs" / "demo.json.previous").read_bytes() == before
    replayed = kiosk("update", "apply", str(bundle), *where)  # the same sequence again
    assert replayed.returncode == 1 and "Traceback" not in replayed.stderr
    assert "sequence" in replayed.stderr
    back = kiosk("update", "rollback", "--kind", "tariff", *where)
    assert back.returncode == 0, back.stderr
    assert tariff.read_bytes() == before
    shown = kiosk("audit", "show", *where).stdout
    assert "\tupdate\t" in shown and "\trollback\t" in shown


def test_an_update_signed_by_another_key_changes_nothing(tmp_path: Path) -> None:
    good = kiosk("update", "keygen", "--out", str(tmp_path / "operator.key"))
    assert kiosk("update", "keygen", "--out", str(tmp_path / "other.key")).returncode == 0
    config = _site(tmp_path, good.stdout.split('operator_key = "')[1].split('"')[0])
    before = config.read_bytes()
    bundle = tmp_path / "c1.evkupdate"
    assert kiosk("update", "sign", "--kind", "config", "--key", str(tmp_path / "other.key"),
                 "--file", str(config), "--terminal", "DEMO-0001", "--out",
                 str(bundle)).returncode == 0
    proc = kiosk("update", "apply", str(bundle), "--config", str(config), "--demo",
                 "--journal", str(tmp_path / "data" / "journal.sqlite"))
    assert proc.returncode == 1 and "sign" in proc.stderr.lower(), proc.stderr
    assert config.read_bytes() == before and not config.with_name("kiosk.toml.previous").exists()


def test_an_altered_audit_log_stops_the_kiosk_with_one_line(tmp_path: Path) -> None:
    journal = tmp_path / "data" / "journal.sqlite"
    first = kiosk("run", "--demo", "--journal", str(journal), "--quit-after", "0.3")
    assert first.returncode == 0, first.stderr
    log = tmp_path / "data" / "audit.log"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries[0]["action"] == "started"
    entries[0]["details"]["version"] = "9.9.9"  # edited after the fact
    log.write_text("".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n"
                       for e in entries))
    again = kiosk("run", "--demo", "--journal", str(journal), "--quit-after", "0.3")
    refused(again, "kiosk: the audit log was altered, the kiosk does not start: ")
    assert "audit.log: line 1: edited" in again.stderr
