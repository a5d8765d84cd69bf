"""Offline data authentication (EMV Book 2, 5-6; Visa fDDA): certificate recovery and the
signature checks of SDA, DDA, CDA and fDDA.

* :func:`recover_issuer_key`: the issuer public key certificate (tag 90) under the scheme CA
  key (RID + index from the terminal's CA key list), with the remainder (92) and exponent
  (9F32); format, issuer identifier (the PAN's leading digits), expiry, revocation and hash are
  checked.
* :func:`recover_icc_key`: the ICC public key certificate (9F46) under the issuer key, with
  remainder (9F48), exponent (9F47) and the static data to be authenticated (the records the
  AFL marks for ODA, plus the AIP when 9F4A lists it); the PAN in the certificate must match.
* :func:`verify_dda`: the signed dynamic application data (9F4B) of INTERNAL AUTHENTICATE under
  the ICC key, over the DDOL data; :func:`verify_sda` (93 under the issuer key),
  :func:`verify_cda` (the GENERATE AC signature with the transaction data hash) and
  :func:`verify_fdda` (the qVSDC GPO signature).

Every failure is an :class:`OdaError` naming the step (the TVR bit is the kernel's business).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


class OdaError(ValueError):
    """Offline data authentication failed; the message names the step."""


@dataclass(frozen=True)
class PublicKey:
    modulus: int
    exponent: int

    @property
    def size(self) -> int:
        return (self.modulus.bit_length() + 7) // 8


def _recover(cert: bytes, key: PublicKey, what: str) -> bytes:
    if len(cert) != key.size:
        raise OdaError(f"{what}: certificate length {len(cert)} != key length {key.size}")
    plain = pow(int.from_bytes(cert, "big"), key.exponent, key.modulus).to_bytes(key.size, "big")
    if plain[0] != 0x6A or plain[-1] != 0xBC:
        raise OdaError(f"{what}: recovered data has no 6A...BC frame")
    return plain


def _expired(mmyy: bytes, today: date) -> bool:
    month, year = int(mmyy[:1].hex()), int(mmyy[1:2].hex())
    return (2000 + year, month) < (today.year, today.month)


def _key(leftmost: bytes, remainder: bytes, key_len: int, exponent: bytes) -> PublicKey:
    """The public key a certificate carries: its leftmost digits, completed by the remainder
    when the key is longer than the certificate has room for."""
    modulus = (leftmost + remainder)[:key_len] if key_len > len(leftmost) else \
        leftmost[:key_len]
    return PublicKey(int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big"))


def recover_issuer_key(cert: bytes, remainder: bytes, exponent: bytes, ca: PublicKey,
                       today: date, revoked: Callable[[bytes], bool] = lambda s: False,
                       pan: str | None = None) -> PublicKey:
    """``revoked(serial)``: the certificate revocation list of the CA key used; ``pan``: the
    card's, whose leading digits must be the certificate's issuer identifier."""
    p = _recover(cert, ca, "issuer certificate")
    n = len(p)
    if p[1] != 0x02:
        raise OdaError("issuer certificate: format is not 02")
    if p[11] != 0x01 or p[12] != 0x01:
        raise OdaError("issuer certificate: unknown hash or key algorithm")
    key_len, body = p[13], p[15:n - 21]
    digest = hashlib.sha1(p[1:n - 21] + remainder + exponent).digest()  # noqa: S324 - EMV
    if digest != p[n - 21:n - 1]:
        raise OdaError("issuer certificate: hash does not match")
    issuer_id = p[2:6].hex().upper().rstrip("F")
    if pan is not None and not (len(issuer_id) >= 3 and pan.startswith(issuer_id)):
        raise OdaError("issuer certificate: issuer identifier does not match the PAN")
    if _expired(p[6:8], today):
        raise OdaError("issuer certificate: expired")
    if revoked(p[8:11]):
        raise OdaError("issuer certificate: revoked")
    return _key(body, remainder, key_len, exponent)


def recover_icc_key(cert: bytes, remainder: bytes, exponent: bytes, issuer: PublicKey,
                    static_data: bytes, pan: str, today: date) -> PublicKey:
    p = _recover(cert, issuer, "ICC certificate")
    n = len(p)
    if p[1] != 0x04:
        raise OdaError("ICC certificate: format is not 04")
    digest = hashlib.sha1(p[1:n - 21] + remainder + exponent + static_data).digest()  # noqa: S324
    if digest != p[n - 21:n - 1]:
        raise OdaError("ICC certificate: hash does not match (static data altered?)")
    cert_pan = p[2:12].hex().upper().rstrip("F")
    if cert_pan != pan:
        raise OdaError("ICC certificate: PAN does not match the card's")
    if _expired(p[12:14], today):
        raise OdaError("ICC certificate: expired")
    key_len, body = p[19], p[21:n - 21]
    return _key(body, remainder, key_len, exponent)


def verify_dda(sdad: bytes, icc: PublicKey, ddol_data: bytes) -> bytes:
    """Returns the ICC dynamic data (its first bytes are the ICC dynamic number)."""
    p = _recover(sdad, icc, "signed dynamic data")
    n = len(p)
    if p[1] != 0x05 or p[2] != 0x01:
        raise OdaError("signed dynamic data: format or hash algorithm wrong")
    ldd = p[3]
    digest = hashlib.sha1(p[1:n - 21] + ddol_data).digest()  # noqa: S324 - EMV mandates SHA-1
    if digest != p[n - 21:n - 1]:
        raise OdaError("signed dynamic data: hash does not match")
    return p[4:4 + ldd]


def verify_sda(ssad: bytes, issuer: PublicKey, static_data: bytes) -> bytes:
    """SDA (Book 2, 5.4): the signed static application data (93) under the issuer key, over
    the static data to be authenticated. Returns the data authentication code (9F45)."""
    p = _recover(ssad, issuer, "signed static data")
    n = len(p)
    if p[1] != 0x03 or p[2] != 0x01:
        raise OdaError("signed static data: format or hash algorithm wrong")
    digest = hashlib.sha1(p[1:n - 21] + static_data).digest()  # noqa: S324 - EMV mandates SHA-1
    if digest != p[n - 21:n - 1]:
        raise OdaError("signed static data: hash does not match")
    return p[3:5]


def _signed_dynamic(sdad: bytes, icc: PublicKey, hashed_after: bytes, what: str) -> bytes:
    """The ICC dynamic data of a format 05 signature whose hash covers ``hashed_after``."""
    p = _recover(sdad, icc, what)
    n = len(p)
    if p[1] != 0x05 or p[2] != 0x01:
        raise OdaError(f"{what}: format or hash algorithm wrong")
    if 4 + p[3] > n - 21:
        raise OdaError(f"{what}: ICC dynamic data longer than the signature")
    digest = hashlib.sha1(p[1:n - 21] + hashed_after).digest()  # noqa: S324 - EMV
    if digest != p[n - 21:n - 1]:
        raise OdaError(f"{what}: hash does not match")
    return p[4:4 + p[3]]


def verify_cda(sdad: bytes, icc: PublicKey, unpredictable: bytes, cid: bytes,
               transaction_hash: bytes) -> tuple[bytes, bytes]:
    """CDA (Book 2, 6.6.2): the signature (9F4B) in the GENERATE AC response, hashed with the
    terminal's unpredictable number (9F37); its ICC dynamic data must carry the CID of the
    response and the transaction data hash code the terminal computed (PDOL and CDOL data and
    the response's other tags). Returns (ICC dynamic number, application cryptogram)."""
    what = "CDA signature"
    dyn = _signed_dynamic(sdad, icc, unpredictable, what)
    ln = dyn[0] if dyn else 0
    if not 2 <= ln <= 8 or len(dyn) < 1 + ln + 29:
        raise OdaError(f"{what}: ICC dynamic data malformed")
    number, rest = dyn[1:1 + ln], dyn[1 + ln:]
    if rest[:1] != cid:
        raise OdaError(f"{what}: CID differs from the GENERATE AC response")
    if rest[9:29] != transaction_hash:
        raise OdaError(f"{what}: transaction data hash code does not match")
    return number, rest[1:9]


def verify_fdda(sdad: bytes, icc: PublicKey, terminal_dynamic_data: bytes) -> bytes:
    """fDDA (qVSDC): the signature (9F4B) in the GPO response, hashed with the terminal dynamic
    data (UN, amount, currency, card authentication related data 9F69). Returns the card's
    dynamic number (its unpredictable number)."""
    dyn = _signed_dynamic(sdad, icc, terminal_dynamic_data, "fDDA signature")
    if not dyn or not 1 <= dyn[0] <= len(dyn) - 1:
        raise OdaError("fDDA signature: ICC dynamic data malformed")
    return dyn[1:1 + dyn[0]]
