"""Starts the kiosk: logging, runtime, crash recovery, then the window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.logs import setup_logging
from kiosk.runtime import UnsupportedDevice, build_runtime
from kiosk.session.journal import JournalError

log = logging.getLogger(__name__)


def run_app(config: KioskConfig, *, demo: bool = False, journal_path: Path | None = None,
            quit_after: float = 0.0) -> int:
    setup_logging(config.logging.level, config.logging.path or None)
    try:
        runtime = build_runtime(config, journal_path=journal_path)
    except (UnsupportedDevice, JournalError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    try:
        recovered = runtime.recover()
        if recovered:
            log.info("recovered %d unfinished session(s)", recovered)
        from kiosk.ui.main_window import run_window

        return run_window(runtime, demo=demo or config.ui.demo_mode, quit_after=quit_after)
    finally:
        runtime.close()
