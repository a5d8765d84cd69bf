"""The payment host simulator: a real TCP server on loopback speaking ISO 8583.

Wire: a 2-byte big-endian length, then the message (:mod:`drivers.acquirer.iso8583`): 0100
(authorization, or with ``kind=inc`` an increment) → 0110, 0220 → 0230, 0400 → 0410,
0420 → 0430, and network management 0800 → 0810 (DE 70 = 301 echo test, 001 sign-on, 002
sign-off). PIN blocks (DE 52/53) are deciphered with the test BDK (AES DUKPT format 4, or TDES
format 0) and the PIN checked against the test card's.

Every operation is idempotent by the kiosk's reference (DE 48 ``ref``): a repeated
authorization returns the first answer; a repeated capture of the same amount is acknowledged
without a second capture; a reversal of a reference the host never saw is acknowledged and
recorded (the reversal of a lost request), and that reference is never approved afterwards.

The ledger records, per reference, what is held, captured and reversed, and the operations in
order (``reverse`` for an 0400, ``advice`` for an 0420; both set ``reversed``); tests compare it
with the kiosk's journal. ``approve_at_most`` makes the issuer approve authorizations above it
partially, at that amount (what the ledger then holds).

Faults for the next requests (:data:`FAULTS`, each processes the request first unless said):
``delay`` (answer late), ``drop`` (close without answering: the outcome is unknown to the
kiosk), ``garbage`` (answer nonsense), ``twice`` (answer two times), ``refuse`` (close before
reading), ``stale`` (first a well-formed answer with another STAN, then the real one),
``flood`` (64 answers with other STANs before the real one).

Hostile answers (:data:`HOSTILE_FAULTS`): the right MTI and STAN, something else wrong:
``forged`` (another reference, terminal and currency, DE 4 = 999999999999), ``over`` (DE 4 one
more than the real answer: above the request, or not the total), ``bad_amount`` (DE 4 not
numeric), ``wrong_currency``, ``wrong_ref``, ``wrong_kind``, ``wrong_terminal``,
``wrong_merchant``, ``no_code`` (no DE 39), ``bad_code`` (DE 39 not alphanumeric),
``bad_auth_code`` (DE 38 not alphanumeric), ``no_amount`` (no DE 4).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from drivers.acquirer import iso8583 as iso
from drivers.acquirer.codes import APPROVED, message_for
from drivers.acquirer.pin import OnlinePin, decrypt_pin
from drivers.emv import tlv
from drivers.emv.api import Cvm
from drivers.sim.cards import CARDS_BY_PAN
from drivers.sim.cryptogram import issuer_check
from drivers.sim.keys import TEST_BDK_AES128

ANSWER_MTI = {"0100": "0110", "0220": "0230", "0400": "0410", "0420": "0430",
              "0800": "0810"}
NETWORK_CODES = ("001", "002", iso.NETWORK_ECHO)  # sign-on, sign-off, echo test
# An issuer script to run after the second GENERATE AC (72): script id 9F18, one command 86,
# PUT DATA (84 DA) of a made-up value into 9F58. The simulated cards take it without secure
# messaging's MAC, which a real issuer would append.
ISSUER_SCRIPT = tlv.encode(0x72, tlv.encode_many([(0x9F18, bytes.fromhex("00000001")),
                                                  (0x86, bytes.fromhex("84DA9F580100"))]))
FAULTS = ("delay", "drop", "garbage", "twice", "refuse", "stale", "flood")
FLOOD_FRAMES = 64


def _private_with(answer: dict[str, str], **values: str) -> str:
    priv = iso.parse_private(answer.get("48", "ref=x;kind=x"))
    priv.update(values)
    return ";".join(f"{k}={v}" for k, v in priv.items())


def _over(request: dict[str, str], answer: dict[str, str]) -> dict[str, str]:
    base = answer.get("4") or request.get("4") or iso.amount(0)
    return {**answer, "4": iso.amount(int(base) + 1)}


def _without(answer: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in answer.items() if k != key}


# each: (the request, the real answer) → a hostile answer with the same MTI and STAN
HOSTILE: dict[str, Callable[[dict[str, str], dict[str, str]], dict[str, str]]] = {
    "forged": lambda q, a: {**a, "48": _private_with(a, ref="forged-ref"), "41": "EVIL0001",
                            "49": "840", "4": "999999999999", "39": APPROVED, "38": "666666"},
    "over": _over,
    "bad_amount": lambda q, a: {**a, "4": "12345678901X"},
    "wrong_currency": lambda q, a: {**a, "49": "840" if q.get("49") != "840" else "978"},
    "wrong_ref": lambda q, a: {**a, "48": _private_with(a, ref="someone-else")},
    "wrong_kind": lambda q, a: {**a, "48": _private_with(a, kind="forged")},
    "wrong_terminal": lambda q, a: {**a, "41": "EVIL0001"},
    "wrong_merchant": lambda q, a: {**a, "42": "EVIL MERCHANT  "},
    "no_code": lambda q, a: _without(a, "39"),
    "bad_code": lambda q, a: {**a, "39": "0!"},
    "bad_auth_code": lambda q, a: {**a, "38": "12;45!"},
    "no_amount": lambda q, a: _without(a, "4"),
}
HOSTILE_FAULTS = tuple(HOSTILE)


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
    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay_s: float = 0.0,
                 bdk: bytes = TEST_BDK_AES128, tls: ssl.SSLContext | None = None) -> None:
        self.bdk = bdk
        self.tls = tls
        self.messages: list[str] = []  # MTIs received, for tests
        self._addr = (host, port)
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._ledger: dict[str, LedgerEntry] = {}
        self._answers: dict[str, dict[str, Any]] = {}  # first answer per (op, ref)
        self._faults: list[str] = []
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0
        self.echoes = 0  # 0800s answered
        self.approve_at_most = 0  # > 0: authorizations above it are approved at it (partial)

    # --- control ------------------------------------------------------------------------------
    def start(self) -> None:
        sim = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def handle(self) -> None:
                sim._serve(self.rfile, self.connection)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            request_queue_size = 128  # many terminals connect at once
            daemon_threads = True

            def get_request(self) -> tuple[Any, Any]:
                conn, addr = super().get_request()
                if sim.tls is not None:  # a failed handshake is an OSError: dropped
                    conn.settimeout(5)
                    conn = sim.tls.wrap_socket(conn, server_side=True)
                    conn.settimeout(None)
                return conn, addr

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
            if f not in FAULTS and f not in HOSTILE:
                known = ", ".join((*FAULTS, *HOSTILE_FAULTS))
                raise ValueError(f"unknown fault {f!r}; known: {known}")
        with self._lock:
            self._faults.extend(faults)

    def ledger(self) -> dict[str, LedgerEntry]:
        with self._lock:
            return dict(self._ledger)

    def open_holds(self) -> list[str]:
        with self._lock:
            return sorted(ref for ref, e in self._ledger.items() if e.open)

    # --- the wire (ISO 8583) ------------------------------------------------------------
    def _serve(self, rfile: Any, conn: socket.socket) -> None:
        while True:
            try:
                head = rfile.read(2)
                (length,) = struct.unpack(">H", head) if len(head) == 2 else (-1,)
                payload = rfile.read(length) if length >= 0 else b""
            except OSError:
                return
            if length < 0 or len(payload) < length:
                return
            with self._lock:
                fault = self._faults.pop(0) if self._faults else ""
            if fault == "refuse":
                return
            try:
                request = iso.decode(payload)
                answer = self.answer(request)
            except (iso.IsoError, ProtocolError):
                return  # an unreadable request gets no answer: the client times out
            if self.delay_s or fault == "delay":
                time.sleep(self.delay_s or 5.0)
            if fault == "drop":
                return
            if fault == "garbage":
                self._send(conn, b"\x00\x10garbage-garbage!")
                continue
            if fault in HOSTILE:
                answer = HOSTILE[fault](request, answer)
            frame = iso.encode(answer)
            if fault in ("stale", "flood"):
                for i in range(1 if fault == "stale" else FLOOD_FRAMES):
                    stan = f"{(int(answer['11']) + 1 + i) % 1_000_000:06d}"
                    self._send(conn, iso.encode({**answer, "11": stan, "39": "05"}))
            self._send(conn, frame)
            if fault == "twice":
                self._send(conn, frame)

    @staticmethod
    def _send(conn: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(data)

    def answer(self, f: dict[str, str]) -> dict[str, str]:
        mti = f["t"]
        if mti not in ANSWER_MTI:
            raise ProtocolError(f"unexpected MTI {mti}")
        self.messages.append(mti)
        if mti == "0800":
            return self._network(f)
        priv = iso.parse_private(f.get("48", ""))
        ref, kind = priv["ref"], priv["kind"]
        amount = iso.read_amount(f)
        icc_response = ""
        if mti == "0100" and kind == "auth":
            msg: dict[str, Any] = {"op": "authorize", "ref": ref, "amount_minor": amount,
                                   "pan": f.get("2", "")}
            if f.get("55"):  # check the ARQC, answer an ARPC (and the card's issuer script)
                card = CARDS_BY_PAN.get(f.get("2", ""))
                script = ISSUER_SCRIPT if card is not None and card.issuer_script else b""
                try:
                    valid, resp = issuer_check(bytes.fromhex(f["55"]), f.get("2", ""), True,
                                               scripts=script)
                except ValueError:
                    valid, resp = False, b""
                msg["arqc_ok"] = valid
                msg["pin_tries_exceeded"] = _pin_tries_exceeded(bytes.fromhex(f["55"]))
                icc_response = resp.hex().upper()
            if f.get("52"):
                try:
                    block = OnlinePin(bytes.fromhex(f["52"]), bytes.fromhex(f.get("53", "")),
                                      "aes" if len(f["52"]) == 32 else "tdes")
                    msg["pin"] = decrypt_pin(self.bdk, block, f.get("2", ""))
                except ValueError:
                    msg["pin"] = "x"  # undecipherable: wrong PIN
        elif mti == "0100" and kind == "inc":
            total = int(priv.get("total", "-1"))
            msg = {"op": "increment", "ref": ref, "amount_minor": amount, "total_minor": total}
        elif mti == "0220":
            msg = {"op": "complete", "ref": ref, "amount_minor": amount}
        else:  # 0400 the reversal of a known approval, 0420 the advice of an unknown outcome
            msg = {"op": "reverse" if mti == "0400" else "advice", "ref": ref}
        result = self.handle(msg)
        out: dict[str, str] = {k: f[k] for k in ("4", "7", "11", "41", "42", "48", "49")
                               if k in f}
        out["t"] = ANSWER_MTI[mti]
        out["39"] = result["code"]
        if result.get("auth_code"):
            out["38"] = result["auth_code"]
        if result.get("approved_minor"):
            out["4"] = iso.amount(int(result["approved_minor"]))
        out["37"] = f"{int(f['11']):012d}"
        if icc_response:
            out["55"] = icc_response
        return out

    def _network(self, f: dict[str, str]) -> dict[str, str]:
        """0800 → 0810: in service (00) for sign-on, sign-off and the echo test."""
        with self._lock:
            self.echoes += 1
        out: dict[str, str] = {k: f[k] for k in ("7", "11", "41", "42", "70") if k in f}
        out["t"] = "0810"
        out["39"] = APPROVED if f.get("70") in NETWORK_CODES else "12"
        return out

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
            if op in ("reverse", "advice"):
                return self._reverse(ref, op)
        raise ProtocolError(f"unknown op {op!r}")

    def _authorize(self, ref: str, msg: dict[str, Any]) -> dict[str, Any]:
        amount = _amount(msg, "amount_minor")
        pan = _field(msg, "pan", str)
        pin = _field(msg, "pin", str) if "pin" in msg else ""
        card = CARDS_BY_PAN.get(pan)
        code = card.host_rule if card is not None else APPROVED
        # the card's online PIN is checked when a PIN came, or the card always asks for it
        if (card is not None and card.pin and code == APPROVED and pin != card.pin
                and (pin or card.cvm is Cvm.ONLINE_PIN)):
            code = "55"
        if msg.get("pin_tries_exceeded") and code == APPROVED:
            code = "75"  # the card blocked its offline PIN during this transaction
        if msg.get("arqc_ok") is False and code == APPROVED:
            code = "05"  # the card's cryptogram does not verify: not the genuine card
        if ref in self._ledger:  # a reversal for this ref arrived first: never approve it
            code = "94"
        approved = code == APPROVED and amount > 0
        if code == APPROVED and amount == 0:
            code = "13"
        held = min(amount, self.approve_at_most or amount) if approved else 0
        self._ledger[ref] = LedgerEntry(ref, pan[-4:], code, held, operations=("authorize",))
        return {"ok": approved, "code": code, "message": message_for(code),
                "auth_code": f"{secrets.randbelow(10**6):06d}" if approved else "",
                "approved_minor": held}

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

    def _reverse(self, ref: str, op: str) -> dict[str, Any]:
        e = self._ledger.get(ref) or LedgerEntry(ref)
        if e.captured_minor is not None:
            return {"ok": False, "code": "12", "message": "already captured"}
        self._ledger[ref] = replace(e, reversed=True, operations=(*e.operations, op))
        return {"ok": True, "code": APPROVED, "message": "reversed"}


def _pin_tries_exceeded(icc_data: bytes) -> bool:
    """The TVR (95) in the request says "PIN try limit exceeded" (byte 3, 0x20)."""
    try:
        tvr = tlv.flatten(tlv.parse(icc_data)).get(0x95, b"")
    except tlv.TlvError:
        return False
    return len(tvr) == 5 and bool(tvr[2] & 0x20)
