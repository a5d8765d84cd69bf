"""The runner: feeds events to the session machine, journals each step, then runs its effects.

It owns the live sessions. Devices post events from their own threads with
:meth:`Runner.post`. Headless, the owner's thread drains them (:meth:`Runner.process_pending`,
:meth:`Runner.wait_and_process`); in the app the runner has a thread of its own
(:meth:`Runner.start_thread`, ``kiosk-runner``), so no journal commit ever waits on the GUI
thread (an fsync on a slow card can take longer than a frame). One step runs at a time,
whichever thread runs it (a lock). ``sessions`` is replaced, never changed in place, so any
thread may read it: the dict it gets is a consistent picture.

Order of a step, the heart of crash safety: decide → commit to the journal → run effects.

When a commit fails (:class:`~kiosk.journal.store.JournalWriteError`: disk full, read-only,
I/O error) the step did not happen: its effects are not run, the session stays at its last
journaled snapshot, the ``on_journal_failure`` hook switches the chargers off at once (without
the journal), and the runner refuses new sessions. Every ``Tick`` then checks whether the file
takes writes again; when it does, each live session gets a ``Recover`` (as after a restart), so
it settles from its last journaled state.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kiosk.journal.store import Journal, JournalWriteError
from kiosk.session import effects as fx
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, SessionMachine, State, UnexpectedEvent

log = logging.getLogger(__name__)

RUN_WAIT_S = 1.0  # the runner's thread looks at its stop flag at least this often
STOP_WAIT_S = 5.0  # stop_thread(): how long it waits for the step that runs to end

Clock = Callable[[], datetime]
Probe = Callable[[int], tuple[bool, int | None]]  # connector → (charging now, meter Wh)
RecordBuilder = Callable[[Session], dict[str, Any]]
FaultHook = Callable[[str, int], None]  # ("before_commit" | "after_commit", step number)
# a captured session → how to build its invoice once the journal has given it a number
InvoiceFor = Callable[[Session], Callable[[int], dict[str, Any]]]
RecordsFor = Callable[[Session], list[tuple[str, dict[str, Any]]]]  # e.g. the OCPI CDR


class Busy(Exception):
    """A session is already running on that connector (or the card reader is in use)."""


class OutOfService(Busy):
    """The terminal takes no new session now (its journal cannot be written)."""


class Runner:
    def __init__(
        self,
        machine: SessionMachine,
        journal: Journal,
        *,
        clock: Clock,
        record_builder: RecordBuilder,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        invoice_for: InvoiceFor | None = None,
        captured_records: RecordsFor | None = None,
    ) -> None:
        self.invoice_for = invoice_for
        self.captured_records = captured_records
        self.machine = machine
        self.journal = journal
        self.clock = clock
        self.record_builder = record_builder
        self.new_id = new_id
        self.sessions: dict[str, Session] = {}
        self.executor: Callable[[fx.Effect], None] | None = None
        self.listeners: list[Callable[[Session], None]] = []
        self.fault_hook: FaultHook | None = None
        # the journal refused a write: called at once, before anything else (chargers off)
        self.on_journal_failure: Callable[[JournalWriteError], None] | None = None
        self.on_journal_back: Callable[[], None] | None = None
        self.probe: Probe | None = None  # the charger's view, for resuming after a failure
        self.journal_error: JournalWriteError | None = None
        self.steps = 0
        self._queue: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
        self._lock = threading.RLock()  # one step at a time, on whichever thread
        self._arrived = threading.Event()  # set by post(): the runner's thread drains
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- input -----------------------------------------------------------------------------
    def post(self, event: ev.Event) -> None:
        """Thread-safe: queue an event for the runner's thread."""
        self._queue.put(event)
        self._arrived.set()

    def process_pending(self) -> int:
        n = 0
        with self._lock:  # one drainer at a time: the events keep their order
            while True:
                try:
                    event = self._queue.get_nowait()
                except queue.Empty:
                    return n
                self.dispatch(event)
                n += 1

    def wait_and_process(self, timeout: float) -> int:
        """Headless loops: block until one event arrives (or ``timeout``), then drain."""
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return 0
        with self._lock:
            self.dispatch(event)
            return 1 + self.process_pending()

    # --- a thread of its own (the app) -------------------------------------------------------
    def start_thread(self) -> bool:
        """Run the steps on the ``kiosk-runner`` thread from now on (listeners and effects run
        there too). False when it runs already (its starter stops it)."""
        with self._lock:
            if self._thread is not None:
                return False
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="kiosk-runner", daemon=True)
            self._thread.start()
            return True

    @property
    def threaded(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._arrived.wait(RUN_WAIT_S)
            self._arrived.clear()  # before draining: a post meanwhile sets it again
            if self._stop.is_set():
                return
            try:
                self.process_pending()
            except Exception:  # a failed step must not end the thread: the rest still runs
                log.exception("processing session events failed")
                self._arrived.set()

    def stop_thread(self, timeout_s: float = STOP_WAIT_S) -> None:
        """End the runner's thread after the step it runs (events still queued stay queued).
        Safe to call twice, and from a listener (then it only tells the thread to end)."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        self._arrived.set()
        if thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("the runner's thread did not end within %g s", timeout_s)
        with self._lock:
            if self._thread is thread:
                self._thread = None

    # --- sessions --------------------------------------------------------------------------
    def active(self) -> Session | None:
        """The newest live session (what the driver's screen shows)."""
        live = sorted(self.sessions.values(), key=lambda s: s.created_at)
        return live[-1] if live else None

    def session_on(self, connector: int) -> Session | None:
        for s in self.sessions.values():
            if s.connector == connector:
                return s
        return None

    def start_session(self, connector: int) -> Session:
        with self._lock:
            return self._start_session(connector)

    def _start_session(self, connector: int) -> Session:
        if self.journal_error is not None:
            raise OutOfService(f"the journal cannot be written: {self.journal_error}")
        if any(s.state in (State.READING_CARD, State.PIN_ENTRY, State.AUTHORIZING)
               for s in self.sessions.values()):
            raise Busy("the card reader is busy with another driver")
        if self.session_on(connector) is not None:
            raise Busy(f"connector {connector} is in use")
        now = self.clock()
        new, effects = self.machine.start(self.new_id(), connector, now)
        try:
            self._apply(None, new, ev.Started(connector), effects, now)
        except JournalWriteError as exc:
            raise OutOfService(f"the journal cannot be written: {exc}") from None
        return new

    def dispatch(self, event: ev.Event) -> None:
        with self._lock:
            self._dispatch(event)

    def _dispatch(self, event: ev.Event) -> None:
        now = self.clock()
        if self.journal_error is not None:
            # nothing can be journaled, so nothing may be decided; the chargers are off and
            # the sessions resume from the journal once it takes writes again
            if isinstance(event, ev.Tick):
                self._try_resume()
            else:
                log.warning("journal failing: %s dropped", type(event).__name__)
            return
        if isinstance(event, ev.Tick | ev.Recover):
            for s in list(self.sessions.values()):
                self._step(s, event, now)
            return
        target = self._route(event)
        if target is None:
            log.debug("no live session for %s", type(event).__name__)
            return
        self._step(target, event, now)

    def _route(self, event: ev.Event) -> Session | None:
        sid = getattr(event, "session_id", None)
        if isinstance(sid, str):
            return self.sessions.get(sid)
        connector = getattr(event, "connector", None)
        if isinstance(connector, int):
            return self.session_on(connector)
        return None

    def _step(self, old: Session, event: ev.Event, now: datetime) -> None:
        try:
            new, effects = self.machine.handle(old, event, now)
        except UnexpectedEvent as exc:
            log.warning("ignored: %s", exc, extra={"fields": {"session": old.id}})
            return
        if new is old:
            return
        try:
            self._apply(old, new, event, effects, now)
        except JournalWriteError:
            return  # reported; the session stays at its journaled step

    # --- a journal that cannot be written -------------------------------------------------
    def _journal_failed(self, exc: JournalWriteError) -> None:
        first = self.journal_error is None
        self.journal_error = exc
        if first:
            log.critical("journal write failed, terminal out of service: %s", exc)
        if self.on_journal_failure is not None:
            try:
                self.on_journal_failure(exc)
            except Exception:
                log.exception("journal failure hook failed")

    def _try_resume(self) -> None:
        try:
            self.journal.check_writable()
        except JournalWriteError as exc:
            self.journal_error = exc
            return
        log.warning("journal writable again: resuming %d session(s)", len(self.sessions))
        self.journal_error = None
        if self.on_journal_back is not None:
            self.on_journal_back()
        for s in list(self.sessions.values()):
            self._resume(s)

    def _resume(self, s: Session) -> None:
        """Finish a session from its journaled snapshot, as after a restart."""
        charging, meter = False, None
        if self.probe is not None:
            try:
                charging, meter = self.probe(s.connector)
            except Exception:  # a dead charger link counts as "not charging, meter unknown"
                log.exception("charger probe failed while resuming")
        self._step(s, ev.Recover(self.clock(), charging, meter), self.clock())

    def _apply(self, old: Session | None, new: Session, event: ev.Event,
               effects: list[fx.Effect], now: datetime) -> None:
        records = [(e.kind, self.record_builder(new)) for e in effects
                   if isinstance(e, fx.Enqueue)]
        self.steps += 1
        if self.fault_hook is not None:
            self.fault_hook("before_commit", self.steps)
        invoice = None
        if self.invoice_for is not None and new.outcome is Outcome.CAPTURED and (
                old is None or old.outcome is not Outcome.CAPTURED):
            invoice = self.invoice_for(new)
            if self.captured_records is not None:
                records += self.captured_records(new)
        settle = [e for e in effects if isinstance(e, fx.Settle)]
        try:
            self.journal.commit(old, new, event, effects, now, records, invoice, settle)
        except JournalWriteError as exc:
            self._journal_failed(exc)
            raise
        if self.fault_hook is not None:
            self.fault_hook("after_commit", self.steps)
        sessions = dict(self.sessions)  # a new dict: readers on other threads keep theirs
        if new.finished:
            sessions.pop(new.id, None)
        else:
            sessions[new.id] = new
        self.sessions = sessions
        log.info("%s -> %s on %s", old.state.value if old else "-", new.state.value,
                 type(event).__name__, extra={"fields": {"session": new.id, "seq": new.seq}})
        # a settlement is known as pending before anyone looks (it is journaled already)
        later = [e for e in effects if not isinstance(e, fx.Enqueue | fx.Settle)]
        for job in settle:
            if self.executor is not None:
                self.executor(job)
        for listener in list(self.listeners):
            listener(new)
        for effect in later:
            if self.executor is not None:
                self.executor(effect)

    # --- start-up --------------------------------------------------------------------------
    def recover(self, probe: Probe) -> list[Session]:
        """Finish what a crash or power cut interrupted. Returns the sessions found."""
        with self._lock:
            found = self.journal.unfinished()
            self.sessions = {**self.sessions, **{s.id: s for s in found}}
            self.probe = probe
            for s in found:
                self._resume(s)
            return found
