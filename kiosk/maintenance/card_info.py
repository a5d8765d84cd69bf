"""``kiosk card-info``: what a presented card offers, as JSON, for a technician.

Selection, GET PROCESSING OPTIONS (amount 0) and the records; no capture, no host. The PAN is
shown masked (first 6, last 4). ODA and the CVM list are reported as far as the kernel has them
(the rest of the kernel is still to come: the card reader issue).
"""

from __future__ import annotations

import json
import threading
from datetime import date
from typing import Any

from drivers.emv.api import CardError
from drivers.emv.kernel import SCHEMES, explore
from drivers.pcsc.reader import wait_for_card
from kiosk.security.cards import mask_digits

CVM_METHODS = {0x00: "fail CVM", 0x01: "offline plaintext PIN", 0x02: "online PIN",
               0x03: "offline plaintext PIN and signature", 0x04: "offline enciphered PIN",
               0x05: "offline enciphered PIN and signature", 0x1E: "signature",
               0x1F: "no CVM required"}


def cvm_list_words(cvm_list: bytes) -> list[str]:
    """EMV Book 3 10.5: 8-byte amounts X and Y, then 2-byte rules."""
    out = []
    for i in range(8, len(cvm_list) - 1, 2):
        code, cond = cvm_list[i], cvm_list[i + 1]
        method = CVM_METHODS.get(code & 0x3F, f"method {code & 0x3F:02X}")
        tail = "; if it fails, try the next" if code & 0x40 else ""
        out.append(f"{method} (condition {cond:02X}){tail}")
    return out


def card_info(reader: str, timeout_s: float = 20.0) -> tuple[int, dict[str, Any]]:
    try:
        link = wait_for_card(reader, timeout_s, threading.Event().is_set)
    except CardError as exc:
        return 2, {"ok": False, "error": str(exc)}
    try:
        r = explore(link.transmit, amount_minor=0, currency_numeric="978",
                    country_numeric="276", today=date.today())
    except CardError as exc:
        return 2, {"ok": False, "error": str(exc)}
    finally:
        link.close()
    pan = r.data.get(0x5A, b"").hex().upper().rstrip("F")
    expiry = r.data.get(0x5F24, b"").hex()
    return 0, {
        "ok": True,
        "applications": [{"aid": a.hex().upper(), "priority": p, "label": label}
                         for a, p, label in r.applications],
        "selected": r.aid.hex().upper(),
        "scheme": next((s for rid, s in SCHEMES.items() if r.aid.startswith(rid)), "unknown"),
        "masked_pan": mask_digits(pan) if len(pan) >= 12 else None,
        "expiry": f"20{expiry[:2]}-{expiry[2:4]}" if len(expiry) >= 4 else None,
        "aip": r.data.get(0x82, b"").hex().upper(),
        "oda": {"method": None, "result": "not checked: offline data authentication is not "
                                          "in this kernel yet"},
        "cvm_list": cvm_list_words(r.data[0x8E]) if 0x8E in r.data else [],
    }


def main(reader: str, timeout_s: float) -> int:
    code, out = card_info(reader, timeout_s)
    print(json.dumps(out, indent=2))
    return code
