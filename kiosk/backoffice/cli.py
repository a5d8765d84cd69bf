"""``kiosk-backoffice``: the operator side. For now, export the queued records of a journal.

``export`` only reads: the journal is opened read-only and never migrated, and anything that is
not a kiosk journal, or a damaged one, ends with one line ``kiosk-backoffice: journal <file>:
<problem>`` on standard error and exit status 2.

The upload receiver, importer, invoice pages and analytics land with the back-office issue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kiosk-backoffice")
    sub = p.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="print a journal's queued records as JSON lines "
                                           "(reads only)")
    export.add_argument("--journal", type=Path, required=True)
    export.add_argument("--pending", action="store_true", help="only records not yet sent")
    args = p.parse_args(argv)
    from kiosk.backoffice.export import ExportError, export_lines
    from kiosk.config import one_line

    try:
        lines = export_lines(args.journal, pending_only=args.pending)
    except ExportError as exc:
        print(f"kiosk-backoffice: {one_line(str(exc))}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
