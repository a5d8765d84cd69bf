"""Generates the kiosk's TEST EMV PKI:
``.venv/bin/python kiosk/resources/test_keys/generate.py``.

Writes ``TEST_ONLY_emv_pki.json`` (a test CA, two issuers and one ICC key per virtual card, with
private keys, for the simulators) into ``--out`` (default: this folder) and the terminal's CA
key list ``ca_keys.json`` (public CA keys with check values, the revocation list) into the
folder above it, i.e. ``kiosk/resources/``. New random keys on every run: the virtual cards build
their certificates from the JSON, so nothing else needs regenerating.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository, for ``drivers``
from drivers.sim.cards import TEST_CARDS  # noqa: E402 - after the path is set

WARNING = ("TEST KEYS for the kiosk's simulators ONLY: the private keys are public. Never load "
           "this CA into a terminal that reads real cards, never personalise a real card with "
           "these keys.")
CA_INDEX, RIDS = 0xE1, ("A000000003", "A000000004")  # E1: no scheme test key uses it
NOTE = "TEST CA of the kiosk's simulators - replace with the schemes' live keys"
ISSUERS = {"visa_issuer": 1408, "mastercard_issuer": 1152}  # visa's needs a remainder
CARDS = tuple(TEST_CARDS)  # every virtual card gets its own ICC key
REVOKED_SERIAL = "DEAD01"  # the issuer certificate of mastercard_revoked


def card_entry(i: int, card: str) -> dict[str, str]:
    return {"issuer": f"{TEST_CARDS[card].scheme}_issuer",
            "issuer_cert_serial": REVOKED_SERIAL if card == "mastercard_revoked" else f"{i:06X}",
            "issuer_cert_expiry": "1222" if card == "visa_expired_issuer" else "1234"}


def main(argv: list[str] | None = None) -> None:
    from drivers.emv.capk import check_value
    from drivers.sim.pki import generate_rsa

    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--out", type=Path, default=HERE,
                      help="folder of the PKI file; ca_keys.json goes to its parent")
    out: Path = args.parse_args(argv).out
    ca = generate_rsa(1408, 3)
    pki = {"warning": WARNING,
           "ca": {"rids": list(RIDS), "index": f"{CA_INDEX:02X}", "key": ca.to_json()},
           "issuers": {name: generate_rsa(bits, 3).to_json() for name, bits in ISSUERS.items()},
           "icc": {card: generate_rsa(1024, 65537 if card == "mastercard_contact_cda" else 3)
                   .to_json() for card in CARDS},
           "cards": {card: card_entry(i, card) for i, card in enumerate(CARDS, 1)}}
    modulus, exponent = ca.modulus.to_bytes(ca.size, "big"), bytes([ca.exponent])
    ca_keys = {"keys": [{"rid": rid, "index": f"{CA_INDEX:02X}", "modulus": modulus.hex().upper(),
                         "exponent": exponent.hex().upper(),
                         "sha1_checksum": check_value(bytes.fromhex(rid), CA_INDEX, modulus,
                                                      exponent).hex().upper(),
                         "expiry": "2035-12-31", "note": NOTE} for rid in RIDS],
               "revoked": [{"rid": "A000000004", "index": f"{CA_INDEX:02X}",
                            "serial": REVOKED_SERIAL}]}
    out.mkdir(parents=True, exist_ok=True)
    for path, data in ((out / "TEST_ONLY_emv_pki.json", pki),
                       (out.parent / "ca_keys.json", ca_keys)):
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
