"""DUKPT key schedules and online PIN blocks: the standards' test values, round trips, and the
counter that lives in the key file and never repeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.acquirer.dukpt import (
    DukptError,
    aes_derivation_key,
    aes_initial_key,
    aes_next_counter,
    tdes_ipek,
    tdes_transaction_key,
)
from drivers.acquirer.pin import (
    CounterStore,
    OnlinePin,
    PinEncryptor,
    PinKeyFile,
    decrypt_pin,
)
from tests.support import shared

SHARED = shared.VECTORS / "dukpt"
# ANSI X9.24-3:2017 supplement, AES-128 BDK test values
BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
IK_ID = bytes.fromhex("1234567890123456")


def test_aes_initial_key() -> None:
    assert aes_initial_key(BDK, IK_ID) == bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")


@pytest.mark.parametrize(("counter", "key"), [
    (0x00000001, "4F21B565BAD9835E112B6465635EAE44"),
    (0x00000002, "2F34D68DE10F68D38091A73B9E7C437C"),
    (0x00000003, "031504E530365CF81264238540518318"),
    (0x00000008, "718EE6CF0B27E53D5F7AF99C4D8146A2"),
    (0x0001FFFE, "E21E8C8D347F8561A2BE752DAA85A111"),
    (0x00020000, "F7AE9025468A25D37B7249CFFED224C8"),
    (0xFFFE2000, "48E585B694EB0B18D5C35443E163C0BA"),
    (0xFFFF0000, "F6BA59389BD14A9855BE9727E7C52E3C"),
])
def test_aes_transaction_keys(counter: int, key: str) -> None:
    ik = aes_initial_key(BDK, IK_ID)
    assert aes_derivation_key(ik, IK_ID + counter.to_bytes(4, "big")).hex().upper() == key


def test_aes_counter_skips_values_with_more_than_16_bits() -> None:
    assert aes_next_counter(1) == 2
    assert aes_next_counter(0x1FFFE) == 0x20000  # 0x1FFFF has 17 bits set
    with pytest.raises(DukptError, match="exhausted"):
        aes_next_counter(0xFFFF0000)
    with pytest.raises(DukptError):
        aes_derivation_key(bytes(16), IK_ID + (0x1FFFF).to_bytes(4, "big"))


@shared.needs(SHARED)
def test_tdes_against_the_x9_24_1_vectors() -> None:
    d = json.loads((SHARED / "dukpt_tdes_test.json").read_text())
    bdk, iksn = bytes.fromhex(d["bdk"]["hex"]), bytes.fromhex(d["iksn"]["hex"])
    ipek = tdes_ipek(bdk, iksn)
    assert ipek.hex().upper() == d["ik_verify"]["hex"]
    for ksns, keys in (("ksn_verify", "txn_key_verify"), ("ksn_verify2", "txn_key_verify2")):
        for ksn, key in zip(d[ksns]["hex"], d[keys]["hex"], strict=False):
            assert tdes_transaction_key(ipek, bytes.fromhex(ksn)).hex().upper() == key
    # the encrypted PIN blocks of the first sequence
    enc = PinEncryptor("tdes", ipek, iksn, CounterStore(Path("/nonexistent/never-written")))
    enc.counter = _Memory()
    for expected in d["encrypted_pinblock_verify"]["hex"][:5]:
        assert enc.encrypt("1234", "4012345678909").block.hex().upper() == expected


class _Memory(CounterStore):
    def __init__(self) -> None:
        self.value = 0

    def current(self) -> int:
        return self.value

    def reserve(self, nxt: int) -> int:
        self.value = nxt
        return nxt


@settings(max_examples=60, deadline=None)
@given(pin=st.text("0123456789", min_size=4, max_size=12),
       pan=st.text("0123456789", min_size=13, max_size=19), scheme=st.sampled_from(["aes",
                                                                                      "tdes"]))
def test_pin_round_trip(pin: str, pan: str, scheme: str) -> None:
    if scheme == "aes":
        enc = PinEncryptor("aes", aes_initial_key(BDK, IK_ID), IK_ID, _Memory())
        bdk = BDK
    else:
        bdk, iksn = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), \
            bytes.fromhex("FFFF9876543210E00000")
        enc = PinEncryptor("tdes", tdes_ipek(bdk, iksn), iksn, _Memory())
    block = enc.encrypt(pin, pan)
    assert decrypt_pin(bdk, block, pan) == pin
    assert block.block.hex() not in repr(block).lower()  # the block is not printed either


def _key_file(path: Path, counter: object = None) -> Path:
    data: dict[str, object] = {"scheme": "aes", "initial_key": aes_initial_key(BDK, IK_ID).hex(),
                               "key_id": IK_ID.hex()}
    if counter is not None:
        data["counter"] = counter
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


def test_the_counter_lives_in_the_key_file_is_persisted_before_use_and_never_repeats(
        tmp_path: Path) -> None:
    path = _key_file(tmp_path / "pin.key")  # no counter: a fresh key
    enc = PinEncryptor.from_key_file(path)
    assert isinstance(enc.counter, PinKeyFile) and enc.check() == 0
    ksns = []
    for i in range(1, 6):
        ksns.append(enc.encrypt("1234", "5413330089020011").ksn)
        assert json.loads(path.read_text())["counter"] == i  # on disk before the block is out
    assert len(set(ksns)) == 5 and enc.counter.current() == 5
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pin.key"]  # no temporary file left
    again = PinEncryptor.from_key_file(path)  # a restart, or another journal on the same key
    assert again.encrypt("1234", "5413330089020011").ksn[-4:] == (6).to_bytes(4, "big")
    assert decrypt_pin(BDK, enc.encrypt("4321", "5413330089020011"), "5413330089020011") == \
        "4321"  # the first encryptor reads the shared counter: 7, not its own 6
    assert json.loads(path.read_text())["counter"] == 7


def test_two_encryptors_on_one_key_file_never_hand_out_a_counter_twice(tmp_path: Path) -> None:
    path = _key_file(tmp_path / "pin.key")
    a, b = PinEncryptor.from_key_file(path), PinEncryptor.from_key_file(path)
    ksns = [(a if i % 2 else b).encrypt("1234", "5413330089020011").ksn for i in range(8)]
    assert len(set(ksns)) == 8
    assert [int.from_bytes(k[-4:], "big") for k in ksns] == list(range(1, 9))
    # a reservation whose counter another process took meanwhile is refused, not reused
    with pytest.raises(DukptError, match="moved to 8"):
        a.counter.reserve(8)


@pytest.mark.parametrize(("counter", "message"), [
    (-1, r"damaged \(negative: -1\)"),
    ("5", r"damaged \(not an integer: '5'\)"),
    (1.5, r"damaged \(not an integer"),
    (True, r"damaged \(not an integer"),
    (1 << 40, r"damaged \(out of range"),
])
def test_a_damaged_counter_is_a_clear_error(tmp_path: Path, counter: object,
                                            message: str) -> None:
    path = _key_file(tmp_path / "pin.key", counter)
    with pytest.raises(DukptError, match=rf"pin\.key: counter: .*{message}"):
        PinEncryptor.from_key_file(path)


def test_an_exhausted_counter_fails_at_the_check_not_at_a_pin(tmp_path: Path) -> None:
    enc = PinEncryptor.from_key_file(_key_file(tmp_path / "pin.key", 0xFFFF0000))
    with pytest.raises(DukptError, match="exhausted"):
        enc.check()
    with pytest.raises(DukptError, match="exhausted"):
        enc.encrypt("1234", "5413330089020011")
    bdk, iksn = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), \
        bytes.fromhex("FFFF9876543210E00000")
    tdes = PinEncryptor("tdes", tdes_ipek(bdk, iksn), iksn, _Memory())
    tdes.counter.reserve(0x1FF800)  # ten bits set: the last counter of TDES DUKPT
    with pytest.raises(DukptError, match="exhausted"):
        tdes.check()


def test_a_key_file_changed_under_the_kiosk_is_an_error(tmp_path: Path) -> None:
    path = _key_file(tmp_path / "pin.key")
    enc = PinEncryptor.from_key_file(path)
    enc.encrypt("1234", "5413330089020011")
    enc.encrypt("1234", "5413330089020011")
    _key_file(path, 1)  # restored from a backup: the counter went back
    with pytest.raises(DukptError, match="went back from 2 to 1"):
        enc.encrypt("1234", "5413330089020011")
    data = json.loads(path.read_text())
    data["initial_key"] = "00" * 16
    path.write_text(json.dumps(data))
    with pytest.raises(DukptError, match="now holds another key"):
        enc.encrypt("1234", "5413330089020011")
    path.write_text("garbage")
    with pytest.raises(DukptError, match=r"pin\.key: not a JSON key file"):
        enc.encrypt("1234", "5413330089020011")
    path.unlink()  # deleting the counter is deleting the key
    with pytest.raises(DukptError, match="cannot read the PIN key file"):
        enc.encrypt("1234", "5413330089020011")


@pytest.mark.parametrize(("content", "message"), [
    ("[]", r"a key file is a JSON object"),
    ('{"scheme": "aes", "initial_key": "00"}', r"key_id: missing"),
    ('{"scheme": "rsa", "initial_key": "00", "key_id": "00"}', r"scheme: 'rsa' is neither"),
    ('{"scheme": "aes", "initial_key": "zz", "key_id": "00"}', r"initial_key: not hex"),
    ('{"scheme": "aes", "initial_key": 5, "key_id": "00"}', r"initial_key: must be a string"),
    ('{"scheme": "aes", "initial_key": "0011", "key_id": "1234567890123456"}',
     r"initial_key: 16 bytes"),
    ('{"scheme": "tdes", "initial_key": "' + "00" * 16 + '", "key_id": "1234567890123456"}',
     r"key_id: the initial KSN of TDES DUKPT is 10 bytes"),
    ('{"scheme": "aes", "initial_key": "' + "00" * 16 + '", "key_id": "12345678901234", '
     '"counter": 0, "bdk": "00"}', r"unknown field 'bdk'"),
])
def test_a_broken_key_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pin.key"
    path.write_text(content)
    with pytest.raises(DukptError, match=rf"pin\.key: {message}"):
        PinEncryptor.from_key_file(path)


def test_a_counter_file_of_its_own_is_strict_too(tmp_path: Path) -> None:
    store = CounterStore(tmp_path / "dukpt.counter")
    enc = PinEncryptor("aes", aes_initial_key(BDK, IK_ID), IK_ID, store)
    ksns = [enc.encrypt("1234", "5413330089020011").ksn for _ in range(5)]
    assert len(set(ksns)) == 5 and store.current() == 5
    assert store.path.stat().st_mode & 0o777 == 0o600
    again = PinEncryptor("aes", aes_initial_key(BDK, IK_ID), IK_ID, CounterStore(store.path))
    assert again.encrypt("1234", "5413330089020011").ksn[-4:] == (6).to_bytes(4, "big")
    for text, message in (("garbage", "damaged"), ("-3", "negative"), ("1.5", "damaged")):
        store.path.write_text(text)
        with pytest.raises(DukptError, match=message):
            again.encrypt("1234", "5413330089020011")


def test_wrong_pins_and_keys() -> None:
    enc = PinEncryptor("aes", aes_initial_key(BDK, IK_ID), IK_ID, _Memory())
    with pytest.raises(ValueError, match="4 to 12 digits"):
        enc.encrypt("12a4", "5413330089020011")
    block = enc.encrypt("1234", "5413330089020011")
    other = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    with pytest.raises(ValueError):  # the wrong BDK gives no valid format 4 block
        decrypt_pin(other, block, "5413330089020011")
    assert isinstance(block, OnlinePin)
    with pytest.raises(DukptError):
        PinEncryptor("aes", bytes(8), IK_ID, _Memory())
