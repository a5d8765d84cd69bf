"""Child process of the start-up benchmark: start the kiosk as ``kiosk run`` does, print the
moment the idle screen is painted, idle for a while, print the resident memory, quit."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    journal = Path(sys.argv[1])
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from kiosk.config import DEFAULT_CONFIG_PATH, load_config
    from kiosk.runtime import build_runtime
    from kiosk.ui.bridge import Bridge
    from kiosk.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    runtime = build_runtime(load_config(DEFAULT_CONFIG_PATH, demo=True), journal_path=journal)
    runtime.recover()
    bridge = Bridge(runtime)
    window = MainWindow(runtime, demo=True)
    window.resize(1280, 800)
    window.show()
    window.grab()  # force a full paint of the idle screen
    print(json.dumps({"ready": time.time()}), flush=True)

    def report() -> None:
        import psutil

        print(json.dumps({"rss": psutil.Process().memory_info().rss}), flush=True)
        app.quit()

    QTimer.singleShot(2000, report)
    app.exec()
    del bridge
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
