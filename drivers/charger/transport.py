"""The serial transport of RAPI: one reader thread, one command at a time, and a link that
heals itself.

* Every command carries a sequence id; a reply with another id (the late answer of a command
  that timed out) is dropped, so an answer is never taken for the wrong question.
* A command that gets no answer within ``command_timeout_s`` is sent again (``retries``); a
  ``$NK`` is an answer, not retried.
* Noise on the line is skipped by the line splitter (bytes before ``$``, over-long lines, bad
  checksums); unsolicited lines (``$AT``...) go to ``on_async`` from the reader thread.
* A vanished port (USB unplugged: read/write errors) or ``max_failures`` commands in a row
  without an answer (a hung controller: heartbeat supervision by the poll) mark the link down
  (``on_link(False)``); the reader thread reopens the port every ``reconnect_s`` and reports
  ``on_link(True)`` when it answers again.
"""

from __future__ import annotations

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


class LinkDown(RapiError):
    """The controller cannot be reached right now (port missing or not answering)."""


class CommandTimeout(RapiError):
    """No answer to a command, even after retries."""


Opener = Callable[..., Any]


class SerialLink:
    def __init__(self, port: str, baud: int = 115200, *, command_timeout_s: float = 0.5,
                 retries: int = 2, max_failures: int = 3, reconnect_s: float = 0.5,
                 on_async: Callable[[Async], None] | None = None,
                 on_link: Callable[[bool], None] | None = None,
                 opener: Opener = serial.Serial) -> None:
        self.port, self.baud = port, baud
        self.command_timeout_s, self.retries = command_timeout_s, retries
        self.max_failures, self.reconnect_s = max_failures, reconnect_s
        self.on_async, self.on_link = on_async, on_link
        self._opener = opener
        self._ser: Any = None
        self._up = False
        self._seq = 0
        self._failures = 0
        self._cmd_lock = threading.Lock()
        self._cond = threading.Condition()
        self._waiting: int | None = None
        self._answer: Reply | None = None
        self._stop = threading.Event()
        self.frame_errors = 0
        self.noise_bytes = 0
        self._splitter = LineSplitter()
        self._thread = threading.Thread(target=self._run, name="rapi-reader", daemon=True)

    # --- life ---------------------------------------------------------------------------------
    def start(self, wait_s: float = 2.0) -> bool:
        """Open the port and start reading; True when it is up within ``wait_s``."""
        self._open()
        self._thread.start()
        end = time.monotonic() + wait_s
        while not self._up and time.monotonic() < end:
            time.sleep(0.01)
        return self._up

    @property
    def up(self) -> bool:
        return self._up

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._close_port()

    # --- commands -----------------------------------------------------------------------------
    def command(self, cmd: str, *args: str | int) -> Reply:
        """Send one command and wait for its answer. Raises :class:`LinkDown` or
        :class:`CommandTimeout`; a ``$NK`` is returned as ``Reply(ok=False)``."""
        with self._cmd_lock:
            for _attempt in range(self.retries + 1):
                if not self._up:
                    raise LinkDown(f"charger link on {self.port} is down")
                self._seq = self._seq % 0xFF + 1
                seq = self._seq
                frame = encode(cmd, *args, seq=seq)
                with self._cond:
                    self._waiting, self._answer = seq, None
                try:
                    self._ser.write(frame)
                except (serial.SerialException, OSError, AttributeError):
                    self._lost("write failed")
                    raise LinkDown(f"charger link on {self.port} is down") from None
                with self._cond:
                    self._cond.wait_for(lambda: self._answer is not None or not self._up,
                                        self.command_timeout_s)
                    answer = self._take_answer()
                if answer is not None:
                    self._failures = 0
                    return answer
            self._failures += 1
            if self._failures >= self.max_failures:
                self._lost(f"{self._failures} commands without an answer")
            raise CommandTimeout(f"no answer to ${cmd} from the charger")

    # --- inside -------------------------------------------------------------------------------
    def _take_answer(self) -> Reply | None:
        """Under ``_cond``: the answer for the waiting command, if it came; stop waiting."""
        answer, self._answer, self._waiting = self._answer, None, None
        return answer

    def _open(self) -> bool:
        try:
            self._ser = self._opener(self.port, self.baud, timeout=0.05, write_timeout=1.0)
        except (serial.SerialException, OSError, ValueError):
            self._ser = None
            return False
        self._splitter = LineSplitter()
        self._failures = 0
        if not self._up:
            self._up = True
            log.info("charger link up on %s", self.port)
            if self.on_link is not None:
                self.on_link(True)
        return True

    def _close_port(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                ser.close()

    def _lost(self, why: str) -> None:
        self._close_port()
        if self._up:
            self._up = False
            log.warning("charger link lost on %s: %s", self.port, why)
            with self._cond:
                self._cond.notify_all()
            if self.on_link is not None:
                self.on_link(False)

    def _run(self) -> None:
        next_try = 0.0
        while not self._stop.is_set():
            ser = self._ser
            if ser is None:
                if time.monotonic() >= next_try:
                    next_try = time.monotonic() + self.reconnect_s
                    if self._open():
                        continue
                time.sleep(0.02)
                continue
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError):
                self._lost("read failed (port gone?)")
                next_try = time.monotonic() + self.reconnect_s
                continue
            if data:
                self._feed(data)

    def _feed(self, data: bytes) -> None:
        before = self._splitter.discarded
        lines = self._splitter.feed(data)
        self.noise_bytes += self._splitter.discarded - before
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
            with self._cond:
                if self._waiting is not None and msg.seq in (self._waiting, None):
                    self._answer = msg
                    self._cond.notify_all()
