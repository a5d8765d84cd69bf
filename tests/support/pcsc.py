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


class Pcscd:
    """The pcscd of the test session: started here unless one runs already."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not _running():
            COMM.unlink(missing_ok=True)  # left by a pcscd that was killed
            self.proc = subprocess.Popen(["pcscd", "--foreground"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        self.wait_for_reader()

    def stop(self) -> None:
        """Stop pcscd (ours, or the machine's for a moment: tests restart it)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        else:
            subprocess.run(["pkill", "-x", "pcscd"], check=False)
        end = time.monotonic() + 10
        while _running() and time.monotonic() < end:
            time.sleep(0.05)

    @staticmethod
    def wait_for_reader(timeout_s: float = 10) -> None:
        from drivers.pcsc.reader import list_readers

        end = time.monotonic() + timeout_s
        while True:
            try:
                if READER in list_readers():
                    return
            except Exception:
                pass
            if time.monotonic() > end:
                raise RuntimeError("pcscd did not show the vpcd reader")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    if shutil.which("pcscd") is None:
        pytest.fail("pcscd is not installed (make test installs pcscd and vsmartcard-vpcd)")
    daemon = Pcscd()
    daemon.start()
    yield daemon
    if daemon.proc is not None:
        daemon.stop()
