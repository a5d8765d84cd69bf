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
from kiosk.journal.store import Journal
from kiosk.session.machine import Outcome
from tests.support.ledger import check_settled

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


@pytest.fixture(scope="module")
def reference(host: HostSimulator, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("ref") / "journal.sqlite"
    steps = steps_of(kiosk(path, host.port))
    return steps, check_settled(path, host)


def test_an_uninterrupted_session_captures(reference) -> None:
    steps, to_states = reference
    assert to_states[-3:] == ["STOPPING", "RECEIPT", "DONE"]
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
