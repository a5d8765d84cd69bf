"""A headless kiosk that plays one scripted driver session on the simulators.

Used by the crash test as a real subprocess: ``--crash-at N --phase before_commit`` kills the
process with SIGKILL just before (or after) the journal commit of step N; ``--mode recover``
starts the same kiosk again, recovers, and plays the rest (dismissing screens, retrying).
Prints one JSON line with the number of steps it took. Exit 0: no live session remains.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.emv.capk import CaKeyStore
from drivers.pcsc.terminal import PcscCardTerminal
from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from drivers.sim.charger import SimCharger
from drivers.sim.clock import SimClock
from drivers.sim.emv_card import EmvCardApp
from drivers.sim.vpcd import VirtualCard
from kiosk.config import parse_config
from kiosk.logs import setup_logging
from kiosk.runtime import Runtime, build_runtime
from kiosk.session import events as ev
from kiosk.session.machine import State
from tests.support.cards import CA_KEYS
from tests.support.pcsc import READER

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
READINGS = 5


def config_text(host_port: int) -> str:
    return f"""
schema_version = 1
[host]
kind = "sim"
port = {host_port}
timeout_s = 2
"""


def settled(rt: Runtime, clock: SimClock) -> bool:
    """Is the settlement queue done? A job waiting for its retry gets the clock moved on."""
    if rt.settlement.wait_idle(0.05):
        return True
    due = rt.settlement.next_due()
    if due is not None and due > clock.now():
        clock.advance((due - clock.now()).total_seconds() + 1)
        rt.settlement.kick()
    return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--journal", type=Path, required=True)
    p.add_argument("--host-port", type=int, required=True)
    p.add_argument("--mode", choices=["run", "recover"], default="run")
    p.add_argument("--card", default="visa_contactless")
    p.add_argument("--crash-at", type=int, default=0)
    p.add_argument("--phase", choices=["before_commit", "after_commit"], default="after_commit")
    p.add_argument("--log", type=Path, help="write DEBUG JSON-lines logs here")
    p.add_argument("--vpcd", action="store_true",
                   help="the card on vsmartcard's vpcd reader, read through pcscd (PC/SC)")
    args = p.parse_args(argv)
    if args.log:
        setup_logging("DEBUG", args.log)

    clock = SimClock(T0 if args.mode == "run" else T0 + timedelta(days=1))
    charger = SimCharger(connectors=(1,), auto=False, clock=clock)
    terminal: SimCardTerminal | PcscCardTerminal
    virtual: VirtualCard | None = None
    if args.vpcd:
        terminal = PcscCardTerminal(READER, ca_keys=CaKeyStore.load(CA_KEYS))
    else:
        terminal = SimCardTerminal()
    rt = build_runtime(parse_config(config_text(args.host_port), demo=True), clock=clock.now,
                       journal_path=args.journal, card_terminal=terminal, charger=charger,
                       watch=False)
    if args.crash_at:
        def hook(phase: str, step: int) -> None:
            if step == args.crash_at and phase == args.phase:
                os.kill(os.getpid(), signal.SIGKILL)
        rt.runner.fault_hook = hook

    if args.mode == "recover":
        rt.recover()
    else:
        rt.runner.start_session(1)
        if isinstance(terminal, SimCardTerminal):
            terminal.present(TEST_CARDS[args.card])
        else:
            app = EmvCardApp(TEST_CARDS[args.card])
            virtual = VirtualCard(app.apdu, atr=app.atr)
            virtual.insert()

    done: set[tuple[str, int]] = set()
    readings = 0
    give_up = time.monotonic() + 30
    code = 3
    while time.monotonic() < give_up:
        rt.runner.wait_and_process(0.01)
        s = rt.runner.active()
        if s is None:
            if settled(rt, clock):
                code = 0
                break
            continue
        key = (s.id, s.seq)
        if key in done:
            continue
        done.add(key)
        if s.state is State.PIN_ENTRY:
            card = TEST_CARDS[args.card]
            rt.adapters.submit_pin(s.id, card.offline_pin if s.pin_offline else card.pin)
        elif s.state is State.WAIT_PLUG:
            charger.plug(1)
        elif s.state is State.CHARGING:
            if readings < READINGS:
                readings += 1
                charger.advance(60)
            else:
                rt.runner.post(ev.StopRequested(s.id))
        elif s.state in (State.RECEIPT, State.DECLINED, State.ERROR):
            rt.runner.post(ev.Dismissed(s.id))
        else:
            done.discard(key)  # waiting on a device: look again next round
    print(json.dumps({"steps": rt.runner.steps, "code": code}), flush=True)
    rt.close()
    if virtual is not None:
        virtual.remove()
    return code


if __name__ == "__main__":
    sys.exit(main())
