"""The ``printgate`` command: one module per command group, each with ``register(subparsers)``."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

#: Modules of ``gateway.cli`` that add a command group; each defines ``register``.
COMMAND_MODULES = ("serve", "jobs", "analyze", "users", "accounts", "prices", "rules", "ledger", "backup",
                   "devices", "quotas", "secrets", "directory", "mail", "report", "period", "schedule")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="printgate", description="Print-release and print-accounting gateway")
    parser.add_argument("--data-dir", default=None,
                        help="where the database and spool live (default: $PRINTGATE_DATA_DIR, else [server] "
                             "data_dir of the config file, else printgate-data beside the install's .venv)")
    parser.add_argument("--config", default=None, help="TOML configuration file (default: $PRINTGATE_CONFIG; optional)")
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
        # The reader went away (`printgate users list | head`): that is not an error. Point
        # stdout at /dev/null so that the interpreter's last flush at exit does not raise
        # again and print "Broken pipe".
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout is not a file (run in-process)
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
