"""One EMV transaction with one card: the terminal kernel (EMV 4.4 Books 1-4; contactless
kernels 2 and 3 in the shape this online-only terminal needs).

:meth:`Transaction.run` goes up to the online request:

* contact: application selection (PSE or AID list) → GET PROCESSING OPTIONS (PDOL) → READ
  RECORD per AFL → offline data authentication (CDA, else DDA, else SDA) → processing
  restrictions → cardholder verification (CVM list; offline PIN through ``pin_entry``) →
  terminal risk management → terminal action analysis → first GENERATE AC (CDOL1, CDA);
* contactless, Visa-style (kernel 3, qVSDC): PPSE → GPO with the TTQ; the ARQC comes back in
  the GPO answer → records → fDDA → CVM from the card's CTQ;
* contactless, Mastercard-style (kernel 2): PPSE → GPO → records → CVM list (no offline PIN
  over the air) → GENERATE AC with CDA.

:meth:`Transaction.complete` takes the host's answer to a contact card: issuer authentication
(EXTERNAL AUTHENTICATE, or the ARPC in CDOL2), issuer scripts (71 before, 72 after), second
GENERATE AC (TC when the host approved, else AAC). The TVR and TSI are kept throughout and go to
the host (field 55) and the record. :meth:`Transaction.inspect` reads without a financial
transaction (``kiosk card-info``); :func:`identify` reads only who the card is (selection, GPO,
records: no ODA, no PIN, no GENERATE AC) to recognise the card that started a charge.

A card that answers nonsense is :class:`CardUnreadable`; a card that declines is
:class:`CardDeclined`. What the driver is told follows from the class alone (the messages name
the problem for the log and the technician, never card data), so where the kernel knows more the
class says it: a card with no application this terminal accepts is :class:`CardNotSupported`,
one whose applications are blocked :class:`CardBlocked`, a contactless card that can pay only by
contact :class:`ContactRequired`, and a card that declines (AAC) with the PIN try limit exceeded
in the TVR :class:`PinBlocked`; a card that leaves before its second GENERATE AC gives a
``Completion`` with ``removed``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from drivers.emv import cvm, dol, oda, risk, selection, tlv
from drivers.emv.api import (
    CardBlocked,
    CardDeclined,
    CardError,
    CardId,
    CardNotSupported,
    CardOutcome,
    CardRemoved,
    CardUnreadable,
    Completion,
    ContactRequired,
    Cvm,
    Interface,
    PinBlocked,
    PinEntry,
    PinRequest,
)
from drivers.emv.capk import CaKeyError, CaKeyStore
from drivers.emv.offline_pin import verify_enciphered, verify_plaintext
from drivers.emv.selection import (
    BLOCKED,
    SW_APP_BLOCKED,
    SW_BLOCKED,
    UNREADABLE,
    Candidate,
    ok,
    select,
    sw,
)
from drivers.emv.tvr import new_tsi, new_tvr

Transmit = Callable[[bytes], bytes]
DEFAULT_DDOL = bytes.fromhex("9F3704")
MAX_PIN_ENTRIES = 15  # a PIN try counter is one nibble
# What the host gets in field 55 (when the card or the terminal has it)
ICC_TAGS = (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82, 0x9F36, 0x9F26,
            0x9F27, 0x9F10, 0x5F34, 0x9F33, 0x9F34, 0x9F35, 0x84, 0x9F09, 0x9F66, 0x9F6C,
            0x9F6E)
MSG_DECLINED = "Your card declined the payment."
MSG_INSERT = "This card cannot be used contactless here. Please insert it."


@dataclass(frozen=True)
class TerminalConfig:
    """What the terminal says about itself (EMV Book 4, Annex A; contactless TTQ)."""

    country_numeric: str = "276"  # 9F1A
    terminal_type: int = 0x24  # 9F35: unattended, merchant-operated, online only
    capabilities: bytes = bytes.fromhex("20D8C8")  # 9F33: IC; plain/enc offline PIN,
    #   enciphered online PIN, no CVM (no signature); SDA, DDA, CDA
    additional_capabilities: bytes = bytes.fromhex("6000F0A001")  # 9F40
    ttq: bytes = bytes.fromhex("36804000")  # 9F66: EMV mode, online PIN, online cryptogram
    floor_limit_minor: int = 0  # online only: every transaction exceeds it
    merchant_category: str = "5552"  # 9F15: EV charging
    terminal_id: bytes = b"KIOSK001"  # 9F1C
    app_version: dict[str, bytes] = field(default_factory=lambda: {
        "visa": bytes.fromhex("008C"), "mastercard": bytes.fromhex("0002")})  # 9F09


@dataclass
class OdaReport:
    method: str = "none"  # "sda" | "dda" | "cda" | "fdda" | "none"
    ok: bool | None = None  # None: not (yet) performed
    reason: str = ""


class Transaction:
    def __init__(self, transmit: Transmit, interface: Interface, *,
                 terminal: TerminalConfig | None = None, ca_keys: CaKeyStore | None = None,
                 pin_entry: PinEntry | None = None, today: date | None = None,
                 unpredictable: bytes | None = None,
                 confirm: Callable[[Candidate], bool] | None = None,
                 aids: tuple[selection.TerminalAid, ...] = selection.TERMINAL_AIDS) -> None:
        self.transmit, self.interface, self.aids = transmit, interface, aids
        self.terminal = terminal or TerminalConfig()
        self.ca_keys = ca_keys or CaKeyStore([])
        self.pin_entry, self.confirm = pin_entry, confirm
        self.today = today or date.today()
        self.tvr, self.tsi = new_tvr(), new_tsi()
        self.data: dict[int, bytes] = {}  # the card's data objects (memory only: has the PAN)
        self.values: dict[int, bytes] = {0x9F37: unpredictable or secrets.token_bytes(4)}
        self.candidates: list[Candidate] = []
        self.offered: list[Candidate] = []  # what selection found (card-info shows it)
        self.candidate: Candidate | None = None
        self.static_data = b""
        self.pdol_data = self.cdol1_data = b""
        self.oda = OdaReport()
        self.cvm: Cvm = Cvm.NO_CVM
        self.cvm_results = cvm.NOT_PERFORMED
        self._issuer_key: oda.PublicKey | None = None
        self._icc_key: oda.PublicKey | None = None
        self._waiting = False  # the card waits for complete()
        self._static_ok = True  # every record marked for ODA is a 70 template
        self.amount_minor = 0
        self.pdol_tvr = self._tvr_online = bytes(5)  # the TVR the card's cryptogram covers
        self.script_results = b""

    # --- the terminal's data ---------------------------------------------------------------
    def _terminal_values(self, amount_minor: int, currency_numeric: str) -> None:
        t, now = self.terminal, datetime.now()
        self.values.update({
            0x9F02: bytes.fromhex(f"{amount_minor:012d}"), 0x9F03: bytes(6),
            0x9F1A: bytes.fromhex(t.country_numeric.zfill(4)),
            0x5F2A: bytes.fromhex(currency_numeric.zfill(4)),
            0x9A: bytes.fromhex(self.today.strftime("%y%m%d")),
            0x9F21: bytes.fromhex(now.strftime("%H%M%S")), 0x9C: b"\x00",
            0x9F35: bytes([t.terminal_type]), 0x9F33: t.capabilities,
            0x9F40: t.additional_capabilities, 0x9F66: t.ttq,
            0x9F15: bytes.fromhex(t.merchant_category), 0x9F1C: t.terminal_id,
            0x9F34: self.cvm_results, 0x95: bytes(5), 0x9B: bytes(2),
        })
        self.amount_minor = amount_minor

    def _dol(self, dol_raw: bytes) -> bytes:
        self.values[0x95], self.values[0x9B] = bytes(self.tvr), bytes(self.tsi)
        self.values[0x9F34] = self.cvm_results
        return dol.build(dol_raw, self.values)

    @property
    def aip(self) -> bytes:
        return self.data.get(0x82, b"\x00\x00").ljust(2, b"\x00")

    @property
    def scheme(self) -> str:
        return self.candidate.scheme if self.candidate else "unknown"

    # --- entry points ----------------------------------------------------------------------
    def run(self, amount_minor: int, currency_numeric: str) -> CardOutcome:
        self._terminal_values(amount_minor, currency_numeric)
        try:
            if self.interface is Interface.CONTACT:
                return self._contact()
            return self._contactless()
        except tlv.TlvError as exc:
            raise CardUnreadable(f"{UNREADABLE} ({exc})") from None

    def inspect(self) -> OdaReport:
        """Selection, GPO, records and offline data authentication (no GENERATE AC)."""
        self._terminal_values(0, "978")
        try:
            self._select_and_read()
            if self._qvsdc:
                self._fdda()
            else:
                self._offline_data_authentication()
        except tlv.TlvError as exc:
            raise CardUnreadable(f"{UNREADABLE} ({exc})") from None
        return self.oda

    def identify(self, currency_numeric: str = "978") -> CardId:
        """Who the card is: selection, GPO (amount zero) and the records, then the PAN
        (5A, else the track 2 equivalent 57). No ODA, no CVM, no GENERATE AC: nothing of a
        payment happens, and the card is left in the middle of nothing (power-off ends it)."""
        self._terminal_values(0, currency_numeric)
        try:
            self._select_and_read(payment=False)
        except tlv.TlvError as exc:
            raise CardUnreadable(f"{UNREADABLE} ({exc})") from None
        pan = self.pan
        if not (pan.isdigit() and 12 <= len(pan) <= 19):
            raise CardUnreadable(f"{UNREADABLE} (no card number)")
        return CardId(pan=pan, scheme=self.scheme, interface=self.interface)

    # --- selection, GPO, records -----------------------------------------------------------
    def _select_and_read(self, *, payment: bool = True) -> None:
        if self.interface is Interface.CONTACT:
            found = selection.contact_candidates(self.transmit, self.aids, self.confirm)
        else:
            found = selection.contactless_candidates(self.transmit, self.aids)
        self.candidates, self.offered = list(found), found
        self._select_and_gpo()
        if payment and self._qvsdc and 0x9F26 not in self.data:  # not qVSDC (MSD, VSDC)
            raise ContactRequired(MSG_INSERT)
        self._read_records()

    @property
    def _qvsdc(self) -> bool:
        return self.interface is Interface.CONTACTLESS and self.candidate is not None \
            and self.candidate.kernel == 3

    def _select_and_gpo(self) -> None:
        """Final selection (Book 1, 12.4): the best candidate; one the card refuses to select or
        whose GPO says "conditions of use not satisfied" is dropped and the next tried. When
        none is left: :class:`CardBlocked` if one was dropped as blocked (SELECT 6283, or 6A81),
        else :class:`CardNotSupported`."""
        blocked = False
        while self.candidates:
            c = self.candidates.pop(0)
            r = select(self.transmit, c.aid)
            if sw(r) != b"\x90\x00":
                blocked = blocked or sw(r) in (SW_APP_BLOCKED, SW_BLOCKED)
                continue
            fci = tlv.parse_one(r[:-2])
            df = fci.find(0x84)
            if df is None or not df.value.startswith(c.aid[:5]):
                continue
            self.candidate = c
            self.values[0x84] = self.values[0x4F] = df.value
            self.values[0x9F09] = self.terminal.app_version.get(c.scheme, b"\x00\x00")
            pdol = fci.find(0x9F38)
            self.pdol_data = self._dol(pdol.value) if pdol else b""
            self.pdol_tvr = bytes(self.tvr)
            r = self.transmit(bytes([0x80, 0xA8, 0x00, 0x00, len(self.pdol_data) + 2, 0x83,
                                     len(self.pdol_data)]) + self.pdol_data + b"\x00")
            if sw(r) == b"\x69\x85":
                continue
            if sw(r) in (b"\x69\x84", b"\x69\x86") and self.interface is Interface.CONTACTLESS:
                raise ContactRequired(MSG_INSERT)  # "try another interface"
            gpo = tlv.parse_one(ok(r, "GET PROCESSING OPTIONS"))
            if gpo.tag == 0x80:  # format 1: AIP || AFL
                if len(gpo.value) < 2:
                    raise CardUnreadable(f"{UNREADABLE} (GPO answer too short)")
                self.data = {0x82: gpo.value[:2], 0x94: gpo.value[2:]}
            elif gpo.tag == 0x77:
                self.data = tlv.flatten([gpo])
            else:
                raise CardUnreadable(f"{UNREADABLE} (GPO answer {gpo.tag:X})")
            if 0x82 not in self.data:
                raise CardUnreadable(f"{UNREADABLE} (no AIP)")
            return
        if blocked:
            raise CardBlocked(BLOCKED)
        raise CardNotSupported(f"{UNREADABLE} (no application this terminal accepts)")

    def _read_records(self) -> None:
        static = b""
        oda_ok = True
        for sfi, first, last, n_oda in _afl(self.data.get(0x94, b"")):
            for rec in range(first, last + 1):
                body = ok(self.transmit(bytes([0x00, 0xB2, rec, (sfi << 3) | 4, 0x00])),
                          "READ RECORD")
                record = tlv.parse_one(body)
                if sfi <= 10 and record.tag != 0x70:
                    raise CardUnreadable(f"{UNREADABLE} (record {sfi}/{rec} is not a 70 template)")
                if rec < first + n_oda:
                    if record.tag != 0x70:
                        oda_ok = False
                    static += record.value if sfi <= 10 else body
                for k, v in tlv.flatten([record]).items():
                    if k in self.data:
                        raise CardUnreadable(f"{UNREADABLE} (tag {k:X} twice in the records)")
                    self.data[k] = v
        tag_list = self.data.get(0x9F4A)
        if tag_list is not None:
            if dol.parse_tag_list(tag_list) == [0x82]:
                static += self.data[0x82]
            else:  # Book 3: only the AIP may be listed; anything else makes ODA fail
                oda_ok = False
        self.static_data = static if oda_ok else b""
        self._static_ok = oda_ok

    @property
    def pan(self) -> str:
        if 0x5A in self.data:
            return self.data[0x5A].hex().upper().rstrip("F")
        return self.data.get(0x57, b"").hex().upper().split("D")[0]  # track 2 equivalent

    def _require(self, *tags: int) -> None:
        missing = [t for t in tags if t not in self.data]
        if missing:
            raise CardUnreadable(f"{UNREADABLE} (the card lacks "
                                 f"{', '.join(f'{t:X}' for t in missing)})")
        if not (self.pan.isdigit() and 12 <= len(self.pan) <= 19):
            raise CardUnreadable(f"{UNREADABLE} (no card number)")

    # --- offline data authentication -------------------------------------------------------
    def _issuer(self) -> oda.PublicKey:
        if self._issuer_key is None:
            if self.candidate is None or 0x8F not in self.data or 0x90 not in self.data \
                    or 0x9F32 not in self.data:
                self.tvr.set("ICC data missing")
                raise oda.OdaError("issuer certificate: missing on the card")
            rid, index = self.candidate.aid[:5], self.data[0x8F][0]
            try:
                ca = self.ca_keys.get(rid, index, self.today)
            except CaKeyError as exc:
                raise oda.OdaError(str(exc)) from None
            self._issuer_key = oda.recover_issuer_key(
                self.data[0x90], self.data.get(0x92, b""), self.data[0x9F32], ca, self.today,
                revoked=lambda serial: self.ca_keys.is_revoked(rid, index, serial), pan=self.pan)
        return self._issuer_key

    def _icc(self) -> oda.PublicKey:
        if self._icc_key is None:
            if 0x9F46 not in self.data or 0x9F47 not in self.data:
                self.tvr.set("ICC data missing")
                raise oda.OdaError("ICC certificate: missing on the card")
            if not self._static_ok:
                raise oda.OdaError("static data: a signed record is not a 70 template")
            self._icc_key = oda.recover_icc_key(
                self.data[0x9F46], self.data.get(0x9F48, b""), self.data[0x9F47],
                self._issuer(), self.static_data, self.pan, self.today)
        return self._icc_key

    def _offline_data_authentication(self) -> None:
        """Book 3, 10.3: CDA when the card and the terminal both can, else DDA, else SDA. CDA
        recovers the keys now and checks the signature at GENERATE AC."""
        caps, aip = self.terminal.capabilities[2], self.aip[0]
        if aip & 0x01 and caps & 0x08:
            self.oda.method, failed = "cda", "CDA failed"
        elif aip & 0x20 and caps & 0x40 and self.interface is Interface.CONTACT:
            self.oda.method, failed = "dda", "DDA failed"
        elif aip & 0x40 and caps & 0x80 and self.interface is Interface.CONTACT:
            self.oda.method, failed = "sda", "SDA failed"
        else:
            self.tvr.set("offline data authentication not performed")
            return
        self.tsi.set("offline data authentication was performed")
        try:
            if self.oda.method == "sda":
                if 0x93 not in self.data:
                    self.tvr.set("ICC data missing")
                    raise oda.OdaError("signed static data: missing on the card")
                if not self._static_ok:
                    raise oda.OdaError("static data: a signed record is not a 70 template")
                self.values[0x9F45] = oda.verify_sda(self.data[0x93], self._issuer(),
                                                     self.static_data)
            elif self.oda.method == "dda":
                self._dda()
            else:
                self._icc()
        except oda.OdaError as exc:
            self.tvr.set(failed)
            self.oda.ok, self.oda.reason = False, str(exc)
            return
        if self.oda.method != "cda":
            self.oda.ok = True

    def _dda(self) -> None:
        icc = self._icc()
        ddol = self.data.get(0x9F49, DEFAULT_DDOL)
        if 0x9F37 not in [t for t, _ in dol.parse_dol(ddol)]:
            raise oda.OdaError("DDOL without the unpredictable number")
        ddol_data = self._dol(ddol)
        r = self.transmit(bytes([0x00, 0x88, 0x00, 0x00, len(ddol_data)]) + ddol_data + b"\x00")
        if sw(r) != b"\x90\x00":
            raise oda.OdaError(f"INTERNAL AUTHENTICATE refused ({r[-2:].hex().upper()})")
        try:
            answer = tlv.parse_one(r[:-2])
        except tlv.TlvError as exc:
            raise oda.OdaError(f"INTERNAL AUTHENTICATE answer: {exc}") from None
        sdad = answer.value if answer.tag == 0x80 else (answer.find(0x9F4B) or tlv.Tlv(0, b"")
                                                        ).value
        dyn = oda.verify_dda(sdad, icc, ddol_data)
        if dyn:
            self.values[0x9F4C] = dyn[1:1 + dyn[0]]

    def _fdda(self) -> None:
        """Visa fDDA: the signature of the GPO answer over UN, amount, currency and the card
        authentication related data (9F69)."""
        if not self.aip[0] & 0x20 or 0x9F4B not in self.data:
            self.tvr.set("offline data authentication not performed")
            return
        self.oda.method = "fdda"
        self.tsi.set("offline data authentication was performed")
        try:
            if 0x9F69 not in self.data:
                raise oda.OdaError("fDDA: no card authentication related data (9F69)")
            terminal_data = (self.values[0x9F37] + self.values[0x9F02] + self.values[0x5F2A]
                             + self.data[0x9F69])
            oda.verify_fdda(self.data[0x9F4B], self._icc(), terminal_data)
        except oda.OdaError as exc:
            self.tvr.set("DDA failed")
            self.oda.ok, self.oda.reason = False, str(exc)
            return
        self.oda.ok = True

    # --- cardholder verification -----------------------------------------------------------
    def _cardholder_verification(self) -> None:
        if not self.aip[0] & 0x10:
            return
        raw = self.data.get(0x8E)
        if raw is None:
            self.tvr.set("ICC data missing")
            return
        ctx = cvm.Context(self.amount_minor, self.data.get(0x9F42) == self.values[0x5F2A],
                          self.terminal.capabilities[1],
                          self.interface is Interface.CONTACTLESS)
        try:
            outcome = cvm.process(raw, ctx, self._perform_cvm)
        except cvm.CvmListError:
            self.tvr.set("ICC data missing")
            return
        self.tsi.set("cardholder verification was performed")
        self.cvm_results = outcome.results
        if outcome.unrecognised:
            self.tvr.set("unrecognised CVM")
        if not outcome.passed:
            self.tvr.set("cardholder verification was not successful")

    def _perform_cvm(self, code: int) -> bool | None:
        if code == cvm.NO_CVM:
            self.cvm = Cvm.NO_CVM
            return True
        if code == cvm.ONLINE_PIN:
            self.cvm = Cvm.ONLINE_PIN
            self.tvr.set("online PIN entered")  # the PIN pad follows the read
            return None
        if self._offline_pin(enciphered=code == cvm.ENC_PIN):
            self.cvm = Cvm.OFFLINE_PIN
            return True
        return False

    def _offline_pin(self, *, enciphered: bool) -> bool:
        if self.pin_entry is None:
            self.tvr.set("PIN entry required and PIN pad not present or not working")
            return False
        r = self.transmit(bytes.fromhex("80CA9F1700"))
        tries: int | None = None
        if sw(r) == b"\x90\x00":
            obj = tlv.parse_one(r[:-2])
            tries = obj.value[0] if obj.tag == 0x9F17 and len(obj.value) == 1 else None
        if tries == 0:
            self.tvr.set("PIN try limit exceeded")
            return False
        key = None
        if enciphered:
            try:
                key = self._pin_key()
            except oda.OdaError:
                return False
        wrong = False
        for _ in range(MAX_PIN_ENTRIES):
            pin = self.pin_entry(PinRequest(offline=True, tries_left=tries, wrong=wrong))
            result = (verify_enciphered(self.transmit, pin, key) if key is not None
                      else verify_plaintext(self.transmit, pin))
            del pin
            if result.ok:
                return True
            if result.blocked:
                self.tvr.set("PIN try limit exceeded")
                return False
            tries, wrong = result.tries_left, True
        self.tvr.set("PIN try limit exceeded")  # a card that never counts down
        return False

    def _pin_key(self) -> oda.PublicKey:
        """The ICC PIN encipherment key (9F2D) when the card has one, else the ICC key."""
        if 0x9F2D in self.data and 0x9F2E in self.data:
            return oda.recover_icc_key(self.data[0x9F2D], self.data.get(0x9F2F, b""),
                                       self.data[0x9F2E], self._issuer(), b"", self.pan,
                                       self.today)
        return self._icc()

    # --- risk, action analysis, GENERATE AC ------------------------------------------------
    def _terminal_risk_management(self) -> None:
        if self.amount_minor >= self.terminal.floor_limit_minor:
            self.tvr.set("transaction exceeds floor limit")
        if self.aip[0] & 0x08:
            risk.velocity(self.data, self.tvr, self._get_data(0x9F36), self._get_data(0x9F13))
        self.tsi.set("terminal risk management was performed")

    def _get_data(self, tag: int) -> bytes | None:
        r = self.transmit(bytes([0x80, 0xCA, tag >> 8, tag & 0xFF, 0x00]))
        if sw(r) != b"\x90\x00":
            return None
        try:
            obj = tlv.parse_one(r[:-2])
        except tlv.TlvError:
            return None
        return obj.value if obj.tag == tag else None

    def _generate_ac(self, p1: int, dol_data: bytes, prefix: bytes) -> tuple[int, dict[int, bytes]]:
        """GENERATE AC; with CDA (p1 & 10) the signature is checked and the AC recovered from
        it. ``prefix``: the DOL data before this command, for the CDA transaction hash."""
        r = ok(self.transmit(bytes([0x80, 0xAE, p1, 0x00, len(dol_data)]) + dol_data + b"\x00"),
               "GENERATE AC")
        answer = tlv.parse_one(r)
        if answer.tag == 0x80:
            v = answer.value
            if len(v) < 11:
                raise CardUnreadable(f"{UNREADABLE} (GENERATE AC answer too short)")
            out = {0x9F27: v[:1], 0x9F36: v[1:3], 0x9F26: v[3:11]}
            if len(v) > 11:
                out[0x9F10] = v[11:]
        elif answer.tag == 0x77:
            out = tlv.flatten([answer])
        else:
            raise CardUnreadable(f"{UNREADABLE} (GENERATE AC answer {answer.tag:X})")
        if 0x9F27 not in out or 0x9F36 not in out or len(out[0x9F27]) != 1:
            raise CardUnreadable(f"{UNREADABLE} (GENERATE AC answer incomplete)")
        cid = out[0x9F27][0] & 0xC0
        if p1 & 0x10 and cid != risk.AAC:
            try:
                if answer.tag != 0x77 or 0x9F4B not in out:
                    raise oda.OdaError("CDA: the card gave no signature")
                signed = b"".join(tlv.encode(c.tag, c.value) for c in answer.children
                                  if c.tag != 0x9F4B)
                tx_hash = hashlib.sha1(prefix + dol_data + signed).digest()  # noqa: S324 - EMV
                dyn, ac = oda.verify_cda(out[0x9F4B], self._icc(), self.values[0x9F37],
                                         out[0x9F27], tx_hash)
                out[0x9F26], self.values[0x9F4C] = ac, dyn
                self.oda.ok = True
            except oda.OdaError as exc:
                self.tvr.set("CDA failed")
                self.oda.ok, self.oda.reason = False, str(exc)
        if 0x9F26 not in out:
            raise CardUnreadable(f"{UNREADABLE} (no application cryptogram)")
        return cid, out

    def _first_generate_ac(self) -> CardOutcome:
        wanted = risk.action(self.data, bytes(self.tvr), self.scheme)
        cda = self.oda.method == "cda" and self.oda.ok is not False and wanted != risk.AAC
        self.cdol1_data = self._dol(self.data[0x8C])
        self._tvr_online = bytes(self.tvr)
        cid, out = self._generate_ac(wanted | (0x10 if cda else 0), self.cdol1_data,
                                     self.pdol_data)
        self.tsi.set("card risk management was performed")
        self.data.update(out)
        if cid == risk.AAC:
            raise self._card_declined()
        if cid != risk.ARQC:  # a TC for an ARQC request breaks Book 3, 9.3
            raise CardUnreadable(f"{UNREADABLE} (the card approved offline)")
        if cda and self.oda.ok is False:  # Book 2, 6.6: CDA failed on the ARQC → decline
            if self.interface is Interface.CONTACT and 0x8D in self.data:
                self._finish(False, b"")  # the card's AAC ends its transaction
            raise CardDeclined("This card could not be verified. Please try another card.")
        return self._outcome(self.interface is Interface.CONTACT)

    def _card_declined(self) -> CardDeclined:
        """The card answered an AAC: :class:`PinBlocked` when the TVR says the PIN try limit
        was exceeded (byte 3, 20: the card's try counter was 0, or wrong PINs used it up
        during this read), else a plain :class:`CardDeclined`."""
        if "PIN try limit exceeded" in self.tvr:
            return PinBlocked(MSG_DECLINED)
        return CardDeclined(MSG_DECLINED)

    def _outcome(self, waiting: bool) -> CardOutcome:
        known = {**self.values, **self.data, 0x95: self._tvr_online}
        icc = tlv.encode_many([(t, known[t]) for t in ICC_TAGS if t in known])
        self._waiting = waiting
        return CardOutcome(pan=self.pan, expiry=self.data.get(0x5F24, b"").hex()[:4],
                           scheme=self.scheme, interface=self.interface, cvm=self.cvm,
                           icc_data=icc, pan_sequence=self.data.get(0x5F34, b"\x00").hex(),
                           needs_completion=waiting)

    # --- the paths -------------------------------------------------------------------------
    def _contact(self) -> CardOutcome:
        self._select_and_read()
        self._require(0x5A, 0x5F24, 0x8C, 0x8D)
        self._offline_data_authentication()
        self._restrictions()
        self._cardholder_verification()
        self._terminal_risk_management()
        return self._first_generate_ac()

    def _restrictions(self) -> None:
        risk.restrictions(self.data, self.tvr, today=self.today,
                          country=self.values[0x9F1A], app_version=self.values.get(0x9F09))

    def _contactless(self) -> CardOutcome:
        self._select_and_read()
        if not self._qvsdc:  # Mastercard-style: records, CVM list, GENERATE AC with CDA
            self._require(0x5A, 0x5F24, 0x8C)
            self._offline_data_authentication()
            self._restrictions()
            self._cardholder_verification()
            self._terminal_risk_management()
            return self._first_generate_ac()
        self._require(0x5A, 0x5F24)
        self._restrictions()
        self._fdda()
        ctq = self.data.get(0x9F6C, b"\x00\x00").ljust(2, b"\x00")
        if ctq[0] & 0x80 and self.terminal.ttq[0] & 0x04:
            self.cvm = Cvm.ONLINE_PIN
            self.tvr.set("online PIN entered")
        elif ctq[1] & 0x80:
            self.cvm = Cvm.CDCVM
        cid = self.data.get(0x9F27, b"\x80")[0] & 0xC0
        self._tvr_online = self.pdol_tvr  # the ARQC covers the PDOL data: the TVR sent there
        if cid == risk.AAC:
            raise self._card_declined()
        if cid != risk.ARQC:
            raise CardUnreadable(f"{UNREADABLE} (the card approved offline)")
        return self._outcome(False)

    # --- after the host answered -----------------------------------------------------------
    def complete(self, approved: bool, issuer_data: bytes) -> Completion:
        if not self._waiting:
            return Completion(approved)
        self._waiting = False
        return self._finish(approved, issuer_data)

    def _finish(self, approved: bool, issuer_data: bytes) -> Completion:
        """The second GENERATE AC; never raises (the card's trouble is a declined Completion)."""
        try:
            return self._complete(approved, issuer_data)
        except CardRemoved:
            return Completion(False, "The card was removed before the payment was complete.",
                              removed=True)
        except (CardError, tlv.TlvError, ValueError):
            return Completion(False, "The card could not complete the payment.")

    def _complete(self, approved: bool, issuer_data: bytes) -> Completion:
        try:
            objs = tlv.parse(issuer_data)
        except tlv.TlvError:
            objs = []
            self.tvr.set("issuer authentication failed")
        iad = next((o.value for o in objs if o.tag == 0x91), None)
        cdol2 = self.data.get(0x8D, b"")
        cdol2_tags = [t for t, _ in dol.parse_dol(cdol2)]
        arc = iad[8:10] if iad is not None and len(iad) >= 10 else (
            b"00" if approved else b"Z3" if not issuer_data else b"05")
        self.values[0x8A] = arc
        if iad is not None:
            self.values[0x91] = iad
            self.tsi.set("issuer authentication was performed")
            if 0x91 not in cdol2_tags and self.aip[0] & 0x04:
                r = self.transmit(bytes([0x00, 0x82, 0x00, 0x00, len(iad)]) + iad)
                if sw(r) != b"\x90\x00":
                    self.tvr.set("issuer authentication failed")
        self._scripts([o for o in objs if o.tag == 0x71], before=True)
        accept = approved and arc in (b"00", b"10", b"11")
        if accept and "issuer authentication failed" in self.tvr:
            default = self.data.get(0x9F0D, b"\xff" * 5)
            accept = not (len(default) == 5 and default[4] & 0x40)
        cda = accept and self.oda.method == "cda" and self.oda.ok is not False
        p1 = (risk.TC if accept else risk.AAC) | (0x10 if cda else 0)
        cdol2_data = self._dol(cdol2)
        cid, out = self._generate_ac(p1, cdol2_data, self.pdol_data + self.cdol1_data)
        self.data.update(out)
        self._scripts([o for o in objs if o.tag == 0x72], before=False)
        final = cid == risk.TC and accept and not (cda and self.oda.ok is False)
        record = tlv.encode_many([(0x95, bytes(self.tvr)), (0x9B, bytes(self.tsi)),
                                  (0x9F27, out[0x9F27]), (0x9F26, out[0x9F26]), (0x8A, arc)]
                                 + ([(0x9F5B, self.script_results)] if self.script_results
                                    else []))
        return Completion(final, "" if final or not approved else MSG_DECLINED, record)

    def _scripts(self, scripts: list[tlv.Tlv], *, before: bool) -> None:
        """Issuer scripts (Book 3, 10.10): each command in turn; a command the card refuses
        ends its script. Results per script in 9F5B (result nibble, sequence, script id)."""
        for script in scripts:
            ident = script.find(0x9F18)
            result = 0x20
            for seq, cmd in enumerate((c.value for c in script.children if c.tag == 0x86), 1):
                r = self.transmit(cmd) if len(cmd) >= 4 else b"\x67\x00"
                if r[-2:-1] not in (b"\x90", b"\x62", b"\x63"):
                    result = 0x10 | min(seq, 15)
                    self.tvr.set("script processing failed before final GENERATE AC" if before
                                 else "script processing failed after final GENERATE AC")
                    break
            self.tsi.set("script processing was performed")
            self.script_results += bytes([result]) + (ident.value if ident else bytes(4))[:4]


def identify(transmit: Transmit, interface: Interface, *, currency_numeric: str = "978",
             terminal: TerminalConfig | None = None,
             aids: tuple[selection.TerminalAid, ...] = selection.TERMINAL_AIDS) -> CardId:
    """Read who the card behind ``transmit`` is, without a payment (:meth:`Transaction.identify`).
    Raises :class:`CardError` subclasses as a transaction does (removed, unreadable)."""
    return Transaction(transmit, interface, terminal=terminal, aids=aids).identify(
        currency_numeric)


def _afl(afl: bytes) -> list[tuple[int, int, int, int]]:
    if len(afl) % 4:
        raise CardUnreadable(f"{UNREADABLE} (bad AFL)")
    out = []
    for i in range(0, len(afl), 4):
        sfi, first, last, n_oda = afl[i] >> 3, afl[i + 1], afl[i + 2], afl[i + 3]
        if not (1 <= sfi <= 30 and 1 <= first <= last and n_oda <= last - first + 1):
            raise CardUnreadable(f"{UNREADABLE} (bad AFL)")
        out.append((sfi, first, last, n_oda))
    return out

