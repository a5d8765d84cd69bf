"""Shared fixtures: one payment host simulator per test module, on real TCP."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from drivers.sim.host import HostSimulator
from tests.support import shared
from tests.support.pcsc import pcscd  # noqa: F401 - the session's pcscd, for the card tests

pytest_plugins = ["tests.support.postgres",  # postgres_server, backoffice_url
                  "tests.support.fullfs"]  # small_fs


def pytest_sessionstart(session: pytest.Session) -> None:
    if problem := shared.missing_problem():
        raise pytest.UsageError(problem)


@pytest.fixture(scope="module")
def host() -> Iterator[HostSimulator]:
    sim = HostSimulator()
    sim.start()
    yield sim
    sim.stop()



@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A test that starts the app in process (``run_app`` sets up logging) must not leave its
    handlers on the root logger, writing to a stream pytest has closed, for the next tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in root.handlers:
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
