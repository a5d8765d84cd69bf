"""Running Alembic quietly: the one upgrade step the journal and the back office share.

Alembic logs a dozen INFO lines for every new database (its plugins, its context, one per
migration); they are held back here (the ``alembic`` loggers at WARNING while it runs) and each
caller writes one line of its own saying what ran. The logger's level belongs to the whole
process, hence the lock.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def upgrade_to_head(connection: Any, script_location: Path) -> None:
    """Run the migrations of ``script_location`` on ``connection`` (inside the caller's
    transaction) up to the newest."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    quiet = logging.getLogger("alembic")
    with _lock:
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            command.upgrade(cfg, "head")
        finally:
            quiet.setLevel(level)
