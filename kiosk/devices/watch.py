"""Background checks of the terminal's health: the card reader, the disk that holds the
journal, and the payment host (an ISO 8583 echo test, 0800/0810, every ``echo_interval_s``).

One thread; each check reports to :class:`~kiosk.health.Health`. The host counts as
unreachable only after echoes have failed for ``host_down_after_s`` (a single lost echo is not
an outage), and as back at the first echo that succeeds. The card reader and the disk are read
every ``interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from drivers.acquirer.api import HostError, PaymentHost
from drivers.emv.api import CardTerminal
from kiosk.health import (
    DISK,
    HOST,
    MSG_DISK,
    MSG_HOST,
    MSG_READER,
    READER,
    Health,
    disk_problem,
)

log = logging.getLogger(__name__)
RETRY_ECHO_S = 10.0


class HealthWatch:
    def __init__(self, health: Health, *, journal_dir: Path, card_terminal: CardTerminal,
                 host: PaymentHost, interval_s: float = 1.0, echo_interval_s: float = 60.0,
                 host_down_after_s: float = 180.0, min_free_bytes: int = 50 * 1024 * 1024
                 ) -> None:
        self.health = health
        self.journal_dir = journal_dir
        self.card_terminal = card_terminal
        self.host = host
        self.interval_s = interval_s
        self.echo_interval_s = echo_interval_s
        self.host_down_after_s = host_down_after_s
        self.min_free_bytes = min_free_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-health", daemon=True)
        self._next_echo = 0.0
        self._echo_failing_since: float | None = None
        # the last echo: (wall time, its round trip in ms or None when it failed, the error)
        self.last_echo: tuple[float, float | None, str] | None = None

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def check_once(self) -> None:
        """One round of every check that is due (the thread calls this; tests may too)."""
        self._check_reader()
        self._check_disk()
        if time.monotonic() >= self._next_echo:
            self._check_host()
            # while failing, look more often: the terminal is back in service soon after
            wait = self.echo_interval_s if self._echo_failing_since is None else min(
                self.echo_interval_s, RETRY_ECHO_S)
            self._next_echo = time.monotonic() + wait

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception:  # a check must never end the watch
                log.exception("health check failed")
            self._stop.wait(self.interval_s)

    def _check_reader(self) -> None:
        try:
            ok = bool(self.card_terminal.available)
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        else:
            detail = "no card reader"
        self.health.report(READER, ok, MSG_READER, detail)

    def _check_disk(self) -> None:
        detail = disk_problem(self.journal_dir, self.min_free_bytes)
        self.health.report(DISK, not detail, MSG_DISK, detail)

    def _check_host(self) -> None:
        echo = getattr(self.host, "echo", None)
        if echo is None:  # a host without network management messages: nothing to test
            return
        started = time.monotonic()
        try:
            echo()
        except HostError as exc:
            self.last_echo = (time.time(), None, str(exc)[:200])
            now = time.monotonic()
            if self._echo_failing_since is None:
                self._echo_failing_since = now
                log.warning("host echo failed: %s", exc)
            if now - self._echo_failing_since >= self.host_down_after_s:
                self.health.report(HOST, False, MSG_HOST, f"echo failing: {exc}")
            return
        self.last_echo = (time.time(), (time.monotonic() - started) * 1e3, "")
        self._echo_failing_since = None
        self.health.report(HOST, True)
