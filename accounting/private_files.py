"""Files that hold secrets or money — the database and its WAL and shared-memory files,
backups, keys, journals — are readable by their owner only (0600), in a directory only
the owner may enter (0700), whatever the umask of whoever starts the gateway or the CLI.

The PIN and password hashes are in the database: a 4-digit PIN falls to an offline search
in minutes once the hash is read, so "world-readable" is not a detail. Modes are set
explicitly (``os.chmod``/``os.fchmod``), not left to the umask, and tightened on files an
older version (or another tool) left wider.
"""
from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
#: SQLite's companions of a database file; SQLite creates them with the database file's
#: own mode, so a database created 0600 keeps them 0600 too.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(path) -> Path:
    """Create ``path`` (and missing parents) and make it 0700."""
    path = Path(path)
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIRECTORY_MODE)
    return path


def open_private(path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_EXCL) -> int:
    """``os.open`` for a file only its owner may read, also when it existed before."""
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path, data: bytes) -> None:
    """Write a new file (0600) and fsync it."""
    fd = open_private(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def private_sqlite_file(path) -> None:
    """Before SQLite opens ``path``: create it empty and 0600 if it is missing (SQLite
    takes an empty file as a new database), and make it and its companions 0600."""
    path = Path(path)
    if not path.exists():
        os.close(open_private(path, os.O_WRONLY | os.O_CREAT))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)):
        try:
            os.chmod(candidate, FILE_MODE)
        except FileNotFoundError:
            pass
