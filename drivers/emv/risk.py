"""Processing restrictions, terminal risk management and terminal action analysis (EMV Book 3,
10.4, 10.6, 10.7). Pure functions over the card's data and the TVR; the GET DATA for velocity
checking is the caller's.
"""

from __future__ import annotations

from datetime import date

from drivers.emv.tvr import Bits

# Terminal action codes - denial, per scheme (the values the schemes publish). An online-only
# terminal never approves offline, so the online and default codes have nothing to decide: every
# transaction that is not denied goes online, and one that cannot go online is declined.
TAC_DENIAL: dict[str, bytes] = {"visa": bytes.fromhex("0010000000"),
                                "mastercard": bytes.fromhex("0000000000")}
AAC, TC, ARQC = 0x00, 0x40, 0x80


def _yymmdd(raw: bytes | None) -> date | None:
    if raw is None or len(raw) != 3:
        return None
    try:
        y, m, d = (int(raw[i:i + 1].hex()) for i in range(3))
        return date(2000 + y, m, d)
    except ValueError:
        return None


def restrictions(data: dict[int, bytes], tvr: Bits, *, today: date, country: bytes,
                 app_version: bytes | None) -> None:
    """Application version, usage control and dates (Book 3, 10.4)."""
    card_version = data.get(0x9F08)
    if card_version is not None and app_version is not None and card_version != app_version:
        tvr.set("ICC and terminal have different application versions")
    auc = data.get(0x9F07)
    if auc is not None and len(auc) >= 2:
        domestic = data.get(0x5F28) == country
        not_atm = bool(auc[0] & 0x01)
        goods = auc[0] & (0x20 if domestic else 0x10)  # electricity is sold as goods
        if not (not_atm and goods):
            tvr.set("requested service not allowed")
    effective = _yymmdd(data.get(0x5F25))
    if effective is not None and effective > today:
        tvr.set("application not yet effective")
    expiry = _yymmdd(data.get(0x5F24))
    if expiry is None or expiry < today:
        tvr.set("expired application")


def velocity(data: dict[int, bytes], tvr: Bits, atc: bytes | None,
             last_online_atc: bytes | None) -> None:
    """Consecutive offline limits (Book 3, 10.6.3), when the card gives both limits."""
    lower, upper = data.get(0x9F14), data.get(0x9F23)
    if lower is None or upper is None:
        return
    if atc is None or last_online_atc is None or len(atc) != 2 or len(last_online_atc) != 2:
        tvr.set("lower consecutive offline limit exceeded")
        tvr.set("upper consecutive offline limit exceeded")
        return
    last = int.from_bytes(last_online_atc, "big")
    if last == 0:
        tvr.set("new card")
    since = int.from_bytes(atc, "big") - last
    if since > int.from_bytes(lower, "big"):
        tvr.set("lower consecutive offline limit exceeded")
    if since > int.from_bytes(upper, "big"):
        tvr.set("upper consecutive offline limit exceeded")


def action(data: dict[int, bytes], tvr: bytes, scheme: str) -> int:
    """The cryptogram to ask for at the first GENERATE AC (Book 3, 10.7): AAC when the TVR hits
    the terminal's or the issuer's (9F0E) denial codes, else ARQC (online only)."""
    iac = data.get(0x9F0E, b"")
    codes = [TAC_DENIAL.get(scheme, bytes(5))] + ([iac] if len(iac) == 5 else [])
    denied = any(t & c for code in codes for t, c in zip(tvr, code, strict=True))
    return AAC if denied else ARQC
