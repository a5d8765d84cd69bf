"""Child of the invoice numbering test: settles sessions in a journal; with ``--kill-at K`` it
kills itself with SIGKILL inside the commit that creates the K-th invoice (the number is
allocated, the row not yet written)."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.journal.store import Journal
from kiosk.session import events as ev
from kiosk.session.machine import Outcome, Session, State

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def main() -> int:
    path, first, last, kill_at = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4])
    j = Journal(path)
    for i in range(first, last + 1):
        sid = f"s{i:04d}"
        now = T0 + timedelta(minutes=i)
        s1 = j.session(sid)
        if s1 is None:
            s1 = Session(sid, 1, State.STOPPING, now, now, seq=1, final_minor=100 + i)
            j.commit(None, s1, ev.Started(1), [], now)
        s2 = Session(sid, 1, State.RECEIPT, now, now, seq=2, final_minor=100 + i,
                     outcome=Outcome.CAPTURED)

        def build(number: int, i: int = i, sid: str = sid) -> dict[str, Any]:
            if i == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return {"number": f"T-{number:08d}", "session_id": sid, "total_minor": 100 + i}

        j.commit(s1, s2, ev.ChargingStopped(1, 1000 + i, now), [], now,
                 [("session", {"amount_minor": 100 + i})], build)
    j.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
