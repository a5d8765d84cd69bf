"""Records leave the terminal: real sessions on the kiosk (simulators, host over TCP), the
sealed outbox batched and signed, the batches imported by the back office on SQLite and on
PostgreSQL after the terminal is registered with what provisioning printed; every record
arrives once, the acknowledgement empties the outbox, a second import changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.host import HostSimulator
from kiosk.backoffice.importer import import_envelope
from kiosk.backoffice.registry import add_terminal
from kiosk.backoffice.storage import open_db, records
from kiosk.config import parse_config
from kiosk.records.batch import public_key_raw
from kiosk.records.outbox import Outbox
from kiosk.runtime import build_runtime
from kiosk.security.provisioning import load_terminal_keys
from tests.support.rig import Rig

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def play_sessions(rig: Rig, n: int) -> None:
    for _ in range(n):
        rig.play()
    rig.settled()


def test_sessions_reach_the_back_office_once(host: HostSimulator, tmp_path: Path,
                                             backoffice_url: str) -> None:
    clock = SimClock(T0)
    charger = SimCharger((1,), auto=False, clock=clock)
    terminal = SimCardTerminal()
    cfg = parse_config(f"schema_version = 1\n[host]\nport = {host.port}\ntimeout_s = 2\n",
                       demo=True)
    journal = tmp_path / "kiosk" / "journal.sqlite"
    rt = build_runtime(cfg, clock=clock.now, journal_path=journal, card_terminal=terminal,
                       charger=charger, watch=False)
    try:
        play_sessions(Rig(rt, clock, charger, terminal), 3)
        keys = load_terminal_keys(cfg, journal.parent, demo=True)
        outbox = Outbox(rt.journal, cfg.station.id, keys.signing_key, clock.now)
        expected = rt.journal.outbox()
        assert {r.kind for r in expected} == {"session", "cdr", "invoice", "settlement"}
        batches = outbox.seal_all(max_records=5)  # several batches, in sequence
        assert [seq for seq, _ in batches] == list(range(1, len(batches) + 1))
        assert len(batches) >= 3

        db = open_db(backoffice_url)
        rt.closers.append(db.close)
        add_terminal(db, cfg.station.id, public_key_raw(keys.signing_key.public_key()))
        # the last batch first: held until the gap closes, then everything in order
        results = [import_envelope(db, env) for _, env in [batches[-1], *batches[:-1]]]
        assert results[0].status == "held"
        assert all(r.status == "stored" for r in results[1:]), results
        assert results[-1].acked == len(batches)
        replays = [import_envelope(db, env).status for _, env in batches]
        assert set(replays) == {"replay"}
        with db.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(records)).scalar()
            ids = set(conn.execute(select(records.c.record_id)).scalars())
        assert stored == len(expected)
        assert ids == {f"{r.session_id}:{r.kind}" for r in expected}

        assert outbox.acknowledge(results[-1].acked) == len(expected)  # rows now sent
        assert outbox.pending_count() == 0 and outbox.next_batch() is None
    finally:
        rt.close()
