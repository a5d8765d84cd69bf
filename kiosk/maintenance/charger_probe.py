"""``kiosk charger-probe``: what a technician asks a charge controller, printed as JSON.

Read only: it never enables, disables or changes the controller (no ``$F*``, ``$S*``).

The energy is read as the driver's meter reads it (:func:`drivers.charger.meter.query_energy`):
the firmware adds a session to its lifetime total when the car leaves but keeps the session
counter until the next car, so ``total_wh`` holds the session only while a car is connected,
and ``session_wh`` with no car is the last session's (``session_open`` false). ``raw`` is what
``$GU`` said. ``debug_lines`` are the free-text lines the firmware printed meanwhile (they are
skipped, never taken for answers).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from drivers.charger.meter import query_energy
from drivers.charger.openevse import pilot_state
from drivers.charger.rapi import RapiError, parse_gg, parse_gs
from drivers.charger.transport import SerialLink


def charger_probe(port: str, baud: int, timeout_s: float) -> int:
    link = SerialLink(port, baud, command_timeout_s=timeout_s, retries=1, max_failures=99)
    if not link.start(wait_s=timeout_s):
        print(json.dumps({"port": port, "ok": False, "error": "cannot open the port"}))
        link.close()
        return 2
    out: dict[str, Any] = {"port": port, "baud": baud, "ok": True}
    try:
        gv = link.command("GV")
        out["firmware"], out["protocol"] = ([*list(gv.values), "", ""])[:2]
        gs = parse_gs(link.command("GS").values)
        state, fault = pilot_state(gs)
        out["state"] = {"evse_state": f"{gs.evse_state:02X}", "pilot": state.value,
                        "fault": fault or None, "flags": f"{gs.flags:04X}",
                        "elapsed_s": gs.elapsed_s}
        gc = link.command("GC").values
        if len(gc) >= 4:
            out["current_limits_a"] = {"min": int(gc[0]), "hw_max": int(gc[1]),
                                       "pilot": int(gc[2]), "config_max": int(gc[3])}
        ma, mv = parse_gg(link.command("GG").values)
        out["current_a"] = ma / 1000 if ma >= 0 else None
        out["voltage_v"] = mv / 1000 if mv >= 0 else None
        energy = query_energy(link)
        out["energy"] = {"session_wh": energy.session_wh, "session_open": energy.connected,
                         "total_wh": energy.total_wh,
                         "raw": {"session_ws": energy.session_ws,
                                 "lifetime_wh": energy.reported_wh}}
    except (RapiError, ValueError) as exc:
        out["ok"] = False
        out["error"] = str(exc)
    finally:
        out["debug_lines"] = link.last_debug
        link.close()
    print(json.dumps(out, indent=2))
    return 0 if out["ok"] else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(charger_probe(sys.argv[1], 115200, 1.0))
