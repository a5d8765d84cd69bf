"""The one object that connects the session's runner to the Qt event loop.

Devices post events to the runner from their own worker threads (``Runner.post``). The runner
runs its steps (the machine, the journal commit, the listeners, the effects) on a thread of its
own, ``kiosk-runner``, which the bridge starts (``Runner.start_thread``): a commit, whose fsync
can take longer than a frame on a slow storage card, never holds up the GUI thread. Each new
session snapshot reaches the GUI thread as :attr:`Bridge.session_changed`, a signal emitted on
the runner's thread and delivered queued (the bridge lives on the GUI thread); the window
refreshes from the runner's ``sessions``, which any thread may read (it is replaced, never
changed in place). No device I/O and no journal write happens on the GUI thread, except the
first step of a session, which Start runs where the driver tapped (README, "Layout").

A one-second timer posts ``Tick`` so the machine's timers (card, PIN, plug, receipt) expire.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from kiosk.session import events as ev
from kiosk.session.machine import Session

if TYPE_CHECKING:
    from kiosk.runtime import Runtime

log = logging.getLogger(__name__)

TICK_MS = 1000


class Bridge(QObject):
    """Connects a :class:`~kiosk.runtime.Runtime` to the Qt event loop."""

    session_changed = Signal(object)  # a Session snapshot; delivered on the GUI thread

    def __init__(self, runtime: Runtime, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self._closed = False
        self._lock = threading.Lock()
        runtime.runner.listeners.append(self._on_session)
        self._timer = QTimer(self)
        self._timer.setObjectName("tick_timer")
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        # the runner's thread drains what recovery queued before the bridge existed first
        self._owns_thread = runtime.runner.start_thread()

    @Slot()
    def _tick(self) -> None:
        self.runtime.runner.post(ev.Tick(self.runtime.clock()))

    def _on_session(self, session: Session) -> None:
        """The runner's thread: the signal crosses to the GUI thread queued."""
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(RuntimeError):  # the bridge is being destroyed
                self.session_changed.emit(session)

    def close(self) -> None:
        """Stop the timer, the runner's thread (when this bridge started it) and unhook from
        the runner. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._timer.stop()
        runner = self.runtime.runner
        if self._owns_thread:
            runner.stop_thread()
        if self._on_session in runner.listeners:
            runner.listeners.remove(self._on_session)
