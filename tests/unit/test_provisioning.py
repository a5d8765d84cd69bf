"""The terminal's keys in production and demo: checked modes and owners, never regenerated in
production, created once by provisioning, TEST keys refused outside demo, and one DUKPT counter
per key, whatever the journal folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from drivers.acquirer.dukpt import tdes_ipek
from drivers.acquirer.pin import decrypt_pin
from drivers.sim.keys import TEST_BDK_AES128, TEST_IK_ID, sim_terminal_initial_key
from kiosk.config import KioskConfig, load_config, parse_config
from kiosk.security.provisioning import (
    CARD_TOKEN_KEY,
    DEMO_PIN_KEY,
    INVOICE_TOKEN_KEY,
    LEGACY_COUNTER,
    OUTBOX_KEY,
    SIGNING_KEY,
    ProvisioningError,
    data_dir,
    load_terminal_keys,
    provision,
    terminal_identity,
)
from tests.support.production import pin_key, production_config

PAN = "5413330089020011"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


@pytest.fixture
def prod(tmp_path: Path) -> KioskConfig:
    return load_config(production_config(tmp_path / "etc"))


def _etc(tmp_path: Path) -> Path:
    return tmp_path / "etc"


def _counter(path: Path) -> int:
    return int(json.loads(path.read_text()).get("counter", 0))


def test_the_data_folder_is_the_journals(tmp_path: Path, prod: KioskConfig) -> None:
    assert data_dir(prod, tmp_path / "j" / "journal.sqlite") == tmp_path / "j"
    cfg = parse_config(f"schema_version = 1\n[journal]\npath = '{tmp_path}/x/k.sqlite'\n",
                       demo=True)
    assert data_dir(cfg) == tmp_path / "x"


def test_production_without_provisioning_is_an_error_then_provision_works(
        tmp_path: Path, prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    with pytest.raises(ProvisioningError, match=r"data: the data folder does not exist: .*kiosk "
                                                r"provision --config FILE"):
        load_terminal_keys(prod, folder, demo=False)
    assert not folder.exists()  # nothing is made by itself
    created = provision(prod, folder)
    assert created == [folder, folder / CARD_TOKEN_KEY, folder / INVOICE_TOKEN_KEY,
                       folder / OUTBOX_KEY, folder / SIGNING_KEY]
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in (CARD_TOKEN_KEY, INVOICE_TOKEN_KEY, OUTBOX_KEY, SIGNING_KEY):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    keys = load_terminal_keys(prod, folder, demo=False)
    assert keys.card_token_key == (folder / CARD_TOKEN_KEY).read_bytes()
    assert keys.invoice_key == (folder / INVOICE_TOKEN_KEY).read_bytes()
    assert keys.card_token_key != keys.invoice_key
    assert keys.pin_encryptor is not None and keys.pin_key_file == _etc(tmp_path) / "pin.key"
    assert "card_token_key" not in repr(keys) and "invoice_key" not in repr(keys)
    # again: nothing made, nothing overwritten
    assert provision(prod, folder) == []
    assert load_terminal_keys(prod, folder, demo=False).card_token_key == keys.card_token_key


@pytest.mark.parametrize(("name", "breaks"), [(CARD_TOKEN_KEY, "card token"),
                                              (INVOICE_TOKEN_KEY, "invoice link"),
                                              (OUTBOX_KEY, "queued record"),
                                              (SIGNING_KEY, "registration at the back office")])
def test_a_missing_token_key_is_never_regenerated_in_production(
        tmp_path: Path, prod: KioskConfig, name: str, breaks: str) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    (folder / name).unlink()
    with pytest.raises(ProvisioningError, match=rf"{name}: missing: this key is created once, "
                                                rf"by kiosk provision .*{breaks}"):
        load_terminal_keys(prod, folder, demo=False)
    assert not (folder / name).exists()
    assert provision(prod, folder) == [folder / name]  # the operator decides, once
    load_terminal_keys(prod, folder, demo=False)


def test_key_files_must_be_0600(tmp_path: Path, prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    (folder / CARD_TOKEN_KEY).chmod(0o644)
    for demo in (False, True):
        with pytest.raises(ProvisioningError, match=r"card-token\.key: mode 0644, a key file "
                                                    r"must be 0600 \(chmod 600 "):
            load_terminal_keys(prod, folder, demo=demo)
    with pytest.raises(ProvisioningError, match=r"mode 0644"):
        provision(prod, folder)  # refused, not replaced
    (folder / CARD_TOKEN_KEY).chmod(0o600)
    (_etc(tmp_path) / "pin.key").chmod(0o640)
    with pytest.raises(ProvisioningError, match=r"pin\.key: mode 0640, a PIN key file must be "
                                                r"0600"):
        load_terminal_keys(prod, folder, demo=False)


@needs_root
def test_key_files_and_the_folder_must_be_owned_by_the_kiosk(tmp_path: Path,
                                                             prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    os.chown(folder / INVOICE_TOKEN_KEY, 65534, 65534)
    with pytest.raises(ProvisioningError, match=r"invoice-token\.key: owned by uid 65534"):
        load_terminal_keys(prod, folder, demo=False)
    os.chown(folder / INVOICE_TOKEN_KEY, 0, 0)
    os.chown(_etc(tmp_path) / "pin.key", 65534, 65534)
    with pytest.raises(ProvisioningError, match=r"pin\.key: owned by uid 65534"):
        load_terminal_keys(prod, folder, demo=False)
    os.chown(_etc(tmp_path) / "pin.key", 0, 0)
    os.chown(folder, 65534, 65534)
    with pytest.raises(ProvisioningError, match=r"data: owned by uid 65534"):
        load_terminal_keys(prod, folder, demo=False)


def test_the_data_folder_must_be_0700_in_production(tmp_path: Path, prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    folder.chmod(0o755)
    with pytest.raises(ProvisioningError, match=r"data: mode 0755, the data folder must be 0700 "
                                                r"\(chmod 700 "):
        load_terminal_keys(prod, folder, demo=False)
    with pytest.raises(ProvisioningError, match=r"mode 0755"):
        provision(prod, folder)
    _etc(tmp_path).chmod(0o777)  # anyone could swap the PIN key file
    folder.chmod(0o700)
    with pytest.raises(ProvisioningError, match=r"etc: mode 0777, others can replace"):
        load_terminal_keys(prod, folder, demo=False)


def test_demo_creates_what_is_missing(tmp_path: Path) -> None:
    cfg = parse_config("schema_version = 1\n", demo=True)
    folder = tmp_path / "demo"
    keys = load_terminal_keys(cfg, folder, demo=True)
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in (CARD_TOKEN_KEY, INVOICE_TOKEN_KEY, DEMO_PIN_KEY, OUTBOX_KEY, SIGNING_KEY):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    assert keys.outbox_key is not None and len(keys.outbox_key) == 32
    assert keys.signing_key is not None
    assert keys.pin_key_file == folder / DEMO_PIN_KEY
    data = json.loads((folder / DEMO_PIN_KEY).read_text())
    assert (data["initial_key"], data["key_id"], data["counter"]) == (
        sim_terminal_initial_key().hex().upper(), TEST_IK_ID.hex().upper(), 0)
    assert keys.pin_encryptor is not None
    block = keys.pin_encryptor.encrypt("1234", PAN)
    assert decrypt_pin(TEST_BDK_AES128, block, PAN) == "1234"  # the host simulator reads it
    assert _counter(folder / DEMO_PIN_KEY) == 1
    again = load_terminal_keys(cfg, folder, demo=True)
    assert again.card_token_key == keys.card_token_key
    assert again.pin_encryptor is not None
    assert again.pin_encryptor.encrypt("1234", PAN).ksn[-4:] == (2).to_bytes(4, "big")


def test_demo_warns_about_a_loose_folder_but_runs(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "demo"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    load_terminal_keys(parse_config("schema_version = 1\n", demo=True), folder, demo=True)
    assert "must be 0700" in caplog.text


def test_production_refuses_the_test_pin_keys_demo_takes_them(tmp_path: Path,
                                                              prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    path = _etc(tmp_path) / "pin.key"
    tdes_bdk, iksn = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), \
        bytes.fromhex("FFFF9876543210E00000")
    for kwargs, why in (
        ({"initial_key": sim_terminal_initial_key(), "key_id": TEST_IK_ID}, "X9.24-3"),
        ({"scheme": "tdes", "initial_key": tdes_ipek(tdes_bdk, iksn), "key_id": iksn},
         "X9.24-1"),
        ({"scheme": "tdes", "initial_key": tdes_ipek(tdes_bdk, bytes(10)), "key_id": bytes(10)},
         "derived from the TDES test BDK"),
    ):
        pin_key(path, **kwargs)
        with pytest.raises(ProvisioningError, match=rf"pin\.key: a TEST key: .*{why}.*only with "
                                                    rf"kiosk run --demo"):
            load_terminal_keys(prod, folder, demo=False)
        assert load_terminal_keys(prod, folder, demo=True).pin_encryptor is not None


def test_production_needs_a_pin_key_file(tmp_path: Path, prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    (_etc(tmp_path) / "pin.key").unlink()
    with pytest.raises(ProvisioningError, match=r"pin\.key: host\.pin_key_file: no such file"):
        load_terminal_keys(prod, folder, demo=False)


@pytest.mark.parametrize(("counter", "message"), [
    (-1, r"negative"), ("7", r"not an integer"), (2.0, r"not an integer"),
    (0xFFFF0000, r"exhausted"),
])
def test_a_damaged_or_exhausted_counter_stops_the_start(tmp_path: Path, prod: KioskConfig,
                                                        counter: object, message: str) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    pin_key(_etc(tmp_path) / "pin.key", counter=counter)
    with pytest.raises(ProvisioningError, match=message):
        load_terminal_keys(prod, folder, demo=False)
    (_etc(tmp_path) / "pin.key").write_text("{not json")
    with pytest.raises(ProvisioningError, match=r"pin\.key: not a JSON key file"):
        load_terminal_keys(prod, folder, demo=False)


def test_two_journal_folders_share_the_keys_counter(tmp_path: Path, prod: KioskConfig) -> None:
    """The counter belongs to the key: a second journal folder does not start again at 1."""
    a, b = tmp_path / "a", tmp_path / "b"
    provision(prod, a)
    provision(prod, b)
    enc_a = load_terminal_keys(prod, a, demo=False).pin_encryptor
    enc_b = load_terminal_keys(prod, b, demo=False).pin_encryptor
    assert enc_a is not None and enc_b is not None
    ksns = [enc_a.encrypt("1234", PAN).ksn, enc_b.encrypt("1234", PAN).ksn,
            enc_a.encrypt("1234", PAN).ksn]
    later = load_terminal_keys(prod, b, demo=False).pin_encryptor  # a restart on folder b
    assert later is not None
    ksns.append(later.encrypt("1234", PAN).ksn)
    assert [int.from_bytes(k[-4:], "big") for k in ksns] == [1, 2, 3, 4]
    assert _counter(_etc(tmp_path) / "pin.key") == 4


def test_a_deleted_or_old_counter_file_never_resets_the_counter(tmp_path: Path,
                                                                prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)
    (folder / LEGACY_COUNTER).write_text("7")  # what an earlier version counted to
    enc = load_terminal_keys(prod, folder, demo=False).pin_encryptor
    assert enc is not None and _counter(_etc(tmp_path) / "pin.key") == 7
    assert enc.encrypt("1234", PAN).ksn[-4:] == (8).to_bytes(4, "big")
    (folder / LEGACY_COUNTER).unlink()
    enc = load_terminal_keys(prod, folder, demo=False).pin_encryptor
    assert enc is not None and enc.encrypt("1234", PAN).ksn[-4:] == (9).to_bytes(4, "big")
    (folder / LEGACY_COUNTER).write_text("garbage")
    with pytest.raises(ProvisioningError, match=r"dukpt\.counter: the DUKPT counter file is "
                                                r"damaged"):
        load_terminal_keys(prod, folder, demo=False)


def test_a_demo_pin_key_of_its_own_keeps_its_counter_in_it(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir(mode=0o700)
    pin_key(etc / "lab.key", initial_key=sim_terminal_initial_key(), key_id=TEST_IK_ID,
            counter=41)
    cfg = parse_config("schema_version = 1\n[host]\npin_key_file = 'lab.key'\n", "k.toml", etc,
                       demo=True)
    keys = load_terminal_keys(cfg, tmp_path / "data", demo=True)
    assert keys.pin_encryptor is not None and keys.pin_key_file == etc / "lab.key"
    assert keys.pin_encryptor.encrypt("1234", PAN).ksn[-4:] == (42).to_bytes(4, "big")
    assert not (tmp_path / "data" / DEMO_PIN_KEY).exists()


def test_the_outbox_and_signing_keys_are_made_once_and_never_overwritten(
        tmp_path: Path, prod: KioskConfig) -> None:
    from kiosk.journal.store import OUTBOX_KEY_FILE
    from kiosk.records.batch import key_id, public_key_raw

    assert OUTBOX_KEY == OUTBOX_KEY_FILE  # the journal looks for the same file
    folder = tmp_path / "data"
    provision(prod, folder)
    before = {n: (folder / n).read_bytes() for n in (OUTBOX_KEY, SIGNING_KEY)}
    keys = load_terminal_keys(prod, folder, demo=False)
    assert keys.outbox_key == before[OUTBOX_KEY]
    assert keys.signing_key is not None
    assert len(before[SIGNING_KEY]) == 32  # the raw seed
    assert "signing_key" not in repr(keys) and "outbox_key" not in repr(keys)
    ident = terminal_identity(prod, keys.signing_key)
    public = keys.signing_key.public_key()
    assert ident.terminal_id == prod.station.id
    assert ident.public_key_hex == public_key_raw(public).hex() and len(ident.public_key_hex) == 64
    assert ident.key_id == key_id(public)
    assert provision(prod, folder) == []
    assert {n: (folder / n).read_bytes() for n in before} == before
    again = load_terminal_keys(prod, folder, demo=False)
    assert again.signing_key is not None
    assert terminal_identity(prod, again.signing_key) == ident


def test_a_pem_signing_key_is_taken_a_bad_one_is_reported_not_replaced(
        tmp_path: Path, prod: KioskConfig) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    folder = tmp_path / "data"
    provision(prod, folder)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    (folder / SIGNING_KEY).write_bytes(pem)
    loaded = load_terminal_keys(prod, folder, demo=False).signing_key
    assert loaded is not None and terminal_identity(prod, loaded) == terminal_identity(prod, key)
    (folder / SIGNING_KEY).write_bytes(b"not a key")
    with pytest.raises(ProvisioningError, match="neither 32 raw bytes nor a PEM Ed25519"):
        load_terminal_keys(prod, folder, demo=False)
    with pytest.raises(ProvisioningError, match="neither 32 raw bytes nor a PEM Ed25519"):
        provision(prod, folder)
    assert (folder / SIGNING_KEY).read_bytes() == b"not a key"  # reported, kept
    (folder / SIGNING_KEY).write_bytes(pem)
    (folder / SIGNING_KEY).chmod(0o640)
    with pytest.raises(ProvisioningError, match="must be 0600"):
        load_terminal_keys(prod, folder, demo=False)


# --- the operator-wide card token key (issue #18) ------------------------------------------------

def _operator_key(path: Path, data: bytes | None = None, mode: int = 0o600) -> Path:
    path.write_bytes(os.urandom(32) if data is None else data)
    os.chmod(path, mode)
    return path


def test_a_given_card_token_key_is_installed_so_tokens_match_across_terminals(
        tmp_path: Path, prod: KioskConfig) -> None:
    from kiosk.security.cards import card_token

    given = _operator_key(tmp_path / "operator-card.key")
    a, b = tmp_path / "a", tmp_path / "b"
    assert folder_key_created(provision(prod, a, card_token_key=given), a)
    provision(prod, b, card_token_key=given)
    for folder in (a, b):
        assert (folder / CARD_TOKEN_KEY).read_bytes() == given.read_bytes()
        assert (folder / CARD_TOKEN_KEY).stat().st_mode & 0o777 == 0o600
    ka = load_terminal_keys(prod, a, demo=False)
    kb = load_terminal_keys(prod, b, demo=False)
    assert card_token(PAN, ka.card_token_key) == card_token(PAN, kb.card_token_key)
    assert ka.invoice_key != kb.invoice_key  # only the card token key is the operator's
    # the same key again: nothing to do
    assert provision(prod, a, card_token_key=given) == []


def folder_key_created(created: list[Path], folder: Path) -> bool:
    return folder / CARD_TOKEN_KEY in created


def test_a_terminal_with_another_card_token_key_keeps_it(tmp_path: Path,
                                                        prod: KioskConfig) -> None:
    folder = tmp_path / "data"
    provision(prod, folder)  # a key of its own
    own = (folder / CARD_TOKEN_KEY).read_bytes()
    given = _operator_key(tmp_path / "operator-card.key")
    with pytest.raises(ProvisioningError, match=r"card-token\.key: this terminal has another "
                                                r"card token key already: it is kept, never "
                                                r"replaced .*every card token issued before"):
        provision(prod, folder, card_token_key=given)
    assert (folder / CARD_TOKEN_KEY).read_bytes() == own


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: _operator_key(p, os.urandom(31)), r"31 bytes, a card token key is exactly 32"),
    (lambda p: _operator_key(p, os.urandom(33)), r"too large"),
    (lambda p: _operator_key(p, b""), r"0 bytes"),
    (lambda p: _operator_key(p, b"\0" * 32), r"the same byte: not a key"),
    (lambda p: _operator_key(p, mode=0o644), r"mode 0644, a card token key file must be 0600"),
    (lambda p: p.mkdir(), r"not a regular file"),
    (lambda p: os.mkfifo(p, 0o600), r"not a regular file"),
    (lambda p: None, r"no such card token key file"),
])
def test_a_bad_given_card_token_key_is_refused_and_nothing_is_made(
        tmp_path: Path, prod: KioskConfig, make: object, words: str) -> None:
    path = tmp_path / "operator-card.key"
    make(path)  # type: ignore[operator]
    folder = tmp_path / "data"
    with pytest.raises(ProvisioningError, match=words):
        provision(prod, folder, card_token_key=path)
    assert not folder.exists()


def test_the_cli_makes_the_operators_key_once_and_installs_it(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    from kiosk.cli import main

    out = tmp_path / "operator-card.key"
    assert main(["provision", "--new-card-token-key", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600 and len(out.read_bytes()) == 32
    first = out.read_bytes()
    assert main(["provision", "--new-card-token-key", str(out)]) == 2  # never overwritten
    assert out.read_bytes() == first
    assert "exists already" in capsys.readouterr().err
    assert main(["provision"]) == 2
    assert "--config FILE is needed" in capsys.readouterr().err


def test_kiosk_provision_with_the_operators_card_token_key(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from kiosk.cli import main

    config = production_config(tmp_path / "etc")
    given = _operator_key(tmp_path / "operator-card.key")
    journal = tmp_path / "data" / "journal.sqlite"
    assert main(["provision", "--config", str(config), "--journal", str(journal),
                 "--card-token-key", str(given)]) == 0
    said = capsys.readouterr().out
    assert "the card token key is the operator's" in said
    assert (tmp_path / "data" / CARD_TOKEN_KEY).read_bytes() == given.read_bytes()
    other = _operator_key(tmp_path / "other.key")
    assert main(["provision", "--config", str(config), "--journal", str(journal),
                 "--card-token-key", str(other)]) == 2
    assert "another card token key already" in capsys.readouterr().err
