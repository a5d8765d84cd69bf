"""Shared fixtures: one payment host simulator per test module, on real TCP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.sim.host import HostSimulator
from tests.support.pcsc import pcscd  # noqa: F401 - the session's pcscd, for the card tests


@pytest.fixture(scope="module")
def host() -> Iterator[HostSimulator]:
    sim = HostSimulator()
    sim.start()
    yield sim
    sim.stop()

