"""``kiosk-backoffice``: the operator side.

``export`` only reads: the journal is opened read-only and never migrated, and anything that is
not a kiosk journal, or a damaged one, ends with one line ``kiosk-backoffice: journal <file>:
<problem>`` on standard error and exit status 2.

The back office's database (``--db URL``, else ``$EVKIOSK_BACKOFFICE_DB``, else
``sqlite:///<cwd>/backoffice.sqlite``; ``postgresql+psycopg://USER@HOST/DB`` in production) is
created and migrated when opened:

- ``terminal add ID --public-key HEX`` registers a terminal with the raw Ed25519 public key
  ``kiosk provision`` prints; ``terminal list``; ``terminal revoke ID``.
- ``import FILE...`` imports upload envelopes (files of at most 2 MiB, regular files only):
  one line per file, ``FILE: stored|replay|held|rejected: ...``; exit status 0 unless one
  was rejected (2).

Every failure is one line ``kiosk-backoffice: ...`` and exit status 2, never a traceback.
The upload service, invoice pages and the OCPI module land with the back-office issue.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.backoffice.storage import Database

ENV_DB = "EVKIOSK_BACKOFFICE_DB"


def default_db() -> str:
    return os.environ.get(ENV_DB) or f"sqlite:///{Path.cwd() / 'backoffice.sqlite'}"


def _parser() -> argparse.ArgumentParser:
    db_help = (f"database URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB "
               f"(default ${ENV_DB}, else sqlite:///./backoffice.sqlite)")
    p = argparse.ArgumentParser(prog="kiosk-backoffice", description=(
        "The back office of the EV charging kiosks: terminal registry, upload import, export."))
    p.add_argument("--db", default=None, help=db_help)
    db_opt = argparse.ArgumentParser(add_help=False)
    db_opt.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    sub = p.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="print a journal's queued records as JSON lines "
                                           "(reads only)")
    export.add_argument("--journal", type=Path, required=True)
    export.add_argument("--pending", action="store_true", help="only records not yet sent")
    term = sub.add_parser("terminal", help="the terminal registry")
    tsub = term.add_subparsers(dest="action", required=True)
    add = tsub.add_parser("add", parents=[db_opt], help="register a terminal and its key")
    add.add_argument("id")
    add.add_argument("--public-key", required=True, metavar="HEX",
                     help="the raw 32-byte Ed25519 public key in hex (kiosk provision)")
    tsub.add_parser("list", parents=[db_opt], help="the registered terminals")
    rev = tsub.add_parser("revoke", parents=[db_opt],
                          help="revoke a terminal: its uploads are rejected from now on")
    rev.add_argument("id")
    imp = sub.add_parser("import", parents=[db_opt],
                         help="import upload envelopes from files (e.g. a USB stick)")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    tok = sub.add_parser("ocpi-token", help="the credentials tokens of the OCPI parties (eMSPs, "
                                            "roaming hubs) that fetch CDRs")
    osub = tok.add_subparsers(dest="action", required=True)
    oadd = osub.add_parser("add", parents=[db_opt],
                           help="make a token for a party; printed once, stored only hashed")
    oadd.add_argument("name", help="the party, e.g. DE-ABC (1 to 64 of A-Z a-z 0-9 . _ -)")
    osub.add_parser("list", parents=[db_opt], help="the parties and their tokens' state")
    orev = osub.add_parser("revoke", parents=[db_opt], help="revoke a party's token")
    orev.add_argument("name")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from kiosk.config import one_line

    if args.command == "export":
        from kiosk.backoffice.export import ExportError, export_lines

        try:
            lines = export_lines(args.journal, pending_only=args.pending)
        except ExportError as exc:
            print(f"kiosk-backoffice: {one_line(str(exc))}", file=sys.stderr)
            return 2
        for line in lines:
            print(line)
        return 0

    from sqlalchemy.exc import SQLAlchemyError

    from kiosk.backoffice.registry import RegistryError
    from kiosk.backoffice.storage import StorageError, _reason, open_db

    url = args.db or default_db()
    try:
        db = open_db(url)
    except StorageError as exc:
        print(f"kiosk-backoffice: database: {one_line(str(exc))}", file=sys.stderr)
        return 2
    try:
        return _run(args, db)
    except (RegistryError, StorageError, ValueError) as exc:
        print(f"kiosk-backoffice: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"kiosk-backoffice: database: {one_line(_reason(exc))}", file=sys.stderr)
        return 2
    finally:
        db.close()


def _run(args: argparse.Namespace, db: Database) -> int:
    from kiosk.backoffice import registry

    if args.command == "terminal":
        if args.action == "add":
            t = registry.add_terminal(db, registry.check_terminal_id(args.id),
                                      registry.parse_public_key(args.public_key))
            print(f"{t.id}: added, key_id {t.key_id}")
        elif args.action == "revoke":
            t = registry.revoke_terminal(db, args.id)
            print(f"{t.id}: revoked at {t.revoked_at}")
        else:
            for t in registry.list_terminals(db):
                print(f"{t.id}\t{t.status}\t{t.key_id}\t{t.added_at}"
                      + (f"\trevoked {t.revoked_at}" if t.revoked_at else ""))
        return 0
    if args.command == "ocpi-token":
        return _ocpi_token(args, db)
    return _import(db, args.files)


def _ocpi_token(args: argparse.Namespace, db: Database) -> int:
    from kiosk.backoffice import ocpi_tokens

    if args.action == "add":
        party, secret = ocpi_tokens.add_token(db, args.name)
        print(f"{party.name}: token (give it to the party; it is not shown again): {secret}")
        print(f"  Authorization: Token {ocpi_tokens.encode_header_token(secret)}")
    elif args.action == "revoke":
        party = ocpi_tokens.revoke_token(db, args.name)
        print(f"{party.name}: revoked at {party.revoked_at}")
    else:
        for party in ocpi_tokens.list_tokens(db):
            print(f"{party.name}\t{party.status}\t{party.created_at}"
                  + (f"\trevoked {party.revoked_at}" if party.revoked_at else ""))
    return 0


def _import(db: Database, files: list[Path]) -> int:
    from kiosk.backoffice.importer import import_envelope
    from kiosk.config import one_line
    from kiosk.files import FileRefused, read_regular_file
    from kiosk.records.batch import MAX_ENVELOPE_BYTES

    rejected = 0
    for path in files:
        name = one_line(str(path), 200)
        try:
            data = read_regular_file(path, MAX_ENVELOPE_BYTES)
        except FileRefused as exc:
            print(f"{name}: rejected: {one_line(str(exc))}")
            rejected += 1
            continue
        result = import_envelope(db, data)
        rejected += result.status == "rejected"
        print(f"{name}: {one_line(result.line(), 400)}")
    return 2 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
