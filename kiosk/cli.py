"""The ``kiosk`` command: run the terminal, check a config file.

Subcommands of the device issues (``card-info``, ``charger-probe``) and of billing (``price``)
join here as they land.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="EV charging payment kiosk")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the kiosk window")
    run.add_argument("--config", type=Path, help="config file (default: the demo config)")
    run.add_argument("--demo", action="store_true",
                     help="demo mode on simulators: buttons tap a card and plug a car")
    run.add_argument("--journal", type=Path, help="journal file (overrides the config)")
    run.add_argument("--quit-after", type=float, default=0.0, help=argparse.SUPPRESS)
    check = sub.add_parser("check-config", help="validate a config file and print it")
    check.add_argument("config", type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from kiosk.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

    if args.command == "check-config":
        try:
            cfg = load_config(args.config)
        except ConfigError as exc:
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        print(cfg.model_dump_json(indent=2))
        return 0
    try:
        cfg = load_config(args.config or DEFAULT_CONFIG_PATH)
    except ConfigError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    from kiosk.app import run_app

    return run_app(cfg, demo=args.demo, journal_path=args.journal, quit_after=args.quit_after)


if __name__ == "__main__":
    sys.exit(main())
