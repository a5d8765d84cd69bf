"""Starts the kiosk: file modes, logging, runtime, crash recovery, then the window."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.journal.store import JournalError
from kiosk.logs import setup_logging
from kiosk.runtime import RESTART_EXIT_CODE, UnsupportedDevice, build_runtime
from kiosk.security.audit import AuditError, AuditTampered
from kiosk.security.provisioning import ProvisioningError

log = logging.getLogger(__name__)


def run_app(config: KioskConfig, *, journal_path: Path | None = None,
            quit_after: float = 0.0, config_path: Path | None = None) -> int:
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
        runtime = build_runtime(config, journal_path=journal_path,
                                config_path=None if config.demo else config_path)
    except AuditTampered as exc:
        print(f"kiosk: the audit log was altered, the kiosk does not start: {exc}; keep the "
              f"file for whoever investigates and move it aside to start a new log",
              file=sys.stderr)
        return 2
    except (UnsupportedDevice, JournalError, ProvisioningError, AuditError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    try:
        recovered = runtime.recover()
        if recovered:
            log.info("recovered %d unfinished session(s)", recovered)
        from kiosk.ui.main_window import run_window

        # the maintenance mode updates the config it was started from (never the demo's)
        code = run_window(runtime, demo=config.demo, quit_after=quit_after,
                          config_path=None if config.demo else config_path)
        if code == RESTART_EXIT_CODE:
            print(f"kiosk: restarting to take an update ({runtime.restart_reason}); exit status "
                  f"{RESTART_EXIT_CODE}: the service starts the kiosk again", file=sys.stderr)
        return code
    finally:
        runtime.close()
