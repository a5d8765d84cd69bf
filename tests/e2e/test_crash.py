"""The crash test: a real kiosk process is killed with SIGKILL at every step of a session,
before and after each journal commit; restarted, it must end every preauthorization with
exactly one capture or one reversal of the right amount, and lose or duplicate nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.sim.host import HostSimulator
from kiosk.session.journal import Journal
from kiosk.session.machine import Outcome

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("scripted_kiosk.py")
pytestmark = pytest.mark.slow


def kiosk(journal: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--journal", str(journal), "--host-port", str(port),
         *extra], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=False)


def steps_of(proc: subprocess.CompletedProcess[str]) -> int:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return int(json.loads(proc.stdout.strip().splitlines()[-1])["steps"])


def check_settled(journal_path: Path, host: HostSimulator) -> list[str]:
    """Everything in the journal is finished, gapless, and agrees with the host's ledger."""
    j = Journal(journal_path)
    try:
        assert j.unfinished() == []
        ledger = host.ledger()
        outbox = {r.session_id: r for r in j.outbox() if r.kind == "session"}
        numbers = [n for n, _ in j.invoices()]
        assert numbers == list(range(1, len(numbers) + 1))  # no gap, no reuse
        to_states: list[str] = []
        for s in j.all_sessions():
            rows = j.transitions(s.id)
            assert [r.seq for r in rows] == list(range(1, len(rows) + 1))  # nothing lost/doubled
            to_states += [r.to_state for r in rows]
            entry = ledger.get(s.ref)
            if s.outcome is Outcome.CAPTURED:
                assert entry is not None and not entry.reversed
                assert entry.captured_minor == s.final_minor > 0
                assert outbox[s.id].payload["amount_minor"] == s.final_minor
                invoice = j.invoice(s.id)
                assert invoice is not None and invoice["total_minor"] == s.final_minor
            elif s.outcome is Outcome.REVERSED:
                assert entry is not None and entry.reversed and entry.captured_minor is None
                assert outbox[s.id].payload["amount_minor"] == 0
                assert j.invoice(s.id) is None
            else:
                assert s.outcome in (Outcome.ABORTED, Outcome.DECLINED)
                assert entry is None or entry.held_minor == 0
        assert list(outbox) == [s.id for s in j.all_sessions() if s.id in outbox]
        return to_states
    finally:
        j.close()


@pytest.fixture(scope="module")
def reference(host: HostSimulator, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("ref") / "journal.sqlite"
    steps = steps_of(kiosk(path, host.port))
    return steps, check_settled(path, host)


def test_an_uninterrupted_session_captures(reference) -> None:
    steps, to_states = reference
    assert to_states[-3:] == ["CAPTURING", "RECEIPT", "DONE"]
    assert steps == len(to_states) >= 12


@pytest.mark.parametrize("phase", ["before_commit", "after_commit"])
def test_sigkill_at_every_step_settles_exactly_once(
        phase: str, host: HostSimulator, reference, tmp_path: Path) -> None:
    steps, ref_states = reference
    outcomes = set()
    for k in range(1, steps + 1):
        path = tmp_path / f"{phase}-{k}" / "journal.sqlite"
        path.parent.mkdir()
        crashed = kiosk(path, host.port, "--crash-at", str(k), "--phase", phase)
        assert crashed.returncode == -signal.SIGKILL, (k, crashed.stderr[-2000:])
        kept = k - 1 if phase == "before_commit" else k
        if path.exists():
            j = Journal(path)
            before = [r.to_state for r in j.transitions()]
            j.close()
        else:
            before = []
        assert before == ref_states[:kept], k  # exactly the committed steps, no more
        recovered = kiosk(path, host.port, "--mode", "recover")
        assert recovered.returncode == 0, (k, recovered.stderr[-3000:])
        check_settled(path, host)
        j = Journal(path)
        outcomes |= {s.outcome for s in j.all_sessions()}
        j.close()
    assert host.open_holds() == []
    assert {Outcome.CAPTURED, Outcome.REVERSED, Outcome.ABORTED} <= outcomes
