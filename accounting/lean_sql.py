"""INSERTs for the group committer's hot path on SQLite, run on the DBAPI connection.

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

from sqlalchemy import Table
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
        cursor.executemany(self.sql, [self.parameters(row) for row in rows])


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
