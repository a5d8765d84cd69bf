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
        self._lock = threading.Lock()
        self._stopped = False
        self._waiting: set[threading.Event] = set()  # call()s whose job has not run yet
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

        with self._lock:
            if self._stopped:  # nothing runs any more: no answer, at once
                return None
            self._waiting.add(done)
        try:
            self.submit(run)
            if not done.wait(timeout_s) or not box:
                return None
            return box[0]
        finally:
            with self._lock:
                self._waiting.discard(done)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:
                log.exception("device job failed on %s", self._thread.name)

    def stop(self, timeout: float = 5.0) -> None:
        """Run what is queued, then end; a call() still waiting after that gets None now
        (its job was queued behind the end, or the worker did not end in time)."""
        with self._lock:
            self._stopped = True
        self._jobs.put(None)
        self._thread.join(timeout)
        with self._lock:
            waiting, self._waiting = list(self._waiting), set()
        for done in waiting:
            done.set()
