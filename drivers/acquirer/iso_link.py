"""The payment host link: ISO 8583 over TCP (optionally TLS), one connection per request.

Nothing from the host is trusted. A request's answer is the frame with the matching MTI (+10)
and the same STAN; other frames on the line (a late answer to an earlier request, a duplicate)
are read and dropped, at most :data:`~drivers.acquirer.iso8583.MAX_SKIPPED_ANSWERS` of them and
all within the one deadline of the request. The answer is then checked field by field (the
rules are in :mod:`drivers.acquirer.iso8583`): the echo of terminal, merchant, reference, kind
and currency, the response code, the authorization code, and the amount, which for an approval
is never above the request. Outcomes, by type only:

* :class:`HostUnavailable`: no connection, a failed TLS handshake (certificate or host name), or
  a request that cannot be built: the request surely did not arrive.
* :class:`HostTimeout`: no answer in time, or the connection broke after sending.
* :class:`HostProtocolError`: an answer that breaks the rules, an unreadable frame, too many
  frames that are not ours.

The last two mean the outcome is unknown: the kiosk reverses with an advice.
"""

from __future__ import annotations

import itertools
import math
import secrets
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from drivers.acquirer import iso8583 as iso
from drivers.acquirer.api import (
    Ack,
    AuthRequest,
    AuthResult,
    HostError,
    HostProtocolError,
    HostTimeout,
    HostUnavailable,
)
from drivers.acquirer.codes import APPROVED, message_for

MAX_TIMEOUT_S = 300.0
_AUTH_CODE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")


class IsoHostLink:
    def __init__(self, address: str, port: int, *, terminal_id: str, merchant_id: str,
                 currency: str, timeout_s: float = 10.0, connect_timeout_s: float = 3.0,
                 tls: ssl.SSLContext | None = None, server_name: str = "",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """``server_name``: the name the host's TLS certificate must carry (default: the
        address), so a host reached by its IP address is still checked against its DNS name."""
        self.address, self.port = address, port
        self.terminal_id, self.merchant_id = terminal_id[:8], merchant_id[:15]
        self.currency = iso.CURRENCY_NUMERIC.get(currency, "")
        if not self.currency:
            raise HostError(f"no ISO 4217 number for {currency}")
        for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
                raise ValueError(f"{name} must be more than 0 and at most {MAX_TIMEOUT_S:g} s")
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        self.tls = tls
        self.server_name = server_name or address
        self.clock = clock
        self._stan = itertools.count(secrets.randbelow(900_000) + 1)
        self._stan_lock = threading.Lock()
        self._closed = False

    # --- PaymentHost ----------------------------------------------------------------------------
    def authorize(self, req: AuthRequest) -> AuthResult:
        f = self._request("0100", req.ref, "auth", req.amount_minor)
        f.update({"2": req.pan, "3": "000000", "14": req.expiry, "22": req.entry_mode,
                  "25": "06"})
        if req.pin_block:
            f["52"], f["53"] = req.pin_block.hex().upper(), req.pin_ksn.hex().upper()
        if req.icc_data:
            f["55"] = req.icc_data.hex().upper()
        answer = self._call(f)
        code = answer["39"]
        approved = code == APPROVED
        auth_code, held = "", 0
        if approved:  # a partial approval holds less; never more, never nothing
            held = _amount_in(answer, required=True)
            if held > req.amount_minor:
                raise HostProtocolError("DE 4 amount above the request")
            if held == 0:
                raise HostProtocolError("DE 4 amount zero in an approval")
            auth_code = _auth_code(answer, required=True)
        try:
            icc = bytes.fromhex(answer.get("55", ""))
        except ValueError:
            raise HostProtocolError("DE 55 ICC data") from None
        return AuthResult(approved, code, message_for(code), auth_code, held, icc)

    def increment(self, ref: str, amount_minor: int, total_minor: int) -> AuthResult:
        f = self._request("0100", ref, "inc", amount_minor, total=total_minor)
        f.update({"3": "000000", "25": "06"})
        answer = self._call(f)
        code = answer["39"]
        ok = code == APPROVED
        auth_code = ""
        if ok:
            if _amount_in(answer, required=True) != total_minor:
                raise HostProtocolError("DE 4 total is not the requested total")
            auth_code = _auth_code(answer, required=False)
        return AuthResult(ok, code, message_for(code), auth_code, total_minor if ok else 0)

    def complete(self, ref: str, amount_minor: int) -> Ack:
        f = self._request("0220", ref, "cap", amount_minor)
        f["3"] = "000000"
        return self._ack(self._call(f), amount_minor)

    def reverse(self, ref: str, amount_minor: int, *, advice: bool) -> Ack:
        """``advice=False``: 0400, the reversal of an approved authorization; ``advice=True``:
        0420, the reversal advice for an authorization whose outcome is unknown."""
        if not isinstance(advice, bool):
            raise TypeError("advice must be True or False")
        f = self._request("0420" if advice else "0400", ref, "adv" if advice else "rev",
                          amount_minor)
        f["3"] = "000000"
        return self._ack(self._call(f), amount_minor)

    def echo(self) -> float:
        """0800 (DE 70 = 301) → the seconds from connecting to the 0810 with DE 39 = 00.
        :class:`HostUnavailable` when the host cannot be reached or says it is not in service,
        :class:`HostTimeout` without an answer, :class:`HostProtocolError` for a broken one."""
        f = self._header("0800")
        f["70"] = iso.NETWORK_ECHO
        started = time.monotonic()
        answer = self._call(f)
        elapsed = time.monotonic() - started
        if answer["39"] != APPROVED:
            raise HostUnavailable("The payment host is not in service "
                                  f"(echo test answered {answer['39']}).")
        return elapsed

    def close(self) -> None:
        self._closed = True

    # --- messages -------------------------------------------------------------------------------
    def _header(self, mti: str, now: datetime | None = None) -> dict[str, str]:
        now = (now or self.clock()).astimezone(UTC)
        with self._stan_lock:
            stan = next(self._stan) % 1_000_000 or 1
        return {"t": mti, "7": now.strftime("%m%d%H%M%S"), "11": f"{stan:06d}",
                "41": self.terminal_id.ljust(8), "42": self.merchant_id.ljust(15)}

    def _request(self, mti: str, ref: str, kind: str, amount_minor: int,
                 **extra: str | int) -> dict[str, str]:
        now = self.clock().astimezone(UTC)
        f = self._header(mti, now)
        try:
            f.update({"4": iso.amount(amount_minor), "12": now.strftime("%H%M%S"),
                      "13": now.strftime("%m%d"), "18": iso.MCC_EV_CHARGING,
                      "48": iso.private(ref, kind, **extra), "49": self.currency})
        except iso.IsoError as exc:
            raise HostUnavailable(f"The request was not sent: {exc}.") from None
        return f

    @staticmethod
    def _ack(answer: dict[str, str], amount_minor: int) -> Ack:
        code = answer["39"]
        if code == APPROVED and "4" in answer and _amount_in(answer) != amount_minor:
            raise HostProtocolError("DE 4 amount is not the requested amount")
        return Ack(code == APPROVED, code, message_for(code))

    # --- the wire -------------------------------------------------------------------------------
    def _call(self, fields: dict[str, str]) -> dict[str, str]:
        if self._closed:
            raise HostUnavailable("The payment host link is closed.")
        try:
            frame = iso.encode(fields)
        except iso.IsoError as exc:  # the message says which field, never its value
            raise HostUnavailable(f"The request was not sent: {exc}.") from None
        try:
            raw = socket.create_connection((self.address, self.port), self.connect_timeout_s)
        except OSError:
            raise HostUnavailable("The payment host cannot be reached.") from None
        try:  # the handshake runs under the connect timeout; nothing is sent before it passes
            sock = (self.tls.wrap_socket(raw, server_hostname=self.server_name) if self.tls
                    else raw)
        except (OSError, ssl.SSLError, ValueError):
            raw.close()
            raise HostUnavailable("The secure connection to the payment host failed.") from None
        want_mti = f"{int(fields['t']) + 10:04d}"
        deadline = time.monotonic() + self.timeout_s
        with sock:
            try:
                sock.settimeout(self.timeout_s)
                sock.sendall(frame)
                for _ in range(iso.MAX_SKIPPED_ANSWERS + 1):
                    payload = _read_frame(sock, deadline)
                    try:
                        answer = iso.decode(payload)
                    except iso.IsoError:
                        raise HostProtocolError("unreadable message") from None
                    if answer.get("t") == want_mti and answer.get("11") == fields["11"]:
                        _check_answer(fields, answer)
                        return answer
                    # a late or duplicate answer to another request: not ours, keep reading
                raise HostProtocolError("too many messages that are not the answer")
            except TimeoutError:
                raise HostTimeout("The payment host did not answer in time.") from None
            except OSError:  # reset, broken pipe, TLS failure after sending
                raise HostTimeout("The connection to the payment host broke.") from None


def _check_answer(request: dict[str, str], answer: dict[str, str]) -> None:
    """The answer with this request's MTI and STAN: everything it must echo, and its shape."""
    if answer.get("41") != request["41"]:
        raise HostProtocolError("DE 41 terminal id")
    if "42" in answer and answer["42"] != request["42"]:
        raise HostProtocolError("DE 42 merchant id")
    if "48" in request:
        try:
            got = iso.parse_private(answer.get("48", ""))
        except iso.IsoError:
            raise HostProtocolError("DE 48 private data") from None
        sent = iso.parse_private(request["48"])
        for key in ("ref", "kind"):
            if got.get(key) != sent[key]:
                raise HostProtocolError(f"DE 48 {key}")
        for key, value in got.items():
            if key in sent and value != sent[key]:
                raise HostProtocolError(f"DE 48 {key}")
    if "49" in request and answer.get("49") != request["49"]:
        raise HostProtocolError("DE 49 currency")
    if "70" in request and answer.get("70") != request["70"]:
        raise HostProtocolError("DE 70 network management code")
    code = answer.get("39")
    if code is None:
        raise HostProtocolError("DE 39 response code missing")
    if len(code) != 2 or not code.isascii() or not code.isalnum():
        raise HostProtocolError("DE 39 response code")
    if "4" in answer:
        _amount_in(answer)
    if "38" in answer:
        _auth_code(answer, required=False)


def _amount_in(answer: dict[str, str], *, required: bool = False) -> int:
    value = answer.get("4")
    if value is None:
        if required:
            raise HostProtocolError("DE 4 amount missing")
        return 0
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        raise HostProtocolError("DE 4 amount not numeric")
    return int(value)


def _auth_code(answer: dict[str, str], *, required: bool) -> str:
    value = answer.get("38")
    if value is None:
        if required:
            raise HostProtocolError("DE 38 authorization code missing")
        return ""
    if len(value) != 6 or not set(value) <= _AUTH_CODE_CHARS or (required and not value.strip()):
        raise HostProtocolError("DE 38 authorization code")
    return value.strip()


def _read_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise HostTimeout("The payment host closed the connection without an answer.")
        buf += chunk
    return bytes(buf)


def _read_frame(sock: socket.socket, deadline: float) -> bytes:
    (length,) = struct.unpack(">H", _read_exact(sock, 2, deadline))
    if not 20 <= length <= iso.MAX_MESSAGE:
        raise HostProtocolError("message length")
    return _read_exact(sock, length, deadline)
