"""Asking for a PIN, a password or a secret without it ever being on a command line."""
from __future__ import annotations

import getpass
import sys


def read_secret_input(what: str, *, from_stdin: bool) -> str:
    """A PIN, password or secret: one line of standard input when asked to or when there is no
    terminal to ask on; else asked for twice without echo."""
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise ValueError(f"no {what} on standard input (pipe it in as one line)")
        return value
    value = getpass.getpass(f"{what}: ")
    if getpass.getpass(f"{what} again: ") != value:
        raise ValueError(f"the two {what}s differ")
    return value
