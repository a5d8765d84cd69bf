"""One thread that runs submitted jobs in order: each device has one, so the device is only
ever used from one thread and one slow device never holds up another (or the GUI)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Worker:
    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], object]) -> None:
        self._jobs.put(job)

    def call(self, job: Callable[[], T], timeout_s: float) -> T | None:
        """Run ``job`` on this worker and wait for its result; None when it did not finish
        in time (or raised)."""
        done = threading.Event()
        box: list[T] = []

        def run() -> None:
            try:
                box.append(job())
            finally:
                done.set()

        self.submit(run)
        if not done.wait(timeout_s) or not box:
            return None
        return box[0]

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:
                log.exception("device job failed on %s", self._thread.name)

    def stop(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)
