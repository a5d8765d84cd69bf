"""The screenshots of the technicians' maintenance screens (kiosk.ui.screenshots): every page,
the login's steps too, at the smallest and the portrait size, each PNG the size of the screen,
no layout problem, nothing logged at ERROR level and no thread left behind."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from kiosk.ui.screenshots import shoot

PAGES = {"login_names", "login_pin", "login_pin_not_accepted", "login_code", "status", "card",
         "charger", "config", "updates", "records", "service", "provisioning"}
SIZES = ((800, 480), (1080, 1920))
THREAD_END_S = 20.0


def test_every_maintenance_page_is_drawn_at_each_size(qtbot: QtBot, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    before = set(threading.enumerate())
    saved, problems = shoot(tmp_path, sizes=SIZES, check=True, driver=False)
    assert problems == [], "\n".join(problems[:40])
    for w, h in SIZES:
        folder = tmp_path / "maintenance" / f"{w}x{h}"
        assert {p.stem for p in folder.glob("*.png")} == PAGES
        for page in PAGES:
            image = QImage(str(folder / f"{page}.png"))
            assert (image.width(), image.height()) == (w, h), page
    assert len(saved) == len(PAGES) * len(SIZES)
    assert all(p.is_relative_to(tmp_path / "maintenance") for p in saved)  # no driver's page
    left = [t for t in threading.enumerate() if t not in before]
    deadline = time.monotonic() + THREAD_END_S
    for t in left:
        t.join(max(0.0, deadline - time.monotonic()))
    assert [t.name for t in left if t.is_alive()] == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
