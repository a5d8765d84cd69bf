"""PC/SC readers through pyscard: find the reader, wait for a card, and one transmission layer.

:meth:`CardLink.transmit` sends a C-APDU and returns data + SW1SW2 after handling the T=0
conventions: ``61xx`` (more data: GET RESPONSE, chained, at most :data:`MAX_CHAIN` times) and
``6Cxx`` (wrong Le: the command again with Le = xx). A card that leaves is
:class:`~drivers.emv.api.CardRemoved`; no reader or no pcscd is
:class:`~drivers.emv.api.ReaderUnavailable`. :class:`ReaderWatch` reports a reader that goes
away or comes back and cards that come and go, without touching the card. Only this package
imports pyscard.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from smartcard import scard
from smartcard.Exceptions import CardConnectionException, NoCardException, SmartcardException
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.System import readers as pcsc_readers

from drivers.emv import apdu_log
from drivers.emv.api import CardRemoved, NoCard, ReaderUnavailable
from drivers.emv.transmit import transmit as t0_transmit

log = logging.getLogger(__name__)
PROTOCOLS = {scard.SCARD_PROTOCOL_T0: "T=0", scard.SCARD_PROTOCOL_T1: "T=1"}


def _readers() -> list[Any]:
    try:
        return list(pcsc_readers())
    except (BaseSCardException, SmartcardException) as exc:
        raise ReaderUnavailable(f"The card reader service is not running ({exc}).") from None


def list_readers() -> list[str]:
    return [str(r) for r in _readers()]


class CardLink:
    def __init__(self, connection: object) -> None:
        self._conn = connection
        self.apdus = 0
        self.atr = bytes(connection.getATR())  # type: ignore[attr-defined]
        self.protocol = PROTOCOLS.get(connection.getProtocol(), "?")  # type: ignore[attr-defined]

    def _raw(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))  # type: ignore[attr-defined]
        except (CardConnectionException, NoCardException) as exc:
            raise CardRemoved("The card was removed too early. Please try again.") from exc
        self.apdus += 1
        answer = bytes(data) + bytes([sw1, sw2])
        if log.isEnabledFor(logging.DEBUG):
            log.debug("APDU %s -> %s", apdu_log.command(apdu), apdu_log.response(answer))
        return answer

    def transmit(self, apdu: bytes) -> bytes:
        return t0_transmit(self._raw, apdu)

    def close(self) -> None:
        _release(self._conn)


def _release(conn: object) -> None:
    """Disconnect and free the PC/SC context now: left to the garbage collector, a connection
    releases it whenever that runs (after pcscd went away, with an error)."""
    with contextlib.suppress(SmartcardException, BaseSCardException):
        conn.disconnect()  # type: ignore[attr-defined]
    with contextlib.suppress(SmartcardException, BaseSCardException):
        conn.release()  # type: ignore[attr-defined]


def wait_for_card(name_part: str, timeout_s: float, cancelled: Callable[[], bool],
                  poll_s: float = 0.1) -> CardLink:
    """Poll the reader until a card answers (or ``timeout_s`` / ``cancelled()``)."""
    end = time.monotonic() + timeout_s
    while True:
        if cancelled():
            raise NoCard("The card read was cancelled.")
        if time.monotonic() > end:
            raise NoCard("No card was presented.")
        match = [r for r in _readers() if name_part in str(r)]
        if not match:
            raise ReaderUnavailable(f"No card reader matching {name_part!r}.")
        conn = match[0].createConnection()
        try:
            conn.connect()
            return CardLink(conn)
        except (CardConnectionException, NoCardException):
            _release(conn)
            time.sleep(poll_s)  # no card yet, or "card is unpowered" just after insertion


# --- presence: reader there or gone, card in or out -----------------------------------------------
class ReaderEvent(StrEnum):
    CARD_IN = "card_in"
    CARD_OUT = "card_out"
    READER_LOST = "reader_lost"  # unplugged, or pcscd is down
    READER_BACK = "reader_back"


def reader_state(name_part: str) -> tuple[bool, bool]:
    """(the reader is there, a card is in it), asked of pcscd without touching the card. A fresh
    PC/SC context each time, so a restarted pcscd is found again."""
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return False, False
    try:
        hr, names = scard.SCardListReaders(ctx, [])
        match = [n for n in names if name_part in n] if hr == scard.SCARD_S_SUCCESS else []
        if not match:
            return False, False
        hr, states = scard.SCardGetStatusChange(ctx, 0, [(match[0], scard.SCARD_STATE_UNAWARE)])
        if hr != scard.SCARD_S_SUCCESS or not states:
            return False, False
        return True, bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(ctx)


class ReaderWatch:
    """Watches a reader from a daemon thread and reports what changed (the first look reports
    READER_LOST when the reader is missing, CARD_IN when a card already sits in it)."""

    def __init__(self, name_part: str, on_event: Callable[[ReaderEvent], None] | None = None,
                 poll_s: float = 0.25) -> None:
        self.name_part, self.on_event, self.poll_s = name_part, on_event, poll_s
        self.reader_present = self.card_present = False
        self._stop = threading.Event()
        self._looked = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pcsc-watch", daemon=True)
        self._thread.start()
        self._looked.wait(5)

    def _run(self) -> None:
        was_there = True  # assumed until the first look says otherwise
        while not self._stop.is_set():
            reader, card = reader_state(self.name_part)
            events = []
            if reader != was_there:
                events.append(ReaderEvent.READER_BACK if reader else ReaderEvent.READER_LOST)
            if card != self.card_present:
                events.append(ReaderEvent.CARD_IN if card else ReaderEvent.CARD_OUT)
            self.reader_present, self.card_present, was_there = reader, card, reader
            self._looked.set()
            for e in events:
                if self.on_event is not None:
                    self.on_event(e)
            self._stop.wait(self.poll_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
