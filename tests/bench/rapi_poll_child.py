"""Child of the RAPI CPU benchmark: run the OpenEVSE driver polling at 1 Hz for N seconds,
print the CPU seconds this process used while doing so."""

from __future__ import annotations

import json
import resource
import sys
import time

from drivers.charger.openevse import OpenEvseCharger


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    port, seconds = sys.argv[1], float(sys.argv[2])
    charger = OpenEvseCharger(port, poll_interval_s=1.0)
    readings = []
    charger.subscribe(readings.append)
    time.sleep(1.0)  # settle after start-up
    c0, t0 = cpu(), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu() - c0, time.monotonic() - t0
    charger.close()
    print(json.dumps({"cpu_s": used, "wall_s": wall, "events": len(readings)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
