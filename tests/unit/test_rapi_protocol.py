"""The sans-IO RAPI layer: the domain note's example frames, parsing, noise, hostile lines."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.charger.api import PilotState
from drivers.charger.meter import ControllerMeter, MeterFault, MeterGuard, query_energy
from drivers.charger.openevse import pilot_state
from drivers.charger.rapi import (
    FLAG_EV_CONNECTED,
    MAX_INPUT,
    Async,
    Heartbeat,
    LineSplitter,
    RapiError,
    RapiFrameError,
    Reply,
    StateReport,
    decode,
    encode,
    energy_counters,
    ev_connected,
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


# --- the controller's energy counters: one reading for every user -------------------------------
def gs_report(evse: int, flags: int = 0, pilot: int = 0) -> StateReport:
    return StateReport(evse, pilot, flags, elapsed_s=0)


def test_the_field_report_a_car_of_8_wh_unplugged_is_not_16() -> None:
    """Firmware 8.2.3 after an 8 Wh session, car gone: $GU 28800 8 (the lifetime already holds
    the session, the session counter stays until the next car)."""
    after = energy_counters(28_800, 8, connected=False)
    assert (after.total_wh, after.session_wh, after.reported_wh) == (8, 8, 8)
    during = energy_counters(28_800, 0, connected=True)  # the same session, car still there
    assert (during.total_wh, during.session_wh) == (8, 8)


def test_a_counter_that_follows_sessions_unplugs_and_restarts() -> None:
    c = energy_counters(0, 1000, connected=True)  # a car just connected
    assert c.total_wh == 1000
    c = energy_counters(5 * 3600 + 1800, 1000, None, c)  # 5.5 Wh into the session
    assert (c.total_ws, c.session_wh) == (1005 * 3600 + 1800, 5)
    c = energy_counters(5 * 3600 + 1800, 1005, False, c)  # unplugged: firmware adds 5 Wh
    assert c.total_ws == 1005 * 3600 + 1800  # not again
    c = energy_counters(5 * 3600 + 1800, 1005, False, c)  # the window before the next car
    assert c.total_wh == 1005
    c = energy_counters(0, 1005, True, c)  # the next car: the session counter goes to 0
    assert c.total_ws == 1005 * 3600 + 1800
    c = energy_counters(3600, 1005, None, c)
    assert c.total_ws == 1006 * 3600 + 1800
    c = energy_counters(1200, 1005, None, c)  # the controller restarted mid-session
    assert c.total_ws == 1006 * 3600 + 3000  # the new counter is all new energy
    with pytest.raises(RapiError, match="connected"):
        energy_counters(0, 0, None)  # a first reading must know
    with pytest.raises(RapiFrameError, match="negative"):
        energy_counters(-1, 0, True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["charge", "unplug", "plug", "restart", "read"]),
                          st.integers(0, 50_000)), max_size=40))
def test_the_counter_follows_the_firmware_whatever_happens(steps: list[tuple[str, int]]) -> None:
    """A model of the firmware's EnergyMeter read after every step: the total never goes back
    and never runs ahead of the energy delivered (it may keep fractions the firmware drops)."""
    ws, wh, connected, delivered = 0, 500, True, 500 * 3600
    c = energy_counters(ws, wh, connected)
    for step, n in steps:
        if step == "charge" and connected:
            ws, delivered = ws + n, delivered + n
        elif step == "unplug" and connected:
            connected, wh = False, wh + ws // 3600
        elif step == "plug" and not connected:
            connected, ws = True, 0
        elif step == "restart":
            ws = 0
        before = c.total_ws
        c = energy_counters(ws, wh, connected, c)
        assert before <= c.total_ws <= delivered
        assert c.total_wh >= wh  # at least the firmware's own lifetime total
    assert c.total_ws == delivered


@pytest.mark.parametrize(("report", "connected"), [
    (gs_report(0x01, FLAG_EV_CONNECTED), False), (gs_report(0x02), True),
    (gs_report(0x03), True), (gs_report(0x04), True), (gs_report(0xFE, 0x0100), True),
    (gs_report(0xFE, 0x0000, pilot=2), False), (gs_report(0xFF, 0x0100), True),
    (gs_report(0x06, 0x0140), True), (gs_report(0x07, 0x0000), False),
])
def test_whether_a_car_is_connected(report: StateReport, connected: bool) -> None:
    assert ev_connected(report) is connected


class FakeLink:
    """Answers from a script: each command pops its next answer."""

    def __init__(self, **answers: list[tuple[str, ...]]) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}
        self.sent: list[str] = []

    def command(self, cmd: str, *args: str | int) -> Reply:
        self.sent.append(cmd)
        values = self.answers[cmd].pop(0) if len(self.answers[cmd]) > 1 else self.answers[cmd][0]
        return Reply(values != ("NK",), values if values != ("NK",) else (), None)


def test_a_first_reading_waits_for_a_car_that_stays_put() -> None:
    # the car leaves between $GS and $GU: the $GU already holds the session in the lifetime
    link = FakeLink(GS=[("03", "0", "03", "0140"), ("01", "0", "01", "0000")],
                    GU=[("28800", "1008"), ("28800", "1008")])
    c = query_energy(link)  # type: ignore[arg-type]
    assert (c.total_wh, c.session_wh, c.connected) == (1008, 8, False)
    assert link.sent == ["GS", "GU", "GS", "GU", "GS"]
    flapping = FakeLink(GS=[("03", "0", "03", "0140"), ("01", "0", "01", "0000")] * 5,
                        GU=[("28800", "1008")])
    with pytest.raises(RapiError, match="coming and going"):
        query_energy(flapping)  # type: ignore[arg-type]
    later = FakeLink(GU=[("32400", "1008")])
    assert query_energy(later, c).total_wh == 1009  # type: ignore[arg-type]
    assert later.sent == ["GU"]  # later readings need no state


def test_the_drivers_meter_started_after_an_unplug_does_not_double() -> None:
    link = FakeLink(GS=[("01", "0", "01", "0000")], GU=[("28800", "1008")],
                    GG=[("0", "230000")])
    m = ControllerMeter(link)  # type: ignore[arg-type]
    assert m.read().energy_wh == 1008
    link.answers["GU"] = [("0", "1008")]  # the next car
    assert m.read().energy_wh == 1008
    link.answers["GU"] = [("NK",)]
    with pytest.raises(MeterFault, match="refused"):
        m.read()


# --- the firmware's free-text debug lines -------------------------------------------------------
OK_20 = b"$OK^20\r"
AT = framed("$AT 03 03 32 0140") + b"\r"


@pytest.mark.parametrize("stream", [
    b"\nrelayCloseMs: 100\r\nrelayHoldPwm: 75\r\n" + OK_20,  # between a command and its $OK
    OK_20 + b"\nrelayCloseMs: 100\r\nrelayHoldPwm: 75\r\n",  # right after it
    OK_20[:-1] + b"\rrelayHoldPwm: 75\r\n",  # glued to the frame's \r, no blank line
    b"relayHoldPwm: 75" + OK_20,  # a print without its newline, then the frame
])
def test_debug_lines_are_skipped_and_frames_come_through(stream: bytes) -> None:
    for chunk_size in (1, 3, len(stream)):
        s = LineSplitter()
        frames = []
        for i in range(0, len(stream), chunk_size):
            frames += s.feed(stream[i:i + chunk_size])
        assert frames == [b"$OK^20"]
        texts = s.take_text()
        assert texts and all(t in (b"relayCloseMs: 100", b"relayHoldPwm: 75") for t in texts)
        assert s.discarded == 0 and s.text_lines == len(texts) and s.take_text() == []
        assert decode(frames[0]) == Reply(True, (), None)


def test_the_firmwares_boot_and_serial_debug_text() -> None:
    s = LineSplitter()
    boot = (b"\nrelayCloseMs: 100\r\nrelayHoldPwm: 75\r\n" + AT + b"POST start...Pilot: 1023\r\n"
            b"POST result: 2\r\nSetSvcLevel: 2\r\n" + framed("$AB 00 8.2.3") + b"\r")
    frames = s.feed(boot)
    assert [decode(f) for f in frames] == [Async("AT", ("03", "03", "32", "0140")),
                                           Async("AB", ("00", "8.2.3"))]
    assert s.take_text() == [b"relayCloseMs: 100", b"relayHoldPwm: 75",
                             b"POST start...Pilot: 1023", b"POST result: 2", b"SetSvcLevel: 2"]
    assert s.discarded == 0


def test_noise_is_still_noise_and_text_is_bounded() -> None:
    s = LineSplitter()
    assert s.feed(b"\x00\xffrelay\x07Close\r\n" + OK_20) == [b"$OK^20"]
    assert s.take_text() == [] and s.discarded == len(b"\x00\xffrelay\x07Close")
    s = LineSplitter()
    assert s.feed(b"x" * 500 + b"\r\nok: 1\r\n" + OK_20) == [b"$OK^20"]
    assert s.take_text() == [b"ok: 1"] and s.discarded == 500


DEBUG_TEXTS = st.sampled_from([b"\nrelayCloseMs: 100\r\n", b"relayHoldPwm: 75\r\n",
                               b"POST start...", b"Pilot: 1023\r\n", b"SetSvcLevel: 2\r\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), DEBUG_TEXTS, st.integers(0, 999)), max_size=12),
       st.integers(1, 40))
def test_frames_survive_any_interleaving_of_debug_text(parts: list[tuple[bool, bytes, int]],
                                                       chunk: int) -> None:
    stream, want = b"", []
    for is_frame, text, n in parts:
        if is_frame:
            line = framed(f"$OK {n}")
            stream += line + b"\r"
            want.append(line)
        else:
            stream += text
    s = LineSplitter()
    got = []
    for i in range(0, len(stream), chunk):
        got += s.feed(stream[i:i + chunk])
    assert got == want and s.discarded == 0
