"""The payment host simulator over real TCP: rules, idempotency, faults, hostile input."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.acquirer.api import AuthRequest, HostError, HostTimeout, HostUnavailable
from drivers.sim.cards import TEST_CARDS
from drivers.sim.host import HostSimulator, ProtocolError, SimHostClient, parse_answer


@pytest.fixture
def host():
    sim = HostSimulator()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def client(host: HostSimulator) -> SimHostClient:
    return SimHostClient("127.0.0.1", host.port, timeout_s=2)


def auth(ref: str, card: str = "visa_contactless", amount: int = 5000,
         pin: str = "") -> AuthRequest:
    c = TEST_CARDS[card]
    return AuthRequest(ref=ref, amount_minor=amount, currency="EUR", pan=c.pan,
                       expiry=c.expiry, pin_block=pin.encode())


def test_preauth_capture_releases_the_rest(host: HostSimulator, client: SimHostClient) -> None:
    r = client.authorize(auth("r1"))
    assert r.approved and r.response_code == "00" and len(r.auth_code) == 6
    assert r.approved_minor == 5000 and host.open_holds() == ["r1"]
    assert client.complete("r1", 1234).ok
    e = host.ledger()["r1"]
    assert (e.held_minor, e.captured_minor, e.reversed) == (5000, 1234, False)
    assert host.open_holds() == []


@pytest.mark.parametrize(("card", "code", "words"), [
    ("declined_funds", "51", "not enough funds"),
    ("declined_honour", "05", "Declined by your bank"),
    ("issuer_down", "91", "cannot be reached"),
])
def test_declines_carry_a_message_for_the_driver(client: SimHostClient, host: HostSimulator,
                                                 card: str, code: str, words: str) -> None:
    r = client.authorize(auth("d-" + card, card))
    assert not r.approved and r.response_code == code and words in r.message
    assert host.ledger()["d-" + card].held_minor == 0 and host.open_holds() == []


def test_online_pin_is_checked(client: SimHostClient) -> None:
    assert client.authorize(auth("p1", "mastercard_pin", pin="0000")).response_code == "55"
    assert client.authorize(auth("p2", "mastercard_pin", pin="1234")).approved


def test_everything_is_idempotent_by_reference(host: HostSimulator,
                                               client: SimHostClient) -> None:
    first = client.authorize(auth("i1"))
    assert client.authorize(auth("i1")) == first  # the same answer, not a second hold
    assert client.increment("i1", 2500, 7500).approved
    assert client.increment("i1", 2500, 7500).approved  # a repeat does not add again
    assert host.ledger()["i1"].held_minor == 7500
    assert client.complete("i1", 6000).ok and client.complete("i1", 6000).ok
    assert not client.complete("i1", 6100).ok  # a second, different capture is refused
    assert not client.reverse("i1", 7500, "late").ok  # captured: no reversal
    assert host.ledger()["i1"].captured_minor == 6000


def test_reversal_of_a_request_the_host_never_saw(host: HostSimulator,
                                                  client: SimHostClient) -> None:
    assert client.reverse("ghost", 5000, "timeout").ok
    assert client.reverse("ghost", 5000, "timeout").ok
    assert host.ledger()["ghost"].reversed
    late = client.authorize(auth("ghost"))  # the lost request arrives after its reversal
    assert not late.approved and host.open_holds() == []


def test_capture_above_the_hold_is_refused(client: SimHostClient) -> None:
    client.authorize(auth("c1", amount=1000))
    assert client.complete("c1", 1001).response_code == "13"
    assert client.complete("c1", 1000).ok


def test_dropped_answer_is_a_timeout_with_the_hold_placed(host: HostSimulator,
                                                          client: SimHostClient) -> None:
    host.inject("drop")
    with pytest.raises(HostTimeout):
        client.authorize(auth("x1"))
    assert host.open_holds() == ["x1"]  # the reason the kiosk must reverse
    assert client.reverse("x1", 5000, "no answer").ok and host.open_holds() == []


def test_garbage_answer_is_a_host_error(host: HostSimulator, client: SimHostClient) -> None:
    host.inject("garbage")
    with pytest.raises(HostError):
        client.authorize(auth("g1"))


def test_late_answer_is_a_timeout(host: HostSimulator) -> None:
    host.inject("delay")
    with pytest.raises(HostTimeout):
        SimHostClient("127.0.0.1", host.port, timeout_s=0.3).authorize(auth("l1"))


def test_refused_and_doubled_answers(host: HostSimulator, client: SimHostClient) -> None:
    host.inject("refuse", "twice")
    with pytest.raises(HostTimeout):
        client.authorize(auth("f1"))
    assert "f1" not in host.ledger()
    assert client.authorize(auth("f2")).approved  # the second copy is ignored


def test_host_down_is_unavailable() -> None:
    sim = HostSimulator()
    sim.start()
    port = sim.port
    sim.stop()
    with pytest.raises(HostUnavailable):
        SimHostClient("127.0.0.1", port, timeout_s=1, connect_timeout_s=1).authorize(auth("u1"))


def test_unknown_fault_is_refused(host: HostSimulator) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        host.inject("explode")


def test_concurrent_clients(host: HostSimulator, client: SimHostClient) -> None:
    def one(i: int) -> None:
        assert client.authorize(auth(f"t{i}", amount=100 + i)).approved
        assert client.complete(f"t{i}", 50 + i).ok

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(host.ledger()[f"t{i}"].captured_minor or 0 for i in range(20)) == 50 * 20 + 190


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c,
                                                                         max_size=3),
                     max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["op", "ref", "amount_minor", "total_minor", "pan",
                                        "pin", "x"]),
                       st.one_of(_json, st.sampled_from(["authorize", "increment", "complete",
                                                         "reverse"])), max_size=6))
def test_hostile_requests_get_a_protocol_error_or_an_answer(msg: dict) -> None:
    sim = HostSimulator()
    try:
        answer = sim.handle(msg)
    except ProtocolError:
        return
    assert answer["code"] and isinstance(answer["ok"], bool)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | _json.map(lambda v: json.dumps(v).encode()))
def test_hostile_answers_are_host_errors(line: bytes) -> None:
    try:
        a = parse_answer(line)
    except HostError:
        return
    assert isinstance(a["ok"], bool) and len(a["code"]) == 2


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=300))
def test_the_server_survives_raw_garbage(host: HostSimulator, client: SimHostClient,
                                         junk: bytes) -> None:
    with socket.create_connection(("127.0.0.1", host.port), 2) as s:
        s.settimeout(2)
        s.sendall(junk + b"\n")
        answer = s.recv(4096)
        assert answer == b"" or b"error" in answer or b'"ok"' in answer
    assert client.reverse("alive", 1, "probe").ok
