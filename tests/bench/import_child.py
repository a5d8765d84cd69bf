"""Child of the parallel import benchmark: import one terminal's envelopes into the back office
database, as one of several importer processes (``serve --workers N`` does the same work).

``python import_child.py DB_URL ENVELOPES_FILE``: the file holds the envelopes, each prefixed
by its length (8 bytes, big-endian). Prints ``ready`` once the database is open, waits for a
line on standard input (the parent's start signal), imports every envelope in order, then
prints JSON ``{"start": t, "end": t, "records": n}`` (``time.time()``, so the parent can take
the span over all children)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.storage import open_db


def read_envelopes(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, at = [], 0
    while at < len(data):
        n = int.from_bytes(data[at:at + 8], "big")
        out.append(data[at + 8:at + 8 + n])
        at += 8 + n
    return out


def main() -> int:
    url, path = sys.argv[1], Path(sys.argv[2])
    envelopes = read_envelopes(path)
    db = open_db(url)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.time()
    records = 0
    for data in envelopes:
        result = import_envelope(db, data)
        if result.status != "stored":
            print(json.dumps({"error": result.line()}), flush=True)
            return 1
        records += result.records
    end = time.time()
    db.close()
    print(json.dumps({"start": start, "end": end, "records": records}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
