"""A whole kiosk (runtime, journal, card, host link) on an OpenEVSE controller behind a pty,
for the SIGKILL test: it plays one session until the car charges, says ``charging`` on stdout
and goes on running (and pulsing the controller's heartbeat) until it is killed.

    python -m tests.integration.kiosk_charger_child PORT HOST_PORT JOURNAL
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from drivers.sim.card_terminal import SimCardTerminal
from drivers.sim.cards import TEST_CARDS
from kiosk.config import parse_config
from kiosk.runtime import build_runtime
from kiosk.session.machine import State


def config_text(port: str, host_port: int) -> str:
    return f"""schema_version = 1
[host]
kind = "sim"
port = {host_port}
timeout_s = 2
[charger]
kind = "serial"
port = "{port}"
poll_interval_s = 0.1
command_timeout_s = 0.3
link_grace_s = 1
reading_timeout_s = 5
heartbeat_interval_s = 1
max_power_w = 400000
[[connectors]]
id = 1
label = "1"
max_current_a = 16
"""


def main() -> int:
    port, host_port, journal = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    terminal = SimCardTerminal()
    rt = build_runtime(parse_config(config_text(port, host_port), demo=True),
                       journal_path=journal, card_terminal=terminal, watch=False)
    rt.runner.start_session(1)
    terminal.present(TEST_CARDS["visa_contactless"])
    said = False
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up or said:
        rt.runner.wait_and_process(0.05)
        s = rt.runner.active()
        if not said and s is not None and s.state is State.CHARGING and s.energy_wh >= 100:
            print("charging", flush=True)
            said = True
    return 3


if __name__ == "__main__":
    sys.exit(main())
