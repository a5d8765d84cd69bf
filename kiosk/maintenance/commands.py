"""``kiosk technician …`` and ``kiosk audit …``: enrolling technicians on a terminal and
checking its audit log, from a shell on the terminal (the operator's installer, a support
session).

- ``technician add NAME --role technician|admin``: asks for the PIN twice (no echo; or one line
  on standard input with ``--pin-stdin``, for provisioning scripts), enrols, and prints the TOTP
  secret as a QR code for an authenticator app, with its ``otpauth://`` link and the secret in
  base32 for typing. It is shown once: it is not printed again (remove and add to enrol anew).
- ``technician remove NAME``, ``technician list`` (names and roles, never secrets),
  ``technician unlock`` (clears a lockout after too many wrong attempts).
- ``audit verify``: checks the chain, every signature and the signed head with the terminal's
  key; exit 0 and the count, or exit 1 naming the first altered entry. ``audit show --last N``.

Each change (add, remove, unlock) goes to the audit log as the actor ``shell`` before it is
reported done. Problems are one line on standard error, exit status 2.
"""

from __future__ import annotations

import getpass
import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kiosk.config import KioskConfig


class CommandError(Exception):
    """One line for standard error."""


def _folder_and_key(cfg: KioskConfig, journal: Path | None) -> tuple[Path, Ed25519PrivateKey]:
    from kiosk.security.provisioning import ProvisioningError, data_dir, load_terminal_keys

    folder = data_dir(cfg, journal)
    try:
        keys = load_terminal_keys(cfg, folder, demo=cfg.demo)
    except ProvisioningError as exc:
        raise CommandError(str(exc)) from None
    if keys.signing_key is None:  # pragma: no cover - load_terminal_keys always gives one
        raise CommandError(f"{folder}: no terminal signing key")
    return folder, keys.signing_key


def _audit(folder: Path, key: Ed25519PrivateKey, action: str, details: dict[str, object]) -> None:
    from kiosk.security.audit import AuditError, AuditLog

    try:
        AuditLog(folder, key).append("shell", action, details)
    except AuditError as exc:
        raise CommandError(f"not done: the audit log refused the entry: {exc}") from None


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline(64)
        return line.strip()
    if not sys.stdin.isatty():
        raise CommandError("technician add: no terminal to ask for the PIN on (use "
                           "--pin-stdin to give it on standard input)")
    first = getpass.getpass("PIN (6 to 12 digits): ")
    if getpass.getpass("The same PIN again: ") != first:
        raise CommandError("technician add: the two PINs differ; nothing was changed")
    return first


def qr_text(data: str) -> str:
    """A QR code of ``data`` drawn with block characters (dark on a light terminal)."""
    import qrcode

    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(data)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


def technician(cfg: KioskConfig, journal: Path | None, action: str, name: str | None,
               role: str, pin_stdin: bool) -> int:
    from kiosk.security.technicians import Access, AccessError, TechnicianStore, provisioning_uri

    os.umask(0o077)
    try:
        folder, key = _folder_and_key(cfg, journal)
        store = TechnicianStore(folder)
        if action == "list":
            techs = store.load()
            for t in sorted(techs.values(), key=lambda t: t.name):
                print(f"{t.name}\t{t.role}")
            if not techs:
                print("no technicians enrolled", file=sys.stderr)
            return 0
        if action == "unlock":
            access = Access(folder)
            failures = access.failures()
            _audit(folder, key, "lockout cleared", {"failures": failures})
            access.lockout_path.unlink(missing_ok=True)
            print(f"lockout cleared ({failures} wrong attempt{'s' if failures != 1 else ''})")
            return 0
        if name is None:
            raise CommandError(f"technician {action}: a name is needed")
        if action == "remove":
            if name not in store.load():
                raise CommandError(f"technician remove: no technician {name}")
            _audit(folder, key, "technician removed", {"name": name})
            store.remove(name)
            print(f"removed {name}")
            return 0
        pin = _read_pin(pin_stdin)
        from kiosk.security.technicians import check_name, check_new_pin

        check_name(name)
        check_new_pin(pin)
        if name in store.load():
            raise CommandError(f"technician add: {name} is enrolled already (remove first "
                               f"to enrol again)")
        _audit(folder, key, "technician added", {"name": name, "role": role})
        tech = store.add(name, role, pin)
    except (AccessError, CommandError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    import base64

    uri = provisioning_uri(tech, cfg.station.id)
    print(f"enrolled {tech.name} ({tech.role}). Scan this with an authenticator app now; it "
          f"is shown only once:\n")
    print(qr_text(uri))
    print(f"or type the secret: {base64.b32encode(tech.totp_secret).decode('ascii')}")
    print(f"link: {uri}")
    return 0


def audit(cfg: KioskConfig, journal: Path | None, action: str, last: int) -> int:
    from kiosk.security.audit import AuditError, AuditTampered, verify_file

    try:
        folder, key = _folder_and_key(cfg, journal)
        if action == "verify":
            n = verify_file(folder, key.public_key())
            print(f"audit log intact: {n} entr{'y' if n == 1 else 'ies'}, chain and signatures "
                  f"verified")
            return 0
        from kiosk.security.audit import AuditLog

        for e in AuditLog(folder, key).recent(max(1, min(last, 10_000))):
            print(f"{e.seq}\t{e.at}\t{e.actor}\t{e.action}\t{e.details}")
        return 0
    except AuditTampered as exc:
        print(f"kiosk: audit log ALTERED: {exc}", file=sys.stderr)
        return 1
    except (AuditError, CommandError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2


def update(cfg: KioskConfig | None, journal: Path | None, action: str, *, bundle: Path | None,
           kind: str, key_file: Path | None, content: Path | None, terminal: str,
           sequence: int, days: int, out: Path | None, config_path: Path | None) -> int:
    """``kiosk update …``: the operator's side (``keygen``, ``sign``: no kiosk config needed)
    and the terminal's (``apply``, ``rollback``: audited as the actor ``shell``)."""
    from datetime import UTC, datetime, timedelta

    from kiosk.files import FileRefused, read_regular_file, write_private_file
    from kiosk.maintenance.updates import (
        CONTENT_MAX_BYTES,
        LIVE_KINDS,
        UpdateRefused,
        Updates,
        make_update,
    )
    from kiosk.records.batch import public_key_raw
    from kiosk.security.keys import KeyError_, create_signing_key, load_signing_key

    os.umask(0o077)
    try:
        if action == "keygen":
            if out is None:
                raise CommandError("update keygen: --out FILE is needed")
            try:
                key = create_signing_key(out)
            except KeyError_ as exc:
                raise CommandError(str(exc)) from None
            print(f"operator key written to {out} (keep it off the terminals)")
            print(f"put this in each terminal's config: [maintenance] operator_key = "
                  f'"{public_key_raw(key.public_key()).hex()}"')
            return 0
        if action == "sign":
            if key_file is None or content is None or out is None or not terminal:
                raise CommandError("update sign: --key, --file, --terminal and --out are "
                                   "needed")
            try:
                key = load_signing_key(key_file)
                data = read_regular_file(content, CONTENT_MAX_BYTES)
            except KeyError_ as exc:
                raise CommandError(str(exc)) from None
            except FileRefused as exc:
                raise CommandError(f"{content}: {exc}") from None
            now = datetime.now(UTC).replace(microsecond=0)
            try:
                bundle_bytes = make_update(key, kind, terminal, sequence, data, issued_at=now,
                                           expires_at=now + timedelta(days=days))
            except ValueError as exc:
                raise CommandError(f"update sign: {exc}") from None
            try:
                write_private_file(out, bundle_bytes)
            except OSError as exc:
                raise CommandError(f"{out}: cannot write: {exc.strerror or exc}") from None
            print(f"signed {kind} update {sequence} for {terminal}, valid {days} days: {out}")
            return 0
        if cfg is None or config_path is None:
            raise CommandError(f"update {action}: --config is needed")
        folder, signing = _folder_and_key(cfg, journal)
        updates = Updates(folder, config_path, cfg)
        if action == "apply":
            if bundle is None:
                raise CommandError("update apply: the bundle file is needed")
            _audit(folder, signing, "update", {"bundle": bundle.name})
            done = updates.apply_file(bundle)
            then = ("the kiosk uses it from the next driver on" if done.kind in LIVE_KINDS
                    else "restart the kiosk to use it")
            print(f"applied {done.kind} update {done.sequence}: {updates.target(done.kind)} "
                  f"(the one before is kept beside it); {then}")
            return 0
        _audit(folder, signing, "rollback", {"kind": kind})
        updates.rollback(kind)
        then = ("the kiosk uses it from the next driver on" if kind in LIVE_KINDS
                else "restart the kiosk to use it")
        print(f"rolled back the {kind}: {updates.target(kind)}; {then}")
        return 0
    except UpdateRefused as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    except CommandError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
