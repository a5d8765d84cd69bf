"""OpenEVSE RAPI, sans I/O: frames, checksums, sequence ids, replies and unsolicited lines.

A frame is ``$`` + command + optional space-separated arguments + optional `` :SS`` sequence id
(two hex digits, 00 invalid) + ``^`` + XOR checksum (two hex digits of the XOR of every byte
from ``$`` up to the ``^``) + ``\\r``. The legacy form ends in ``*`` + the 8-bit sum. The
controller reads at most 32 characters a line, so :func:`encode` refuses longer frames.

:class:`LineSplitter` turns a byte stream into lines and resynchronises after noise: bytes
before a ``$`` are dropped, a line longer than :data:`MAX_LINE` without a terminator is
discarded. :func:`decode` turns one line into a :class:`Reply` (``$OK``/``$NK``) or an
:class:`Async` (``$AT``, ``$AB``, ``$AN``, ``$WF``); anything else is a :class:`RapiFrameError`.
Nothing here raises anything but :class:`RapiError` on outside data.

Firmware debug text: OpenEVSE firmware prints free text on the same line (``Serial.print`` /
``println``, so ``\r\n``-terminated), e.g. ``relayCloseMs: 100`` and ``relayHoldPwm: 75`` at
start and whenever the relay closes (``RELAY_PWM`` builds), and with serial debugging on
``POST start...``, ``Pilot: 1023``, ``POST result: 2``, ``SetSvcLevel: 2``. Such text never
starts with ``$``, so it is never a frame: the splitter hands it out separately
(:meth:`LineSplitter.take_text`, counted in :attr:`LineSplitter.text_lines`), it is not
counted as noise, and a frame before or after it (even with no blank line in between: a RAPI
frame ends in ``\r`` alone) comes through whole. Text is a line of printable ASCII (and tabs)
of at most :data:`MAX_LINE` characters, ended by ``\r``, ``\n`` or the ``$`` of a frame (the
firmware's ``print`` without a newline, ``POST start...``); anything else outside a frame
(control bytes, an over-long line) is noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

MAX_INPUT = 32  # the controller's input buffer, characters including the final \r
MAX_LINE = 128  # what we accept from the controller before declaring noise
ASYNC_KINDS = frozenset({"AT", "AB", "AN", "WF"})


class RapiError(Exception):
    """A RAPI command failed or a line could not be used."""


class RapiFrameError(RapiError):
    """A line that is not a valid RAPI frame (noise, bad checksum, bad fields)."""


def xor_checksum(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
    return c


def sum_checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def encode(command: str, *args: str | int, seq: int | None = None, legacy: bool = False) -> bytes:
    """``encode("SC", 16)`` → ``b"$SC 16^13\\r"``."""
    if len(command) != 2 or not command.isascii() or not command.isalnum():
        raise RapiError(f"not a RAPI command: {command!r}")
    parts = [f"${command.upper()}", *(str(a) for a in args)]
    if seq is not None:
        if not 1 <= seq <= 0xFF:
            raise RapiError("sequence id must be 01..FF")
        parts.append(f":{seq:02X}")
    body = " ".join(parts).encode("ascii")
    if any(b < 0x20 or b > 0x7E or b in b"^*$\r" for b in body[1:]):
        raise RapiError("arguments must be printable and free of $ ^ *")
    tail = f"*{sum_checksum(body):02X}" if legacy else f"^{xor_checksum(body):02X}"
    frame = body + tail.encode() + b"\r"
    if len(frame) > MAX_INPUT:
        raise RapiError(f"frame of {len(frame)} characters exceeds the controller's "
                        f"{MAX_INPUT}-character input")
    return frame


@dataclass(frozen=True)
class Frame:
    command: str  # "OK", "NK", "AT", "GS", ...
    args: tuple[str, ...]
    seq: int | None


@dataclass(frozen=True)
class Reply:
    ok: bool
    values: tuple[str, ...]
    seq: int | None


@dataclass(frozen=True)
class Async:
    kind: str  # AT | AB | AN | WF
    values: tuple[str, ...]


def parse_frame(line: bytes) -> Frame:
    """Check one line (without its terminator) and split it into command, args and seq."""
    if len(line) > MAX_LINE:
        raise RapiFrameError("line too long")
    if not line.startswith(b"$"):
        raise RapiFrameError("a frame starts with $")
    if any(b < 0x20 or b > 0x7E for b in line):
        raise RapiFrameError("non-printable byte in a frame")
    caret, star = line.rfind(b"^"), line.rfind(b"*")
    if caret > 0 and caret == len(line) - 3:
        body, check, expected = line[:caret], line[caret + 1:], xor_checksum(line[:caret])
    elif star > 0 and star == len(line) - 3:
        body, check, expected = line[:star], line[star + 1:], sum_checksum(line[:star])
    else:
        raise RapiFrameError("no checksum")
    try:
        got = int(check, 16)
    except ValueError:
        raise RapiFrameError("checksum is not hex") from None
    if got != expected:
        raise RapiFrameError(f"bad checksum {got:02X}, expected {expected:02X}")
    tokens = body[1:].decode("ascii").split()
    if not tokens or len(tokens[0]) != 2 or not tokens[0].isalnum():
        raise RapiFrameError("no two-letter command")
    seq = None
    if len(tokens) > 1 and tokens[-1].startswith(":"):
        try:
            seq = int(tokens[-1][1:], 16)
        except ValueError:
            raise RapiFrameError("sequence id is not hex") from None
        if len(tokens[-1]) != 3 or not 1 <= seq <= 0xFF:
            raise RapiFrameError("sequence id must be :01..:FF")
        tokens = tokens[:-1]
    return Frame(tokens[0].upper(), tuple(tokens[1:]), seq)


def decode(line: bytes) -> Reply | Async:
    f = parse_frame(line)
    if f.command in ("OK", "NK"):
        return Reply(f.command == "OK", f.args, f.seq)
    if f.command in ASYNC_KINDS:
        return Async(f.command, f.args)
    raise RapiFrameError(f"unexpected {f.command!r} from the controller")


class LineSplitter:
    """Bytes in, complete frames out (``\r`` or ``\n`` ends a line). Outside a frame,
    printable text is firmware debug output (:meth:`take_text`), anything else noise; a ``$``
    starts a new frame whatever came before; an over-long line is discarded whole."""

    def __init__(self) -> None:
        self._buf = bytearray()  # a frame so far (starts with $)
        self._skipping = False
        self._text = bytearray()  # text outside a frame so far
        self._text_bad = False  # this line outside a frame is noise, up to its end
        self._texts: list[bytes] = []
        self.discarded = 0  # bytes thrown away as noise
        self.text_lines = 0  # lines of debug text seen

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for b in data:
            if b in (0x0D, 0x0A):
                if self._buf and not self._skipping:
                    out.append(bytes(self._buf))
                elif self._buf:
                    self.discarded += len(self._buf)
                self._buf.clear()
                self._skipping = False
                self._end_text()
                continue
            if b == 0x24:  # '$' starts a new frame, whatever came before
                if self._buf:
                    self.discarded += len(self._buf)
                self._end_text()
                self._buf = bytearray(b"$")
                self._skipping = False
                continue
            if not self._buf:
                self._outside(b)
                continue
            if self._skipping:
                self.discarded += 1
                continue
            self._buf.append(b)
            if len(self._buf) > MAX_LINE:
                self._skipping = True
        return out

    def take_text(self) -> list[bytes]:
        """The debug lines completed since the last call (without terminators, stripped)."""
        texts, self._texts = self._texts, []
        return texts

    def _outside(self, b: int) -> None:
        if self._text_bad:
            self.discarded += 1
        elif (0x20 <= b <= 0x7E or b == 0x09) and len(self._text) < MAX_LINE:
            self._text.append(b)
        else:  # a control byte or an endless line: noise up to the end of the line
            self.discarded += len(self._text) + 1
            self._text.clear()
            self._text_bad = True

    def _end_text(self) -> None:
        text = bytes(self._text).strip()
        self._text.clear()
        self._text_bad = False
        if text:
            self.text_lines += 1
            self._texts.append(text)
            if len(self._texts) > 64:  # nobody takes them: keep the newest
                del self._texts[0]


# --- states ---------------------------------------------------------------------------------------
class EvseState(IntEnum):
    UNKNOWN = 0x00
    A = 0x01  # not connected
    B = 0x02  # connected, ready
    C = 0x03  # charging
    D = 0x04  # charging, ventilation required
    DIODE_CHECK_FAILED = 0x05
    GFI_FAULT = 0x06
    NO_GROUND = 0x07
    STUCK_RELAY = 0x08
    GFI_SELF_TEST_FAILED = 0x09
    OVER_TEMPERATURE = 0x0A
    OVER_CURRENT = 0x0B
    RELAY_CLOSURE_FAULT = 0x0E
    SLEEPING = 0xFE
    DISABLED = 0xFF


FAULT_MESSAGES: dict[int, str] = {
    0x04: "The car needs ventilation, which this charger does not provide.",
    0x05: "The car's charging signal failed a safety check (diode check).",
    0x06: "Ground fault: the charger switched off for safety.",
    0x07: "The charger has no ground connection: it cannot charge safely.",
    0x08: "A relay is stuck: the charger needs service.",
    0x09: "The ground fault self-test failed: the charger needs service.",
    0x0A: "The charger is too hot and has stopped.",
    0x0B: "The car drew more current than allowed: charging stopped.",
    0x0C: "The charging signal failed its self-test: the charger needs service.",
    0x0D: "The charger's temperature sensor failed: it needs service.",
    0x0E: "A relay did not close: the charger needs service.",
}
NORMAL_STATES = frozenset({0x01, 0x02, 0x03, 0x04, 0xFE, 0xFF})


def fault_message(evse_state: int) -> str:
    """A message for any state that is not a normal one (unknown codes too)."""
    return FAULT_MESSAGES.get(evse_state,
                              f"The charger reports an error (code {evse_state:02X}).")
FAULT_STATES = frozenset(FAULT_MESSAGES) - {0x04}

POST_CODES: dict[int, str] = {
    0x00: "", 0x07: "The charger has no ground connection.",
    0x08: "A relay is stuck: the charger needs service.",
    0x09: "The ground fault self-test failed: the charger needs service.",
}


def hex_int(text: str, what: str) -> int:
    """Parse a hex field (upper or lower case, padded or not)."""
    try:
        value = int(text, 16)
    except ValueError:
        raise RapiFrameError(f"{what}: {text[:10]!r} is not hex") from None
    if value < 0:
        raise RapiFrameError(f"{what}: negative")
    return value


def dec_int(text: str, what: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise RapiFrameError(f"{what}: {text[:10]!r} is not a number") from None


@dataclass(frozen=True)
class StateReport:
    """From ``$GS`` (evsestate elapsed pilotstate vflags) or ``$AT`` (evsestate pilotstate
    amps vflags)."""

    evse_state: int
    pilot_state: int
    flags: int
    elapsed_s: int | None = None
    amps: int | None = None


def parse_gs(values: tuple[str, ...]) -> StateReport:
    if len(values) < 4:
        raise RapiFrameError("$GS reply needs 4 values")
    return StateReport(hex_int(values[0], "evsestate"), hex_int(values[2], "pilotstate"),
                       hex_int(values[3], "vflags"), elapsed_s=dec_int(values[1], "elapsed"))


def parse_at(values: tuple[str, ...]) -> StateReport:
    if len(values) < 4:
        raise RapiFrameError("$AT needs 4 values")
    return StateReport(hex_int(values[0], "evsestate"), hex_int(values[1], "pilotstate"),
                       hex_int(values[3], "vflags"), amps=dec_int(values[2], "amps"))


def parse_gg(values: tuple[str, ...]) -> tuple[int, int]:
    """``$GG``: (milliamps, millivolts); -1 when the controller has no sensor."""
    if len(values) < 2:
        raise RapiFrameError("$GG reply needs 2 values")
    return dec_int(values[0], "milliamps"), dec_int(values[1], "millivolts")


def parse_gu(values: tuple[str, ...]) -> tuple[int, int]:
    """``$GU``: (Ws this session, Wh total) as the controller sends them. What they mean
    together depends on whether a car is connected: read them with :func:`energy_counters`."""
    if len(values) < 2:
        raise RapiFrameError("$GU reply needs 2 values")
    ws, wh = dec_int(values[0], "Ws"), dec_int(values[1], "Wh")
    if ws < 0 or wh < 0:
        raise RapiFrameError("$GU: negative energy")
    return ws, wh


FLAG_EV_CONNECTED = 0x0100  # vflags: the firmware's EvConnected(), what its energy meter uses


def ev_connected(report: StateReport) -> bool:
    """Whether the controller counts a car as connected, as its energy meter does. The EVSE
    state says so where it can (01 A: no car; 02 B, 03 C, 04 D: a car); sleeping, disabled
    or in a fault, the vflags bit 0x0100 (``EvConnected()``, last seen by the firmware)."""
    if report.evse_state == 0x01:
        return False
    if report.evse_state in (0x02, 0x03, 0x04):
        return True
    return bool(report.flags & FLAG_EV_CONNECTED)


@dataclass(frozen=True)
class EnergyCounters:
    """The controller's energy counters (``$GU``), read the one way every user shares (the
    driver's meter, ``kiosk charger-probe``).

    What the OpenEVSE firmware does (``EnergyMeter``): a session starts when a car connects
    (the session Ws go to 0) and ends when it disconnects; at the end the session's whole Wh
    (``Ws // 3600``) are added to the lifetime Wh, but the session Ws stay as they are until
    the next car connects. So while a car is connected the lifetime Wh do *not* hold the
    session, and while none is they already do: "lifetime + session" counts a finished session
    twice. A restart of the controller zeroes the session Ws without adding them anywhere.

    ``session_ws``: the energy of this session, or with no car of the last one (the firmware
    keeps it until the next car). ``total_ws``: lifetime energy, this session included.
    ``connected``: whether a car was connected (None: not known for this reading).
    ``reported_wh``: the lifetime Wh as the controller sent them (for a technician).
    """

    session_ws: int
    total_ws: int
    connected: bool | None
    reported_wh: int

    @property
    def session_wh(self) -> int:
        return self.session_ws // 3600

    @property
    def total_wh(self) -> int:
        return self.total_ws // 3600


def energy_counters(ws: int, wh: int, connected: bool | None,
                    before: EnergyCounters | None = None) -> EnergyCounters:
    """``$GU`` values (``ws`` this session, ``wh`` lifetime) into :class:`EnergyCounters`.

    Without ``before`` (a first reading) the lifetime comes from the controller: ``wh``, plus
    the session while a car is connected (``connected`` must then be known, and must describe
    the same moment as ``ws`` and ``wh``: see :func:`drivers.charger.meter.query_energy`).

    With ``before`` (the previous reading of the same controller) the total follows the session
    counter and nothing else, so it is monotonic and race free: an increase is added; a session
    counter lower than before was reset (a car connected, or the controller restarted) and its
    new value is all new energy. The lifetime Wh are not looked at again: the jump at an unplug
    is the session they took in, already counted, and ``connected`` may be None."""
    if ws < 0 or wh < 0:
        raise RapiFrameError("$GU: negative energy")
    if before is None:
        if connected is None:
            raise RapiError("a first energy reading needs to know whether a car is connected")
        total = wh * 3600 + (ws if connected else 0)
    elif ws >= before.session_ws:
        total = before.total_ws + ws - before.session_ws
    else:
        total = before.total_ws + ws
    return EnergyCounters(ws, total, connected, wh)


# --- current and heartbeat supervision ---------------------------------------------------------
MIN_CURRENT_A = 6  # J1772: the controller clamps anything lower up to this (and answers $NK)
MAX_CURRENT_A = 80  # J1772's highest pilot current
HS_ACK_COOKIE = 0xA5  # ``$SY 165``: acknowledge a missed heartbeat (restores the current)
HS_MISSED_PULSE = 0x01  # a pulse was missed once and acknowledged (a lasting record)
HS_MISSED_PULSE_NOACK = 0x02  # a pulse was missed and not acknowledged: the current is limited


@dataclass(frozen=True)
class Heartbeat:
    """``$SY``/``$GY`` (firmware with HEARTBEAT_SUPERVISION): every answer carries
    ``interval_s fallback_a trigger``. Armed with ``$SY interval amps``; each ``$SY`` is a
    pulse; with no pulse for ``interval_s`` the controller lowers its offered current to
    ``fallback_a`` itself (never below :data:`MIN_CURRENT_A`: the firmware passes it to its
    ``SetCurrentCapacity``, which clamps) and sets ``trigger`` to
    :data:`HS_MISSED_PULSE_NOACK`; pulses are then answered ``$NK`` until ``$SY 165``."""

    interval_s: int
    fallback_a: int
    trigger: int

    @property
    def armed(self) -> bool:
        return self.interval_s > 0

    @property
    def missed(self) -> bool:
        return self.trigger == HS_MISSED_PULSE_NOACK


def parse_sy(values: tuple[str, ...]) -> Heartbeat:
    if len(values) < 3:
        raise RapiFrameError("$SY/$GY reply needs 3 values")
    interval, amps = dec_int(values[0], "interval"), dec_int(values[1], "fallback current")
    trigger = dec_int(values[2], "trigger")
    if interval < 0 or amps < 0 or trigger < 0:
        raise RapiFrameError("$SY: negative value")
    return Heartbeat(interval, amps, trigger)


def parse_amps(values: tuple[str, ...]) -> int:
    """``$SC``: the current the controller now offers."""
    if not values:
        raise RapiFrameError("$SC reply has no current")
    amps = dec_int(values[0], "amps")
    if not MIN_CURRENT_A <= amps <= MAX_CURRENT_A:
        raise RapiFrameError(f"$SC: {amps} A is not a pilot current")
    return amps
