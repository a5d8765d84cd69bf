"""The ``kiosk`` command: run the terminal, check a config file, provision the keys.

Production is the default: ``kiosk run --config FILE``. The simulators and TEST keys run only
with the switch ``kiosk run --demo`` (with no ``--config``: the demo config
``kiosk/resources/kiosk.toml``). A bad config or key ends with one line on standard error and exit
code 2.

Subcommands of the device issues (``card-info``, ``charger-probe``), of billing (``price``)
and of the maintenance mode (``technician``, ``audit``) join here as they land.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import KioskConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="EV charging payment kiosk")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the kiosk window")
    run.add_argument("--config", type=Path,
                     help="config file (needed without --demo; with --demo the default is the "
                          "demo config)")
    run.add_argument("--demo", action="store_true",
                     help="demo mode on simulators and TEST keys: buttons tap a card and plug "
                          "a car")
    run.add_argument("--journal", type=Path, help="journal file (overrides the config)")
    run.add_argument("--quit-after", type=float, default=0.0, help=argparse.SUPPRESS)
    check = sub.add_parser("check-config", help="validate a config file and print it")
    check.add_argument("config", type=Path)
    check.add_argument("--demo", action="store_true",
                       help="check it as kiosk run --demo reads it (simulators allowed)")
    prov = sub.add_parser("provision",
                          help="create the data folder, the terminal's missing token keys and "
                               "its signing key (never overwrites one), check every key, print "
                               "what the back office registers")
    prov.add_argument("--config", type=Path, help="the production config file")
    prov.add_argument("--journal", type=Path, help="journal file (overrides the config)")
    prov.add_argument("--card-token-key", type=Path, metavar="KEYFILE",
                      help="the operator-wide card token key (32 bytes, 0600) to install as "
                           "this terminal's, so card tokens match across the operator's "
                           "terminals (its member lists); a different existing key is refused")
    prov.add_argument("--new-card-token-key", type=Path, metavar="OUT",
                      help="make the operator's card token key once (32 random bytes, 0600, "
                           "never overwritten): no --config, no terminal is touched")
    batches = sub.add_parser("export-batches",
                             help="write every upload batch not yet acknowledged to a folder "
                                  "(a USB stick, for sites without a network)")
    batches.add_argument("--config", type=Path, required=True, help="the config file")
    batches.add_argument("--journal", type=Path, help="journal file (overrides the config)")
    batches.add_argument("--to", type=Path, required=True, help="the folder to write to")
    batches.add_argument("--demo", action="store_true",
                         help="read the config and keys as kiosk run --demo does")
    info = sub.add_parser("card-info", help="read a presented card (no payment), print JSON")
    info.add_argument("--reader", default="", help="part of the PC/SC reader name")
    info.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for a card")
    info.add_argument("--ca-keys", type=Path, default=None,
                      help="CA public key file (JSON) for offline data authentication; "
                           "default: the one of the kiosk's config")
    probe = sub.add_parser("charger-probe", help="ask an OpenEVSE controller for its state")
    probe.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB0")
    probe.add_argument("--baud", type=int, default=115200)
    probe.add_argument("--timeout", type=float, default=1.0, help="seconds per command")
    tech = sub.add_parser("technician", help="enrol, remove, list or unlock the technicians "
                                             "of the maintenance mode")
    tech.add_argument("action", choices=("add", "remove", "list", "unlock"))
    tech.add_argument("name", nargs="?", help="the technician's name (add, remove)")
    tech.add_argument("--role", choices=("technician", "admin"), default="technician",
                      help="admin: the operator's admin, who may also change settings")
    tech.add_argument("--pin-stdin", action="store_true",
                      help="read the PIN as one line on standard input (no prompt)")
    audit = sub.add_parser("audit", help="verify or show the terminal's audit log")
    audit.add_argument("action", choices=("verify", "show"))
    audit.add_argument("--last", type=int, default=50, help="show: the newest N entries")
    upd = sub.add_parser("update", help="signed config and tariff updates: make the "
                                        "operator's key, sign, apply on a terminal, roll back")
    upd.add_argument("action", choices=("keygen", "sign", "apply", "rollback"))
    upd.add_argument("bundle", nargs="?", type=Path, help="apply: the .evkupdate file")
    upd.add_argument("--kind", choices=("config", "tariff", "members"), default="config")
    upd.add_argument("--key", type=Path, help="sign: the operator's private key file")
    upd.add_argument("--file", type=Path, help="sign: the new config or tariff file")
    upd.add_argument("--terminal", default="", help="sign: the station id it is for")
    upd.add_argument("--sequence", type=int, default=1,
                     help="sign: higher than every update of this kind sent before")
    upd.add_argument("--days", type=int, default=30, help="sign: how long it may be applied")
    upd.add_argument("--out", type=Path, help="keygen: the key file; sign: the bundle file")
    upd.add_argument("--config", type=Path, help="apply, rollback: the terminal's config file")
    upd.add_argument("--journal", type=Path, help="journal file (overrides the config)")
    upd.add_argument("--demo", action="store_true",
                     help="read the config and keys as kiosk run --demo does")
    for p_ in (tech, audit):
        p_.add_argument("--config", type=Path, required=True, help="the config file")
        p_.add_argument("--journal", type=Path, help="journal file (overrides the config)")
        p_.add_argument("--demo", action="store_true",
                        help="read the config and keys as kiosk run --demo does")
    price = sub.add_parser("price", help="price an OCPI CDR with an OCPI tariff, print the "
                                         "totals and the warnings as JSON")
    price.add_argument("--tariff", type=Path, required=True, help="OCPI 2.2.1 Tariff JSON")
    price.add_argument("--cdr", type=Path, required=True, help="OCPI 2.2.1 CDR JSON")
    price.add_argument("--time-zone", default="UTC",
                       help="IANA zone the restrictions are read in (CDRs carry none)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "card-info":
        from kiosk.maintenance.card_info import main as card_info

        return card_info(args.reader, args.timeout, args.ca_keys or _config_ca_keys())
    if args.command == "charger-probe":
        from kiosk.config import BAUD_RATES

        if args.baud not in BAUD_RATES:
            print(f"kiosk: charger-probe: --baud {args.baud}: not a standard rate "
                  f"({', '.join(map(str, BAUD_RATES))})", file=sys.stderr)
            return 2
        from kiosk.maintenance.charger_probe import charger_probe

        return charger_probe(args.port, args.baud, args.timeout)
    if args.command == "price":
        return _price(args.tariff, args.cdr, args.time_zone)
    from kiosk.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

    if args.command == "check-config":
        try:
            cfg = load_config(args.config, demo=args.demo)
        except ConfigError as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        print(cfg.model_dump_json(indent=2))
        return 0
    if args.command == "provision":
        if args.new_card_token_key is not None:
            return _new_card_token_key(args.new_card_token_key)
        if args.config is None:
            print("kiosk: provision: --config FILE is needed", file=sys.stderr)
            return 2
        try:
            cfg = load_config(args.config)
        except ConfigError as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        return _provision(cfg, args.journal, args.card_token_key)
    if args.command == "update":
        from kiosk.maintenance import commands as update_commands

        ucfg = None
        if args.action in ("apply", "rollback"):
            if args.config is None:
                print(f"kiosk: update {args.action}: --config is needed", file=sys.stderr)
                return 2
            try:
                ucfg = load_config(args.config, demo=args.demo)
            except ConfigError as exc:
                print(f"kiosk: {exc}", file=sys.stderr)
                return 2
        return update_commands.update(
            ucfg, args.journal, args.action, bundle=args.bundle, kind=args.kind,
            key_file=args.key, content=args.file, terminal=args.terminal,
            sequence=args.sequence, days=args.days, out=args.out, config_path=args.config)
    if args.command in ("technician", "audit"):
        try:
            cfg = load_config(args.config, demo=args.demo)
        except ConfigError as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        from kiosk.maintenance import commands

        if args.command == "technician":
            return commands.technician(cfg, args.journal, args.action, args.name, args.role,
                                       args.pin_stdin)
        return commands.audit(cfg, args.journal, args.action, args.last)
    if args.command == "export-batches":
        try:
            cfg = load_config(args.config, demo=args.demo)
        except ConfigError as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        return _export_batches(cfg, args.journal, args.to)
    if args.config is None and not args.demo:
        print("kiosk: run: no config: production needs its file (kiosk run --config "
              "/etc/evkiosk/kiosk.toml); the simulators and TEST keys run only with "
              "kiosk run --demo", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config or DEFAULT_CONFIG_PATH, demo=args.demo)
    except ConfigError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    from kiosk.app import run_app

    return run_app(cfg, journal_path=args.journal, quit_after=args.quit_after,
                   config_path=args.config)


def _new_card_token_key(out: Path) -> int:
    """``kiosk provision --new-card-token-key OUT``: the operator's card token key, once."""
    import os

    from kiosk.security.keys import KeyError_, create_key

    os.umask(0o077)
    try:
        create_key(out)
    except KeyError_ as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    print(f"the operator's card token key is in {out} (0600): give it to every terminal with "
          f"kiosk provision --config FILE --card-token-key {out}, keep it safe, never make "
          f"another (card tokens made with this one would stop matching)")
    return 0


def _provision(cfg: KioskConfig, journal: Path | None, card_key: Path | None = None) -> int:
    """``kiosk provision``: create what is missing (0700 folder, 0600 keys; the card token key
    from ``card_key`` when given), then check that the kiosk would start on these keys."""
    import os

    from kiosk.security.provisioning import (
        ProvisioningError,
        data_dir,
        load_terminal_keys,
        provision,
        terminal_identity,
    )

    os.umask(0o077)
    folder = data_dir(cfg, journal)
    try:
        created = provision(cfg, folder, card_token_key=card_key)
    except ProvisioningError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    for path in created:
        print(f"created {path}")
    if not created:
        print(f"nothing to create: the data folder {folder} and its keys exist (kept as they "
              f"are)")
    try:
        keys = load_terminal_keys(cfg, folder, demo=False)
    except ProvisioningError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    print(f"checked: the token keys in {folder}; the PIN key {keys.pin_key_file}")
    if card_key is not None:
        print(f"the card token key is the operator's ({card_key})")
    assert keys.signing_key is not None
    ident = terminal_identity(cfg, keys.signing_key)
    print("register at the back office:")
    print(f"  terminal id: {ident.terminal_id}")
    print(f"  public key (Ed25519, raw, hex): {ident.public_key_hex}")
    print(f"  key id (SHA-256 of the public key): {ident.key_id}")
    return 0


def _export_batches(cfg: KioskConfig, journal_path: Path | None, to: Path) -> int:
    """``kiosk export-batches``: every batch not acknowledged (the next ones built first) as
    ``TO/<terminal>-<sequence:08d>.batch`` (0600, written under a temporary name, then
    renamed). Acknowledges nothing: the back office's import answer does that."""
    import os
    from datetime import UTC, datetime

    from kiosk.files import write_private_file
    from kiosk.journal.store import Journal, JournalError
    from kiosk.records.outbox import Outbox, OutboxError
    from kiosk.security.provisioning import (
        ProvisioningError,
        data_dir,
        load_terminal_keys,
        terminal_id,
    )

    os.umask(0o077)
    path = Path(journal_path or cfg.journal_path()).expanduser()
    if not path.is_file():
        print(f"kiosk: journal {path}: no such file", file=sys.stderr)
        return 2
    if not to.is_dir():
        print(f"kiosk: {to}: not a folder (--to)", file=sys.stderr)
        return 2
    try:
        keys = load_terminal_keys(cfg, data_dir(cfg, path), demo=cfg.demo)
    except ProvisioningError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    assert keys.signing_key is not None
    terminal = terminal_id(cfg)
    try:
        journal = Journal(path, outbox_key=keys.outbox_key)
    except JournalError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    try:
        batches = Outbox(journal, terminal, keys.signing_key,
                         lambda: datetime.now(UTC)).seal_all()
        for sequence, envelope in batches:
            write_private_file(to / f"{terminal}-{sequence:08d}.batch", envelope)
    except (JournalError, OutboxError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"kiosk: {to}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        journal.close()
    last = f" (sequences {batches[0][0]} to {batches[-1][0]})" if batches else ""
    print(f"wrote {len(batches)} batch file{'' if len(batches) == 1 else 's'} to {to}{last}")
    return 0


def _price(tariff_path: Path, cdr_path: Path, zone_name: str) -> int:
    """``kiosk price``: the OCPI totals of a CDR under a tariff, as JSON, with the
    ``warnings`` of both files (a mended ``step_size: 0``, periods reaching outside the
    session). Only regular files of at most 1 MiB are read; any problem is one line
    ``kiosk: <file>: <problem>`` on standard error and exit status 2."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from kiosk.billing.cdr import CdrError, dumps, price_cdr, read_cdr, totals
    from kiosk.billing.inputs import shown
    from kiosk.billing.tariff import TariffError, active_tariff, load_tariffs

    def fail(message: str) -> int:
        print("kiosk: " + " ".join(message.split()), file=sys.stderr)  # one line, always
        return 2

    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return fail(f"--time-zone: unknown time zone {zone_name[:60]!r}")
    warnings: list[str] = []
    try:
        tariffs = load_tariffs(tariff_path, warnings=warnings)
        cdr = read_cdr(cdr_path)
    except (TariffError, CdrError) as exc:  # both start with the file's name
        return fail(str(exc))
    warnings += [f"{shown(cdr_path)}: {w}" for w in cdr.warnings]
    tariff = active_tariff(tariffs, cdr.start) or tariffs[0]
    try:
        cost = price_cdr(tariff, cdr, zone)
    except CdrError as exc:
        return fail(f"{shown(cdr_path)}: {exc}")
    print(dumps({**totals(cost), "tariff_id": tariff.id, "warnings": warnings}))
    return 0


def _config_ca_keys() -> Path | None:
    """The CA key file the kiosk's config names, when there is a readable config."""
    from kiosk.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

    try:
        path = load_config(DEFAULT_CONFIG_PATH, demo=True).ca_keys_path()
    except (ConfigError, OSError):
        return None
    return path if path is not None and path.exists() else None


if __name__ == "__main__":
    sys.exit(main())

