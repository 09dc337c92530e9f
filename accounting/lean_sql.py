"""INSERTs for the group committer's hot path on SQLite, run on the DBAPI connection, and
bulk inserts in a caller's transaction (``insert_rows``: a directory sync's thousands of
users, cards and memberships).

The group committer records every acknowledged job, and at low concurrency it commits one
job per transaction. Through SQLAlchemy's Connection, that transaction (pool checkout,
BEGIN event, three statements through the execution context, commit, reset on return)
cost about 0.7 ms of CPU, against about 0.17 ms for the same statements on the sqlite3
connection itself: most of a small job's cost at the gateway. So the writer keeps one
sqlite3 connection of its own for this path, and these statements run on it.

What is written stays exactly what SQLAlchemy writes: the column list comes from the
table, a missing value takes the column's scalar default, and every value passes through
the dialect's own bind processor (SQLite's DATETIME and BOOLEAN storage formats).
Everything else in accounting keeps using SQLAlchemy.
"""
from __future__ import annotations

from collections import namedtuple
from operator import itemgetter

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Dialect


class LeanInsert:
    """``INSERT INTO table (every column but the rowid key) VALUES (?, ...)``."""

    def __init__(self, table: Table, dialect: Dialect):
        if dialect.paramstyle != "qmark":
            raise ValueError(f"LeanInsert is for SQLite's qmark style, not {dialect.paramstyle!r}")
        columns = [c for c in table.columns if c is not table.autoincrement_column]
        self.table = table
        self.names = [c.name for c in columns]
        self._known = frozenset(self.names)
        self.defaults = {}
        for column in columns:
            default = column.default
            if default is not None:
                if not default.is_scalar:
                    raise ValueError(f"{table.name}.{column.name}: only scalar defaults can be filled in here")
                self.defaults[column.name] = default.arg
        self.processors = [(i, processor) for i, c in enumerate(columns)
                           if (processor := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        self.sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
                    f"({', '.join(dialect.identifier_preparer.quote(n) for n in self.names)}) "
                    f"VALUES ({', '.join('?' * len(columns))})")

    def parameters(self, row: dict) -> list:
        unknown = row.keys() - self._known
        if unknown:
            raise KeyError(f"{self.table.name} has no column(s) {sorted(unknown)}")
        defaults = self.defaults
        values = [row[name] if name in row else defaults.get(name) for name in self.names]
        for i, processor in self.processors:
            if values[i] is not None:
                values[i] = processor(values[i])
        return values

    def insert_one(self, cursor, row: dict) -> int:
        """Insert ``row`` and return its new rowid."""
        cursor.execute(self.sql, self.parameters(row))
        return cursor.lastrowid

    def insert_many(self, cursor, rows) -> None:
        """``rows``: any iterable of dicts, read one at a time as SQLite takes them (a
        generator never needs to be held whole). The rows of a bulk insert usually share
        values (one timestamp for all): each column's processor runs again only when its
        value changes from the row before."""
        cursor.executemany(self.sql, self._parameters(rows))

    def _parameters(self, rows):
        """Rows of a bulk insert nearly always have the same keys: while they do, a row's
        values are taken by one ``itemgetter`` (in C) rather than a lookup per column."""
        known, table = self._known, self.table
        columns = [(name, self.defaults.get(name)) for name in self.names]
        processors = [(i, processor, [None, None]) for i, processor in self.processors]
        shape, whole = None, None  # the keys of the row before; an itemgetter when it had every column
        for row in rows:
            keys = row.keys()
            if keys != shape:
                if not keys <= known:
                    raise KeyError(f"{table.name} has no column(s) {sorted(keys - known)}")
                shape = set(keys)
                whole = itemgetter(*self.names) if len(shape) == len(self.names) > 1 else None
            values = list(whole(row)) if whole is not None else [row.get(name, default) for name, default in columns]
            for i, processor, last in processors:
                value = values[i]
                if value is not None:
                    if value is not last[0]:
                        last[0], last[1] = value, processor(value)
                    values[i] = last[1]
            yield values


class LeanSelectIn:
    """A SELECT whose one expanding ``IN`` parameter is given a list of values, run on a
    sqlite3 cursor; rows come back as named tuples with the dialect's result processors
    applied, as SQLAlchemy's rows would hold them. The SQL is compiled once per list
    length rounded up to a power of two (the list is padded by repeating its last value,
    which ``IN`` does not mind), so at most a handful of variants exist."""

    def __init__(self, statement, dialect: Dialect, parameter: str):
        if dialect.paramstyle != "qmark":
            raise ValueError(f"LeanSelectIn is for SQLite's qmark style, not {dialect.paramstyle!r}")
        self.statement = statement
        self.dialect = dialect
        self.parameter = parameter
        columns = list(statement.selected_columns)
        self.Row = namedtuple("Row", [c.key for c in columns])
        self.processors = [(i, processor) for i, c in enumerate(columns)
                           if (processor := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None]
        self._sql: dict[int, str] = {}

    def _sql_for(self, length: int) -> str:
        sql = self._sql.get(length)
        if sql is None:
            compiled = self.statement.params({self.parameter: [""] * length}).compile(
                dialect=self.dialect, compile_kwargs={"render_postcompile": True})
            if len(compiled.positiontup) != length:
                raise ValueError("LeanSelectIn takes statements whose only parameter is the IN list")
            sql = self._sql[length] = compiled.string
        return sql

    def rows(self, cursor, values) -> list:
        values = list(values)
        if not values:
            return []
        length = 1 << (len(values) - 1).bit_length()
        values += [values[-1]] * (length - len(values))
        result = []
        processors = self.processors
        for raw in cursor.execute(self._sql_for(length), values):
            if processors:
                raw = list(raw)
                for i, processor in processors:
                    raw[i] = processor(raw[i])
            result.append(self.Row(*raw))
        return result


_INSERTS: dict[tuple, LeanInsert] = {}


def _lean_insert(table: Table, dialect: Dialect) -> LeanInsert:
    key = (table, type(dialect))
    lean = _INSERTS.get(key)
    if lean is None:
        lean = _INSERTS[key] = LeanInsert(table, dialect)
    return lean


def insert_rows(conn, table: Table, rows) -> None:
    """Many rows (any iterable of dicts; a generator is never held whole) into ``table``
    in the caller's transaction (``conn``: a SQLAlchemy Connection). On SQLite they go
    straight to the driver's ``executemany``: a directory sync writes hundreds of
    thousands of rows, and SQLAlchemy's per-row parameter handling costs several times
    SQLite's own insert. Elsewhere, SQLAlchemy's executemany (psycopg batches it), a
    thousand rows at a time."""
    if conn.dialect.name != "sqlite":
        for chunk in _chunks(rows):
            conn.execute(insert(table), chunk)
        return
    _lean_insert(table, conn.dialect).insert_many(conn.connection.driver_connection.cursor(), rows)


def _chunks(rows, size: int = 1000):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_tuples(conn, table: Table, columns: tuple[str, ...], rows) -> None:
    """``insert_rows`` for rows given as tuples of ``columns``, for the largest bulk
    inserts (a directory's group memberships): on SQLite straight to ``executemany``, so
    only columns whose values SQLite stores as given (no bind processing: integers,
    text) may be named, and only columns the database itself fills (a server default,
    or NULL) may be left out."""
    if conn.dialect.name != "sqlite":
        insert_rows(conn, table, (dict(zip(columns, row)) for row in rows))
        return
    dialect = conn.dialect
    for name in columns:
        if table.c[name].type.dialect_impl(dialect).bind_processor(dialect) is not None:
            raise ValueError(f"{table.name}.{name} needs its values processed: use insert_rows")
    missing = [c for c in table.columns if c.name not in columns and c is not table.autoincrement_column]
    if any(c.server_default is None and (c.default is not None or not c.nullable) for c in missing):
        raise ValueError(f"{table.name}: {columns} leaves out a column SQLite would not fill as SQLAlchemy does")
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    conn.connection.driver_connection.executemany(
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
        f"VALUES ({', '.join('?' * len(columns))})", rows)


def insert_rows_returning_ids(conn, table: Table, rows: list[dict]) -> list[int]:
    """``insert_rows``, and the new rows' ids in the order of ``rows``. On SQLite a new
    rowid is one more than the largest so far (the writer holds the database's one write
    lock for the whole transaction), so the rows inserted are those above the largest id
    before; SQLAlchemy's ``RETURNING`` in parameter order would insert them one by one."""
    if not rows:
        return []
    key = table.c.id
    if conn.dialect.name != "sqlite":
        return list(conn.execute(insert(table).returning(key, sort_by_parameter_order=True), rows).scalars())
    before = conn.execute(select(func.max(key))).scalar() or 0
    insert_rows(conn, table, rows)
    ids = list(conn.execute(select(key).where(key > before).order_by(key)).scalars())
    if len(ids) != len(rows):
        raise RuntimeError(f"{table.name}: {len(rows)} rows inserted but {len(ids)} new ids found")
    return ids


def scan(conn, statement, size: int = 500):
    """The rows of ``statement`` (a SELECT without parameters of its own) as plain tuples
    straight from the driver, fetched ``size`` at a time: for reading a whole table, where
    SQLAlchemy's Row objects would cost more than the query. Values come as the driver
    gives them (SQLite: a boolean is 0 or 1)."""
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(size):
            yield from rows
    finally:
        cursor.close()
