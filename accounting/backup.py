"""A consistent snapshot of the database while the gateway runs, and its restore.

**SQLite**: SQLite's online backup API copies the database page by page under a read
transaction, so the copy is one consistent point in time even while intake commits
(WAL readers never block the writer). The copy is a plain, self-contained database file.

**PostgreSQL**: ``pg_dump --format=custom`` (one consistent snapshot, MVCC) of the
database named by the URL.

**Restore** (``printgate backup`` writes ``MANIFEST.json`` naming the engine and the
schema revision):

- SQLite: stop the gateway; copy ``printgate.sqlite3`` from the backup directory over
  ``<data-dir>/printgate.sqlite3`` and delete ``printgate.sqlite3-wal`` and
  ``printgate.sqlite3-shm`` next to it; start the gateway (it migrates a backup taken
  by an older version on start). ``restore_database`` does exactly this.
- PostgreSQL: stop every gateway node; ``pg_restore --clean --if-exists --no-owner
  --dbname=URL printgate.pgdump``; start the nodes. ``restore_database`` runs that.

The secrets key file and the spool key are *not* in the database and not in this
snapshot: back them up separately (and keep them apart from the backups — that is the
point of an outside key). A backup holds money and PIN hashes: its directory is made 0700
and every file in it 0600, whatever the umask (``accounting.private_files``). Spool files (large held jobs, hours-lived) are not backed up;
small held jobs' bytes live in the database (``spool_blobs``) and so are in the snapshot,
encrypted with the spool key, which lets a restore on the same node release them.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from accounting.database import Database, current_revision
from accounting.errors import AccountingError
from accounting.private_files import FILE_MODE, private_directory, private_sqlite_file, write_private

SQLITE_FILE = "printgate.sqlite3"
PG_FILE = "printgate.pgdump"


class BackupError(AccountingError):
    pass


def find_pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in (17, 16, 15, 14, 13):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.exists():
            return str(candidate)
    raise BackupError(f"{name} not found: apt-get install postgresql-client")


def libpq_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def backup_database(database: Database, target_dir: Path, *, config_file: Path | None = None) -> Path:
    """Write a snapshot into ``target_dir`` (created; must be empty or new) and return
    the path of the database copy."""
    target_dir = Path(target_dir)
    if target_dir.exists() and any(target_dir.iterdir()):
        raise BackupError(f"{target_dir} is not empty")
    private_directory(target_dir)
    if database.is_sqlite:
        path = target_dir / SQLITE_FILE
        private_sqlite_file(path)
        raw = database.reader.raw_connection()
        try:
            destination = sqlite3.connect(path)
            try:
                raw.driver_connection.backup(destination, pages=1024)
            finally:
                destination.close()
        finally:
            raw.close()
    else:
        path = target_dir / PG_FILE
        result = subprocess.run([find_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={path}",
                                 f"--dbname={libpq_url(database.url)}"], capture_output=True, text=True,
                                umask=0o077)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
        os.chmod(path, FILE_MODE)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    if config_file is not None and Path(config_file).exists():
        write_private(target_dir / Path(config_file).name, Path(config_file).read_bytes())
    manifest = {"engine": "sqlite" if database.is_sqlite else "postgresql", "file": path.name,
                "revision": current_revision(database.reader),
                "taken_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "config": Path(config_file).name if config_file and Path(config_file).exists() else None}
    write_private(target_dir / "MANIFEST.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return path


def restore_database(backup_dir: Path, url: str) -> None:
    """Put a snapshot back (the gateway must be stopped). See the module docstring."""
    backup_dir = Path(backup_dir)
    manifest = json.loads((backup_dir / "MANIFEST.json").read_text())
    source = backup_dir / manifest["file"]
    if manifest["engine"] == "sqlite":
        if not url.startswith("sqlite"):
            raise BackupError("this is a SQLite backup; restore it into a SQLite data directory")
        target = Path(make_url(url).database)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        private_sqlite_file(target)
        shutil.copyfile(source, target)
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())
        return
    if url.startswith("sqlite"):
        raise BackupError("this is a PostgreSQL backup; restore it into a PostgreSQL database")
    result = subprocess.run([find_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
                             f"--dbname={libpq_url(url)}", str(source)], capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
