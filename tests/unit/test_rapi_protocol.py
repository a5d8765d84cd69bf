"""The sans-IO RAPI layer: the domain note's example frames, parsing, noise, hostile lines."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.charger.api import PilotState
from drivers.charger.meter import MeterFault, MeterGuard
from drivers.charger.openevse import pilot_state
from drivers.charger.rapi import (
    MAX_INPUT,
    Async,
    Heartbeat,
    LineSplitter,
    RapiError,
    RapiFrameError,
    Reply,
    decode,
    encode,
    parse_amps,
    parse_at,
    parse_frame,
    parse_gg,
    parse_gs,
    parse_gu,
    parse_sy,
    xor_checksum,
)


def framed(body: str) -> bytes:
    b = body.encode()
    return b + f"^{xor_checksum(b):02X}".encode()


@pytest.mark.parametrize(("cmd", "args", "legacy", "frame"), [
    ("GS", (), False, b"$GS^30\r"), ("GG", (), False, b"$GG^24\r"),
    ("GU", (), False, b"$GU^36\r"), ("GV", (), False, b"$GV^35\r"),
    ("SC", (16,), False, b"$SC 16^13\r"), ("FE", (), True, b"$FE*AF\r"),
    ("FD", (), True, b"$FD*AE\r"), ("FS", (), True, b"$FS*BD\r"),
])
def test_the_example_frames_of_the_domain_note(cmd: str, args: tuple[int, ...], legacy: bool,
                                               frame: bytes) -> None:
    assert encode(cmd, *args, legacy=legacy) == frame
    parsed = parse_frame(frame.rstrip(b"\r"))
    assert (parsed.command, parsed.args) == (cmd, tuple(str(a) for a in args))


def test_ok_reply_example_and_sequence_ids() -> None:
    assert decode(b"$OK^20") == Reply(True, (), None)
    frame = encode("GS", seq=0x1A)
    assert frame.startswith(b"$GS :1A^")
    assert parse_frame(frame[:-1]).seq == 0x1A
    assert decode(framed("$OK 03 120 03 0100 :1A")) == Reply(True, ("03", "120", "03", "0100"),
                                                             0x1A)
    assert decode(framed("$NK :05")) == Reply(False, (), 5)


def test_unsolicited_lines() -> None:
    assert decode(framed("$AT 03 03 32 0140")) == Async("AT", ("03", "03", "32", "0140"))
    assert decode(framed("$AB 00 7.1.3")) == Async("AB", ("00", "7.1.3"))
    assert decode(framed("$AN 1")).kind == "AN" and decode(framed("$WF 2")).kind == "WF"


def test_the_32_character_input_limit() -> None:
    with pytest.raises(RapiError, match="exceeds"):
        encode("SH", "1" * 30)
    assert len(encode("SC", 16, seq=0xFF)) <= MAX_INPUT


@pytest.mark.parametrize(("line", "message"), [
    (b"$GS^31", "bad checksum"), (b"$GS", "no checksum"), (b"GS^30", "starts with"),
    (b"$OK :00^" + b"%02X" % xor_checksum(b"$OK :00"), "sequence id"),
    (b"$OK\x01^20", "non-printable"), (b"$" + b"A" * 200, "too long"),
    (b"$G^" + b"%02X" % xor_checksum(b"$G"), "two-letter"),
    (b"$OK^ZZ", "not hex"),
])
def test_bad_lines_are_typed_errors(line: bytes, message: str) -> None:
    with pytest.raises(RapiFrameError, match=message):
        decode(line)


def test_a_request_echoed_back_is_not_a_reply() -> None:
    with pytest.raises(RapiFrameError, match="unexpected"):
        decode(b"$GS^30")


def test_splitter_resyncs_after_noise() -> None:
    s = LineSplitter()
    lines = s.feed(b"\x00\xffgarbage$OK^20\r\n$A" + b"X" * 300 + b"\r$OK^20\r")
    assert lines == [b"$OK^20", b"$OK^20"]
    assert s.discarded > 300
    assert s.feed(b"$OK") == [] and s.feed(b"^20\r") == [b"$OK^20"]


def test_state_fields_in_any_case_and_padding() -> None:
    r = parse_gs(("3", "75", "03", "140"))
    assert (r.evse_state, r.elapsed_s, r.pilot_state, r.flags) == (3, 75, 3, 0x140)
    assert parse_at(("fe", "2", "0", "0100")).evse_state == 0xFE
    assert parse_gg(("-1", "230000")) == (-1, 230000)
    assert parse_gu(("36000", "1234")) == (36000, 1234)
    for bad in (("x", "1", "2", "3"), ("1", "2")):
        with pytest.raises(RapiFrameError):
            parse_gs(bad)
    with pytest.raises(RapiFrameError, match="negative"):
        parse_gu(("-5", "0"))


@pytest.mark.parametrize(("evse", "pilot", "state", "fault"), [
    (1, 1, PilotState.A, ""), (2, 2, PilotState.B, ""), (3, 3, PilotState.C, ""),
    (4, 3, PilotState.D, "ventilation"), (6, 3, PilotState.FAULT, "Ground fault"),
    (7, 2, PilotState.FAULT, "ground connection"), (8, 2, PilotState.FAULT, "relay is stuck"),
    (0x0A, 3, PilotState.FAULT, "too hot"), (0xFE, 2, PilotState.B, ""),
    (0xFE, 1, PilotState.A, ""), (0xFE, 0, PilotState.SLEEPING, ""),
    (0xFF, 0, PilotState.DISABLED, ""), (0x0C, 3, PilotState.FAULT, "self-test"),
    (0x0D, 3, PilotState.FAULT, "temperature sensor"), (0x00, 3, PilotState.FAULT, "code 00"),
    (0x42, 2, PilotState.FAULT, "code 42"), (0x02, 5, PilotState.B, ""),
    (0xFE, 3, PilotState.B, ""),
    # charging is the controller's word, not the car's: the car asks (pilot C), the controller
    # holds it in B (auth lock, no PWM): not charging
    (0x02, 3, PilotState.B, ""), (0x03, 2, PilotState.C, ""), (0x01, 3, PilotState.A, ""),
    (0xFF, 3, PilotState.B, ""), (0xFF, 1, PilotState.A, ""), (0xFF, 2, PilotState.B, ""),
])
def test_states_and_fault_messages(evse: int, pilot: int, state: PilotState, fault: str) -> None:
    got_state, got_fault = pilot_state(parse_gs((f"{evse:02X}", "0", f"{pilot:02X}", "0")))
    assert got_state is state and fault in got_fault


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=160))
def test_any_line_decodes_or_fails_typed(line: bytes) -> None:
    try:
        msg = decode(line)
    except RapiFrameError:
        return
    assert isinstance(msg, Reply | Async)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=50), max_size=20))
def test_splitter_never_loses_a_good_frame_after_noise(chunks: list[bytes]) -> None:
    s = LineSplitter()
    for c in chunks:
        s.feed(c.replace(b"$", b"#"))
    # whatever came before, a terminator and a good frame always come through
    assert s.feed(b"\r$OK 1 2^" + b"%02X" % xor_checksum(b"$OK 1 2") + b"\r") == [
        b"$OK 1 2^" + b"%02X" % xor_checksum(b"$OK 1 2")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["GS", "SC", "FE", "S4", "SH"]),
       st.lists(st.integers(0, 999), max_size=3), st.none() | st.integers(1, 255),
       st.booleans())
def test_encode_decode_round_trip(cmd: str, args: list[int], seq: int | None,
                                  legacy: bool) -> None:
    try:
        frame = encode(cmd, *args, seq=seq, legacy=legacy)
    except RapiError:
        return  # too long for the controller: refused, never truncated
    f = parse_frame(frame.rstrip(b"\r"))
    assert (f.command, f.args, f.seq) == (cmd, tuple(str(a) for a in args), seq)


def test_heartbeat_and_current_answers() -> None:
    assert parse_sy(("10", "0", "0")) == Heartbeat(10, 0, 0)
    hb = parse_sy(("5", "6", "2"))
    assert hb.armed and hb.missed and not parse_sy(("0", "0", "1")).armed
    for bad in [(), ("1", "2"), ("x", "0", "0"), ("1", "-2", "0"), ("1", "0", "0x2")]:
        with pytest.raises(RapiFrameError):
            parse_sy(bad)
    assert parse_amps(("16",)) == 16 and parse_amps(("6", "junk")) == 6
    for bad_amps in [(), ("abc",), ("5",), ("81",), ("-16",), ("1e2",)]:
        with pytest.raises(RapiFrameError):
            parse_amps(bad_amps)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=8), max_size=5))
def test_heartbeat_and_current_parsers_fail_typed(values: list[str]) -> None:
    for parse in (parse_sy, parse_amps):
        with contextlib.suppress(RapiFrameError):
            parse(tuple(values))


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_guard_power_with_a_counter_that_stands_still() -> None:
    g = MeterGuard(max_power_w=22_000, stuck_wh=5)
    g.check(1000, T0, 7_000)
    g.check(1000, T0 + timedelta(seconds=1), 7_000)  # 1.9 Wh owed: the counter's resolution
    with pytest.raises(MeterFault, match="does not count"):
        for s in range(2, 6):  # 7 kW for 3 s more: 7.8 Wh owed
            g.check(1000, T0 + timedelta(seconds=s), 7_000)
    with pytest.raises(MeterFault, match="does not count"):  # and every poll after
        g.check(1000, T0 + timedelta(seconds=6), 7_000)
    assert g.check(1001, T0 + timedelta(seconds=7), 7_000) == 1001  # counting again
    assert g.check(1001, T0 + timedelta(seconds=8), 7_000) == 1001  # owed starts over
    idle = MeterGuard(max_power_w=22_000, stuck_wh=5)
    for s in range(0, 600, 10):  # below the power threshold, or no power reported: no fault
        idle.check(2000, T0 + timedelta(seconds=s), 400)
        idle.check(2000, T0 + timedelta(seconds=s + 5), None)
