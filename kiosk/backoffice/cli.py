"""``kiosk-backoffice``: the operator side. For now, export the queued records of a journal.

The upload receiver, importer, invoice pages and analytics land with the back-office issue.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kiosk-backoffice")
    sub = p.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="print a journal's queued records as JSON lines")
    export.add_argument("--journal", type=Path, required=True)
    export.add_argument("--pending", action="store_true", help="only records not yet sent")
    args = p.parse_args(argv)
    if not args.journal.is_file():
        print(f"kiosk-backoffice: journal not found: {args.journal}", file=sys.stderr)
        return 2
    from kiosk.journal.store import Journal, JournalError

    try:
        journal = Journal(args.journal)
    except JournalError as exc:
        print(f"kiosk-backoffice: {exc}", file=sys.stderr)
        return 2
    try:
        for row in journal.outbox(pending_only=args.pending):
            print(json.dumps({"kind": row.kind, "created_at": row.created_at, **row.payload},
                             sort_keys=True))
    finally:
        journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
