"""The payment host link: ISO 8583 over TCP (optionally TLS), one connection per request.

A request's answer must have the matching MTI (+10) and the same STAN; anything else on the
line (a late answer to an earlier request, a duplicate) is read and dropped, so it can never
be taken for this request's answer. A connection that cannot be made is
:class:`HostUnavailable` (the request surely did not arrive); no answer in time, a broken
connection or an unreadable answer is :class:`HostTimeout` / :class:`HostError` (the outcome is
unknown: the kiosk reverses with an advice).
"""

from __future__ import annotations

import itertools
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
    HostTimeout,
    HostUnavailable,
)
from drivers.acquirer.codes import APPROVED, message_for

UNKNOWN_OUTCOME_REASONS = ("host timeout", "restart during authorization", "no answer")


class IsoHostLink:
    def __init__(self, address: str, port: int, *, terminal_id: str, merchant_id: str,
                 currency: str, timeout_s: float = 10.0, connect_timeout_s: float = 3.0,
                 tls: ssl.SSLContext | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.address, self.port = address, port
        self.terminal_id, self.merchant_id = terminal_id[:8], merchant_id[:15]
        self.currency = iso.CURRENCY_NUMERIC.get(currency, "")
        if not self.currency:
            raise HostError(f"no ISO 4217 number for {currency}")
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        self.tls = tls
        self.clock = clock
        self._stan = itertools.count(secrets.randbelow(900_000) + 1)
        self._stan_lock = threading.Lock()
        self._closed = False

    # --- PaymentHost ----------------------------------------------------------------------------
    def authorize(self, req: AuthRequest) -> AuthResult:
        f = self._base("0100", req.ref, "auth", req.amount_minor)
        f.update({"2": req.pan, "3": "000000", "14": req.expiry, "22": req.entry_mode,
                  "25": "06"})
        if req.pin_block:
            f["52"], f["53"] = req.pin_block.hex().upper(), req.pin_ksn.hex().upper()
        if req.icc_data:
            f["55"] = req.icc_data.hex().upper()
        answer = self._call(f)
        code = answer.get("39", "")
        approved = code == APPROVED
        amount = iso.read_amount(answer) if approved and "4" in answer else req.amount_minor
        try:
            icc = bytes.fromhex(answer.get("55", ""))
        except ValueError:
            raise HostError("The payment host sent invalid ICC data.") from None
        return AuthResult(approved, code, message_for(code), answer.get("38", "").strip(),
                          amount if approved else 0, icc)

    def increment(self, ref: str, amount_minor: int, total_minor: int) -> AuthResult:
        f = self._base("0100", ref, "inc", amount_minor, total=total_minor)
        f.update({"3": "000000", "25": "06"})
        answer = self._call(f)
        code = answer.get("39", "")
        ok = code == APPROVED
        return AuthResult(ok, code, message_for(code), answer.get("38", "").strip(),
                          total_minor if ok else 0)

    def complete(self, ref: str, amount_minor: int) -> Ack:
        f = self._base("0220", ref, "cap", amount_minor)
        f["3"] = "000000"
        answer = self._call(f)
        code = answer.get("39", "")
        return Ack(code == APPROVED, code, message_for(code))

    def reverse(self, ref: str, amount_minor: int, reason: str) -> Ack:
        advice = reason.startswith(UNKNOWN_OUTCOME_REASONS)
        f = self._base("0420" if advice else "0400", ref, "adv" if advice else "rev",
                       amount_minor)
        f["3"] = "000000"
        answer = self._call(f)
        code = answer.get("39", "")
        return Ack(code == APPROVED, code, message_for(code))

    def close(self) -> None:
        self._closed = True

    # --- the wire -------------------------------------------------------------------------------
    def _base(self, mti: str, ref: str, kind: str, amount_minor: int,
              **extra: str | int) -> dict[str, str]:
        now = self.clock().astimezone(UTC)
        with self._stan_lock:
            stan = next(self._stan) % 1_000_000 or 1
        return {"t": mti, "4": iso.amount(amount_minor), "7": now.strftime("%m%d%H%M%S"),
                "11": f"{stan:06d}", "12": now.strftime("%H%M%S"), "13": now.strftime("%m%d"),
                "18": iso.MCC_EV_CHARGING, "41": self.terminal_id.ljust(8),
                "42": self.merchant_id.ljust(15), "48": iso.private(ref, kind, **extra),
                "49": self.currency}

    def _call(self, fields: dict[str, str]) -> dict[str, str]:
        if self._closed:
            raise HostUnavailable("The payment host link is closed.")
        frame = iso.encode(fields)
        try:
            raw = socket.create_connection((self.address, self.port), self.connect_timeout_s)
        except OSError:
            raise HostUnavailable("The payment host cannot be reached.") from None
        try:
            sock = self.tls.wrap_socket(raw, server_hostname=self.address) if self.tls else raw
        except (OSError, ssl.SSLError):
            raw.close()
            raise HostUnavailable("The secure connection to the payment host failed.") from None
        want_mti = f"{int(fields['t']) + 10:04d}"
        deadline = time.monotonic() + self.timeout_s
        with sock:
            try:
                sock.sendall(frame)
                while True:
                    payload = _read_frame(sock, deadline)
                    try:
                        answer = iso.decode(payload)
                    except iso.IsoError:
                        raise HostError("The payment host sent an invalid answer.") from None
                    if answer.get("t") == want_mti and answer.get("11") == fields["11"]:
                        return answer
                    # a late or duplicate answer to another request: not ours, keep reading
            except TimeoutError:
                raise HostTimeout("The payment host did not answer in time.") from None
            except OSError:  # reset, broken pipe, TLS failure after sending
                raise HostTimeout("The connection to the payment host broke.") from None


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
        raise HostError("The payment host sent an invalid answer.")
    return _read_exact(sock, length, deadline)
