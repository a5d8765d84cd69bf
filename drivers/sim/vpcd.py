"""A virtual card in vsmartcard's vpcd reader: the card side of a real PC/SC dialogue.

pcscd's vpcd driver listens on 127.0.0.1:35963 (reader ``Virtual PCD 00 00``); the virtual card
connects as a TCP client. Frames both ways: a 2-byte big-endian length + payload; a 1-byte
payload is a control: 0 power off, 1 power on, 2 reset (no reply), 4 get ATR (reply the ATR).
Anything longer is a C-APDU, answered with the R-APDU. Closing the socket removes the card.
The ATR is the handler's card's (``EmvCardApp.atr``: contact or contactless) unless given.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable

from drivers.sim.emv_card import ATR_CONTACTLESS, CardLeft

VPCD_PORT = 35963
ATR = ATR_CONTACTLESS  # for a handler that has no card behind it


class VirtualCard:
    """Insert an APDU handler into the vpcd reader; :meth:`remove` takes it out."""

    def __init__(self, handler: Callable[[bytes], bytes], port: int = VPCD_PORT,
                 atr: bytes | None = None) -> None:
        card = getattr(handler, "__self__", None)  # a bound EmvCardApp.apdu
        self.handler, self.port = handler, port
        self.atr = atr if atr is not None else getattr(card, "atr", ATR)
        self.apdus = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def insert(self, timeout_s: float = 5.0) -> None:
        end = time.monotonic() + timeout_s
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), 1.0)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="vpcd-card",
                                        daemon=True)
        self._thread.start()

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(2)

    @property
    def inserted(self) -> bool:
        return self._sock is not None

    def _recv(self, sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError
            buf += chunk
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return buf

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                (n,) = struct.unpack(">H", self._recv(sock, 2))
                payload = self._recv(sock, n)
                if n == 1:
                    if payload[0] == 4:
                        sock.sendall(struct.pack(">H", len(self.atr)) + self.atr)
                    continue
                self.apdus += 1
                try:
                    answer = self.handler(payload)
                except CardLeft:
                    self._sock = None
                    sock.close()
                    return
                sock.sendall(struct.pack(">H", len(answer)) + answer)
        except (OSError, ConnectionError, struct.error):
            return
