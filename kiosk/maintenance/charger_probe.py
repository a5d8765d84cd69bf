"""``kiosk charger-probe``: what a technician asks a charge controller, printed as JSON.

Read only: it never enables, disables or changes the controller (no ``$F*``, ``$S*``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from drivers.charger.openevse import pilot_state
from drivers.charger.rapi import RapiError, parse_gg, parse_gs, parse_gu
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
        ws, wh = parse_gu(link.command("GU").values)
        out["energy"] = {"session_wh": ws // 3600, "total_wh": wh + ws // 3600}
    except (RapiError, ValueError) as exc:
        out["ok"] = False
        out["error"] = str(exc)
    finally:
        link.close()
    print(json.dumps(out, indent=2))
    return 0 if out["ok"] else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(charger_probe(sys.argv[1], 115200, 1.0))
