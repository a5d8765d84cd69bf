"""``kiosk card-info``: what a presented card offers, as JSON, for a technician.

The kernel's read-only path: application selection, GET PROCESSING OPTIONS (amount 0), the
records and offline data authentication with the terminal's CA keys (for DDA the card signs a
challenge; for CDA the certificates are checked, the signature itself needs a GENERATE AC). No
GENERATE AC, no host, no PIN. The PAN is shown masked (first 6, last 4).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.emv import cvm
from drivers.emv.api import CardError, Interface
from drivers.emv.capk import CaKeyError, CaKeyStore
from drivers.emv.transaction import Transaction
from drivers.pcsc.reader import wait_for_card
from drivers.pcsc.terminal import is_contactless
from kiosk.security.cards import mask_digits


def _oda(tx: Transaction) -> dict[str, Any]:
    o = tx.oda
    if o.method == "none":
        return {"method": None, "result": "not performed: the card offers no method this "
                                          "terminal supports"}
    if o.ok is None:  # CDA: certificates fine, the signature comes with GENERATE AC
        return {"method": o.method, "result": "certificates verified; the signature is "
                                              "checked at GENERATE AC"}
    return {"method": o.method, "result": "ok" if o.ok else "failed",
            **({"reason": o.reason} if o.reason else {})}


def describe(tx: Transaction, interface: Interface) -> dict[str, Any]:
    """What an inspected card offers, as JSON-ready values; the PAN masked."""
    pan, expiry = tx.pan, tx.data.get(0x5F24, b"").hex()
    try:
        cvm_words = cvm.words(tx.data[0x8E]) if 0x8E in tx.data else []
    except cvm.CvmListError as exc:
        cvm_words = [f"unreadable: {exc}"]
    assert tx.candidate is not None  # inspect() selected one or raised
    return {
        "ok": True,
        "interface": interface.value,
        "applications": [{"aid": c.aid.hex().upper(), "priority": c.priority, "label": c.label,
                          "kernel": c.kernel or None} for c in tx.offered],
        "selected": tx.candidate.aid.hex().upper(),
        "scheme": tx.scheme,
        "masked_pan": mask_digits(pan) if len(pan) >= 12 else None,
        "expiry": f"20{expiry[:2]}-{expiry[2:4]}" if len(expiry) >= 4 else None,
        "aip": tx.aip.hex().upper(),
        "oda": _oda(tx),
        "cvm_list": cvm_words,
        "tvr": tx.tvr.names(),
    }


def card_info(reader: str, timeout_s: float = 20.0, ca_keys: CaKeyStore | None = None,
              cancelled: Callable[[], bool] | None = None) -> tuple[int, dict[str, Any]]:
    try:
        link = wait_for_card(reader, timeout_s, cancelled or threading.Event().is_set)
    except CardError as exc:
        return 2, {"ok": False, "error": str(exc)}
    interface = Interface.CONTACTLESS if is_contactless(link.atr) else Interface.CONTACT
    tx = Transaction(link.transmit, interface, ca_keys=ca_keys)
    try:
        tx.inspect()
    except CardError as exc:
        return 2, {"ok": False, "error": str(exc)}
    finally:
        link.close()
    return 0, describe(tx, interface)


def main(reader: str, timeout_s: float, ca_keys: Path | None = None) -> int:
    store = None
    if ca_keys is not None:
        try:
            store = CaKeyStore.load(ca_keys)
        except CaKeyError as exc:
            print(json.dumps({"ok": False, "error": str(exc)}, indent=2))
            return 2
    code, out = card_info(reader, timeout_s, store)
    print(json.dumps(out, indent=2))
    return code
