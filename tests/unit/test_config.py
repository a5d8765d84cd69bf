"""Config: the demo file loads with --demo only; a production file names real devices, TLS and
live keys; every broken file gives one message naming the file and key."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.config import DEFAULT_CONFIG_PATH, ConfigError, KioskConfig, load_config, parse_config
from tests.support.production import production_config, production_toml

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_config_loads_with_exact_amounts() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH, demo=True)
    assert cfg.schema_version == 1 and cfg.demo
    assert cfg.payment.hold_amount == Decimal("50.00")
    assert cfg.to_minor(cfg.payment.hold_amount) == 5000
    assert (cfg.reader.kind, cfg.charger.kind, cfg.host.kind) == ("sim", "sim", "sim")
    assert [c.id for c in cfg.connectors] == [1]


def test_the_demo_file_spells_out_every_default_section() -> None:
    text = DEFAULT_CONFIG_PATH.read_text()
    for section in KioskConfig.model_fields:
        if section not in ("schema_version", "demo", "connectors"):
            assert f"[{section}]" in text, section


def test_a_minimal_file_takes_the_defaults_in_demo_only() -> None:
    cfg = parse_config("schema_version = 1\n", demo=True)
    assert cfg.station.currency == "EUR" and cfg.tariff.vat_percent == Decimal(19)
    assert (cfg.reader.kind, cfg.charger.kind, cfg.host.kind) == ("sim", "sim", "sim")
    with pytest.raises(ConfigError, match=r"reader: missing"):
        parse_config("schema_version = 1\n")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such config file"):
        load_config(tmp_path / "nope.toml")


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "k.toml"
    p.write_bytes(b"schema_version = 1\nname = \"\xff\"\n")
    with pytest.raises(ConfigError, match=r"k\.toml: not UTF-8"):
        load_config(p)


@pytest.mark.parametrize(("text", "expected"), [
    ("schema_version = 1\n[station\n", r"k\.toml: not valid TOML"),
    ("schema_version = 1\n[statoin]\nid = 'x'\n", r"k\.toml: statoin: unknown key"),
    ("schema_version = 1\n[payment]\nhold_amout = '5.00'\n",
     r"k\.toml: payment\.hold_amout: unknown key"),
    ("schema_version = 1\n[payment]\nhold_amount = 'lots'\n",
     r"k\.toml: payment\.hold_amount: .*decimal"),
    ("schema_version = 1\n[payment]\nhold_amount = 50.5\n",
     r"payment\.hold_amount: write amounts as strings"),
    ("schema_version = 1\n[payment]\nhold_amount = '-1'\n", r"payment\.hold_amount: .*0"),
    ("schema_version = 1\n[payment]\nhold_amount = 'NaN'\n", r"payment\.hold_amount: .*finite"),
    ("schema_version = 1\n[payment]\nhold_amount = '0'\n", r"hold_amount must be more"),
    ("schema_version = 1\n[payment]\nhold_amount = '10.001'\n", r"more decimals than EUR"),
    ("schema_version = 1\n[ui]\nfullscreen = 'yes'\n", r"ui\.fullscreen: .*boolean"),
    ("schema_version = 1\n[host]\nport = '8583'\n", r"host\.port: .*integer"),
    ("schema_version = 1\n[host]\nport = 70000\n", r"host\.port: .*65535"),
    ("schema_version = 1\n[host]\nkind = 'visa'\n", r"host\.kind: "),
    ("schema_version = 1\n[host]\nkind = 'iso8583'\n", r"host\.port is needed"),
    ("schema_version = 1\n[host]\nkind = 'iso8583'\nport = 1\n", r"host\.pin_key_file is needed"),
    ("schema_version = 1\n[host]\nkind = 'iso8583'\nport = 1\npin_key_file = 'p'\n",
     r"host\.ca_file is needed when host\.kind = 'iso8583' with tls"),
    ("schema_version = 1\n[host]\nkind = 'iso8583'\nport = 1\npin_key_file = 'p'\ntls = false\n",
     r"host\.tls = false .*host\.allow_plaintext_lab = true"),
    ("schema_version = 1\n[host]\nserver_name = 'bad name'\n", r"host\.server_name: "),
    ("schema_version = 1\n[host]\nallow_plaintext_lab = 'yes'\n",
     r"host\.allow_plaintext_lab: .*boolean"),
    ("schema_version = 1\ndemo = true\n", r"demo: set by `kiosk run --demo`, not in the file"),
    ("schema_version = 1\n[ui]\ndemo_mode = true\n",
     r"ui\.demo_mode: no longer a key: the demo is the switch `kiosk run --demo`"),
    ("schema_version = 1\n[charger]\nkind = 'serial'\n", r"charger\.port is needed"),
    ("schema_version = 1\n[station]\ncurrency = 'XBT'\n", r"station\.currency: unknown"),
    ("schema_version = 1\n[station]\ntimezone = 'Mars/Olympus'\n", r"station\.timezone: "),
    ("schema_version = 1\n[station]\nid = 'has space'\n", r"station\.id: "),
    ("schema_version = 1\n[[connectors]]\nid = 0\n", r"connectors\[0\]\.id: "),
    ("schema_version = 1\n[[connectors]]\nid = 1\n[[connectors]]\nid = 1\n", r"unique"),
    ("schema_version = 1\nconnectors = []\n", r"connectors: "),
    ("schema_version = 1\n[station]\nlanguages = ['en', 'de']\n[ui]\nlanguage = 'fr'\n",
     r"ui\.language 'fr' is not in"),
    ("schema_version = 1\n[station]\nlanguages = ['en', 'it']\n",
     r"station\.languages: .*not written in it"),
    ("schema_version = 1\n[station]\nlanguages = ['en', 'en']\n", r"listed twice"),
    ("schema_version = 1\n[ui]\ndpi = 5000\n", r"ui\.dpi"),
    ("schema_version = 1\n[backoffice]\nurl = 'ftp://x'\n", r"backoffice\.url: "),
    ("schema_version = 1\nstation = 3\n", r"station: "),
    ("schema_version = 2\n", r"schema_version: this kiosk reads version 1"),
    ("schema_version = '1'\n", r"schema_version: "),
    ("[station]\nid = 'A'\n", r"schema_version: missing"),
    ("", r"schema_version: missing"),
])
def test_broken_files_name_the_file_and_the_key(tmp_path: Path, text: str,
                                                 expected: str) -> None:
    p = tmp_path / "k.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=expected) as err:
        load_config(p, demo=True)
    assert str(err.value).startswith(f"{p}: ")
    assert "\n" not in str(err.value)  # one clear line, not a pydantic dump


def test_the_config_is_frozen() -> None:
    cfg = parse_config("schema_version = 1\n", demo=True)
    with pytest.raises(Exception, match="frozen"):
        cfg.payment.hold_amount = Decimal(1)  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.booleans())
def test_any_text_loads_or_fails_cleanly(text: str, demo: bool) -> None:
    try:
        parse_config(text, "f.toml", demo=demo)
    except ConfigError as exc:
        assert str(exc).startswith("f.toml: ")


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.lists(st.integers(), max_size=3))


@settings(max_examples=300, deadline=None)
@given(section=st.sampled_from(["station", "payment", "tariff", "reader", "charger", "host",
                                "backoffice", "journal", "ui", "logging"]),
       key=st.sampled_from(["id", "currency", "timezone", "hold_amount", "vat_percent", "kind",
                            "port", "timeout_s", "url", "path", "fullscreen", "level", "bogus",
                            "tls", "ca_file", "server_name", "allow_plaintext_lab",
                            "pin_key_file", "demo_mode"]),
       value=_values, demo=st.booleans())
def test_any_value_in_any_key_loads_or_fails_cleanly(section: str, key: str,
                                                      value: object, demo: bool) -> None:
    import json

    if value is None:
        text = f"schema_version = 1\n[{section}]\n"
    else:
        rendered = json.dumps(value) if not isinstance(value, float) else repr(value)
        if isinstance(value, bool):
            rendered = str(value).lower()
        text = f"schema_version = 1\n[{section}]\n{key} = {rendered}\n"
    try:
        parse_config(text, "f.toml", demo=demo)
    except ConfigError as exc:
        assert str(exc).startswith("f.toml: ")


def test_the_kiosk_refuses_to_start_on_a_broken_config(tmp_path: Path) -> None:
    p = tmp_path / "k.toml"
    p.write_text("schema_version = 1\n[payment]\nhold_amount = 'x'\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    for args in (["run", "--demo", "--config", str(p)], ["check-config", "--demo", str(p)]):
        proc = subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                              text=True, timeout=60, env=env, check=False)
        assert proc.returncode == 2
        assert f"{p}: payment.hold_amount" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_check_config_prints_the_checked_config() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "check-config", "--demo",
                           str(DEFAULT_CONFIG_PATH)], capture_output=True, text=True, timeout=60,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert '"hold_amount": "50.00"' in proc.stdout


def _pcsc_config(folder: Path, extra: str = "") -> Path:
    p = folder / "k.toml"
    p.write_text(f"schema_version = 1\n[reader]\nkind = 'pcsc'\n{extra}")
    return p


def test_the_ca_key_file_is_found_next_to_the_config() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH, demo=True)
    assert cfg.ca_keys_path() == ROOT / "kiosk" / "resources" / "ca_keys.json"
    assert cfg.ca_keys_path().is_file()  # type: ignore[union-attr]


def test_a_pcsc_reader_loads_a_good_ca_key_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "kiosk" / "resources" / "ca_keys.json", tmp_path / "ca_keys.json")
    assert load_config(_pcsc_config(tmp_path), demo=True).ca_keys_path() == \
        tmp_path / "ca_keys.json"
    (tmp_path / "keys").mkdir()
    shutil.move(tmp_path / "ca_keys.json", tmp_path / "keys" / "capk.json")
    cfg = load_config(_pcsc_config(tmp_path, "ca_keys = 'keys/capk.json'\n"), demo=True)
    assert cfg.ca_keys_path() == tmp_path / "keys" / "capk.json"


def test_a_ca_key_whose_check_value_does_not_match_stops_the_kiosk(tmp_path: Path) -> None:
    data = json.loads((ROOT / "kiosk" / "resources" / "ca_keys.json").read_text())
    data["keys"][1]["sha1_checksum"] = "00" * 20
    (tmp_path / "ca_keys.json").write_text(json.dumps(data))
    p = _pcsc_config(tmp_path)
    with pytest.raises(ConfigError, match=r"reader\.ca_keys: .*A000000004/E1: check value does "
                                          r"not match") as err:
        load_config(p, demo=True)
    assert str(err.value).startswith(f"{p}: ") and "\n" not in str(err.value)
    data["keys"][1]["rid"] = "A0000000\n04"  # fromhex skips the line break, the message not
    (tmp_path / "ca_keys.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"reader\.ca_keys: .*check value") as err:
        load_config(p, demo=True)
    assert "\n" not in str(err.value)


def test_a_missing_ca_key_file_matters_only_to_a_pcsc_reader(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"k\.toml: reader\.ca_keys: .*ca_keys\.json: no such"):
        load_config(_pcsc_config(tmp_path), demo=True)
    with pytest.raises(ConfigError, match=r"reader\.ca_keys: a CA key file is needed"):
        load_config(_pcsc_config(tmp_path, "ca_keys = ''\n"), demo=True)
    p = tmp_path / "sim.toml"
    p.write_text("schema_version = 1\n[reader]\nkind = 'sim'\nca_keys = 'nope.json'\n")
    assert load_config(p, demo=True).reader.kind == "sim"


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)
_hexish = st.one_of(_json, st.sampled_from(["A000000003", "E1", "03", "010001", "", "zz"]),
                    st.binary(max_size=8).map(bytes.hex))
_entry = st.dictionaries(st.sampled_from(["rid", "index", "modulus", "exponent",
                                          "sha1_checksum", "expiry", "serial"]), _hexish)
_file = st.one_of(_json, st.fixed_dictionaries(
    {"keys": st.one_of(_json, st.lists(_entry, max_size=3))},
    optional={"revoked": st.one_of(_json, st.lists(_entry, max_size=3))}))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(_file.map(lambda d: json.dumps(d).encode()), st.binary(max_size=64)))
def test_any_ca_key_file_loads_or_fails_with_a_ca_key_error(tmp_path: Path,
                                                            content: bytes) -> None:
    from drivers.emv.capk import CaKeyError, CaKeyStore

    path = tmp_path / "ca_keys.json"
    path.write_bytes(content)
    with contextlib.suppress(CaKeyError):
        CaKeyStore.load(path)


# --- production is the default ----------------------------------------------------------------

def test_a_production_file_loads(tmp_path: Path) -> None:
    cfg = load_config(production_config(tmp_path))
    assert not cfg.demo
    assert (cfg.reader.kind, cfg.charger.kind, cfg.host.kind) == ("pcsc", "serial", "iso8583")
    assert cfg.host.tls and cfg.host_uses_tls() and not cfg.plaintext_lab_host()
    assert cfg.host.ca_file == str(tmp_path / "acquirer-ca.pem")  # relative to the file
    assert cfg.host.pin_key_file == str(tmp_path / "pin.key")
    assert cfg.host.server_name == "acquirer.example"


def test_the_demo_file_runs_only_with_the_demo_switch() -> None:
    with pytest.raises(ConfigError, match=r"kiosk\.toml: reader\.kind = 'sim' runs a simulator: "
                                          r"only with kiosk run --demo"):
        load_config(DEFAULT_CONFIG_PATH)


@pytest.mark.parametrize("section", ["reader", "charger", "host"])
def test_without_demo_every_device_section_is_needed(tmp_path: Path, section: str) -> None:
    p = production_config(tmp_path, drop=(section,))
    with pytest.raises(ConfigError, match=rf"k?\.toml: {section}: missing") as err:
        load_config(p)
    assert "kiosk run --demo" in str(err.value) or section == "host"
    if section == "host":  # never a built-in host that approves everything
        assert "no built-in payment host" in str(err.value)
    cfg = load_config(p, demo=True)  # in demo a missing section is its simulator
    assert getattr(cfg, section).kind == "sim"


@pytest.mark.parametrize("section", ["reader", "charger", "host"])
def test_without_demo_every_kind_is_explicit(tmp_path: Path, section: str) -> None:
    p = production_config(tmp_path, edits={section: ["-kind"]})
    with pytest.raises(ConfigError, match=rf"{section}\.kind: missing: without --demo"):
        load_config(p)


@pytest.mark.parametrize("section", ["reader", "charger", "host"])
def test_without_demo_no_simulator_runs(tmp_path: Path, section: str) -> None:
    p = production_config(tmp_path, edits={section: ['kind = "sim"']})
    with pytest.raises(ConfigError, match=rf"{section}\.kind = 'sim' runs a simulator: only with "
                                          rf"kiosk run --demo") as err:
        load_config(p)
    assert str(err.value).startswith(f"{p}: ")
    assert getattr(load_config(p, demo=True), section).kind == "sim"


def test_demo_is_a_switch_never_a_key(tmp_path: Path) -> None:
    for demo in (False, True):
        with pytest.raises(ConfigError, match=r"demo: set by `kiosk run --demo`"):
            parse_config(production_toml().replace("schema_version = 1",
                                                   "schema_version = 1\ndemo = false"),
                         "k.toml", tmp_path, demo=demo)
        with pytest.raises(ConfigError, match=r"ui\.demo_mode: no longer a key"):
            parse_config(production_toml() + "\n[ui]\ndemo_mode = false\n", demo=demo)
    assert "demo_mode" not in type(parse_config("schema_version = 1\n", demo=True).ui).model_fields
    assert parse_config("schema_version = 1\n", demo=True).demo


def test_tls_is_the_default_and_plaintext_needs_the_lab_switch(tmp_path: Path) -> None:
    p = production_config(tmp_path, host=["tls = false"])
    for demo in (False, True):
        with pytest.raises(ConfigError, match=r"host\.tls = false sends card data and PIN blocks "
                                              r"in clear: .*host\.allow_plaintext_lab = true"):
            load_config(p, demo=demo)
    p = production_config(tmp_path, host=["tls = false", "allow_plaintext_lab = true", "-ca_file"])
    cfg = load_config(p)
    assert not cfg.host_uses_tls() and cfg.plaintext_lab_host()


def test_the_host_ca_file_is_needed_and_must_be_a_readable_certificate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"host\.ca_file is needed"):
        load_config(production_config(tmp_path, host=["-ca_file"]))
    with pytest.raises(ConfigError, match=r"host\.ca_file: .*nope\.pem: no such file"):
        load_config(production_config(tmp_path, host=['ca_file = "nope.pem"']))
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n")
    with pytest.raises(ConfigError, match=r"host\.ca_file: .*junk\.pem: not a PEM CA cert"):
        load_config(production_config(tmp_path, host=['ca_file = "junk.pem"']))
    (tmp_path / "folder.pem").mkdir()
    with pytest.raises(ConfigError, match=r"host\.ca_file: .*folder\.pem: cannot read"):
        load_config(production_config(tmp_path, host=['ca_file = "folder.pem"']))


def test_the_test_ca_is_refused_outside_demo(tmp_path: Path) -> None:
    shutil.copy(ROOT / "kiosk" / "resources" / "ca_keys.json", tmp_path / "test_ca.json")
    p = production_config(tmp_path, reader=['ca_keys = "test_ca.json"'])
    with pytest.raises(ConfigError, match=r"reader\.ca_keys: .*test_ca\.json: a TEST key: "
                                          r"A000000003/E1 is the project's TEST CA") as err:
        load_config(p)
    assert str(err.value).startswith(f"{p}: ") and "\n" not in str(err.value)
    assert load_config(p, demo=True).reader.kind == "pcsc"
    # the test CA hidden among live keys is found too
    live = json.loads((tmp_path / "live_ca.json").read_text())
    test = json.loads((tmp_path / "test_ca.json").read_text())
    (tmp_path / "mixed.json").write_text(json.dumps({"keys": live["keys"] + test["keys"][1:]}))
    with pytest.raises(ConfigError, match=r"A000000004/E1 is the project's TEST CA"):
        load_config(production_config(tmp_path, reader=['ca_keys = "mixed.json"']))


def test_the_test_ca_is_known_by_its_fingerprint_too() -> None:
    """A package shipped without kiosk/resources/test_keys still knows the test CA."""
    from drivers.sim.pki import load_test_pki
    from kiosk.security.keys import TEST_CA_FINGERPRINTS, _fingerprint

    assert _fingerprint(load_test_pki().ca.modulus) in TEST_CA_FINGERPRINTS
