"""Engines and migrations for both supported databases.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``: a job is
acknowledged to its sender only after its row is committed, so the commit must survive
not only a crash of the gateway but of the machine. Writers batch their work (see the
spooler's group commit) to keep that affordable. PostgreSQL is used as it comes.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine

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
        writer = open_engine(url, pool_size=pool_size, immediate=True)
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

    @contextmanager
    def begin(self):
        with self._lock:
            with self.engine.begin() as connection:
                yield connection

    @contextmanager
    def raw_transaction(self):
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` on a sqlite3 connection kept for this, in
        turn with ``begin``: for the one hot path that cannot afford SQLAlchemy's
        per-transaction cost (``accounting.lean_sql``). Yields a cursor."""
        with self._lock:
            if self._dedicated is None:
                self._dedicated = self.engine.raw_connection()
            connection = self._dedicated.driver_connection
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.rollback()
                raise
            finally:
                cursor.close()

    def dispose(self) -> None:
        with self._lock:
            if self._dedicated is not None:
                self._dedicated.close()
                self._dedicated = None
        self.engine.dispose()

    def __getattr__(self, name):
        return getattr(self.engine, name)


def open_engine(url: str, *, pool_size: int = 8, immediate: bool = False) -> Engine:
    """Create an engine with the connection settings every Printgate process needs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _configure_sqlite)
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
