"""The payment host simulator (v0) and its client: a real TCP server on loopback.

Wire format v0: one JSON object per line each way (UTF-8, at most 64 KiB a line). Requests:
``{"op": "authorize" | "increment" | "complete" | "reverse", "ref": ..., ...}``; answers
``{"ok": bool, "code": "00", "message": ..., "auth_code": ..., "approved_minor": ...}`` or
``{"error": "..."}`` for a request the server cannot read. The ISO 8583 link of the payment
host issue replaces the wire; the ledger and the rules stay.

Every operation is idempotent by ``ref``: a repeated authorization returns the first answer; a
repeated capture of the same amount is acknowledged without a second capture; a reversal of a
reference the host never saw is acknowledged and recorded (the reversal of a lost request).

The ledger records, per reference, what is held, captured and reversed; tests compare it with
the kiosk's journal. Faults for the next requests: ``delay`` (answer late), ``drop`` (process,
then close without answering: the outcome is unknown to the kiosk), ``garbage`` (process, answer
nonsense), ``twice`` (answer two times), ``refuse`` (close before reading).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from drivers.acquirer.api import (
    Ack,
    AuthRequest,
    AuthResult,
    HostError,
    HostTimeout,
    HostUnavailable,
)
from drivers.acquirer.codes import APPROVED, message_for
from drivers.sim.cards import CARDS_BY_PAN

MAX_LINE = 64 * 1024
FAULTS = ("delay", "drop", "garbage", "twice", "refuse")


@dataclass(frozen=True)
class LedgerEntry:
    ref: str
    pan_last4: str = ""
    response_code: str = ""
    held_minor: int = 0  # the authorized total (0 when declined or never seen)
    captured_minor: int | None = None
    reversed: bool = False
    increments: tuple[int, ...] = ()
    operations: tuple[str, ...] = ()

    @property
    def open(self) -> bool:
        return self.held_minor > 0 and self.captured_minor is None and not self.reversed


class ProtocolError(ValueError):
    """A request the simulator cannot read."""


def _field(msg: dict[str, Any], name: str, kind: type) -> Any:
    value = msg.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProtocolError(f"field {name!r} missing or not {kind.__name__}")
    return value


def _amount(msg: dict[str, Any], name: str) -> int:
    value = _field(msg, name, int)
    if not 0 <= value <= 10**12:
        raise ProtocolError(f"field {name!r} out of range")
    return int(value)


class HostSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay_s: float = 0.0) -> None:
        self._addr = (host, port)
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._ledger: dict[str, LedgerEntry] = {}
        self._answers: dict[str, dict[str, Any]] = {}  # first answer per (op, ref)
        self._faults: list[str] = []
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0

    # --- control ------------------------------------------------------------------------------
    def start(self) -> None:
        sim = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def handle(self) -> None:
                sim._serve(self.rfile, self.connection)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(self._addr, Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, name="sim-host",
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the host simulator is not started")
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def inject(self, *faults: str) -> None:
        """Apply these faults to the next requests, one each, in order."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend(faults)

    def ledger(self) -> dict[str, LedgerEntry]:
        with self._lock:
            return dict(self._ledger)

    def open_holds(self) -> list[str]:
        with self._lock:
            return sorted(ref for ref, e in self._ledger.items() if e.open)

    # --- the wire ---------------------------------------------------------------------------------
    def _serve(self, rfile: Any, conn: socket.socket) -> None:
        while True:
            line = rfile.readline(MAX_LINE + 1)
            if not line:
                return
            with self._lock:
                fault = self._faults.pop(0) if self._faults else ""
            if fault == "refuse":
                return
            if len(line) > MAX_LINE or not line.endswith(b"\n"):
                self._send(conn, {"error": "line too long or unterminated"})
                return
            try:
                msg = json.loads(line)
                if not isinstance(msg, dict):
                    raise ProtocolError("a request is a JSON object")
                answer = self.handle(msg)
            except (ValueError, ProtocolError) as exc:  # JSONDecodeError is a ValueError
                answer = {"error": str(exc)[:200]}
            if self.delay_s or fault == "delay":
                time.sleep(self.delay_s or 5.0)
            if fault == "drop":
                return
            if fault == "garbage":
                conn.sendall(b"\x00\xff{not json\n")
                continue
            self._send(conn, answer)
            if fault == "twice":
                self._send(conn, answer)

    @staticmethod
    def _send(conn: socket.socket, answer: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(answer).encode() + b"\n")

    # --- the rules ----------------------------------------------------------------------------
    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = _field(msg, "op", str)
        ref = _field(msg, "ref", str)
        if not 1 <= len(ref) <= 64:
            raise ProtocolError("field 'ref' must be 1 to 64 characters")
        with self._lock:
            self.requests += 1
            key = f"{op}:{ref}"
            if op == "authorize":
                if key in self._answers:
                    return self._answers[key]
                answer = self._authorize(ref, msg)
                self._answers[key] = answer
                return answer
            if op == "increment":
                return self._increment(ref, _amount(msg, "amount_minor"),
                                       _amount(msg, "total_minor"))
            if op == "complete":
                return self._complete(ref, _amount(msg, "amount_minor"))
            if op == "reverse":
                return self._reverse(ref)
        raise ProtocolError(f"unknown op {op!r}")

    def _authorize(self, ref: str, msg: dict[str, Any]) -> dict[str, Any]:
        amount = _amount(msg, "amount_minor")
        pan = _field(msg, "pan", str)
        pin = _field(msg, "pin", str) if "pin" in msg else ""
        card = CARDS_BY_PAN.get(pan)
        code = card.host_rule if card is not None else APPROVED
        if card is not None and card.pin and code == APPROVED and pin != card.pin:
            code = "55"
        if ref in self._ledger:  # a reversal for this ref arrived first: never approve it
            code = "94"
        approved = code == APPROVED and amount > 0
        if code == APPROVED and amount == 0:
            code = "13"
        self._ledger[ref] = LedgerEntry(ref, pan[-4:], code, amount if approved else 0,
                                        operations=("authorize",))
        return {"ok": approved, "code": code, "message": message_for(code),
                "auth_code": f"{secrets.randbelow(10**6):06d}" if approved else "",
                "approved_minor": amount if approved else 0}

    def _increment(self, ref: str, amount: int, total: int) -> dict[str, Any]:
        e = self._ledger.get(ref)
        if e is None or not e.open:
            return {"ok": False, "code": "12", "message": message_for("12")}
        if total != e.held_minor + amount:
            if total == e.held_minor and e.increments and e.increments[-1] == amount:
                return {"ok": True, "code": APPROVED, "message": message_for(APPROVED),
                        "approved_minor": total}  # a repeat of the last increment
            return {"ok": False, "code": "13", "message": message_for("13")}
        card = next((c for c in CARDS_BY_PAN.values() if c.pan[-4:] == e.pan_last4), None)
        if card is not None and card.host_rule != APPROVED:
            return {"ok": False, "code": "51", "message": message_for("51")}
        self._ledger[ref] = replace(e, held_minor=total, increments=(*e.increments, amount),
                                    operations=(*e.operations, "increment"))
        return {"ok": True, "code": APPROVED, "message": message_for(APPROVED),
                "approved_minor": total}

    def _complete(self, ref: str, amount: int) -> dict[str, Any]:
        e = self._ledger.get(ref)
        if e is None or e.reversed or e.held_minor == 0:
            return {"ok": False, "code": "12", "message": message_for("12")}
        if e.captured_minor is not None:
            if e.captured_minor == amount:  # a repeat: acknowledge, capture nothing more
                return {"ok": True, "code": APPROVED, "message": "already captured"}
            return {"ok": False, "code": "94", "message": message_for("94")}
        if not 0 < amount <= e.held_minor:
            return {"ok": False, "code": "13", "message": message_for("13")}
        self._ledger[ref] = replace(e, captured_minor=amount,
                                    operations=(*e.operations, "complete"))
        return {"ok": True, "code": APPROVED, "message": message_for(APPROVED)}

    def _reverse(self, ref: str) -> dict[str, Any]:
        e = self._ledger.get(ref) or LedgerEntry(ref)
        if e.captured_minor is not None:
            return {"ok": False, "code": "12", "message": "already captured"}
        self._ledger[ref] = replace(e, reversed=True, operations=(*e.operations, "reverse"))
        return {"ok": True, "code": APPROVED, "message": "reversed"}


@dataclass
class SimHostClient:
    """The kiosk's side of the v0 wire: one short TCP connection per request, so a request
    never waits for another and a broken connection never outlives its request."""

    address: str
    port: int
    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    _closed: bool = field(default=False, init=False)

    def authorize(self, req: AuthRequest) -> AuthResult:
        msg: dict[str, Any] = {"op": "authorize", "ref": req.ref, "amount_minor": req.amount_minor,
                               "currency": req.currency, "pan": req.pan, "expiry": req.expiry,
                               "estimated": req.estimated, "icc_data": req.icc_data.hex()}
        if req.pin_block:
            msg["pin"] = req.pin_block.decode("ascii", "replace")
        a = self._call(msg)
        return AuthResult(approved=a["ok"], response_code=a["code"], message=a["message"],
                          auth_code=str(a.get("auth_code", "")),
                          approved_minor=_int(a.get("approved_minor", 0)))

    def increment(self, ref: str, amount_minor: int, total_minor: int) -> AuthResult:
        a = self._call({"op": "increment", "ref": ref, "amount_minor": amount_minor,
                        "total_minor": total_minor})
        return AuthResult(approved=a["ok"], response_code=a["code"], message=a["message"],
                          approved_minor=_int(a.get("approved_minor", 0)))

    def complete(self, ref: str, amount_minor: int) -> Ack:
        a = self._call({"op": "complete", "ref": ref, "amount_minor": amount_minor})
        return Ack(a["ok"], a["code"], a["message"])

    def reverse(self, ref: str, amount_minor: int, reason: str) -> Ack:
        a = self._call({"op": "reverse", "ref": ref, "amount_minor": amount_minor,
                        "reason": reason})
        return Ack(a["ok"], a["code"], a["message"])

    def close(self) -> None:
        self._closed = True

    def _call(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self._closed:
            raise HostUnavailable("The payment host link is closed.")
        try:
            sock = socket.create_connection((self.address, self.port), self.connect_timeout_s)
        except OSError:
            raise HostUnavailable("The payment host cannot be reached.") from None
        with sock:
            try:
                sock.settimeout(self.timeout_s)
                sock.sendall(json.dumps(msg).encode() + b"\n")
                line = _read_line(sock, time.monotonic() + self.timeout_s)
            except TimeoutError:
                raise HostTimeout("The payment host did not answer in time.") from None
            except OSError:
                raise HostTimeout("The connection to the payment host broke.") from None
        return parse_answer(line)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**12:
        raise HostError("The payment host sent an invalid answer.")
    return value


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    buf = bytearray()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            raise HostTimeout("The payment host closed the connection without an answer.")
        buf += chunk
        if len(buf) > MAX_LINE:
            raise HostError("The payment host sent an invalid answer.")
    return bytes(buf[:buf.index(b"\n") + 1])  # a second (duplicate) answer is dropped


def parse_answer(line: bytes) -> dict[str, Any]:
    """Check an answer line; anything unusable is a :class:`HostError`."""
    try:
        a = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise HostError("The payment host sent an invalid answer.") from None
    if not isinstance(a, dict):
        raise HostError("The payment host sent an invalid answer.")
    if "error" in a:
        raise HostError("The payment host rejected the request.")
    ok, code, message = a.get("ok"), a.get("code"), a.get("message")
    if not (isinstance(ok, bool) and isinstance(code, str) and len(code) == 2
            and isinstance(message, str) and len(message) <= 200):
        raise HostError("The payment host sent an invalid answer.")
    if "auth_code" in a and not isinstance(a["auth_code"], str):
        raise HostError("The payment host sent an invalid answer.")
    return a
