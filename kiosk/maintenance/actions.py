"""What the technician's screens do to the terminal: device tests, uploads, exports and the
provisioning data. Each refuses (:class:`~kiosk.maintenance.mode.MaintenanceError`) what may
not happen now, and each is audited by the caller (:meth:`Maintenance.act`) before it runs.

- **Card test**: identify a presented card on the card device's own worker (the thread that
  owns the reader), as the stop-by-card watch does: scheme, interface and the masked number;
  no payment, no PIN, never the full number. Only when no driver's session runs.
- **Charger test**: enable, disable, set the offered current and read the live status of a
  connector through the charger device's worker; only when no driver's session runs, and the
  connector is switched off again when the mode closes (:func:`chargers_off`).
- **Upload now**, **export to USB** (the upload batches, as ``kiosk export-batches``), **logs
  export** (the log file, every line through the redaction again: no PAN or PIN block leaves).
- **Provisioning**: the terminal id and its public key, and the registration text for the
  back office's QR code.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.emv.api import CardError, NoCard
from kiosk.files import FileRefused, read_regular_file, write_private_file
from kiosk.maintenance.card_info import describe
from kiosk.maintenance.mode import MaintenanceError
from kiosk.security.cards import mask_pan
from kiosk.security.redaction import redact

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from drivers.charger.api import ChargerStatus
    from kiosk.runtime import Runtime

CARD_TEST_WAIT_S = 30.0
LOG_EXPORT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class CardTest:
    ok: bool
    scheme: str = ""
    interface: str = ""
    masked_pan: str = ""
    problem: str = ""
    info: dict[str, Any] = field(default_factory=dict)  # as ``kiosk card-info`` prints it

    def lines(self) -> list[str]:
        """The card-info read in a few lines for the screen (applications, ODA, CVM)."""
        i = self.info
        out = []
        if i.get("expiry"):
            out.append(f"Expires: {i['expiry']}")
        for app in i.get("applications", []):
            chosen = " (selected)" if app.get("aid") == i.get("selected") else ""
            out.append(f"Application: {app.get('label') or '?'} {app.get('aid')}{chosen}")
        oda = i.get("oda") or {}
        if oda:
            out.append(f"Offline data authentication: {oda.get('method') or 'none'}: "
                       f"{oda.get('result')}")
        if i.get("cvm_list"):
            out.append("Cardholder verification: " + "; ".join(i["cvm_list"][:4]))
        return out


def _no_driver(rt: Runtime) -> None:
    if rt.runner.sessions:
        raise MaintenanceError("A driver's session is running: device tests wait until it "
                               "has ended.")


def card_test(rt: Runtime, cancelled: threading.Event, wait_s: float = CARD_TEST_WAIT_S
              ) -> CardTest:
    """Wait for a card (up to ``wait_s``, or until ``cancelled``) and read it as
    ``kiosk card-info`` does (selection, GPO, records, offline data authentication; no
    payment, no PIN), or, on a terminal that cannot, identify it. Blocks: call from a thread
    of the screen's, not the GUI thread. Runs on the card device's worker (the reader's
    owner)."""
    _no_driver(rt)
    terminal = rt.card_terminal
    inspect = getattr(terminal, "inspect_card", None)
    identify = getattr(terminal, "identify_card", None)
    if inspect is None and identify is None:
        return CardTest(False, problem="this card reader cannot test cards")

    def job() -> CardTest:
        try:
            if inspect is not None:
                tx, interface = inspect(wait_s, cancelled.is_set)
                info = describe(tx, interface)
                return CardTest(True, str(info["scheme"]), interface.value,
                                str(info["masked_pan"] or ""), info=info)
            assert identify is not None
            card = identify(rt.currency, wait_s, cancelled.is_set)
            return CardTest(True, card.scheme, card.interface.value, mask_pan(card.pan))
        except NoCard:
            return CardTest(False, problem="no card was presented" if not cancelled.is_set()
                            else "cancelled")
        except (CardError, ValueError) as exc:
            return CardTest(False, problem=f"{type(exc).__name__}: {exc}")

    result = rt.adapters.card.worker.call(job, wait_s + 10)
    return result if result is not None else CardTest(False, problem="the reader did not "
                                                                      "answer in time")


def _connector(rt: Runtime, connector: int) -> int:
    if connector not in {c.id for c in rt.config.connectors}:
        raise MaintenanceError(f"no connector {connector}")
    return connector


def charger_enable(rt: Runtime, connector: int) -> None:
    _no_driver(rt)
    rt.adapters.charger.enable(_connector(rt, connector))


def charger_disable(rt: Runtime, connector: int) -> None:
    rt.adapters.charger.disable(_connector(rt, connector))  # always allowed: it is safe


def charger_set_current(rt: Runtime, connector: int, amps: int) -> int:
    """The current the controller accepted (between 6 A and the connector's maximum)."""
    _no_driver(rt)
    c = next(c for c in rt.config.connectors if c.id == _connector(rt, connector))
    if not isinstance(amps, int) or isinstance(amps, bool) or not 6 <= amps <= c.max_current_a:
        raise MaintenanceError(f"the current is 6 to {c.max_current_a} A")
    charger = rt.charger
    got = rt.adapters.charger.worker.call(lambda: charger.set_current(connector, amps), 10.0)
    if got is None:
        raise MaintenanceError("the charger did not take the current")
    return got


def charger_status(rt: Runtime, connector: int) -> ChargerStatus:
    return rt.charger.status(_connector(rt, connector))


def chargers_off(rt: Runtime) -> None:
    """The mode closes: every connector off (a driver's session enables its own again)."""
    if not rt.runner.sessions:
        for c in rt.config.connectors:
            rt.adapters.charger.disable(c.id)


def upload_now(rt: Runtime) -> bool:
    """Ask the uploader to send now; False when the terminal does not upload."""
    if rt.uploader is None:
        return False
    rt.uploader.kick()
    return True


def export_batches(rt: Runtime, folder: Path) -> int:
    """The batches not yet acknowledged, as files in ``folder`` (as ``kiosk export-batches``)."""
    from kiosk.records.outbox import Outbox, OutboxError
    from kiosk.security.provisioning import terminal_id

    if not folder.is_dir():
        raise MaintenanceError(f"{folder}: no USB stick (not a folder)")
    signing_key = _signing_key(rt)
    terminal = terminal_id(rt.config)
    try:
        batches = Outbox(rt.journal, terminal, signing_key,
                         lambda: datetime.now(UTC)).seal_all()
        for sequence, envelope in batches:
            write_private_file(folder / f"{terminal}-{sequence:08d}.batch", envelope)
    except OutboxError as exc:
        raise MaintenanceError(str(exc)) from None
    except OSError as exc:
        raise MaintenanceError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    return len(batches)


def export_logs(rt: Runtime, folder: Path) -> Path:
    """The log file, redacted line by line once more, as ``folder/<station>-<time>.log``."""
    source = rt.config.logging.path
    if not source:
        raise MaintenanceError("the kiosk logs to standard error (logging.path is not set): "
                               "nothing to export")
    if not folder.is_dir():
        raise MaintenanceError(f"{folder}: no USB stick (not a folder)")
    try:
        data = read_regular_file(Path(source), LOG_EXPORT_MAX_BYTES)
    except FileRefused as exc:
        raise MaintenanceError(f"{source}: {exc}") from None
    text = data.decode("utf-8", errors="replace")
    clean = "".join(redact(line) for line in text.splitlines(keepends=True))
    out = folder / f"{rt.config.station.id}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
    try:
        write_private_file(out, clean.encode("utf-8"))
    except OSError as exc:
        raise MaintenanceError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    return out


@dataclass(frozen=True)
class Provisioning:
    terminal_id: str
    public_key_hex: str
    key_id: str

    def registration(self) -> str:
        """What the back office's registration reads from the QR code (JSON)."""
        return json.dumps({"format": "evkiosk-terminal/1", "terminal_id": self.terminal_id,
                           "public_key": self.public_key_hex}, sort_keys=True,
                          separators=(",", ":"))

    @property
    def fingerprint(self) -> str:
        """The key id's first 16 hex digits in groups of four, for reading aloud."""
        return " ".join(self.key_id[i:i + 4] for i in range(0, 16, 4))


def _signing_key(rt: Runtime) -> Ed25519PrivateKey:
    """The terminal's signing key, as the kiosk loaded it at start (checked again)."""
    from kiosk.security.provisioning import ProvisioningError, load_terminal_keys

    try:
        keys = load_terminal_keys(rt.config, rt.journal.path.parent, demo=rt.config.demo)
    except ProvisioningError as exc:
        raise MaintenanceError(str(exc)) from None
    if keys.signing_key is None:  # pragma: no cover - always one
        raise MaintenanceError("no signing key")
    return keys.signing_key


def provisioning(rt: Runtime) -> Provisioning:
    from kiosk.security.provisioning import terminal_identity

    ident = terminal_identity(rt.config, _signing_key(rt))
    return Provisioning(ident.terminal_id, ident.public_key_hex, ident.key_id)
