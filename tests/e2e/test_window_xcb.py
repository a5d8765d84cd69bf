"""The README's first command on a real X display: ``kiosk run --demo`` on Qt's xcb platform
under Xvfb. The window must be mapped with the kiosk's title, an X screenshot of it must show
the idle screen (not a blank), and SIGTERM (what systemd sends) must quit it cleanly.

This is what ``make test`` would never notice offscreen: Qt's xcb plugin refuses to load
without its libraries (``libxcb-cursor0`` and friends, installed by the Makefile)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Demo charging station"  # the demo config's station name, in the window title
pytestmark = pytest.mark.slow


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # make test installs them (Makefile: TEST_PACKAGES)
        pytest.fail(f"{name} is missing: run `make test`, which installs it")
    return path


@pytest.fixture
def display() -> Iterator[str]:
    """A private Xvfb; it tells its display number on a pipe (-displayfd), so no guessing."""
    r, w = os.pipe()
    xvfb = subprocess.Popen([tool("Xvfb"), "-displayfd", str(w), "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        number = b""
        end = time.monotonic() + 30
        while not number.endswith(b"\n"):
            if time.monotonic() > end or xvfb.poll() is not None:
                pytest.fail("Xvfb did not start")
            chunk = os.read(r, 16)
            if not chunk:
                pytest.fail("Xvfb closed its display pipe")
            number += chunk
        yield f":{number.decode().strip()}"
    finally:
        os.close(r)
        xvfb.terminate()
        xvfb.wait(10)


def wait_for_window(env: dict[str, str], kiosk: subprocess.Popen[str]) -> str:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if kiosk.poll() is not None:
            _out, err = kiosk.communicate()
            pytest.fail(f"the kiosk exited with {kiosk.returncode}: {err[-2000:]}")
        found = subprocess.run([tool("xdotool"), "search", "--onlyvisible", "--name", TITLE],
                               env=env, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.split()[0]
        time.sleep(0.1)  # polling an X server for a window: there is no event to wait on
    pytest.fail("no kiosk window was mapped within 60 s")


def colours_on_screen(env: dict[str, str], window: str, out: Path) -> int:
    subprocess.run([tool("import"), "-window", window, str(out)], env=env, check=True,
                   capture_output=True)
    counted = subprocess.run([tool("identify"), "-format", "%k", str(out)], env=env,
                             check=True, capture_output=True, text=True)
    return int(counted.stdout.strip())


def test_the_demo_window_opens_on_xcb_and_quits_cleanly_on_sigterm(
        display: str, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
           "EVKIOSK_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    env.pop("WAYLAND_DISPLAY", None)
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--demo"], env=env,
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        window = wait_for_window(env, kiosk)
        shot = Path(os.environ.get("EVKIOSK_SHOT_DIR", tmp_path)) / "window.png"
        # the idle screen is painted: many colours (text, buttons), not one blank fill; the
        # first frames may still be empty, so look until it is drawn
        end = time.monotonic() + 30
        while (colours := colours_on_screen(env, window, shot)) < 50:
            assert time.monotonic() < end, f"the window stays blank ({colours} colours)"
            time.sleep(0.2)
        kiosk.send_signal(signal.SIGTERM)
        _out, err = kiosk.communicate(timeout=30)
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.communicate()
    assert kiosk.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    assert "stopping on SIGTERM" in err and "window closed" in err
    assert "xcb" not in err.lower() or "could not load" not in err.lower()
