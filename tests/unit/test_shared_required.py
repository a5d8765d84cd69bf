"""CI has ../shared beside the clone: there its tests must fail, not skip, when it is missing
(``.ci/run`` sets ``EVKIOSK_REQUIRE_SHARED=1``; see tests/support/shared.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:randomly",
         "tests/unit/test_shared_required.py"],
        env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False)


def test_ci_without_shared_fails_at_the_start(tmp_path: Path) -> None:
    proc = run_pytest(tmp_path, EVKIOSK_REQUIRE_SHARED="1",
                      EVKIOSK_SHARED_DIR=str(tmp_path / "nowhere"))
    assert proc.returncode != 0
    assert "must not be skipped" in proc.stdout + proc.stderr


def test_a_developers_clone_without_shared_still_runs(tmp_path: Path) -> None:
    proc = run_pytest(tmp_path, EVKIOSK_REQUIRE_SHARED="0",
                      EVKIOSK_SHARED_DIR=str(tmp_path / "nowhere"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_sets_the_requirement() -> None:
    assert "EVKIOSK_REQUIRE_SHARED=1" in (ROOT / ".ci" / "run").read_text()
