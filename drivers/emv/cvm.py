"""Cardholder verification (EMV Book 3, 10.5 and Annex C3): the card's CVM list in order.

Each rule is a method and a condition. A rule whose condition does not apply is skipped; the
first that applies is performed: success ends the list; failure goes on to the next rule only
when the rule says "apply succeeding rule if this one fails", else cardholder verification
fails. Rules the terminal does not support count as failed. This terminal is unattended and has
no pen: signature (and the PIN + signature combinations) is never supported. Results go into
the CVM results (9F34: method, condition, 00 unknown / 01 failed / 02 successful).

The performing of a method (PIN entry, VERIFY) belongs to the caller: :func:`process` gets a
``perform(code) -> bool | None`` (True passed, False failed, None: the result is the issuer's,
i.e. online PIN).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

FAIL_CVM, PLAIN_PIN, ONLINE_PIN, PLAIN_PIN_SIG, ENC_PIN, ENC_PIN_SIG = 0, 1, 2, 3, 4, 5
SIGNATURE, NO_CVM = 0x1E, 0x1F
NAMES = {FAIL_CVM: "fail CVM processing", PLAIN_PIN: "plaintext PIN verified by the card",
         ONLINE_PIN: "enciphered PIN verified online",
         PLAIN_PIN_SIG: "plaintext PIN verified by the card and signature",
         ENC_PIN: "enciphered PIN verified by the card",
         ENC_PIN_SIG: "enciphered PIN verified by the card and signature",
         SIGNATURE: "signature", NO_CVM: "no CVM required"}
CONDITIONS = {0: "always", 1: "if unattended cash", 2: "if not cash or cashback",
              3: "if the terminal supports the CVM", 4: "if manual cash",
              5: "if purchase with cashback", 6: "if under X in the application currency",
              7: "if over X in the application currency", 8: "if under Y", 9: "if over Y"}
# 9F33 byte 2 bits for each method this terminal could support
CAPABILITY = {PLAIN_PIN: 0x80, ONLINE_PIN: 0x40, ENC_PIN: 0x10, NO_CVM: 0x08,
              SIGNATURE: 0x20}
NOT_PERFORMED = bytes.fromhex("3F0000")


class CvmListError(ValueError):
    """A CVM list that cannot be read (the kernel sets "ICC data missing")."""


@dataclass(frozen=True)
class Rule:
    code: int  # method, low six bits
    condition: int
    continue_on_fail: bool

    def words(self) -> str:
        method = NAMES.get(self.code, f"unknown method {self.code:02X}")
        cond = CONDITIONS.get(self.condition, f"unknown condition {self.condition:02X}")
        return f"{method}, {cond}" + ("; if it fails, the next rule" if self.continue_on_fail
                                      else "")


@dataclass(frozen=True)
class CvmList:
    x: int  # amounts in the application currency's minor unit (Book 3 binary, implicit decimals)
    y: int
    rules: tuple[Rule, ...]


def parse(raw: bytes) -> CvmList:
    if len(raw) < 8 or len(raw) % 2:
        raise CvmListError("CVM list is not 8 bytes of amounts plus 2-byte rules")
    rules = tuple(Rule(raw[i] & 0x3F, raw[i + 1], bool(raw[i] & 0x40))
                  for i in range(8, len(raw), 2))
    return CvmList(int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:8], "big"), rules)


def words(raw: bytes) -> list[str]:
    """The list in words (``kiosk card-info``)."""
    return [r.words() for r in parse(raw).rules]


@dataclass(frozen=True)
class Context:
    amount_minor: int
    same_currency: bool  # the transaction currency is the application currency (9F42)
    capabilities: int  # 9F33 byte 2
    contactless: bool = False  # no offline PIN over contactless


@dataclass
class Outcome:
    results: bytes  # 9F34
    passed: bool
    method: int | None  # the method that passed (or ended the list)
    unrecognised: bool = False


def supported(code: int, ctx: Context) -> bool:
    if code in (PLAIN_PIN_SIG, ENC_PIN_SIG, SIGNATURE):  # unattended: no signature
        return False
    if ctx.contactless and code in (PLAIN_PIN, ENC_PIN):
        return False
    return code == FAIL_CVM or bool(ctx.capabilities & CAPABILITY.get(code, 0))


def _applies(rule: Rule, cvm: CvmList, ctx: Context) -> bool | None:
    """None: a condition this terminal does not know (skipped, as Book 3 says)."""
    c, a = rule.condition, Decimal(ctx.amount_minor)
    match c:
        case 0 | 2:  # always; a purchase is neither cash nor cashback
            return True
        case 1 | 4 | 5:
            return False
        case 3:
            return supported(rule.code, ctx)
        case 6 | 7 | 8 | 9:
            if not ctx.same_currency:
                return False
            limit = cvm.x if c in (6, 7) else cvm.y
            return a < limit if c in (6, 8) else a > limit
    return None


def process(raw: bytes, ctx: Context, perform: Callable[[int], bool | None]) -> Outcome:
    cvm = parse(raw)
    unrecognised = False
    for rule in cvm.rules:
        if not _applies(rule, cvm, ctx):
            continue
        known = rule.code in NAMES
        unrecognised |= not known
        result = perform(rule.code) if known and supported(rule.code, ctx) and \
            rule.code != FAIL_CVM else False
        head = bytes([rule.code | (0x40 if rule.continue_on_fail else 0), rule.condition])
        if result is None:  # online PIN: the issuer decides
            return Outcome(head + b"\x00", True, rule.code, unrecognised)
        if result:
            return Outcome(head + b"\x02", True, rule.code, unrecognised)
        if not rule.continue_on_fail:
            return Outcome(head + b"\x01", False, rule.code, unrecognised)
    return Outcome(bytes.fromhex("3F0001"), False, None, unrecognised)
