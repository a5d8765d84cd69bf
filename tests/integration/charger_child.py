"""A kiosk stand-in for the SIGKILL test: open the OpenEVSE driver on a port, offer a current,
enable the connector (which arms the controller's heartbeat supervision), say so on stdout, and
keep polling (and so pulsing) until killed.

    python -m tests.integration.charger_child PORT HEARTBEAT_S AMPS
"""

from __future__ import annotations

import sys
import threading

from drivers.charger.openevse import OpenEvseCharger


def main() -> int:
    port, heartbeat_s, amps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    charger = OpenEvseCharger(port, poll_interval_s=0.1, command_timeout_s=0.3,
                              link_grace_s=1.0, max_power_w=400_000,
                              heartbeat_interval_s=heartbeat_s)
    accepted = charger.set_current(1, amps)
    charger.enable(1)
    print(f"enabled {accepted}", flush=True)
    threading.Event().wait()  # until SIGKILL
    return 0


if __name__ == "__main__":
    sys.exit(main())
