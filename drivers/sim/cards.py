"""The simulated test cards: what a card read returns, how the host simulator answers, and how
the virtual EMV card (:mod:`drivers.sim.emv_card`) is personalised.

Test numbers only (Luhn-valid, from the schemes' public test ranges). ``cvm`` is the card's
cardholder verification as the host simulator knows it; the virtual card says it in its CVM
list (8E) or, contactless Visa, its CTQ. Fields left empty take the usual values of the
card's kind (:meth:`SimCard.__post_init__`), so a card names only what makes it special.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.emv.api import Cvm, Interface

KERNELS = ("contact", "visa_qvsdc", "mc_contactless")
ODA_METHODS = ("none", "sda", "dda", "cda", "fdda")
LEAVE_AT = ("select", "gpo", "genac")


def cvm_list(rules: str) -> bytes:
    """8E: amounts X and Y (zero: no amount conditions) and the CV rules (method, condition)."""
    return bytes(8) + bytes.fromhex(rules)


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
    behaviour: str = "ok"  # "ok" | "removed" (leaves mid-transaction) | "garbage" (junk answers)
    psn: str = "00"  # PAN sequence number (5F34)
    kernel: str = ""  # "contact" | "visa_qvsdc" | "mc_contactless" ("": by interface and scheme)
    oda: str = ""  # one of ODA_METHODS ("": dda contact, fdda Visa or cda Mastercard contactless)
    cvm_list: bytes = b""  # 8E ("": no CVM, or online PIN, as ``cvm`` says; none for qVSDC)
    offline_pin: str = ""  # the PIN the card itself checks in VERIFY ("": no offline PIN)
    pin_tries: int = 3  # PIN try limit (the counter starts there, a right PIN resets it)
    leave_at: str = ""  # where a "removed" card leaves ("": first GENERATE AC, contactless GPO)
    issuer_auth_in_genac: bool = False  # ARPC in CDOL2 (tag 91), no EXTERNAL AUTHENTICATE
    issuer_script: bool = False  # the host simulator sends an issuer script (tag 72)
    declines_at_completion: bool = False  # an AAC at the second GENERATE AC, whatever the host
    auc: str = "FF00"  # application usage control (9F07): where the card may be used

    def __post_init__(self) -> None:
        contact = self.interface is Interface.CONTACT
        kernel = self.kernel or ("contact" if contact else
                                 "visa_qvsdc" if self.scheme == "visa" else "mc_contactless")
        oda = self.oda or {"contact": "dda", "visa_qvsdc": "fdda"}.get(kernel, "cda")
        rules = "" if kernel == "visa_qvsdc" else "42031F03" if self.cvm is Cvm.ONLINE_PIN \
            else "1F00"  # online PIN (when the terminal can), else no CVM required
        defaults = {"kernel": kernel, "oda": oda, "cvm_list": self.cvm_list or (
            cvm_list(rules) if rules else b""), "leave_at": self.leave_at or (
            "genac" if contact else "gpo")}
        for key, value in defaults.items():
            object.__setattr__(self, key, value)  # frozen: fill the defaults once
        if kernel not in KERNELS or oda not in ODA_METHODS or self.leave_at not in LEAVE_AT:
            raise ValueError(f"card {self.name}: bad kernel, ODA method or leave_at")

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
    SimCard("mastercard_contactless", "Mastercard contactless", "5413330089030010", "2911",
            "mastercard", Interface.CONTACTLESS, Cvm.NO_CVM, psn="01"),
    # offline enciphered PIN (else online PIN, else fail); ARPC in the 2nd GENERATE AC
    SimCard("mastercard_contact_cda", "Mastercard chip, CDA", "5413330089030028", "2910",
            "mastercard", Interface.CONTACT, Cvm.OFFLINE_PIN, pin="1234", psn="01", oda="cda",
            cvm_list=cvm_list("440342030000"), offline_pin="1234",
            issuer_auth_in_genac=True),
    SimCard("visa_contact_online_pin", "Visa chip, online PIN", "4761739001010028", "2910",
            "visa", Interface.CONTACT, Cvm.ONLINE_PIN, pin="1234", cvm_list=cvm_list("0200")),
    SimCard("visa_expired_issuer", "Visa chip, expired issuer key", "4761739001010036", "2910",
            "visa", Interface.CONTACT, Cvm.NO_CVM),
    SimCard("mastercard_revoked", "Mastercard chip, revoked issuer key", "5200000000001005",
            "2910", "mastercard", Interface.CONTACT, Cvm.NO_CVM),
    SimCard("visa_contact_sda_pin", "Visa chip, SDA, offline PIN", "4761739001010044", "2910",
            "visa", Interface.CONTACT, Cvm.OFFLINE_PIN, oda="sda", cvm_list=cvm_list("0100"),
            offline_pin="4321"),
    SimCard("visa_script", "Visa chip, issuer script", "4761739001010051", "2910", "visa",
            Interface.CONTACT, Cvm.NO_CVM, issuer_script=True),
    # usable at ATMs only: the Visa denial code makes the terminal ask for an AAC (offline decline)
    SimCard("visa_atm_only", "Visa chip, ATM only", "4761739001010093", "2910", "visa",
            Interface.CONTACT, Cvm.NO_CVM, auc="0200"),
    SimCard("visa_declines_at_end", "Visa chip, declines at the end", "4761739001010085",
            "2910", "visa", Interface.CONTACT, Cvm.NO_CVM, declines_at_completion=True),
    SimCard("visa_contactless_pin", "Visa contactless, online PIN", "4761739001010069", "2910",
            "visa", Interface.CONTACTLESS, Cvm.ONLINE_PIN, pin="1234"),
]

TEST_CARDS: dict[str, SimCard] = {c.name: c for c in _CARDS}
CARDS_BY_PAN: dict[str, SimCard] = {c.pan: c for c in _CARDS}
