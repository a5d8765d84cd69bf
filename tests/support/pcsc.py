"""A real pcscd for the tests, with vsmartcard's vpcd reader: reuse a running one or own the
only one (pcscd refuses a second), and stop it afterwards."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

COMM = Path("/run/pcscd/pcscd.comm")
READER = "Virtual PCD 00 00"


def _running() -> bool:
    return subprocess.run(["pgrep", "-x", "pcscd"], capture_output=True,
                          check=False).returncode == 0


@pytest.fixture(scope="session")
def pcscd() -> Iterator[None]:
    if shutil.which("pcscd") is None:
        pytest.fail("pcscd is not installed (make test installs pcscd and vsmartcard-vpcd)")
    proc = None
    if not _running():
        COMM.unlink(missing_ok=True)  # left by a pcscd that was killed
        proc = subprocess.Popen(["pcscd", "--foreground"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    from drivers.pcsc.reader import list_readers

    end = time.monotonic() + 10
    while True:
        try:
            if READER in list_readers():
                break
        except Exception:
            pass
        if time.monotonic() > end:
            raise RuntimeError("pcscd did not show the vpcd reader")
        time.sleep(0.05)
    yield None
    if proc is not None:
        proc.terminate()
        proc.wait(10)
