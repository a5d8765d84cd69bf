"""Application cryptograms of the simulated cards and their check at the simulated issuer.

The card's AC master key is derived from the issuer master key (EMV option A), the session key
with the common session key derivation (R = ATC || 00..00), the ARQC is a retail MAC over the
CDOL1 data (ISO 9797-1 padding method 2), and the issuer answers an ARPC (method 1) in tag 91,
followed by its issuer scripts (71/72) when it has any. All with pyemv: the issuer's side here,
and the card's (:func:`card_cryptogram`, :func:`arpc_valid` for EXTERNAL AUTHENTICATE or the 91
of CDOL2) for the virtual cards.
"""

from __future__ import annotations

import hmac
import warnings
from datetime import date

from cryptography.utils import CryptographyDeprecationWarning
from pyemv import ac, kd, tlv

from drivers import iso4217
from drivers.sim.keys import TEST_IMK_AC, TEST_TERMINAL_COUNTRY

# pyemv uses TripleDES the way cryptography deprecates; the results are tested against vectors
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"pyemv\.")

CDOL1_TAGS = ("9F02", "9F03", "9F1A", "95", "5F2A", "9A", "9C", "9F37", "82", "9F36")


def _session_key(pan: str, psn: str, atc: bytes, imk: bytes) -> bytes:
    icc_mk = kd.derive_icc_mk_a(imk, pan, psn)
    return kd.derive_common_sk(icc_mk, atc + bytes(6))


def _cdol1(fields: dict[str, bytes]) -> bytes:
    return b"".join(fields[t] for t in CDOL1_TAGS)


def card_cryptogram(pan: str, psn: str, atc: bytes, data: bytes, imk: bytes = TEST_IMK_AC
                    ) -> bytes:
    """An application cryptogram (ARQC, TC or AAC) over ``data`` with the ATC's session key."""
    return bytes(ac.generate_ac(_session_key(pan, psn, atc, imk), data, ac.PaddingType.EMV))


def card_arqc(pan: str, psn: str, fields: dict[str, bytes], imk: bytes = TEST_IMK_AC) -> bytes:
    """The card's ARQC over the CDOL1 data (``fields`` by tag, upper-case hex names)."""
    return card_cryptogram(pan, psn, fields["9F36"], _cdol1(fields), imk)


def arpc_valid(pan: str, psn: str, atc: bytes, arqc: bytes, issuer_data: bytes,
               imk: bytes = TEST_IMK_AC) -> bool:
    """The card's issuer authentication: ``issuer_data`` (tag 91) = ARPC || ARC, method 1."""
    arpc, arc = issuer_data[:8], issuer_data[8:]
    if len(arpc) != 8 or len(arc) != 2:
        return False
    expected = ac.generate_arpc_1(_session_key(pan, psn, atc, imk), arqc, arc)
    return hmac.compare_digest(expected, arpc)


def card_icc_data(pan: str, psn: str, atc: int, amount_minor: int, currency: str,
                  unpredictable: bytes, today: date, imk: bytes = TEST_IMK_AC) -> bytes:
    """What a card's first GENERATE AC gives the terminal for DE 55 (TLV)."""
    fields = {
        "9F02": bytes.fromhex(f"{amount_minor:012d}"), "9F03": bytes(6),
        "9F1A": bytes.fromhex(TEST_TERMINAL_COUNTRY), "95": bytes(5),
        "5F2A": bytes.fromhex(iso4217.NUMERIC.get(currency, "978").zfill(4)),
        "9A": bytes.fromhex(today.strftime("%y%m%d")), "9C": b"\x00",
        "9F37": unpredictable, "82": bytes.fromhex("3900"), "9F36": atc.to_bytes(2, "big"),
    }
    arqc = card_arqc(pan, psn, fields, imk)
    out = {**fields, "9F26": arqc, "9F27": b"\x80", "5F34": bytes.fromhex(psn.zfill(2)),
           "9F10": bytes.fromhex("0110A00003220000000000000000000000FF")}
    return bytes(tlv.encode(out))


def issuer_check(icc_data: bytes, pan: str, approve: bool, imk: bytes = TEST_IMK_AC, *,
                 scripts: bytes = b"") -> tuple[bool, bytes]:
    """(ARQC valid, response DE 55: tag 91 = ARPC || ARC, then ``scripts``, the issuer script
    templates 71/72 as TLV). Raises ValueError on TLV that cannot be read."""
    fields = tlv.decode(icc_data, simple=True)
    missing = [t for t in (*CDOL1_TAGS, "9F26") if t not in fields]
    if missing:
        raise ValueError(f"ICC data lacks {', '.join(missing)}")
    psn = fields.get("5F34", b"\x00").hex()
    sk = _session_key(pan, psn, fields["9F36"], imk)
    expected = ac.generate_ac(sk, _cdol1(fields), ac.PaddingType.EMV)
    valid = expected == fields["9F26"]
    arc = b"00" if approve and valid else b"05"
    arpc = ac.generate_arpc_1(sk, fields["9F26"], arc)
    return valid, bytes(tlv.encode({"91": arpc + arc})) + scripts
