"""Engines and migrations for both supported databases.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``: a job is
acknowledged to its sender only after its row is committed, so the commit must survive
not only a crash of the gateway but of the machine. Writers batch their work (see the
spooler's group commit) to keep that affordable, and leave copying the WAL back into the
database to a thread of their own (``WalCheckpointer``). The group committer's own
connection commits without waiting for the disk and makes its commits durable with one
fdatasync of the WAL afterwards, in another thread (``SerializedWriter.raw_transaction``).
PostgreSQL is used as it comes.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from twisted.logger import Logger

from accounting.private_files import private_sqlite_file

log = Logger()

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_url(data_dir) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'printgate.sqlite3'}"


class Database:
    """The engines of one database: ``writer`` for transactions that write, ``reader`` for
    the rest. On SQLite they differ (writers take the write lock at BEGIN, readers never
    do, so a reader in WAL mode never waits for a writer); on PostgreSQL they are one."""

    def __init__(self, url: str, *, pool_size: int = 8):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        path = url.split(":///", 1)[1] if self.is_sqlite and ":///" in url else ""
        if path and path != ":memory:" and Path(path).parent.is_dir():
            private_sqlite_file(path)  # PIN hashes and money: 0600, and so its WAL and SHM
        writer = open_engine(url, pool_size=pool_size, immediate=True, background_checkpoints=True)
        self.writer = SerializedWriter(writer) if self.is_sqlite else writer
        self.reader = open_engine(url, pool_size=pool_size) if self.is_sqlite else writer
        self._read_lock = threading.Lock()
        self._dedicated_reader = None

    @contextmanager
    def raw_read(self):
        """A cursor on a sqlite3 reader connection kept for the one hot read that cannot
        afford SQLAlchemy's per-query cost (``accounting.lean_sql``); one user at a time.
        Each statement reads the latest committed state, as a fresh connection would."""
        if not self.is_sqlite:
            raise TypeError("raw_read is for SQLite")
        with self._read_lock:
            if self._dedicated_reader is None:
                self._dedicated_reader = self.reader.raw_connection()
            cursor = self._dedicated_reader.driver_connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    def dispose(self) -> None:
        with self._read_lock:
            if self._dedicated_reader is not None:
                self._dedicated_reader.close()
                self._dedicated_reader = None
        self.writer.dispose()
        self.reader.dispose()


class SerializedWriter:
    """The SQLite writer engine, with this process's write transactions taking turns on
    a lock before ``BEGIN IMMEDIATE``. SQLite admits one writer at a time anyway; without
    the lock, waiting threads poll in SQLite's busy handler with growing sleeps, so under
    contention a commit could wait hundreds of milliseconds for a lock that was free
    after one. Other processes (the CLI) still meet the busy handler. Everything but
    ``begin`` is the engine's own."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.RLock()
        self._dedicated = None
        self.checkpointer = WalCheckpointer(engine)
        database = engine.url.database
        #: The WAL whose fdatasync makes ``raw_transaction``'s commits durable (None: an
        #: in-memory database, whose connection keeps ``synchronous=FULL``).
        self.wal_path = f"{database}-wal" if database and database != ":memory:" else None
        self._raw_commits = 0
        self._synced_commits = 0
        self._sync_lock = threading.Lock()

    @contextmanager
    def begin(self):
        with self._lock:
            with self.engine.begin() as connection:
                yield connection
            self.checkpointer.committed()

    @contextmanager
    def raw_transaction(self, *, sync: bool = True):
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` on a sqlite3 connection kept for this, in
        turn with ``begin``: for the one hot path that cannot afford SQLAlchemy's
        per-transaction cost (``accounting.lean_sql``). Yields a cursor.

        That connection commits with ``synchronous=NORMAL``: the commit is written to the
        WAL but not waited for. ``sync_commits`` then makes it durable, which
        ``sync=True`` does before returning. With ``sync=False`` the caller runs
        ``sync_commits`` later, from another thread, while the next transaction goes on:
        the group committer's commit no longer holds up the next group for an fsync, and
        one fdatasync covers every group committed meanwhile. (In WAL mode SQLite keeps
        a NORMAL database consistent through any crash; what is lost is at most the
        commits not yet synced, which nobody was told about.)"""
        with self._lock:
            if self._dedicated is None:
                self._dedicated = self.engine.raw_connection()
                if self.wal_path is not None:
                    self._dedicated.driver_connection.execute("PRAGMA synchronous=NORMAL")
            connection = self._dedicated.driver_connection
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
                cursor.execute("COMMIT")
                self._raw_commits += 1
                self.checkpointer.committed()
            except BaseException:
                if connection.in_transaction:
                    connection.rollback()
                raise
            finally:
                cursor.close()
        if sync:
            self.sync_commits()

    def sync_commits(self) -> None:
        """Make every ``raw_transaction`` committed so far durable: one fdatasync of the
        WAL, which holds all of them (a commit is in the WAL file, in the page cache, once
        its COMMIT has returned). Safe from any thread, at the same time as commits; a
        call that finds its commits already covered by another's fdatasync returns at
        once. Raises ``OSError`` when the disk refuses."""
        if self.wal_path is None:
            return
        with self._sync_lock:
            target = self._raw_commits
            if self._synced_commits >= target:
                return
            fd = os.open(self.wal_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
            self._synced_commits = target

    def dispose(self) -> None:
        self.checkpointer.stop()
        with self._lock:
            if self._dedicated is not None:
                # Back to the pool as it came: FULL, like every other connection.
                self._dedicated.driver_connection.execute("PRAGMA synchronous=FULL")
                self._dedicated.close()
                self._dedicated = None
        self.engine.dispose()

    def __getattr__(self, name):
        return getattr(self.engine, name)


class WalCheckpointer:
    """Copies the WAL back into the database file, mostly in a thread of its own.

    Left to SQLite, the commit that takes the WAL past 1,000 pages does this copy (and an
    fsync of the database file) before it returns: one job's acknowledgement in about 75
    waited 3 to 12 ms instead of 0.4. The writer engine's connections have SQLite's own
    checkpoints turned off (``wal_autocheckpoint=0``); every ``EVERY_COMMITS`` commits
    wake this thread, which runs a PASSIVE checkpoint: it copies the pages while commits
    go on. Then the next commit finishes it with a second PASSIVE checkpoint, which has
    only what was committed meanwhile to copy (one fsync of the database, not thousands
    of pages). Only a checkpoint that copied everything lets the next writer start the
    WAL over from its beginning: with the background pass alone the WAL grew without end
    (171 MB after 3,000 jobs) and every commit paid for a growing file. The second pass
    runs in the committing thread, under the writer's lock, because waiting for that lock
    from another thread lost to back-to-back commits (Python's locks are not fair).
    Durability does not depend on any of it: a committed transaction is already fsynced
    in the WAL."""

    EVERY_COMMITS = 64

    def __init__(self, engine: Engine):
        self._engine = engine
        self._wake = threading.Event()
        self._stopping = False
        self._commits = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._connection = None
        self._using_connection = threading.Lock()
        self._second_pass_due = False
        self.checkpoints = 0

    def committed(self) -> None:
        """Called after each commit of the writer, under its lock: no transaction of this
        process is writing meanwhile."""
        if self._second_pass_due and self._using_connection.acquire(blocking=False):
            try:
                self._second_pass_due = False
                if self._connection is not None:  # None once stopped
                    self._checkpoint()
                    self.checkpoints += 1
            finally:
                self._using_connection.release()
        self._commits += 1
        if self._commits < self.EVERY_COMMITS:
            return
        self._commits = 0
        with self._start_lock:
            if self._stopping:
                return
            if self._thread is None:
                self._connection = self._engine.raw_connection()
                self._thread = threading.Thread(target=self._run, name="printgate-wal-checkpoint", daemon=True)
                self._thread.start()
        self._wake.set()

    def _checkpoint(self) -> None:
        cursor = self._connection.driver_connection.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the next round tries again
            log.warn("WAL checkpoint failed: {error}", error=exc)
        finally:
            cursor.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            with self._using_connection:
                self._checkpoint()
                self._second_pass_due = True

    def stop(self) -> None:
        with self._start_lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(10)
        with self._using_connection:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def open_engine(url: str, *, pool_size: int = 8, immediate: bool = False,
                background_checkpoints: bool = False) -> Engine:
    """Create an engine with the connection settings every Printgate process needs.
    ``background_checkpoints``: its connections leave WAL checkpoints to a
    ``WalCheckpointer`` (only for an engine wrapped in a ``SerializedWriter``)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _configure_sqlite)
        if background_checkpoints:
            event.listen(engine, "connect", _leave_checkpoints_to_the_checkpointer)
        event.listen(engine, "begin", _begin_immediate if immediate else _begin_deferred)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection, _record) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _leave_checkpoints_to_the_checkpointer(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _begin_deferred(connection) -> None:
    connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection) -> None:
    # A deferred BEGIN that later writes can fail with "database is locked" without
    # waiting; BEGIN IMMEDIATE takes the write lock up front and honours busy_timeout.
    # Readers pay nothing noticeable for it in WAL mode.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call on every start."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
