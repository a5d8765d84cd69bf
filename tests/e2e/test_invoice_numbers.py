"""Invoice numbers: per terminal, without gaps or reuse, even when the process dies inside the
commit that creates an invoice (a real SIGKILL in a real subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from kiosk.journal.store import Journal

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("invoice_child.py")


def run(journal: Path, first: int, last: int, kill_at: int = 0) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(CHILD), str(journal), str(first), str(last),
                           str(kill_at)], capture_output=True, text=True, timeout=60, env=env,
                          check=False)
    return proc.returncode


def test_a_crash_inside_invoice_creation_leaves_no_gap_and_no_reuse(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    assert run(path, 1, 5) == 0
    assert run(path, 6, 10, kill_at=8) == -signal.SIGKILL
    j = Journal(path)
    try:
        assert [n for n, _ in j.invoices()] == [1, 2, 3, 4, 5, 6, 7]
        s8 = j.session("s0008")
        assert s8 is not None and s8.seq == 1  # the step with the invoice was rolled back
        assert [r.kind for r in j.outbox() if r.session_id == "s0008"] == []
    finally:
        j.close()
    assert run(path, 8, 12) == 0  # restart: the same step again, then more sessions
    j = Journal(path)
    try:
        invoices = j.invoices()
        assert [n for n, _ in invoices] == list(range(1, 13))
        assert [p["session_id"] for _, p in invoices] == [f"s{i:04d}" for i in range(1, 13)]
        assert len({p["number"] for _, p in invoices}) == 12
        by_session = {r.session_id: r.payload for r in j.outbox() if r.kind == "session"}
        assert by_session["s0008"]["invoice_number"] == "T-00000008"
    finally:
        j.close()


def test_replaying_a_captured_step_never_issues_a_second_invoice(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    assert run(path, 1, 3) == 0
    j = Journal(path)
    try:
        from kiosk.session import events as ev

        s = j.session("s0002")
        assert s is not None
        j.commit(s, s.__class__(**{**s.__dict__, "seq": 3}), ev.Dismissed("s0002"), [],
                 s.updated_at, [], lambda n: {"number": f"T-{n:08d}"})
        assert [n for n, _ in j.invoices()] == [1, 2, 3]
    finally:
        j.close()
