"""Starts the kiosk: file modes, logging, runtime, crash recovery, then the window."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.journal.store import JournalError
from kiosk.logs import setup_logging
from kiosk.runtime import UnsupportedDevice, build_runtime
from kiosk.security.provisioning import ProvisioningError

log = logging.getLogger(__name__)


def run_app(config: KioskConfig, *, journal_path: Path | None = None,
            quit_after: float = 0.0) -> int:
    """Demo or production comes from ``config.demo`` (``kiosk run --demo``). A config, device,
    journal or key problem ends here with one line on standard error and exit code 2, before
    any window opens."""
    os.umask(0o077)  # the journal, the logs, the keys and their counters: 0600, folders 0700
    try:
        setup_logging(config.logging.level, config.logging.path or None)
    except OSError as exc:
        print(f"kiosk: logging.path: {config.logging.path}: cannot open the log file: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        runtime = build_runtime(config, journal_path=journal_path)
    except (UnsupportedDevice, JournalError, ProvisioningError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    try:
        recovered = runtime.recover()
        if recovered:
            log.info("recovered %d unfinished session(s)", recovered)
        from kiosk.ui.main_window import run_window

        return run_window(runtime, demo=config.demo, quit_after=quit_after)
    finally:
        runtime.close()
