"""The simulated test cards (v0): what a card read returns, and how the host simulator answers.

Test numbers only (Luhn-valid, from the schemes' public test ranges). The faithful virtual EMV
cards (real ARQCs, ODA, PIN on the card, running on vpcd) replace these with the card reader
issue; the names stay.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.emv.api import Cvm, Interface


@dataclass(frozen=True, repr=False)
class SimCard:
    name: str
    label: str  # what the demo button says
    pan: str
    expiry: str  # YYMM
    scheme: str
    interface: Interface
    cvm: Cvm
    pin: str = ""  # the PIN the host checks when the card asks for online PIN
    host_rule: str = "00"  # ISO 8583 response code the host simulator answers
    behaviour: str = "ok"  # "ok" | "removed" (leaves mid-read) | "garbage" (unusable answer)
    psn: str = "00"  # PAN sequence number (5F34)

    def __repr__(self) -> str:
        return f"SimCard({self.name!r})"


_CARDS = [
    SimCard("visa_contactless", "Visa contactless", "4761739001010119", "2912", "visa",
            Interface.CONTACTLESS, Cvm.NO_CVM),
    SimCard("mastercard_pin", "Mastercard with PIN", "5413330089020011", "2812", "mastercard",
            Interface.CONTACT, Cvm.ONLINE_PIN, pin="1234"),
    SimCard("debit_contactless", "Debit card contactless", "4000000000000002", "2706", "visa",
            Interface.CONTACTLESS, Cvm.NO_CVM),
    SimCard("declined_funds", "Declined: no funds", "4000000000000051", "2912", "visa",
            Interface.CONTACTLESS, Cvm.NO_CVM, host_rule="51"),
    SimCard("declined_honour", "Declined: do not honour", "5222220000000005", "2912",
            "mastercard", Interface.CONTACT, Cvm.NO_CVM, host_rule="05"),
    SimCard("issuer_down", "Issuer unavailable", "4000000000000093", "2912", "visa",
            Interface.CONTACTLESS, Cvm.NO_CVM, host_rule="91"),
    SimCard("removed_card", "Card pulled out", "4012000000000016", "2912", "visa",
            Interface.CONTACT, Cvm.NO_CVM, behaviour="removed"),
    SimCard("garbage_card", "Card answers garbage", "4012000000000024", "2912", "visa",
            Interface.CONTACT, Cvm.NO_CVM, behaviour="garbage"),
]

TEST_CARDS: dict[str, SimCard] = {c.name: c for c in _CARDS}
CARDS_BY_PAN: dict[str, SimCard] = {c.pan: c for c in _CARDS}
