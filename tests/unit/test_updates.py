"""Signed config and tariff updates: only the operator's signed, fresh, newer bundle for this
terminal with valid content is taken; every refusal leaves the running files byte for byte as
they were; the replaced file is kept for a rollback that can be undone."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.config import RESOURCES, KioskConfig, load_config
from kiosk.files import write_private_file
from kiosk.maintenance import updates as updates_module
from kiosk.maintenance.updates import (
    BUNDLE_MAX_BYTES,
    CONTENT_MAX_BYTES,
    STATE_FILE,
    Update,
    UpdateRefused,
    Updates,
    check_content,
    find_bundles,
    make_update,
    read_update,
    signed_message,
)
from tests.support.production import production_toml

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STATION = "KIOSK-0042"
TARIFF = (RESOURCES / "tariffs" / "demo.json").read_bytes()


def _key_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _tariff(**changes: Any) -> bytes:
    data = json.loads(TARIFF)
    data.update(changes)
    return json.dumps(data).encode()


def _demo_toml(key_hex: str, *, station: str = STATION, extra: str = "") -> str:
    return (f'schema_version = 1\n\n[station]\nid = "{station}"\n\n[tariff]\n'
            f'file = "tariff.json"\n\n[maintenance]\noperator_key = "{key_hex}"\n{extra}')


def _production_text(key_hex: str, *, station: str = STATION, extra: str = "",
                     drop: tuple[str, ...] = (), **changes: list[str]) -> str:
    return production_toml(drop=drop, edits=changes) + (
        f'\n[station]\nid = "{station}"\n\n[tariff]\nfile = "tariff.json"\n\n'
        f'[maintenance]\noperator_key = "{key_hex}"\n{extra}')


@dataclass
class Site:
    folder: Path
    data: Path
    config: Path
    tariff: Path
    key: Ed25519PrivateKey
    cfg: KioskConfig
    updates: Updates
    toml: Callable[..., str]  # the config text of this site's mode

    def bundle(self, kind: str = "tariff", sequence: int = 1, content: bytes | None = None, *,
               key: Ed25519PrivateKey | None = None, terminal: str = STATION,
               issued_at: datetime = NOW - timedelta(hours=1),
               expires_at: datetime = NOW + timedelta(days=7)) -> bytes:
        if content is None:
            content = _tariff(id="new-tariff") if kind == "tariff" else \
                self.toml(_key_hex(self.key), extra="\n[ui]\nsound = false\n").encode()
        return make_update(key or self.key, kind, terminal, sequence, content,
                           issued_at=issued_at, expires_at=expires_at)

    def fields(self, **kw: Any) -> dict[str, Any]:
        fields: dict[str, Any] = json.loads(self.bundle(**kw))
        return fields

    def sign(self, fields: dict[str, Any], key: Ed25519PrivateKey | None = None) -> bytes:
        """Fields as given, signed (whatever they hold)."""
        out = {k: v for k, v in fields.items() if k != "sig"}
        out["sig"] = _b64((key or self.key).sign(signed_message(out)))
        return json.dumps(out).encode()

    def snapshot(self) -> dict[str, bytes]:
        """Every file of the site (the config's folder and the data folder), by name."""
        out: dict[str, bytes] = {}
        for folder in (self.folder, self.data):
            for p in sorted(folder.iterdir()):
                if p.is_file() and p.name != "updates.lock":
                    out[str(p)] = p.read_bytes()
        return out


def _site(folder: Path, *, production: bool, key_hex: str | None = None,
          clock: Callable[[], datetime] = lambda: NOW) -> Site:
    key = Ed25519PrivateKey.generate()
    key_hex = _key_hex(key) if key_hex is None else key_hex
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = folder / "data"
    data.mkdir(mode=0o700)
    if production:
        from tests.support.production import production_files

        production_files(folder)
        toml: Callable[..., str] = _production_text
    else:
        toml = _demo_toml
    config = folder / "kiosk.toml"
    config.write_text(toml(key_hex))
    tariff = folder / "tariff.json"
    tariff.write_bytes(TARIFF)
    cfg = load_config(config, demo=not production)
    return Site(folder, data, config, tariff, key, cfg,
                Updates(data, config, cfg, clock=clock), toml)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return _site(tmp_path / "site", production=False)


@pytest.fixture
def prod(tmp_path: Path) -> Site:
    return _site(tmp_path / "prod", production=True)


# --- taken --------------------------------------------------------------------------------------

def test_a_good_config_update_is_applied_with_the_old_file_kept(prod: Site) -> None:
    assert not prod.cfg.demo
    os.chmod(prod.config, 0o640)
    old = prod.config.read_bytes()
    new = prod.toml(_key_hex(prod.key), extra="\n[payment]\nhold_amount = \"60.00\"\n"
                    "max_total_hold = \"160.00\"\n").encode()
    bundle = prod.folder / "new.evkupdate"
    bundle.write_bytes(prod.bundle("config", 4, new))
    update = prod.updates.apply_file(bundle)
    assert (update.kind, update.terminal, update.sequence) == ("config", STATION, 4)
    assert update.content == new and update.sha256 == hashlib.sha256(new).hexdigest()
    assert prod.config.read_bytes() == new
    assert stat.S_IMODE(os.stat(prod.config).st_mode) == 0o640  # the target keeps its mode
    previous = prod.folder / "kiosk.toml.previous"
    assert previous.read_bytes() == old
    assert stat.S_IMODE(os.stat(previous).st_mode) == 0o600
    assert prod.updates.state() == {"config": 4, "tariff": 0, "members": 0}
    state = prod.data / STATE_FILE
    assert json.loads(state.read_text()) == {"config": 4, "tariff": 0, "members": 0}
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    # the kiosk starts on it
    assert load_config(prod.config).payment.hold_amount == 60
    assert not [p for p in prod.folder.iterdir() if p.name.endswith(".tmp")]


def test_a_good_tariff_update_is_applied(site: Site) -> None:
    new = _tariff(id="summer-2026")
    update = site.updates.apply_bytes(site.bundle("tariff", 1, new), "usb/summer.evkupdate")
    assert update.kind == "tariff"
    assert site.tariff.read_bytes() == new
    assert (site.folder / "tariff.json.previous").read_bytes() == TARIFF
    assert site.updates.state() == {"config": 0, "tariff": 1, "members": 0}
    # and a newer one after it
    site.updates.apply_bytes(site.bundle("tariff", 2, _tariff(id="autumn-2026")), "b")
    assert site.updates.state() == {"config": 0, "tariff": 2, "members": 0}
    assert (site.folder / "tariff.json.previous").read_bytes() == new


def test_the_sequences_of_the_kinds_are_separate(site: Site) -> None:
    site.updates.apply_bytes(site.bundle("tariff", 5), "t")
    site.updates.apply_bytes(site.bundle("config", 1), "c")
    assert site.updates.state() == {"config": 1, "tariff": 5, "members": 0}


def test_an_update_issued_a_little_ahead_of_the_kiosk_clock_is_taken(site: Site) -> None:
    site.updates.apply_bytes(site.bundle(issued_at=NOW + timedelta(minutes=4)), "b")


def test_the_target_is_the_real_file_behind_a_symlink(tmp_path: Path) -> None:
    s = _site(tmp_path / "s", production=False)
    real = s.folder / "real.toml"
    os.replace(s.config, real)
    s.config.symlink_to(real.name)
    s.updates.apply_bytes(s.bundle("config", 1), "b")
    assert s.config.is_symlink() and b"sound = false" in real.read_bytes()
    assert (s.folder / "real.toml.previous").exists()


def test_read_update_gives_the_fields(site: Site) -> None:
    u = read_update(site.bundle("tariff", 7), _key_hex(site.key), terminal=STATION, now=NOW)
    assert isinstance(u, Update) and u.sequence == 7
    assert u.issued_at == NOW - timedelta(hours=1) and u.expires_at == NOW + timedelta(days=7)
    assert "content" not in repr(u)


# --- refused, and nothing changed ---------------------------------------------------------------

def _altered_content(s: Site) -> bytes:
    f = s.fields()
    other = _tariff(id="cheaper")
    f["content"], f["sha256"] = _b64(other), hashlib.sha256(other).hexdigest()
    return json.dumps(f).encode()


def _without(name: str) -> Callable[[Site], bytes]:
    def make(s: Site) -> bytes:
        f = s.fields()
        del f[name]
        return s.sign(f) if name != "sig" else json.dumps(f).encode()
    return make


def _signed_with(**changes: Any) -> Callable[[Site], bytes]:
    def make(s: Site) -> bytes:
        return s.sign({**s.fields(), **changes})
    return make


def _non_canonical_sig(s: Site) -> bytes:
    f = s.fields()
    sig = f["sig"]  # 64 bytes: 86 characters and "==", the last one with 4 unused bits
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(sig[85])
    f["sig"] = sig[:85] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[
        last ^ 1] + "=="
    assert base64.b64decode(f["sig"]) == base64.b64decode(sig)
    return json.dumps(f).encode()


REFUSALS: dict[str, tuple[Callable[[Site], bytes], str]] = {
    "unsigned": (_without("sig"), r"unsigned: no sig field"),
    "another key": (lambda s: s.bundle(key=Ed25519PrivateKey.generate()), r"wrongly signed"),
    "content altered after signing": (_altered_content, r"wrongly signed"),
    "sequence altered after signing": (
        lambda s: json.dumps({**s.fields(), "sequence": 99}).encode(), r"wrongly signed"),
    "sha256 mismatch": (_signed_with(sha256="0" * 64), r"the sha256 does not match"),
    "sha256 upper case": (lambda s: s.sign({**s.fields(), "sha256": s.fields()["sha256"].upper()}),
                          r"sha256: not 64 lowercase hex"),
    "expired": (lambda s: s.bundle(issued_at=NOW - timedelta(days=10),
                                   expires_at=NOW - timedelta(seconds=1)), r"expired at"),
    "expires now": (lambda s: s.bundle(expires_at=NOW), r"expired at"),
    "issued in the future": (lambda s: s.bundle(issued_at=NOW + timedelta(minutes=6)),
                             r"issued in the future"),
    "expires before issued": (_signed_with(expires_at=(NOW - timedelta(hours=2)).isoformat()),
                              r"expires .* before it is issued"),
    "valid too long": (_signed_with(expires_at=(NOW + timedelta(days=91)).isoformat()),
                       r"valid for more than 90 days"),
    "time without offset": (_signed_with(expires_at="2026-06-02T12:00:00"), r"has no offset"),
    "time not ISO": (_signed_with(issued_at="yesterday"), r"issued_at: not an ISO 8601"),
    "another terminal": (lambda s: s.bundle(terminal="KIOSK-0043"), r"not for this terminal"),
    "every terminal": (_signed_with(terminal="*"), r"'\*' \(every terminal\) is not allowed"),
    "bad TOML": (lambda s: s.bundle("config", content=b"schema_version = = 1\n"),
                 r"invalid content: not valid TOML"),
    "config not UTF-8": (lambda s: s.bundle("config", content=b"\xff\xfe"), r"not UTF-8"),
    "config fails validation": (
        lambda s: s.bundle("config", content=s.toml(_key_hex(s.key), extra=(
            "\n[payment]\nhold_amount = 50.0\n")).encode()),
        r"invalid content: payment\.hold_amount: write amounts as strings"),
    "config changes station.id": (
        lambda s: s.bundle("config", content=s.toml(_key_hex(s.key), station="OTHER-1"
                                                    ).encode()),
        r"invalid content: station\.id: 'OTHER-1': an update must not change"),
    "config over 256 KiB": (
        lambda s: s.bundle("config", content=s.toml(_key_hex(s.key)).encode()
                           + b"#" * (256 * 1024)), r"a config file is at most 256 KiB"),
    "tariff fails": (lambda s: s.bundle(content=_tariff(currency="XXX")),
                     r"invalid content: \$\.currency"),
    "tariff not JSON": (lambda s: s.bundle(content=b"{"), r"invalid content: "),
    "tariff empty list": (lambda s: s.bundle(content=b"[]"), r"an empty list of tariffs"),
    "tariff in another currency": (lambda s: s.bundle(content=_tariff(currency="USD")),
                                   r"is in USD, the station sells in EUR"),
    "garbage": (lambda s: bytes(range(256)) * 4, r"refused: not UTF-8 text"),
    "text, not JSON": (lambda s: b"\x00garbage}{", r"refused: not JSON"),
    "not JSON": (lambda s: b"format = 'evkiosk-update/1'", r"refused: not JSON"),
    "empty": (lambda s: b"", r"refused: not JSON"),
    "a JSON list": (lambda s: b"[1, 2]", r"the JSON is not an object"),
    "another format": (_signed_with(format="evkiosk-update/2"), r"format is 'evkiosk-update/2'"),
    "extra field": (_signed_with(comment="hi"), r"unknown field: comment"),
    "missing field": (_without("expires_at"), r"missing field: expires_at"),
    "duplicate field": (lambda s: s.bundle()[:-1] + b',"kind":"config"}',
                        r"the field 'kind' is given twice"),
    "bool as sequence": (_signed_with(sequence=True), r"sequence: True is not an integer"),
    "float as sequence": (lambda s: s.bundle().replace(b'"sequence":1', b'"sequence":1.0'),
                          r"a fraction"),
    "string as sequence": (_signed_with(sequence="1"), r"sequence: '1' is not an integer"),
    "sequence 0": (_signed_with(sequence=0), r"sequence: 0 is not from 1"),
    "huge sequence": (_signed_with(sequence=2 ** 63), r"sequence: \d+ is not from 1"),
    "NaN": (lambda s: s.bundle().replace(b'"sequence":1', b'"sequence":NaN'), r"NaN"),
    "unknown kind": (_signed_with(kind="firmware"), r"kind: 'firmware'"),
    "content not base64": (_signed_with(content="not base64!"), r"content: not base64"),
    "signature too short": (lambda s: json.dumps({**s.fields(), "sig": _b64(b"x" * 32)}
                                                 ).encode(), r"an Ed25519 signature is 64"),
    "signature respelled": (_non_canonical_sig, r"sig: not canonical base64"),
    "deeply nested": (lambda s: b"[" * 100_000 + b"]" * 100_000, r"refused: "),
    "bundle over 6 MiB": (lambda s: s.bundle() + b" " * BUNDLE_MAX_BYTES,
                          r"too large: \d+ bytes, at most 6 MiB"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_update_changes_no_file(site: Site, case: str) -> None:
    make, message = REFUSALS[case]
    data = make(site)
    before = site.snapshot()
    with pytest.raises(UpdateRefused, match=message) as err:
        site.updates.apply_bytes(data, "usb/x.evkupdate")
    assert str(err.value).startswith("usb/x.evkupdate: ")
    assert "\n" not in str(err.value)
    assert site.snapshot() == before
    assert not (site.data / STATE_FILE).exists()
    assert not [p for p in site.folder.iterdir() if p.name.endswith(".previous")]


def test_a_production_invalid_config_is_refused(prod: Site) -> None:
    before = prod.snapshot()
    for text, message in (
            (prod.toml(_key_hex(prod.key), reader=['kind = "sim"']),
             r"invalid content: reader\.kind = 'sim' runs a simulator: only with kiosk run "
             r"--demo"),
            (prod.toml(_key_hex(prod.key), drop=("host",)), r"invalid content: host: missing"),
            (_demo_toml(_key_hex(prod.key)), r"invalid content: reader: missing")):
        with pytest.raises(UpdateRefused, match=message):
            prod.updates.apply_bytes(prod.bundle("config", 1, text.encode()), "b")
    assert prod.snapshot() == before


def test_the_same_config_is_taken_in_demo_only_when_the_kiosk_runs_in_demo(site: Site) -> None:
    u = read_update(site.bundle("config", 1, _demo_toml(_key_hex(site.key)).encode()),
                    _key_hex(site.key), terminal=STATION, now=NOW)
    check_content(u, config_path=site.config, demo=True)
    with pytest.raises(UpdateRefused, match=r"invalid content: reader: missing"):
        check_content(u, config_path=site.config, demo=False)


def test_an_old_or_equal_sequence_is_a_replay(site: Site) -> None:
    site.updates.apply_bytes(site.bundle("tariff", 3, _tariff(id="three")), "b3")
    before = site.snapshot()
    for seq in (3, 2, 1):
        with pytest.raises(UpdateRefused, match=rf"replayed or older: sequence {seq} is not "
                                                r"newer than the last accepted tariff update "
                                                r"\(3\)"):
            site.updates.apply_bytes(site.bundle("tariff", seq, _tariff(id=f"old{seq}")), "b")
    assert site.snapshot() == before
    # the very same bundle again, too
    with pytest.raises(UpdateRefused, match="replayed"):
        site.updates.apply_bytes(site.bundle("tariff", 3, _tariff(id="three")), "b3")


def test_without_an_operator_key_no_update_is_taken(tmp_path: Path) -> None:
    s = _site(tmp_path / "s", production=False, key_hex="")
    assert s.cfg.maintenance.operator_key == ""
    before = s.snapshot()
    with pytest.raises(UpdateRefused, match=r"no operator key is configured"):
        s.updates.apply_bytes(s.bundle(), "b")
    assert s.snapshot() == before


def test_a_bundle_file_over_2_mib_is_refused(site: Site) -> None:
    big = site.folder / "big.evkupdate"
    big.write_bytes(site.bundle() + b" " * BUNDLE_MAX_BYTES)
    before = site.snapshot()
    with pytest.raises(UpdateRefused, match=r"big\.evkupdate: refused: too large"):
        site.updates.apply_file(big)
    assert site.snapshot() == before


@pytest.mark.timeout(10)
def test_a_fifo_bundle_is_refused_without_hanging(site: Site, tmp_path: Path) -> None:
    fifo = tmp_path / "x.evkupdate"
    os.mkfifo(fifo)
    before = site.snapshot()
    with pytest.raises(UpdateRefused, match=r"named pipe \(FIFO\)"):
        site.updates.apply_file(fifo)
    with pytest.raises(UpdateRefused, match=r"no such file"):
        site.updates.apply_file(tmp_path / "missing.evkupdate")
    with pytest.raises(UpdateRefused, match=r"a directory"):
        site.updates.apply_file(tmp_path)
    assert site.snapshot() == before


def test_a_tariff_update_needs_a_tariff_file(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "data").mkdir()
    config = folder / "kiosk.toml"
    config.write_text(f'schema_version = 1\n[station]\nid = "{STATION}"\n[maintenance]\n'
                      f'operator_key = "{_key_hex(key)}"\n')
    cfg = load_config(config, demo=True)
    ups = Updates(folder / "data", config, cfg, clock=lambda: NOW)
    bundle = make_update(key, "tariff", STATION, 1, TARIFF, issued_at=NOW,
                         expires_at=NOW + timedelta(days=1))
    with pytest.raises(UpdateRefused, match=r"b: refused: tariff: no tariff file is configured"):
        ups.apply_bytes(bundle, "b")
    assert ups.state() == {"config": 0, "tariff": 0, "members": 0}
    with pytest.raises(UpdateRefused, match=r"no tariff file"):
        ups.target("tariff")
    assert ups.target("config") == config.resolve()


def test_a_missing_current_file_is_refused(site: Site) -> None:
    site.tariff.unlink()
    before = site.snapshot()
    with pytest.raises(UpdateRefused, match=r"the current file .*tariff\.json: no such file"):
        site.updates.apply_bytes(site.bundle(), "b")
    assert site.snapshot() == before


def test_a_broken_state_file_stops_all_updates(site: Site) -> None:
    state = site.data / STATE_FILE
    for text in ('{"config": true}', '{"tariff": -1}', "[]", '{"firmware": 1}', "\xff"):
        state.write_text(text)
        before = site.snapshot()
        with pytest.raises(UpdateRefused, match=r"updates-state\.json: not a state file"):
            site.updates.apply_bytes(site.bundle(sequence=10), "b")
        assert site.snapshot() == before


def test_make_update_refuses_what_no_kiosk_would_take(site: Site) -> None:
    for kw, message in (({"kind": "firmware"}, "kind"), ({"terminal": "*"}, "terminal"),
                        ({"sequence": 0}, "sequence"), ({"sequence": True}, "sequence"),
                        ({"expires_at": NOW - timedelta(days=1)}, "expires_at"),
                        ({"issued_at": datetime(2026, 1, 1)}, "time zone"),
                        ({"content": b"x" * (CONTENT_MAX_BYTES + 1)}, "content")):
        with pytest.raises(ValueError, match=message):
            site.bundle(**kw)


def test_a_naive_now_is_a_programming_error(site: Site) -> None:
    with pytest.raises(ValueError, match="aware"):
        read_update(site.bundle(), _key_hex(site.key), terminal=STATION,
                    now=datetime(2026, 6, 1))


# --- crashes and failed writes ------------------------------------------------------------------

def test_a_failed_state_write_applies_nothing_and_the_bundle_can_be_applied_again(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    real = write_private_file

    def failing(path: Path, data: bytes) -> None:
        if path.name == STATE_FILE:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(updates_module, "write_private_file", failing)
    bundle = site.bundle(sequence=5)
    with pytest.raises(UpdateRefused, match=r"not applied: cannot record the sequence"):
        site.updates.apply_bytes(bundle, "b")
    assert site.tariff.read_bytes() == TARIFF and site.updates.state()["tariff"] == 0
    monkeypatch.setattr(updates_module, "write_private_file", real)
    site.updates.apply_bytes(bundle, "b")
    assert site.updates.state()["tariff"] == 5


def test_the_sequence_is_recorded_before_the_file_so_a_crash_accepts_no_replay(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    real = write_private_file

    def crash(path: Path, data: bytes) -> None:
        if path == Path(os.path.realpath(site.tariff)):  # not the checked temporary copy
            raise OSError(5, "Input/output error")  # as if the power went here
        real(path, data)

    monkeypatch.setattr(updates_module, "write_private_file", crash)
    with pytest.raises(UpdateRefused, match=r"sequence 7 is used up"):
        site.updates.apply_bytes(site.bundle(sequence=7), "b")
    monkeypatch.setattr(updates_module, "write_private_file", real)
    assert site.tariff.read_bytes() == TARIFF  # the running file is whole, as it was
    assert site.updates.state()["tariff"] == 7
    with pytest.raises(UpdateRefused, match="replayed"):  # an older signed bundle stays out
        site.updates.apply_bytes(site.bundle(sequence=6), "b")


# --- rollback -----------------------------------------------------------------------------------

def test_rollback_restores_the_previous_bytes_and_a_second_undoes_it(site: Site) -> None:
    os.chmod(site.tariff, 0o644)
    new = _tariff(id="new")
    site.updates.apply_bytes(site.bundle(sequence=2, content=new), "b")
    site.updates.rollback("tariff")
    assert site.tariff.read_bytes() == TARIFF
    assert (site.folder / "tariff.json.previous").read_bytes() == new
    assert stat.S_IMODE(os.stat(site.tariff).st_mode) == 0o644
    assert site.updates.state()["tariff"] == 2  # never lowered
    site.updates.rollback("tariff")
    assert site.tariff.read_bytes() == new
    assert (site.folder / "tariff.json.previous").read_bytes() == TARIFF
    with pytest.raises(UpdateRefused, match="replayed"):  # a later bundle must still be newer
        site.updates.apply_bytes(site.bundle(sequence=2, content=new), "b")
    site.updates.apply_bytes(site.bundle(sequence=3), "b")


def test_rollback_of_the_config(prod: Site) -> None:
    old = prod.config.read_bytes()
    prod.updates.apply_bytes(prod.bundle("config", 1), "b")
    prod.updates.rollback("config")
    assert prod.config.read_bytes() == old
    assert load_config(prod.config).station.id == STATION


def test_rollback_without_a_previous_is_refused(site: Site) -> None:
    before = site.snapshot()
    for kind in ("tariff", "config"):
        with pytest.raises(UpdateRefused, match=r"there is no previous version"):
            site.updates.rollback(kind)
    with pytest.raises(UpdateRefused, match=r"unknown kind"):
        site.updates.rollback("firmware")
    assert site.snapshot() == before


def test_rollback_to_a_previous_that_no_longer_passes_is_refused(site: Site) -> None:
    site.updates.apply_bytes(site.bundle(), "b")
    (site.folder / "tariff.json.previous").write_bytes(b"{}")
    before = site.snapshot()
    with pytest.raises(UpdateRefused, match=r"tariff\.json\.previous: invalid content"):
        site.updates.rollback("tariff")
    assert site.snapshot() == before


# --- hostile bytes ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, bytes]:
    s = _site(tmp_path_factory.mktemp("mutations") / "s", production=False)
    return s, s.bundle("tariff", 1)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_bundle_is_always_refused(shared_site: tuple[Site, bytes],
                                            data: st.DataObject) -> None:
    s, bundle = shared_site
    if data.draw(st.booleans(), label="flip"):
        i = data.draw(st.integers(0, len(bundle) - 1), label="at")
        x = data.draw(st.integers(1, 255), label="xor")
        mutated = bundle[:i] + bytes([bundle[i] ^ x]) + bundle[i + 1:]
    else:
        mutated = bundle[:data.draw(st.integers(0, len(bundle) - 1), label="length")]
    before = s.snapshot()
    with pytest.raises(UpdateRefused):
        s.updates.apply_bytes(mutated, "m")
    assert s.snapshot() == before


def test_the_unmutated_bundle_of_the_mutation_test_is_good(tmp_path: Path) -> None:
    s = _site(tmp_path / "s", production=False)
    read_update(s.bundle("tariff", 1), _key_hex(s.key), terminal=STATION, now=NOW)


# --- the USB folder -----------------------------------------------------------------------------

def test_find_bundles_lists_regular_files_only(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    for name in ("b.evkupdate", "a.evkupdate", "c.evkupdate", "notes.txt", "._a.evkupdate",
                 "a.evkupdate.bak"):
        (usb / name).write_bytes(b"{}")
    (usb / "x.evkupdate").mkdir()
    (usb / "link.evkupdate").symlink_to(usb / "a.evkupdate")
    (usb / "dangling.evkupdate").symlink_to(tmp_path / "nowhere")
    os.mkfifo(usb / "pipe.evkupdate")
    assert find_bundles(usb) == [usb / "a.evkupdate", usb / "b.evkupdate", usb / "c.evkupdate"]
    assert find_bundles(usb, limit=2) == [usb / "a.evkupdate", usb / "b.evkupdate"]
    assert find_bundles(tmp_path / "not-mounted") == []
    with pytest.raises(UpdateRefused, match="cannot list"):
        find_bundles(usb / "a.evkupdate")
