"""The ``printgate`` command: one module per command group, each with ``register(subparsers)``."""
from __future__ import annotations

import argparse
import importlib
import sys

#: Modules of ``gateway.cli`` that add a command group; each defines ``register``.
COMMAND_MODULES = ("serve", "jobs", "analyze", "users", "accounts", "prices", "rules", "ledger", "backup",
                   "devices", "report", "period", "schedule")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="printgate", description="Print-release and print-accounting gateway")
    parser.add_argument("--data-dir", default="./printgate-data", help="where the database and spool live")
    parser.add_argument("--config", default=None, help="TOML configuration file (optional)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"gateway.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
