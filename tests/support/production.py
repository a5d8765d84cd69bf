"""A production terminal's files for tests: a config that names real devices, a CA key file
with a (random, non-test) CA key, the acquirer's and the back office's CA certificates, and an
injected DUKPT key.
None of it is a published test key, so production mode accepts it."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

from drivers.emv.capk import check_value

SECTIONS: dict[str, list[str]] = {
    "reader": ['kind = "pcsc"', 'ca_keys = "live_ca.json"'],
    "charger": ['kind = "serial"', 'port = "/dev/ttyUSB0"'],
    "host": ['kind = "iso8583"', 'address = "10.0.0.5"', "port = 8583",
             'ca_file = "acquirer-ca.pem"', 'server_name = "acquirer.example"',
             'pin_key_file = "pin.key"'],
    "backoffice": ['url = "https://backoffice.example:8443"', 'ca_file = "backoffice-ca.pem"'],
}


def live_ca_keys(path: Path) -> Path:
    """A CA key file with one random 1152-bit key under A000000003/92 (valid check value)."""
    modulus = (secrets.randbits(1152) | (1 << 1151) | 1).to_bytes(144, "big")
    rid, index, exponent = bytes.fromhex("A000000003"), 0x92, b"\x03"
    path.write_text(json.dumps({"keys": [{
        "rid": rid.hex().upper(), "index": f"{index:02X}", "modulus": modulus.hex().upper(),
        "exponent": exponent.hex(), "sha1_checksum": check_value(rid, index, modulus,
                                                                 exponent).hex().upper(),
        "expiry": "2099-12-31"}]}))
    return path


def host_ca_pem(path: Path) -> Path:
    """A self-signed CA certificate (PEM), as the acquirer would hand out."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test acquirer CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def pin_key(path: Path, *, scheme: str = "aes", initial_key: bytes | None = None,
            key_id: bytes | None = None, counter: object = None, mode: int = 0o600) -> Path:
    """An injected DUKPT key file (random key unless given)."""
    data: dict[str, object] = {
        "scheme": scheme,
        "initial_key": (initial_key or secrets.token_bytes(16)).hex().upper(),
        "key_id": (key_id or secrets.token_bytes(8 if scheme == "aes" else 10)).hex().upper(),
    }
    if counter is not None:
        data["counter"] = counter
    path.write_text(json.dumps(data))
    os.chmod(path, mode)
    return path


def production_files(folder: Path) -> None:
    live_ca_keys(folder / "live_ca.json")
    host_ca_pem(folder / "acquirer-ca.pem")
    host_ca_pem(folder / "backoffice-ca.pem")  # the back office's CA, for the uploads
    pin_key(folder / "pin.key")


def production_toml(*, drop: tuple[str, ...] = (),
                    edits: dict[str, list[str]] | None = None, **changes: list[str]) -> str:
    """The config text: ``drop`` leaves sections out, ``host=[...]`` etc. (or ``edits``) add
    keys (a key given again replaces the default line) or, with a leading "-KEY", remove keys."""
    changes = {**changes, **(edits or {})}
    out = ["schema_version = 1", ""]
    for section, lines in SECTIONS.items():
        if section in drop:
            continue
        extra = changes.get(section, [])
        removed = {x[1:] for x in extra if x.startswith("-")}
        added = [x for x in extra if not x.startswith("-")]
        keys = {x.split("=")[0].strip() for x in added}
        kept = [x for x in lines if x.split("=")[0].strip() not in removed | keys]
        out += [f"[{section}]", *kept, *added, ""]
    return "\n".join(out)


def production_config(folder: Path, *, drop: tuple[str, ...] = (),
                      edits: dict[str, list[str]] | None = None, **changes: list[str]) -> Path:
    """The files and ``folder/kiosk.toml`` (``folder`` is made 0700 if missing)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (folder / "pin.key").exists():
        production_files(folder)
    if not (folder / "backoffice-ca.pem").exists():  # a folder made before it was needed
        host_ca_pem(folder / "backoffice-ca.pem")
    p = folder / "kiosk.toml"
    p.write_text(production_toml(drop=drop, edits=edits, **changes))
    return p
