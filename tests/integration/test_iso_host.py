"""The ISO 8583 link against the host simulator over real TCP: every path, idempotency,
faults (timeouts, drops, garbage, duplicate and stale answers), hostile messages, the echo
test, TLS with the host's name. Answers that break the rules: ``test_host_hostile.py``."""

from __future__ import annotations

import contextlib
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.acquirer import iso8583 as iso
from drivers.acquirer.api import (
    AuthRequest,
    HostError,
    HostProtocolError,
    HostTimeout,
    HostUnavailable,
)
from drivers.acquirer.iso_link import IsoHostLink
from drivers.acquirer.pin import CounterStore, PinEncryptor
from drivers.sim.cards import TEST_CARDS
from drivers.sim.host import HostSimulator
from drivers.sim.keys import TEST_IK_ID, sim_terminal_initial_key


@pytest.fixture
def host() -> Iterator[HostSimulator]:
    sim = HostSimulator()
    sim.start()
    yield sim
    sim.stop()


def link_to(host: HostSimulator, timeout_s: float = 2.0) -> IsoHostLink:
    return IsoHostLink("127.0.0.1", host.port, terminal_id="KIOSK001", merchant_id="DEMO0001",
                       currency="EUR", timeout_s=timeout_s, connect_timeout_s=1.0)


@pytest.fixture
def link(host: HostSimulator) -> IsoHostLink:
    return link_to(host)


def auth(ref: str, card: str = "visa_contactless", amount: int = 5000,
         pin: str = "") -> AuthRequest:
    c = TEST_CARDS[card]
    block, ksn = b"", b""
    if pin:
        enc = PinEncryptor("aes", sim_terminal_initial_key(), TEST_IK_ID,
                           CounterStore(Path(tempfile.mkdtemp()) / "c"))
        p = enc.encrypt(pin, c.pan)
        block, ksn = p.block, p.ksn
    return AuthRequest(ref=ref, amount_minor=amount, currency="EUR", pan=c.pan,
                       expiry=c.expiry, pin_block=block, pin_ksn=ksn)


def test_preauth_increment_capture_releases_the_rest(host: HostSimulator,
                                                     link: IsoHostLink) -> None:
    r = link.authorize(auth("r1"))
    assert r.approved and r.response_code == "00" and len(r.auth_code) == 6
    assert r.approved_minor == 5000 and host.open_holds() == ["r1"]
    assert link.increment("r1", 2500, 7500).approved
    assert link.complete("r1", 1234).ok
    e = host.ledger()["r1"]
    assert (e.held_minor, e.captured_minor, e.reversed, e.increments) == (7500, 1234, False,
                                                                          (2500,))
    assert host.open_holds() == [] and host.messages == ["0100", "0100", "0220"]


@pytest.mark.parametrize(("card", "code", "words"), [
    ("declined_funds", "51", "not enough funds"),
    ("declined_honour", "05", "Declined by your bank"),
    ("issuer_down", "91", "cannot be reached"),
])
def test_declines_carry_a_message_for_the_driver(link: IsoHostLink, host: HostSimulator,
                                                 card: str, code: str, words: str) -> None:
    r = link.authorize(auth("d-" + card, card))
    assert not r.approved and r.response_code == code and words in r.message
    assert host.ledger()["d-" + card].held_minor == 0 and host.open_holds() == []


def test_online_pin_under_aes_dukpt(link: IsoHostLink) -> None:
    assert link.authorize(auth("p1", "mastercard_pin", pin="0000")).response_code == "55"
    assert link.authorize(auth("p2", "mastercard_pin", pin="1234")).approved
    assert link.authorize(auth("p3", "mastercard_pin")).response_code == "55"  # no PIN


def test_everything_is_idempotent_by_reference(host: HostSimulator, link: IsoHostLink) -> None:
    first = link.authorize(auth("i1"))
    assert link.authorize(auth("i1")) == first  # the same answer, not a second hold
    assert link.increment("i1", 2500, 7500).approved
    assert link.increment("i1", 2500, 7500).approved  # a repeat does not add again
    assert host.ledger()["i1"].held_minor == 7500
    assert link.complete("i1", 6000).ok and link.complete("i1", 6000).ok
    assert not link.complete("i1", 6100).ok  # a second, different capture is refused
    assert not link.reverse("i1", 7500, advice=False).ok  # captured: no reversal
    assert host.ledger()["i1"].captured_minor == 6000


def test_reversal_advice_for_an_unknown_outcome(host: HostSimulator, link: IsoHostLink) -> None:
    assert link.reverse("ghost", 5000, advice=True).ok
    assert link.reverse("ghost", 5000, advice=True).ok
    assert host.messages == ["0420", "0420"] and host.ledger()["ghost"].reversed
    assert host.ledger()["ghost"].operations == ("advice", "advice")
    late = link.authorize(auth("ghost"))  # the lost request arrives after its reversal
    assert not late.approved and host.open_holds() == []
    link.authorize(auth("known"))
    assert link.reverse("known", 5000, advice=False).ok
    assert host.messages[-1] == "0400"
    assert host.ledger()["known"].operations == ("authorize", "reverse")


def test_reversal_or_advice_is_chosen_by_type_not_by_text(host: HostSimulator,
                                                          link: IsoHostLink) -> None:
    """The choice is the ``advice`` flag: no reason text, however worded, can turn an advice
    into a reversal or back; the flag must be given and must be a bool."""
    link.authorize(auth("k1"))
    link.authorize(auth("k2"))
    assert link.reverse("k1", 5000, advice=False).ok
    assert link.reverse("k2", 5000, advice=True).ok
    assert [host.ledger()[r].operations[-1] for r in ("k1", "k2")] == ["reverse", "advice"]
    assert host.messages[-2:] == ["0400", "0420"]
    assert all(host.ledger()[r].reversed and not host.ledger()[r].open for r in ("k1", "k2"))
    with pytest.raises(TypeError):
        link.reverse("k3", 5000, "host timeout")  # type: ignore[call-arg,arg-type]
    with pytest.raises(TypeError):
        link.reverse("k3", 5000)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        link.reverse("k3", 5000, advice="host timeout")  # type: ignore[arg-type]
    assert "k3" not in host.ledger()


def test_dropped_answer_is_a_timeout_with_the_hold_placed(host: HostSimulator,
                                                          link: IsoHostLink) -> None:
    host.inject("drop")
    with pytest.raises(HostTimeout):
        link.authorize(auth("x1"))
    assert host.open_holds() == ["x1"]  # the reason the kiosk must reverse
    assert link.reverse("x1", 5000, advice=True).ok and host.open_holds() == []


def test_garbage_answer_is_a_host_error(host: HostSimulator, link: IsoHostLink) -> None:
    host.inject("garbage")
    with pytest.raises(HostError):
        link.authorize(auth("g1"))


def test_late_answer_is_a_timeout(host: HostSimulator) -> None:
    host.inject("delay")
    with pytest.raises(HostTimeout):
        link_to(host, timeout_s=0.3).authorize(auth("l1"))


def test_duplicate_and_stale_answers_are_not_taken(host: HostSimulator,
                                                   link: IsoHostLink) -> None:
    host.inject("twice")
    assert link.authorize(auth("f1")).approved
    host.inject("stale")  # first a decline with another STAN, then the real approval
    assert link.authorize(auth("f2")).approved
    assert link.complete("f2", 100).ok and host.ledger()["f2"].captured_minor == 100


def test_refused_connection_mid_message(host: HostSimulator, link: IsoHostLink) -> None:
    host.inject("refuse")
    with pytest.raises(HostTimeout):
        link.authorize(auth("c1"))
    assert "c1" not in host.ledger()


def test_host_down_is_unavailable() -> None:
    sim = HostSimulator()
    sim.start()
    port = sim.port
    sim.stop()
    link = IsoHostLink("127.0.0.1", port, terminal_id="T1", merchant_id="M1", currency="EUR",
                       connect_timeout_s=1.0)
    with pytest.raises(HostUnavailable):
        link.authorize(auth("u1"))


def test_concurrent_requests(host: HostSimulator, link: IsoHostLink) -> None:
    def one(i: int) -> None:
        assert link.authorize(auth(f"t{i}", amount=100 + i)).approved
        assert link.complete(f"t{i}", 50 + i).ok

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(host.ledger()[f"t{i}"].captured_minor or 0 for i in range(20)) == 50 * 20 + 190


def test_messages_carry_the_required_fields(host: HostSimulator, link: IsoHostLink) -> None:
    seen: list[dict[str, str]] = []
    answer = host.answer

    def spy(f: dict[str, str]) -> dict[str, str]:
        seen.append(f)
        return answer(f)

    host.answer = spy  # type: ignore[method-assign]
    link.authorize(auth("m1", "mastercard_pin", pin="1234"))
    f = seen[0]
    assert (f["t"], f["3"], f["18"], f["25"], f["49"]) == ("0100", "000000", "5552", "06", "978")
    assert len(f["7"]) == 10 and len(f["11"]) == 6 and f["41"] == "KIOSK001"
    assert len(f["52"]) == 32 and f["53"].startswith(TEST_IK_ID.hex().upper())
    assert iso.parse_private(f["48"]) == {"ref": "m1", "kind": "auth"}


# --- hostile input --------------------------------------------------------------------------------
def valid_message() -> bytes:
    return iso.encode({"t": "0110", "4": iso.amount(100), "11": "000001", "39": "00",
                       "48": iso.private("r", "auth")})[2:]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_decode_to_typed_errors(data: bytes) -> None:
    with contextlib.suppress(iso.IsoError):
        iso.decode(data)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_messages_decode_to_typed_errors(data: st.DataObject) -> None:
    raw = bytearray(valid_message())
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        fields = iso.decode(bytes(raw[:cut]))
    except iso.IsoError as exc:
        assert "4761" not in str(exc)
        return
    assert fields["t"].isdigit()


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=300))
def test_the_host_survives_raw_garbage(host: HostSimulator, link: IsoHostLink,
                                       junk: bytes) -> None:
    with socket.create_connection(("127.0.0.1", host.port), 2) as s:
        s.settimeout(0.5)
        s.sendall(struct.pack(">H", len(junk)) + junk)
        with contextlib.suppress(TimeoutError):
            s.recv(4096)
    assert link.reverse("alive", 1, advice=True).ok


def test_the_link_over_tls(tmp_path: Path) -> None:
    """A self-signed host certificate, trusted by the kiosk through its CA file; a kiosk that
    does not trust it cannot connect (the request never leaves)."""
    import datetime as dt
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "host.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "host.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "host.pem", tmp_path / "host.key")
    sim = HostSimulator(tls=server_ctx)
    sim.start()
    try:
        trusted = ssl.create_default_context(cafile=str(tmp_path / "host.pem"))
        link = IsoHostLink("localhost", sim.port, terminal_id="T1", merchant_id="M1",
                           currency="EUR", tls=trusted, timeout_s=2)
        assert link.authorize(auth("tls1")).approved
        stranger = IsoHostLink("localhost", sim.port, terminal_id="T1", merchant_id="M1",
                               currency="EUR", tls=ssl.create_default_context(), timeout_s=2)
        with pytest.raises(HostUnavailable, match="secure connection"):
            stranger.authorize(auth("tls2"))
        assert "tls2" not in sim.ledger()
    finally:
        sim.stop()


def test_arqc_is_checked_and_an_arpc_answered(host: HostSimulator, link: IsoHostLink) -> None:
    """The simulated card's ARQC (pyemv, from the issuer master key) travels in DE 55; the host
    verifies it and answers an ARPC in tag 91; a tampered cryptogram is declined."""
    from datetime import date

    from pyemv import ac, kd, tlv

    from drivers.sim.cryptogram import card_icc_data
    from drivers.sim.keys import TEST_IMK_AC

    c = TEST_CARDS["visa_contactless"]
    icc = card_icc_data(c.pan, "00", 0x42, 5000, "EUR", bytes.fromhex("01020304"),
                        date(2026, 11, 25))
    good = link.authorize(AuthRequest("q1", 5000, "EUR", c.pan, c.expiry, icc_data=icc))
    assert good.approved
    t91 = tlv.decode(good.icc_response, simple=True)["91"]
    arqc = tlv.decode(icc, simple=True)["9F26"]
    sk = kd.derive_common_sk(kd.derive_icc_mk_a(TEST_IMK_AC, c.pan, "00"),
                             bytes.fromhex("0042") + bytes(6))
    assert t91 == ac.generate_arpc_1(sk, arqc, b"00") + b"00"
    tampered = icc.replace(arqc, bytes(8))
    bad = link.authorize(AuthRequest("q2", 5000, "EUR", c.pan, c.expiry, icc_data=tampered))
    assert not bad.approved and bad.response_code == "05"
    assert host.open_holds() == ["q1"]


# --- the echo test (0800) ---------------------------------------------------------------------
def test_echo_test_measures_the_round_trip(host: HostSimulator, link: IsoHostLink) -> None:
    seen: list[dict[str, str]] = []
    answer = host.answer

    def spy(f: dict[str, str]) -> dict[str, str]:
        seen.append(f)
        return answer(f)

    host.answer = spy  # type: ignore[method-assign]
    rtt = link.echo()
    assert 0 < rtt < 2.0 and host.echoes == 1 and host.messages == ["0800"]
    f = seen[0]
    assert (f["t"], f["70"], f["41"], f["42"]) == ("0800", "301", "KIOSK001", "DEMO0001".ljust(15))
    assert len(f["7"]) == 10 and len(f["11"]) == 6 and "2" not in f and "48" not in f
    assert host.ledger() == {} and host.requests == 0  # no money moved


def test_echo_test_failures_are_typed(host: HostSimulator, link: IsoHostLink) -> None:
    host.inject("drop")
    with pytest.raises(HostTimeout):
        link.echo()
    host.inject("garbage")
    with pytest.raises(HostProtocolError):
        link.echo()
    host.inject("wrong_terminal")
    with pytest.raises(HostProtocolError, match="DE 41"):
        link.echo()
    host.inject("no_code")
    with pytest.raises(HostProtocolError, match="DE 39"):
        link.echo()
    host.inject("stale")  # another STAN first: skipped, then the real answer
    assert link.echo() > 0
    host.inject("delay")
    with pytest.raises(HostTimeout):
        link_to(host, timeout_s=0.3).echo()
    port = host.port
    host.stop()
    with pytest.raises(HostUnavailable):
        IsoHostLink("127.0.0.1", port, terminal_id="KIOSK001", merchant_id="DEMO0001",
                    currency="EUR", connect_timeout_s=1.0).echo()


def test_echo_test_a_host_out_of_service_is_unavailable() -> None:
    """A raw host that answers the 0800 properly but with DE 39 = 91 (not in service)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(2)
                (n,) = struct.unpack(">H", conn.recv(2))
                req = iso.decode(conn.recv(n))
                conn.sendall(iso.encode({**{k: req[k] for k in ("7", "11", "41", "42", "70")},
                                         "t": "0810", "39": "91"}))

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        link = IsoHostLink("127.0.0.1", server.getsockname()[1], terminal_id="T1",
                           merchant_id="M1", currency="EUR", timeout_s=2)
        with pytest.raises(HostUnavailable, match="not in service"):
            link.echo()
        t.join(2)


# --- TLS: the host's name ---------------------------------------------------------------------
def tls_host(tmp_path: Path, dns_name: str) -> tuple[HostSimulator, Path]:
    """The simulator behind a self-signed certificate for ``dns_name`` only (no IP address)."""
    import datetime as dt
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "named.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "named.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(pem, tmp_path / "named.key")
    sim = HostSimulator(tls=server_ctx)
    sim.start()
    return sim, pem


def test_tls_host_reached_by_address_is_checked_against_its_name(tmp_path: Path) -> None:
    """The host is dialled by IP; its certificate names ``acquirer.example.test``. With that
    ``server_name`` the handshake verifies; with another name, or none (the IP address, which
    the certificate does not carry), it fails before anything is sent."""
    import ssl

    sim, pem = tls_host(tmp_path, "acquirer.example.test")
    try:
        ctx = ssl.create_default_context(cafile=str(pem))

        def link(server_name: str = "") -> IsoHostLink:
            return IsoHostLink("127.0.0.1", sim.port, terminal_id="T1", merchant_id="M1",
                               currency="EUR", tls=ctx, server_name=server_name, timeout_s=2,
                               connect_timeout_s=2)

        good = link("acquirer.example.test")
        assert good.authorize(auth("named1")).approved
        assert good.echo() > 0
        for wrong in ("other.example.test", ""):
            with pytest.raises(HostUnavailable, match="secure connection"):
                link(wrong).authorize(auth("named2"))
            with pytest.raises(HostUnavailable, match="secure connection"):
                link(wrong).reverse("named1", 5000, advice=False)
        assert "named2" not in sim.ledger() and sim.messages == ["0100", "0800"]
        assert sim.ledger()["named1"].open  # the wrong-name reversal never arrived
    finally:
        sim.stop()
