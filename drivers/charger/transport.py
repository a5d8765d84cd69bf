"""The serial transport of RAPI: one reader thread, one command at a time, and a link that
heals itself.

* Every command carries a sequence id; a reply with another id (the late answer of a command
  that timed out) is dropped, so an answer is never taken for the wrong question.
* A command that gets no answer within ``command_timeout_s`` is sent again (``retries``); a
  ``$NK`` is an answer, not retried.
* Noise on the line is skipped by the line splitter (bytes before ``$``, over-long lines, bad
  checksums); unsolicited lines (``$AT``...) go to ``on_async`` from the reader thread.
* The firmware's free-text debug lines (``relayCloseMs: 100``...) are skipped too: never an
  answer, never noise or a frame error, and no sign of life either (a controller that prints
  but does not answer is still down). They are counted in :attr:`SerialLink.debug_lines`, the
  newest kept (:attr:`SerialLink.last_debug`) and logged at DEBUG level. Counters:
  ``noise_bytes`` is garbage only (control bytes, over-long or cut-off lines),
  ``frame_errors`` lines that start like a frame but are not one (bad checksum, fields).

The link has three states, held together under one lock (the port object, the up flag and
a generation number change in one step, so no thread can see the port of one episode with the
flag of another):

* **closed**: no port (never opened, or a read/write error: USB unplugged). The reader thread
  reopens it every ``reconnect_s``.
* **open, not up**: the port is open but the controller has not answered yet. The reader thread
  sends a probe (``$GV``) every ``command_timeout_s``; :meth:`command` refuses with
  :class:`LinkDown`. A hung controller stays here, with its port open (reopening a serial port
  can reset the board behind it), until it answers.
* **up**: the controller answered the probe (a valid ``$OK`` with the probe's sequence id).
  ``max_failures`` commands in a row without an answer (after their retries) take it back to
  *open, not up*.

``on_link(True/False)`` reports every change of *up*, in the order they happened, from whichever
thread made the change (the reader thread or the command's caller).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from drivers.charger.rapi import (
    Async,
    LineSplitter,
    RapiError,
    RapiFrameError,
    Reply,
    decode,
    encode,
)

log = logging.getLogger(__name__)

PROBE_COMMAND = "GV"  # every firmware answers it, it changes nothing


class LinkDown(RapiError):
    """The controller cannot be reached right now (port missing or not answering)."""


class CommandTimeout(RapiError):
    """No answer to a command, even after retries."""


Opener = Callable[..., Any]


class SerialLink:
    def __init__(self, port: str, baud: int = 115200, *, command_timeout_s: float = 0.5,
                 retries: int = 2, max_failures: int = 1, reconnect_s: float = 0.5,
                 on_async: Callable[[Async], None] | None = None,
                 on_link: Callable[[bool], None] | None = None,
                 opener: Opener = serial.Serial) -> None:
        self.port, self.baud = port, baud
        self.command_timeout_s, self.retries = command_timeout_s, retries
        self.max_failures, self.reconnect_s = max_failures, reconnect_s
        self.on_async, self.on_link = on_async, on_link
        self._opener = opener
        # --- the link state: only under _cond (one lock) --------------------------------------
        self._cond = threading.Condition(threading.Lock())
        self._ser: Any = None
        self._up = False
        self._gen = 0  # +1 on every open and every loss: a stale episode's news is dropped
        self._seq = 0
        self._waiting: int | None = None  # the sequence id a command waits for
        self._answer: Reply | None = None
        self._probe_seq: int | None = None  # the probe waiting for its answer
        self._next_probe = 0.0
        self._last_answer = time.monotonic()  # the last valid answer from the controller
        self._link_events: collections.deque[bool] = collections.deque()
        self._delivering = False
        # ----------------------------------------------------------------------------------------
        self._failures = 0  # under _cmd_lock: commands in a row without an answer ...
        self._failures_gen = 0  # ... in this episode of the link
        self._cmd_lock = threading.RLock()
        self._write_lock = threading.Lock()  # one frame on the wire at a time (probe vs command)
        self._stop = threading.Event()
        self.frame_errors = 0
        self.noise_bytes = 0
        self.debug_lines = 0  # the firmware's free-text lines, skipped
        self._last_debug: collections.deque[str] = collections.deque(maxlen=20)
        self._splitter = LineSplitter()
        self._thread = threading.Thread(target=self._run, name="rapi-reader", daemon=True)

    # --- life ---------------------------------------------------------------------------------
    def start(self, wait_s: float = 2.0) -> bool:
        """Open the port and start reading; True when the controller answered within
        ``wait_s``."""
        self._open()
        self._thread.start()

        def reported_up() -> bool:  # up, and on_link(True) already delivered
            return self._up and not self._link_events and not self._delivering

        with self._cond:
            return self._cond.wait_for(reported_up, wait_s)

    @property
    def up(self) -> bool:
        with self._cond:
            return self._up

    @property
    def port_open(self) -> bool:
        with self._cond:
            return self._ser is not None

    @property
    def last_answer(self) -> float:
        """``time.monotonic()`` of the last valid answer from the controller."""
        with self._cond:
            return self._last_answer

    @property
    def last_debug(self) -> list[str]:
        """The newest debug lines the firmware printed (up to 20), oldest first."""
        with self._cond:
            return list(self._last_debug)

    def wait_up(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._up, timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        with self._cond:  # closing on purpose is not a lost link: no on_link(False)
            ser, self._ser, self._up = self._ser, None, False
            self._gen += 1
            self._cond.notify_all()
        self._close(ser)

    # --- commands -----------------------------------------------------------------------------
    def command(self, cmd: str, *args: str | int) -> Reply:
        """Send one command and wait for its answer. Raises :class:`LinkDown` or
        :class:`CommandTimeout`; a ``$NK`` is returned as ``Reply(ok=False)``."""
        encode(cmd, *args, seq=0xFF)  # a bad command fails here, before anything is sent
        try:
            with self._cmd_lock:
                return self._command(cmd, *args)
        finally:
            self._deliver()  # link changes, reported outside the command lock

    def _command(self, cmd: str, *args: str | int) -> Reply:
        gen = -1
        for _attempt in range(self.retries + 1):
            with self._cond:
                if not self._up:
                    raise LinkDown(f"charger link on {self.port} is down")
                ser, gen = self._ser, self._gen
                if gen != self._failures_gen:
                    self._failures, self._failures_gen = 0, gen
                seq = self._next_seq()
                self._waiting, self._answer = seq, None
            if not self._write(ser, encode(cmd, *args, seq=seq), gen):
                raise LinkDown(f"charger link on {self.port} is down")
            answer = self._await(gen)
            if answer is not None:
                self._failures = 0
                return answer
        self._failures += 1
        if self._failures >= self.max_failures:
            self._lost(f"{self.max_failures} command(s) without an answer", gen, close=False)
        raise CommandTimeout(f"no answer to ${cmd} from the charger")

    # --- inside -------------------------------------------------------------------------------
    def _await(self, gen: int) -> Reply | None:
        """The answer to the command waiting, or None after ``command_timeout_s``; raises
        :class:`LinkDown` when the link's episode ends meanwhile."""

        def done() -> bool:
            return self._answer is not None or self._gen != gen

        with self._cond:
            self._cond.wait_for(done, self.command_timeout_s)
            answer: Reply | None = self._answer
            self._answer = self._waiting = None
            if answer is None and self._gen != gen:
                raise LinkDown(f"charger link on {self.port} is down")
            return answer

    def _next_seq(self) -> int:
        """Under ``_cond``."""
        self._seq = self._seq % 0xFF + 1
        return self._seq

    def _write(self, ser: Any, frame: bytes, gen: int) -> bool:
        try:
            with self._write_lock:
                ser.write(frame)
        except (serial.SerialException, OSError, AttributeError, TypeError):
            self._lost("write failed", gen, close=True)
            return False
        return True

    def _open(self) -> bool:
        """Reader thread (and :meth:`start`): open the port; the link is up only once the
        controller answers a probe."""
        try:
            ser = self._opener(self.port, self.baud, timeout=0.05, write_timeout=1.0)
        except (serial.SerialException, OSError, ValueError):
            return False
        with self._cond:
            if self._ser is not None or self._stop.is_set():
                stale = ser  # not ours to install (closing, or already open)
            else:
                stale = None
                self._ser, self._up = ser, False
                self._gen += 1
                self._probe_seq, self._next_probe = None, 0.0
                self._splitter = LineSplitter()
        if stale is not None:
            self._close(stale)
            return False
        log.info("charger port %s open, waiting for the controller", self.port)
        return True

    @staticmethod
    def _close(ser: Any) -> None:
        if ser is not None:
            with contextlib.suppress(serial.SerialException, OSError, AttributeError):
                ser.close()

    def _lost(self, why: str, gen: int, *, close: bool) -> None:
        """The episode ``gen`` ended: the link is down (and the port closed when ``close``),
        in one step under the lock. News of an episode that already ended changes nothing."""
        with self._cond:
            if gen != self._gen:
                return
            self._gen += 1
            ser = None
            if close:
                ser, self._ser = self._ser, None
            was_up, self._up = self._up, False
            self._probe_seq, self._next_probe = None, 0.0
            if was_up:
                self._link_events.append(False)
            self._cond.notify_all()
        if was_up:
            log.warning("charger link lost on %s: %s", self.port, why)
        self._close(ser)  # may take its time: the state is already consistent

    def _deliver(self) -> None:
        """Report link changes in the order they happened, one caller at a time."""
        while True:
            with self._cond:
                if self._delivering or not self._link_events:
                    return
                self._delivering = True
                up = self._link_events.popleft()
            try:
                if self.on_link is not None:
                    self.on_link(up)
            except Exception:
                log.exception("charger link handler failed")
            finally:
                with self._cond:
                    self._delivering = False
                    self._cond.notify_all()

    def _probe(self, ser: Any, gen: int) -> None:
        """Reader thread: ask the controller whether it is there."""
        with self._cond:
            if gen != self._gen or self._up:
                return
            seq = self._next_seq()
            self._probe_seq = seq
            self._next_probe = time.monotonic() + self.command_timeout_s
        self._write(ser, encode(PROBE_COMMAND, seq=seq), gen)

    def _run(self) -> None:
        next_try = 0.0
        while not self._stop.is_set():
            with self._cond:
                ser, gen, up, next_probe = self._ser, self._gen, self._up, self._next_probe
            if ser is None:
                now = time.monotonic()
                if now >= next_try:
                    next_try = now + self.reconnect_s
                    if self._open():
                        continue
                self._stop.wait(0.02)
                continue
            if not up and time.monotonic() >= next_probe:
                self._probe(ser, gen)
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError):
                self._lost("read failed (port gone?)", gen, close=True)
                next_try = time.monotonic() + self.reconnect_s
                self._deliver()
                continue
            if data:
                self._feed(data, gen)
            self._deliver()

    def _feed(self, data: bytes, gen: int) -> None:
        before = self._splitter.discarded
        lines = self._splitter.feed(data)
        self.noise_bytes += self._splitter.discarded - before
        for text in self._splitter.take_text():
            said = text.decode("ascii")
            with self._cond:
                self.debug_lines += 1
                self._last_debug.append(said)
            log.debug("charger firmware says: %s", said)
        for line in lines:
            try:
                msg = decode(line)
            except RapiFrameError as exc:
                self.frame_errors += 1
                log.debug("dropped a bad line from the charger: %s", exc)
                continue
            if isinstance(msg, Async):
                if self.on_async is not None:
                    try:
                        self.on_async(msg)
                    except Exception:
                        log.exception("charger event handler failed")
                continue
            came_up = False
            with self._cond:
                if gen != self._gen:
                    continue  # from a port or an episode that is over
                if self._waiting is not None and msg.seq in (self._waiting, None):
                    self._answer = msg
                    self._last_answer = time.monotonic()
                    self._cond.notify_all()
                elif (self._probe_seq is not None and msg.seq in (self._probe_seq, None)
                      and msg.ok and not self._up):
                    self._probe_seq = None
                    self._up = True
                    self._last_answer = time.monotonic()
                    self._link_events.append(True)
                    came_up = True
                    self._cond.notify_all()
            if came_up:
                log.info("charger link up on %s", self.port)
