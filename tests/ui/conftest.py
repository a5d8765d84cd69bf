"""The UI tests' fixtures: a kiosk window on a real runtime (:mod:`tests.ui.rig`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.ui.rig import Kiosk, build_kiosk


@pytest.fixture(params=[True, False], ids=["bridge-signal", "own-listener"])
def kiosk(request: pytest.FixtureRequest, qtbot: QtBot, tmp_path: Path,
          caplog: pytest.LogCaptureFixture) -> Iterator[Kiosk]:
    yield from build_kiosk(qtbot, tmp_path, caplog, with_bridge=request.param)


@pytest.fixture
def k(qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Kiosk]:
    yield from build_kiosk(qtbot, tmp_path, caplog)
