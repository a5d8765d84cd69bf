"""The one object that moves the session's events onto the Qt thread.

Devices post events to the runner from their own worker threads (``Runner.post``). The runner
then calls its ``wakeup`` hook on that same worker thread; here that hook only emits a Qt
signal, which a queued connection delivers to :meth:`Bridge._process` on the GUI thread, where
``Runner.process_pending`` runs the machine, the journal commit and the listeners. So every
session step, and every screen update that follows it, happens on the GUI thread, and no device
I/O ever does (DESIGN.md, "Screens observe the state; one bridge object moves events to the Qt
thread").

A one-second timer posts ``Tick`` so the machine's timers (card, PIN, plug, receipt) expire.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from kiosk.session import events as ev
from kiosk.session.machine import Session

if TYPE_CHECKING:
    from kiosk.runtime import Runtime

log = logging.getLogger(__name__)

TICK_MS = 1000


class Bridge(QObject):
    """Connects a :class:`~kiosk.runtime.Runtime` to the Qt event loop."""

    session_changed = Signal(object)  # a Session snapshot, emitted on the GUI thread
    _wake = Signal()

    def __init__(self, runtime: Runtime, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self._closed = False
        self._lock = threading.Lock()
        self._wake.connect(self._process, Qt.ConnectionType.QueuedConnection)
        runtime.runner.wakeup = self._wakeup
        runtime.runner.listeners.append(self._on_session)
        self._timer = QTimer(self)
        self._timer.setObjectName("tick_timer")
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._process()  # recovery may have queued events before the bridge existed

    def _wakeup(self) -> None:
        """Any thread: ask the GUI thread to drain the runner's queue."""
        with self._lock:
            if self._closed:
                return
            self._wake.emit()

    @Slot()
    def _process(self) -> None:
        if self._closed:
            return
        try:
            self.runtime.runner.process_pending()
        except Exception:  # a failed step must not take the event loop down with it
            log.exception("processing session events failed")

    @Slot()
    def _tick(self) -> None:
        self.runtime.runner.post(ev.Tick(self.runtime.clock()))

    def _on_session(self, session: Session) -> None:
        self.session_changed.emit(session)

    def close(self) -> None:
        """Stop the timer and unhook from the runner. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._timer.stop()
        runner = self.runtime.runner
        if runner.wakeup == self._wakeup:
            runner.wakeup = None
        if self._on_session in runner.listeners:
            runner.listeners.remove(self._on_session)
