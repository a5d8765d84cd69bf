"""``../shared`` beside the clone: the public test vectors some tests check against.

A developer's clone may lack it: those tests skip. CI always has it (``.ci/run`` sets
``EVKIOSK_REQUIRE_SHARED=1``): there a missing ``../shared`` fails the run at its start instead
of skipping quietly. ``EVKIOSK_SHARED_DIR`` points elsewhere (the test of this rule uses it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("EVKIOSK_SHARED_DIR") or ROOT.parent / "shared")
VECTORS = SHARED / "vectors"
REQUIRED = os.environ.get("EVKIOSK_REQUIRE_SHARED") == "1"


def missing_problem() -> str:
    """Why the run must stop (CI without ../shared), or ""."""
    if REQUIRED and not VECTORS.is_dir():
        return (f"{VECTORS} is missing: CI runs with ../shared beside the clone "
                f"(EVKIOSK_REQUIRE_SHARED=1), and its tests must not be skipped")
    return ""


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip without ``path`` on a developer's machine; never in CI (see the module)."""
    return pytest.mark.skipif(not path.exists() and not REQUIRED,
                              reason=f"{path} is not beside this clone")
