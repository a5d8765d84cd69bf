"""The card side of offline data authentication (EMV 4.4 Book 2, 5–7), for the virtual cards.

A certificate or signature is the RSA private operation on the block the terminal recovers
(``6A format ... hash BC``, the hash over the body and whatever the terminal adds to it), so
virtual cards carry the real thing and the terminal code (:mod:`drivers.emv.oda`) is tested
against what a card would send, not against itself:

* :func:`issuer_certificate` (tag 90, format 02, signed by the CA) and :func:`icc_certificate`
  (9F46 format 04, signed by the issuer; also the ICC PIN encipherment key certificate 9F2D)
  split a key longer than the certificate has room for into leftmost digits and a remainder.
* :func:`signed_static_data` (93, SDA) and :func:`signed_dynamic_data` (9F4B, DDA / CDA / fDDA).
* :func:`decipher_pin_block`: what the card does with an offline enciphered PIN (Book 2, 7.2).

The keys of the simulators come from ``kiosk/resources/test_keys`` (:func:`load_test_pki`): a
test CA under the schemes' RIDs with index E1, and TEST keys only.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from drivers.emv.oda import PublicKey

TEST_CA_KEYS_PATH = Path(__file__).resolve().parents[2] / "kiosk" / "resources" / "ca_keys.json"
TEST_PKI_PATH = (Path(__file__).resolve().parents[2] / "kiosk" / "resources" / "test_keys"
                 / "TEST_ONLY_emv_pki.json")


@dataclass(frozen=True, repr=False)
class RsaKeyPair:
    """An RSA key with its private exponent (repr shows no key material)."""

    modulus: int
    exponent: int
    private_exponent: int

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.modulus, self.exponent)

    @property
    def size(self) -> int:
        return (self.modulus.bit_length() + 7) // 8

    def __repr__(self) -> str:
        return f"RsaKeyPair({self.modulus.bit_length()} bits, e={self.exponent})"

    def private_op(self, block: bytes) -> bytes:
        """``block ** d mod n``: signs a recovered-data block, or opens an enciphered one."""
        m = int.from_bytes(block, "big")
        if len(block) != self.size or m >= self.modulus:
            raise ValueError("the block must be the key length and less than the modulus")
        return pow(m, self.private_exponent, self.modulus).to_bytes(self.size, "big")

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RsaKeyPair:
        return cls(*(int(d[k], 16) for k in ("modulus", "exponent", "private_exponent")))

    def to_json(self) -> dict[str, str]:
        return {k: _int_bytes(getattr(self, k)).hex().upper()
                for k in ("modulus", "exponent", "private_exponent")}


def generate_rsa(bits: int, exponent: int = 3) -> RsaKeyPair:
    """EMV allows the public exponents 3 and 65537 only (Book 2, 11.3)."""
    numbers = rsa.generate_private_key(public_exponent=exponent,
                                       key_size=bits).private_numbers()
    return RsaKeyPair(numbers.public_numbers.n, numbers.public_numbers.e, numbers.d)


@dataclass(frozen=True)
class Certificate:
    """What a card stores: the certificate, the key's remainder (may be empty) and exponent."""

    cert: bytes
    remainder: bytes
    exponent: bytes


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def _sign(key: RsaKeyPair, body: bytes, hashed_after: bytes) -> bytes:
    """``6A body SHA-1(body || hashed_after) BC`` under the private key; ``body`` fills the key
    length (the hash covers what the terminal appends: remainder, exponent, static data...)."""
    if len(body) != key.size - 22:
        raise ValueError(f"{len(body) + 22} bytes to sign with a {key.size}-byte key")
    digest = hashlib.sha1(body + hashed_after).digest()  # noqa: S324 - EMV mandates SHA-1
    return key.private_op(b"\x6a" + body + digest + b"\xbc")


def _key_field(key: PublicKey, room: int) -> tuple[bytes, bytes]:
    """The key in a certificate with ``room`` bytes for it: (leftmost digits padded with BB,
    remainder)."""
    modulus = key.modulus.to_bytes(key.size, "big")
    return modulus[:room].ljust(room, b"\xbb"), modulus[room:]


def _bcd(digits: str, size: int, what: str) -> bytes:
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 2 * size:
        raise ValueError(f"{what}: {size * 2} digits at most")
    return bytes.fromhex(digits.ljust(2 * size, "F"))


def _mmyy(expiry: str) -> bytes:
    if not (len(expiry) == 4 and expiry.isascii() and expiry.isdigit()
            and 1 <= int(expiry[:2]) <= 12):
        raise ValueError("expiry is MMYY")
    return bytes.fromhex(expiry)


def _certificate(signer: RsaKeyPair, header: bytes, key: PublicKey,
                 hashed_after: bytes = b"") -> Certificate:
    """``header`` up to the algorithm indicators; the key length, exponent length and key follow
    (Book 2, tables 6 and 14)."""
    if key.size > signer.size:
        raise ValueError("a certified key cannot be longer than the key that signs it")
    exponent = _int_bytes(key.exponent)
    field, remainder = _key_field(key, signer.size - 22 - len(header) - 2)
    body = header + bytes([key.size, len(exponent)]) + field
    return Certificate(_sign(signer, body, remainder + exponent + hashed_after), remainder,
                       exponent)


def issuer_certificate(ca: RsaKeyPair, issuer: PublicKey, *, issuer_id: str, expiry: str,
                       serial: bytes) -> Certificate:
    """Issuer public key certificate (tag 90, Book 2 table 6); ``issuer_id``: the leftmost 3–8
    PAN digits; ``expiry`` MMYY; the CA revokes by ``serial`` (3 bytes)."""
    if not 3 <= len(issuer_id) <= 8 or len(serial) != 3:
        raise ValueError("issuer_id is 3 to 8 PAN digits, serial 3 bytes")
    header = (b"\x02" + _bcd(issuer_id, 4, "issuer_id") + _mmyy(expiry) + serial
              + b"\x01\x01")
    return _certificate(ca, header, issuer)


def icc_certificate(issuer: RsaKeyPair, icc: PublicKey, *, pan: str, expiry: str,
                    serial: bytes, static_data: bytes) -> Certificate:
    """ICC public key certificate (9F46, Book 2 table 14): the hash covers the static data to be
    authenticated, so altered records fail ODA. With ``static_data=b""`` it is the ICC PIN
    encipherment public key certificate (9F2D, Book 2 table 24)."""
    if len(serial) != 3:
        raise ValueError("serial is 3 bytes")
    header = b"\x04" + _bcd(pan, 10, "PAN") + _mmyy(expiry) + serial + b"\x01\x01"
    return _certificate(issuer, header, icc, static_data)


def signed_static_data(issuer: RsaKeyPair, static_data: bytes, dac: bytes = b"\xda\xc1") -> bytes:
    """Signed static application data (tag 93, SDA, Book 2 table 7); ``dac``: the data
    authentication code (9F45) the terminal recovers."""
    if len(dac) != 2:
        raise ValueError("the data authentication code is 2 bytes")
    return _sign(issuer, b"\x03\x01" + dac + b"\xbb" * (issuer.size - 26), static_data)


def signed_dynamic_data(icc: RsaKeyPair, icc_dynamic_data: bytes,
                        terminal_dynamic_data: bytes) -> bytes:
    """Signed dynamic application data (9F4B, Book 2 table 17). ``icc_dynamic_data`` is the
    whole field: DDA ``len || ICC dynamic number``; CDA :func:`cda_icc_dynamic_data`; fDDA
    ``len || card unpredictable number``. ``terminal_dynamic_data`` is what the terminal hashes
    after it: the DDOL data (DDA), the unpredictable number (CDA), UN || amount || currency ||
    card authentication related data (fDDA)."""
    ldd = len(icc_dynamic_data)
    if ldd > icc.size - 25:
        raise ValueError("the ICC dynamic data does not fit the ICC key")
    body = b"\x05\x01" + bytes([ldd]) + icc_dynamic_data + b"\xbb" * (icc.size - ldd - 25)
    return _sign(icc, body, terminal_dynamic_data)


def cda_icc_dynamic_data(icc_dynamic_number: bytes, cid: bytes, ac: bytes,
                         transaction_hash: bytes) -> bytes:
    """ICC dynamic data of CDA (Book 2 table 19): the card signs the cryptogram it returns and
    the hash of the transaction data it was given."""
    if not 2 <= len(icc_dynamic_number) <= 8 or (len(cid), len(ac), len(transaction_hash)) != (
            1, 8, 20):
        raise ValueError("dynamic number 2-8 bytes, CID 1, AC 8, transaction hash 20")
    return bytes([len(icc_dynamic_number)]) + icc_dynamic_number + cid + ac + transaction_hash


def decipher_pin_block(icc: RsaKeyPair, enciphered: bytes) -> tuple[bytes, bytes] | None:
    """Offline enciphered PIN, the card's side (Book 2, 7.2): ``7F || PIN block || ICC
    challenge || pad``. Returns (PIN block, challenge); the card compares the challenge with the
    one it gave and the PIN with its own. None: not a block under this key."""
    if len(enciphered) != icc.size or int.from_bytes(enciphered, "big") >= icc.modulus:
        return None
    plain = icc.private_op(enciphered)
    if plain[0] != 0x7F:
        return None
    return plain[1:9], plain[9:17]


@dataclass(frozen=True)
class TestCard:
    """Which issuer certifies a test card, and the issuer certificate's serial and expiry."""

    __test__ = False  # not a pytest class
    issuer: str
    issuer_cert_serial: bytes
    issuer_cert_expiry: str


@dataclass(frozen=True)
class TestPki:
    """The simulators' TEST PKI: a CA (index ``ca_index`` under each of ``rids``), issuers and
    ICC keys by card name."""

    __test__ = False
    ca: RsaKeyPair
    ca_index: int
    rids: tuple[bytes, ...]
    issuers: dict[str, RsaKeyPair]
    icc: dict[str, RsaKeyPair]
    cards: dict[str, TestCard]

    def issuer_of(self, card: str) -> RsaKeyPair:
        return self.issuers[self.cards[card].issuer]


@functools.cache
def load_test_pki(path: Path | None = None) -> TestPki:
    d = json.loads((path or TEST_PKI_PATH).read_text())
    keys = {group: {name: RsaKeyPair.from_json(k) for name, k in d[group].items()}
            for group in ("issuers", "icc")}
    cards = {name: TestCard(c["issuer"], bytes.fromhex(c["issuer_cert_serial"]),
                            c["issuer_cert_expiry"]) for name, c in d["cards"].items()}
    return TestPki(RsaKeyPair.from_json(d["ca"]["key"]), int(d["ca"]["index"], 16),
                   tuple(bytes.fromhex(r) for r in d["ca"]["rids"]), keys["issuers"],
                   keys["icc"], cards)
