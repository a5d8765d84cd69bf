"""The terminal's secret keys on disk, and how a TEST key is recognised.

A token key file (card tokens, invoice links, the outbox's AES key) holds 32 random bytes; the
terminal's Ed25519 signing key is 32 raw bytes (its seed) or a PEM private key. A key is
created once (mode 0600, ``O_EXCL``, fsync of the file and its folder) and then only read: a
file of the wrong size, a group- or world-readable file, or one owned by another user is an
error naming the path, never silently replaced (records keyed by it would stop matching).

TEST keys (:func:`dukpt_test_key_reason`, :func:`ca_test_key_reason`): the project's test CA
and the simulators' card keys (``kiosk/resources/test_keys``,
``kiosk/resources/ca_keys.json``), and the DUKPT keys of the published test data
(ANSI X9.24-1 A.4 and the X9.24-3 supplement, which the
host simulator uses). A production terminal refuses all of them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.acquirer.dukpt import DukptError, aes_initial_key, tdes_ipek
from drivers.files import fsync_dir

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from drivers.emv.capk import CaKeyStore

KEY_BYTES = 32


class KeyError_(Exception):
    """A key file or its folder cannot be used; the message names the path and the fix."""


# --- modes and owners --------------------------------------------------------------------------

def _stat(path: Path, what: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise KeyError_(f"{path}: no such {what}") from None
    except OSError as exc:
        raise KeyError_(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def _owner_problem(path: Path, st: os.stat_result) -> str | None:
    uid = os.geteuid()
    if st.st_uid != uid:
        return (f"{path}: owned by uid {st.st_uid}, the kiosk runs as uid {uid}: it must own "
                f"its keys (chown {uid} {path})")
    return None


def check_private_file(path: Path, what: str = "key file") -> None:
    """A regular file owned by the effective user, with no group or other permissions."""
    st = _stat(path, what)
    if not stat.S_ISREG(st.st_mode):
        raise KeyError_(f"{path}: the {what} is not a regular file")
    if problem := _owner_problem(path, st):
        raise KeyError_(problem)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyError_(f"{path}: mode {mode:04o}, a {what} must be 0600 (chmod 600 {path})")


def check_private_dir(path: Path, what: str = "data folder") -> None:
    """A folder owned by the effective user, with no group or other permissions (0700)."""
    st = _stat(path, what)
    if not stat.S_ISDIR(st.st_mode):
        raise KeyError_(f"{path}: the {what} is not a folder")
    if problem := _owner_problem(path, st):
        raise KeyError_(problem)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyError_(f"{path}: mode {mode:04o}, the {what} must be 0700 (chmod 700 {path})")


def check_key_folder(path: Path) -> None:
    """The folder of a key file the kiosk rewrites (the PIN key and its counter): writable by
    the kiosk, by no one else."""
    st = _stat(path, "key folder")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise KeyError_(f"{path}: mode {mode:04o}, others can replace the key file in it "
                        f"(chmod go-w {path})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise KeyError_(f"{path}: the kiosk (uid {os.geteuid()}) cannot write in this folder: "
                        f"the key's counter is rewritten there before every PIN")


# --- token keys ----------------------------------------------------------------------------------

def load_key(path: str | Path) -> bytes:
    """An existing token key: checked mode, owner and size."""
    p = Path(path)
    check_private_file(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise KeyError_(f"{p}: cannot read the key file: {exc.strerror or exc}") from None
    if len(data) != KEY_BYTES:
        raise KeyError_(f"key file {p}: expected {KEY_BYTES} bytes, found {len(data)}")
    return data


def create_key(path: str | Path, key: bytes | None = None) -> bytes:
    """A new token key (``key``, or 32 random bytes) in a file that must not exist yet (mode
    0600)."""
    p = Path(path)
    key = secrets.token_bytes(KEY_BYTES) if key is None else key
    if len(key) != KEY_BYTES:
        raise KeyError_(f"{p}: a token key is {KEY_BYTES} bytes, not {len(key)}")
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise KeyError_(f"{p}: exists already: a key is never overwritten") from None
    except OSError as exc:
        raise KeyError_(f"{p}: cannot create the key file: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(p.parent)
    return key


# --- the terminal's signing key (Ed25519) --------------------------------------------------------

MAX_SIGNING_KEY_FILE = 4096  # a PEM Ed25519 key is about 120 bytes


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    """The terminal's Ed25519 signing key: raw 32 bytes (the seed) or a PEM private key
    (unencrypted PKCS#8), in a 0600 file owned by the kiosk."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    p = Path(path)
    check_private_file(p, "signing key file")
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_SIGNING_KEY_FILE + 1)
    except OSError as exc:
        raise KeyError_(f"{p}: cannot read the signing key file: {exc.strerror or exc}") from None
    if len(data) == KEY_BYTES:
        return Ed25519PrivateKey.from_private_bytes(data)
    if len(data) <= MAX_SIGNING_KEY_FILE and data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise KeyError_(f"signing key file {p}: not a readable unencrypted PEM private "
                            f"key") from None
        if isinstance(key, Ed25519PrivateKey):
            return key
        raise KeyError_(f"signing key file {p}: a PEM key, but not Ed25519")
    raise KeyError_(f"signing key file {p}: neither {KEY_BYTES} raw bytes nor a PEM Ed25519 "
                    f"private key")


def create_signing_key(path: str | Path) -> Ed25519PrivateKey:
    """A new Ed25519 key (its 32-byte seed, raw) in a file that must not exist yet (0600)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(create_key(path))


def load_or_create_key(path: str | Path) -> bytes:
    """The demo's way: a missing key is created (production: :func:`load_key`, and
    ``kiosk provision`` creates the keys once)."""
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return create_key(p)
    return load_key(p)


# --- TEST keys -----------------------------------------------------------------------------------

# The published DUKPT test data: BDKs (also refused as initial keys) and the initial keys
TEST_DUKPT_BDKS: dict[bytes, str] = {
    bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1"):
        "the AES-128 test BDK of ANSI X9.24-3 (the host simulator's)",
    bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"): "the TDES test BDK of ANSI X9.24-1 A.4",
}
TEST_DUKPT_INITIAL_KEYS: dict[bytes, str] = {
    bytes.fromhex("1273671EA26AC29AFA4D1084127652A1"):
        "the initial key of the ANSI X9.24-3 test data",
    bytes.fromhex("6AC292FAA1315B4D858AB3A3D7D5933A"):
        "the IPEK of the ANSI X9.24-1 A.4 test data",
}


def dukpt_test_key_reason(scheme: str, initial_key: bytes, key_id: bytes) -> str | None:
    """Why this DUKPT key is a published TEST key, or None."""
    if initial_key in TEST_DUKPT_INITIAL_KEYS:
        return f"the initial key is {TEST_DUKPT_INITIAL_KEYS[initial_key]}"
    if initial_key in TEST_DUKPT_BDKS:
        return f"the initial key is {TEST_DUKPT_BDKS[initial_key]}"
    from drivers.sim.keys import TEST_BDK_AES128

    bdks = {TEST_BDK_AES128: "the host simulator's test BDK", **TEST_DUKPT_BDKS}
    for bdk, name in bdks.items():
        try:
            derived = aes_initial_key(bdk, key_id) if scheme == "aes" else tdes_ipek(bdk, key_id)
        except DukptError:
            continue
        if derived == initial_key:
            return f"the initial key is derived from {name}"
    return None


@functools.cache
def _test_moduli() -> dict[int, str]:
    """The public moduli of the project's TEST PKI: its CA, issuers and cards, and every key of
    the test CA key file."""
    from drivers.sim.pki import TEST_CA_KEYS_PATH, TEST_PKI_PATH

    moduli: dict[int, str] = {}
    try:
        d = json.loads(TEST_PKI_PATH.read_text())
        moduli[int(d["ca"]["key"]["modulus"], 16)] = "the project's TEST CA"
        for group, what in (("issuers", "issuer"), ("icc", "card")):
            for name, k in d[group].items():
                moduli.setdefault(int(k["modulus"], 16), f"the test {what} key {name!r}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # a package without the test PKI: the fingerprints below still catch its CA
    try:
        for k in json.loads(TEST_CA_KEYS_PATH.read_text())["keys"]:
            moduli.setdefault(int(k["modulus"], 16), "the project's TEST CA")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return moduli


# SHA-256 of the TEST CA's modulus (big-endian bytes), for a package shipped without the files
TEST_CA_FINGERPRINTS = frozenset({
    "4b2137305c6460c59766c6ec1fa5c6d179953c9250040babb805596f97cd2ddd",
})


def _fingerprint(modulus: int) -> str:
    return hashlib.sha256(modulus.to_bytes((modulus.bit_length() + 7) // 8, "big")).hexdigest()


def ca_test_key_reason(store: CaKeyStore) -> str | None:
    """Why a CA key file holds a TEST key (the first one found), or None."""
    known = _test_moduli()
    for (rid, index), k in sorted(store.keys.items()):
        name = known.get(k.key.modulus)
        if name is None and _fingerprint(k.key.modulus) in TEST_CA_FINGERPRINTS:
            name = "the project's TEST CA"
        if name is not None:
            return f"{rid.hex().upper()}/{index:02X} is {name} (kiosk/resources/test_keys)"
    return None
