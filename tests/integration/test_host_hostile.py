"""Trust nothing from the host: answers with this request's MTI and STAN that break a rule
(another reference, terminal, merchant or currency, a missing or malformed response or
authorization code, an amount that is not numeric, above the request or not the total) are a
:class:`HostProtocolError` naming the field, after which a reversal advice clears the hold; a
flood of frames that are not ours is bounded; arbitrary and mutated answer frames from a raw
TCP host end as :class:`HostError` subclasses only, within the timeout. Over real TCP."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

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
from drivers.acquirer.iso_link import IsoHostLink
from drivers.sim.cards import TEST_CARDS
from drivers.sim.host import FLOOD_FRAMES, HOSTILE_FAULTS, HostSimulator

CARD = TEST_CARDS["visa_contactless"]
FORGED_AMOUNT = "999999999999"


@pytest.fixture
def host() -> Iterator[HostSimulator]:
    sim = HostSimulator()
    sim.start()
    yield sim
    sim.stop()


def link_to(port: int, timeout_s: float = 2.0) -> IsoHostLink:
    return IsoHostLink("127.0.0.1", port, terminal_id="KIOSK001", merchant_id="DEMO0001",
                       currency="EUR", timeout_s=timeout_s, connect_timeout_s=1.0)


@pytest.fixture
def link(host: HostSimulator) -> IsoHostLink:
    return link_to(host.port)


def auth(ref: str, amount: int = 5000) -> AuthRequest:
    return AuthRequest(ref=ref, amount_minor=amount, currency="EUR", pan=CARD.pan,
                       expiry=CARD.expiry)


def assert_safe(exc: BaseException) -> None:
    """The message names a field, never a value: no card data, no forged amount."""
    text = str(exc)
    assert CARD.pan not in text and CARD.pan[-8:] not in text and FORGED_AMOUNT not in text


# --- the simulator's hostile answers ------------------------------------------------------------
# the field each hostile answer to an approved authorization must be refused for
AUTH_FIELD = {
    "forged": "DE 41", "over": "DE 4", "bad_amount": "DE 4", "wrong_currency": "DE 49",
    "wrong_ref": "DE 48 ref", "wrong_kind": "DE 48 kind", "wrong_terminal": "DE 41",
    "wrong_merchant": "DE 42", "no_code": "DE 39", "bad_code": "DE 39",
    "bad_auth_code": "DE 38", "no_amount": "DE 4",
}


def test_every_hostile_fault_is_covered() -> None:
    assert set(AUTH_FIELD) == set(HOSTILE_FAULTS)


def test_the_forged_answer_of_the_issue_never_becomes_the_hold(host: HostSimulator,
                                                               link: IsoHostLink) -> None:
    """Measured before: right MTI and STAN, another reference, terminal and currency and DE 4 =
    999999999999 were taken as a 9,999,999,999.99 hold."""
    host.inject("forged")
    with pytest.raises(HostProtocolError) as caught:
        link.authorize(auth("forge1"))
    assert caught.value.field.startswith("DE 41")
    assert_safe(caught.value)
    assert host.open_holds() == ["forge1"]  # the host did authorize: outcome unknown to us
    assert link.reverse("forge1", 5000, advice=True).ok  # what the kiosk does next
    assert host.open_holds() == [] and host.ledger()["forge1"].operations[-1] == "advice"


@pytest.mark.parametrize("fault", HOSTILE_FAULTS)
def test_a_hostile_answer_to_an_authorization(host: HostSimulator, link: IsoHostLink,
                                              fault: str) -> None:
    host.inject(fault)
    with pytest.raises(HostProtocolError, match=AUTH_FIELD[fault]) as caught:
        link.authorize(auth("h-" + fault))
    assert_safe(caught.value)
    assert link.reverse("h-" + fault, 5000, advice=True).ok
    assert host.open_holds() == []


@pytest.mark.parametrize(("fault", "field"), [
    ("over", "DE 4 total"), ("no_amount", "DE 4"), ("bad_amount", "DE 4"),
    ("forged", "DE 41"), ("wrong_ref", "DE 48 ref"), ("wrong_kind", "DE 48 kind"),
    ("wrong_currency", "DE 49"), ("no_code", "DE 39"), ("bad_auth_code", "DE 38"),
])
def test_a_hostile_answer_to_an_increment(host: HostSimulator, link: IsoHostLink, fault: str,
                                          field: str) -> None:
    assert link.authorize(auth("inc-" + fault)).approved
    host.inject(fault)
    with pytest.raises(HostProtocolError, match=field):
        link.increment("inc-" + fault, 2500, 7500)
    # the host did raise the hold: sent again, the repeat is recognised and answered honestly
    again = link.increment("inc-" + fault, 2500, 7500)
    assert again.approved and again.approved_minor == 7500
    assert host.ledger()["inc-" + fault].held_minor == 7500


@pytest.mark.parametrize(("fault", "field"), [
    ("over", "DE 4"), ("bad_amount", "DE 4"), ("forged", "DE 41"), ("wrong_ref", "DE 48 ref"),
    ("wrong_kind", "DE 48 kind"), ("wrong_currency", "DE 49"), ("wrong_terminal", "DE 41"),
    ("wrong_merchant", "DE 42"), ("no_code", "DE 39"), ("bad_code", "DE 39"),
])
@pytest.mark.parametrize("op", ["complete", "reverse", "advice"])
def test_a_hostile_answer_to_a_capture_or_reversal(host: HostSimulator, link: IsoHostLink,
                                                   fault: str, field: str, op: str) -> None:
    ref = f"{op}-{fault}"
    assert link.authorize(auth(ref)).approved

    def send() -> Ack:
        if op == "complete":
            return link.complete(ref, 1234)
        return link.reverse(ref, 5000, advice=op == "advice")

    host.inject(fault)
    with pytest.raises(HostProtocolError, match=field):
        send()
    assert send().ok  # sent again under the same reference: the host dedupes
    e = host.ledger()[ref]
    assert (e.captured_minor, e.reversed) == ((1234, False) if op == "complete" else (None, True))


def test_a_capture_answer_without_an_amount_is_fine(host: HostSimulator,
                                                    link: IsoHostLink) -> None:
    """DE 4 is optional in 0230/0410/0430 answers (when present it must be the request's)."""
    assert link.authorize(auth("c-no4")).approved
    host.inject("no_amount")
    assert link.complete("c-no4", 1000).ok


def test_a_partial_approval_is_the_hold(host: HostSimulator, link: IsoHostLink) -> None:
    host.approve_at_most = 3000
    r = link.authorize(auth("part1", 5000))
    assert r.approved and r.approved_minor == 3000 and host.ledger()["part1"].held_minor == 3000
    assert link.complete("part1", 2999).ok
    assert host.ledger()["part1"].captured_minor == 2999


def test_a_flood_of_answers_that_are_not_ours_is_bounded(host: HostSimulator,
                                                         link: IsoHostLink) -> None:
    """64 answers with other STANs before the real one: at most MAX_SKIPPED_ANSWERS are read,
    then the outcome is unknown, long before the deadline."""
    assert FLOOD_FRAMES > iso.MAX_SKIPPED_ANSWERS
    host.inject("flood")
    started = time.monotonic()
    with pytest.raises(HostProtocolError, match="not the answer"):
        link_to(host.port, timeout_s=5.0).authorize(auth("flood1"))
    assert time.monotonic() - started < 2.0
    host.inject("stale")  # one late answer is still skipped
    assert link.authorize(auth("flood2")).approved


def test_a_garbage_answer_is_a_protocol_error(host: HostSimulator, link: IsoHostLink) -> None:
    host.inject("garbage")
    with pytest.raises(HostProtocolError):
        link.authorize(auth("garb1"))


# --- a raw hostile host ---------------------------------------------------------------------
Respond = Callable[[dict[str, str]], list[bytes]]


class RawHost:
    """Reads one request per connection, sends what ``respond`` returns, then closes (or, with
    ``linger``, keeps the connection open and silent for that many seconds)."""

    def __init__(self) -> None:
        self.respond: Respond = lambda req: []
        self.linger = 0.0
        raw = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(2)
                try:
                    head = _recv_exact(conn, 2)
                    req = iso.decode(_recv_exact(conn, struct.unpack(">H", head)[0]))
                    for chunk in raw.respond(req):
                        conn.sendall(chunk)
                        if raw.linger:
                            time.sleep(raw.linger)
                except (OSError, iso.IsoError):
                    return

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise OSError("closed")
        buf += chunk
    return buf


@pytest.fixture(scope="module")
def raw_host() -> Iterator[RawHost]:
    h = RawHost()
    yield h
    h.stop()


def legit_answer(req: dict[str, str]) -> dict[str, str]:
    """What an honest host answers: approved, everything echoed."""
    a: dict[str, str] = {k: req[k] for k in ("4", "7", "11", "41", "42", "48", "49", "70")
                         if k in req}
    a["t"] = f"{int(req['t']) + 10:04d}"
    a["39"] = "00"
    if "48" in req:
        priv = iso.parse_private(req["48"])
        if priv["kind"] == "auth":
            a["38"] = "A1B2C3"
        if priv["kind"] == "inc":
            a["4"] = iso.amount(int(priv["total"]))
    return a


OPS = ["authorize", "increment", "complete", "reverse", "advice", "echo"]


def run_op(link: IsoHostLink, op: str) -> AuthResult | Ack | float:
    if op == "authorize":
        return link.authorize(auth("raw-ref", 5000))
    if op == "increment":
        return link.increment("raw-ref", 2500, 7500)
    if op == "complete":
        return link.complete("raw-ref", 4000)
    if op == "echo":
        return link.echo()
    return link.reverse("raw-ref", 5000, advice=op == "advice")


def check_outcome(link: IsoHostLink, op: str) -> tuple[Any, HostError | None]:
    """Only a result or a HostError, within the link's timeout (plus scheduling slack)."""
    started = time.monotonic()
    try:
        result: Any = run_op(link, op)
        error = None
    except HostError as exc:
        assert_safe(exc)
        result, error = None, exc
    if currently_in_test_context():  # --hypothesis-show-statistics: what the examples hit
        event(f"{op}: {type(error).__name__ if error else 'taken'}")
    assert time.monotonic() - started < link.timeout_s + link.connect_timeout_s + 1.0
    if isinstance(result, AuthResult) and result.approved:
        if op == "authorize":
            assert 0 < result.approved_minor <= 5000
        else:
            assert result.approved_minor == 7500
    return result, error


def test_the_raw_host_honest_answers_pass(raw_host: RawHost) -> None:
    raw_host.respond = lambda req: [iso.encode(legit_answer(req))]
    link = link_to(raw_host.port, timeout_s=1.0)
    for op in OPS:
        _, error = check_outcome(link, op)
        assert error is None, (op, error)


FIELDS = ["t", "2", "4", "11", "37", "38", "39", "41", "42", "48", "49", "55", "70"]
INTERESTING = ["", " ", "0", "00", "05", "91", FORGED_AMOUNT, "000000000000", "000000005001",
               "000000007499", "000000007501", "000000004999", "12345678901X", "-00000000100",
               "ref=raw-ref;kind=auth", "ref=raw-ref;kind=auth;ref=other", "ref=other;kind=auth",
               "ref=raw-ref;kind=inc;total=7501", "ref=raw-ref", "=;=", "978", "840", "KIOSK001",
               "EVIL0001", "DEMO0001       ", "301", "0110", "0810", "zz", "A1B2C3", "      "]


def shaped(field: str, value: str) -> str:
    """A value that pyiso8583 can encode for ``field`` (fixed fields padded or cut)."""
    spec = iso.SPEC[field]
    size = int(spec["max_len"])
    return (value + " " * size)[:size] if spec["len_type"] == 0 else value[:size]


value_st = st.one_of(st.sampled_from(INTERESTING),
                     st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=24))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=st.sampled_from(OPS),
       edits=st.dictionaries(st.sampled_from(FIELDS), st.none() | value_st, max_size=4),
       stale=st.integers(0, 3))
def test_mutated_answer_fields_end_as_host_errors(raw_host: RawHost, op: str,
                                                  edits: dict[str, str | None],
                                                  stale: int) -> None:
    sent: dict[str, dict[str, str]] = {}

    def respond(req: dict[str, str]) -> list[bytes]:
        a = legit_answer(req)
        for k, v in edits.items():
            if v is None:
                a.pop(k, None)
            else:
                a[k] = shaped(k, v)
        sent["request"], sent["answer"] = req, a
        try:
            frame = iso.encode(a)
        except iso.IsoError:
            return [b"\x00\x20" + b"x" * 32]
        others = [iso.encode({**a, "11": f"{(int(req['11']) + i + 1) % 10**6:06d}"})
                  for i in range(stale) if "11" in a and "t" in a]
        return [*others, frame]

    raw_host.respond = respond
    result, error = check_outcome(link_to(raw_host.port, timeout_s=1.0), op)
    if error is not None:
        return
    # taken: then everything the rules check was as the request said
    req, a = sent["request"], sent["answer"]
    assert (a["t"], a["11"], a["41"]) == (f"{int(req['t']) + 10:04d}", req["11"], req["41"])
    assert a.get("42", req["42"]) == req["42"]
    assert len(a["39"]) == 2 and a["39"].isalnum()
    if op != "echo":
        assert a["49"] == req["49"]
        got, want = iso.parse_private(a["48"]), iso.parse_private(req["48"])
        assert (got["ref"], got["kind"]) == (want["ref"], want["kind"])
    else:
        assert a["70"] == "301" and result > 0
    if isinstance(result, Ack) and result.ok and "4" in a:
        assert a["4"] == req["4"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=st.sampled_from(OPS),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      max_size=4),
       cut=st.none() | st.floats(0, 1), length=st.none() | st.integers(0, 0xFFFF),
       junk=st.binary(max_size=40))
def test_mutated_answer_bytes_end_as_host_errors(raw_host: RawHost, op: str,
                                                 flips: list[tuple[float, int]],
                                                 cut: float | None,
                                                 length: int | None, junk: bytes) -> None:
    def respond(req: dict[str, str]) -> list[bytes]:
        frame = bytearray(iso.encode(legit_answer(req)))
        for where, byte in flips:
            frame[int(where * len(frame))] = byte
        if cut is not None:
            frame = frame[: max(2, round(cut * len(frame)))]
        if length is not None:
            frame[:2] = struct.pack(">H", length)
        return [bytes(frame) + junk]

    raw_host.respond = respond
    check_outcome(link_to(raw_host.port, timeout_s=1.0), op)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op=st.sampled_from(OPS), junk=st.lists(st.binary(max_size=300), max_size=3))
def test_arbitrary_answer_bytes_end_as_host_errors(raw_host: RawHost, op: str,
                                                   junk: list[bytes]) -> None:
    raw_host.respond = lambda req: junk
    _, error = check_outcome(link_to(raw_host.port, timeout_s=1.0), op)
    assert error is not None


def test_a_silent_or_dripping_host_is_a_timeout_at_the_deadline(raw_host: RawHost) -> None:
    """The deadline is the request's, not each read's: a host that sends one byte at a time,
    each just inside a per-read timeout, still ends at the deadline."""
    def drip(req: dict[str, str]) -> list[bytes]:
        frame = iso.encode(legit_answer(req))
        return [frame[i:i + 1] for i in range(len(frame))]

    raw_host.respond, raw_host.linger = drip, 0.1
    try:
        link = link_to(raw_host.port, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(HostTimeout):
            link.authorize(auth("drip"))
        assert 0.45 < time.monotonic() - started < 1.5
        raw_host.respond, raw_host.linger = (lambda req: [b"\x00"]), 3.0  # half a header
        started = time.monotonic()
        with pytest.raises(HostTimeout):
            link.echo()
        assert time.monotonic() - started < 1.5
    finally:
        raw_host.linger = 0.0


def test_frames_out_of_bounds_are_protocol_errors(raw_host: RawHost) -> None:
    link = link_to(raw_host.port, timeout_s=1.0)
    for header in (b"\x00\x05", struct.pack(">H", iso.MAX_MESSAGE + 1), b"\xff\xff"):
        raw_host.respond = lambda req, h=header: [h + b"0" * 64]  # type: ignore[misc]
        with pytest.raises(HostProtocolError, match="message length"):
            link.authorize(auth("len"))


def test_requests_that_cannot_be_built_are_never_sent(raw_host: RawHost) -> None:
    seen: list[dict[str, str]] = []

    def record(req: dict[str, str]) -> list[bytes]:
        seen.append(req)
        return [iso.encode(legit_answer(req))]

    raw_host.respond = record
    link = link_to(raw_host.port, timeout_s=1.0)
    for call in (lambda: link.authorize(auth("x" * 65)),
                 lambda: link.complete("ref;kind=cap", 100),
                 lambda: link.reverse("r", -1, advice=True),
                 lambda: link.increment("r", 10**12, 10**12)):
        with pytest.raises(HostUnavailable, match="not sent"):
            call()
    assert seen == []


def test_timeouts_are_bounded() -> None:
    for bad in (0.0, -1.0, float("inf"), float("nan"), 301.0):
        with pytest.raises(ValueError):
            IsoHostLink("127.0.0.1", 1, terminal_id="T", merchant_id="M", currency="EUR",
                        timeout_s=bad)
        with pytest.raises(ValueError):
            IsoHostLink("127.0.0.1", 1, terminal_id="T", merchant_id="M", currency="EUR",
                        connect_timeout_s=bad)


def test_only_host_errors_come_out_of_a_closed_connection(raw_host: RawHost) -> None:
    raw_host.respond = lambda req: []
    with contextlib.suppress(HostTimeout):
        link_to(raw_host.port, timeout_s=1.0).authorize(auth("closed"))
        pytest.fail("a closed connection must be a timeout (outcome unknown)")
