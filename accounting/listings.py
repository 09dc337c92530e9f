"""Read-only listings — users, jobs — in plain SQL on a DB-API connection.

``printgate users list`` and ``printgate jobs list`` are what an admin types most. Through
SQLAlchemy and Alembic a call spent most of a second importing before it read a row; a
listing here opens the database read-only with the driver alone (the standard library's
``sqlite3``; ``psycopg`` for PostgreSQL), checks that the schema is the newest one (the
caller migrates otherwise), and reads. Opening read-only also means a listing can never
create or change a database. ``UserStore.list_users`` runs the same user query on its
own connection, so the command line and the service cannot disagree.

Nothing here imports SQLAlchemy: keep it that way (``tests/accounting/test_listings.py``
checks it).
"""
from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from accounting.errors import AccountingError
from accounting.records import HeldJob, User

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^(down_)?revision\s*(?::[^=]*)?=\s*['\"]?(\w+)", re.MULTILINE)


class NoDatabase(AccountingError):
    """There is no database where the command looked (nothing was created there)."""

    def __init__(self, path):
        super().__init__(f"no Printgate database at {path}")
        self.path = path


class Reader:
    """A DB-API connection opened for reading, and the placeholder its driver takes
    (queries here are written with ``?``)."""

    def __init__(self, connection, *, placeholder: str = "?", owned: bool = True):
        self.connection = connection
        self.placeholder = placeholder
        self.owned = owned

    @classmethod
    def open(cls, url: str) -> "Reader":
        """Open ``url`` (a SQLAlchemy URL, as the configuration gives it) read-only.
        Raises ``NoDatabase`` when a SQLite file is missing."""
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[1]
            if not path or path == ":memory:" or not Path(path).is_file():
                raise NoDatabase(path)
            connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=30,
                                         check_same_thread=False)
            connection.execute("PRAGMA busy_timeout=30000")
            return cls(connection)
        import psycopg

        driver_free = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
        try:
            connection = psycopg.connect(driver_free, autocommit=True,
                                         options="-c default_transaction_read_only=on")
        except psycopg.Error as exc:
            host = re.sub(r"//[^@/]*@", "//", driver_free)  # never print the password
            raise AccountingError(f"cannot read the database at {host}: {str(exc).strip()}") from None
        return cls(connection, placeholder="%s")

    @classmethod
    def on(cls, dbapi_connection, *, is_sqlite: bool) -> "Reader":
        """Borrow a connection someone else owns (a pooled one)."""
        return cls(dbapi_connection, placeholder="?" if is_sqlite else "%s", owned=False)

    def rows(self, sql: str, params=()) -> list[tuple]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql.replace("?", self.placeholder), tuple(params))
            self.columns = [d[0] for d in cursor.description]
            return cursor.fetchall()
        finally:
            cursor.close()

    def close(self) -> None:
        if self.owned:
            self.connection.close()


def newest_revision(versions: Path = MIGRATIONS) -> str | None:
    """The head of the migration chain, read from the ``revision``/``down_revision``
    lines of the migration files (importing Alembic costs more than the listing).
    ``None`` when the files do not form one chain."""
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(reader: Reader) -> bool:
    """The database was migrated to the newest schema this code knows."""
    try:
        found = reader.rows("SELECT version_num FROM alembic_version")
    except Exception:  # no such table: never migrated  # noqa: BLE001 - any driver's error
        return False
    head = newest_revision()
    return head is not None and [row[0] for row in found] == [head]


def _in(values) -> str:
    return ", ".join("?" for _ in values)


def list_users(reader: Reader, *, group: str | None = None, user_id: int | None = None,
               limit: int | None = None) -> list[User]:
    """Users by username (or the one with ``user_id``), with their groups, cards and
    personal balance."""
    where, params = "", []
    if group is not None:
        where = ("WHERE u.id IN (SELECT ug.user_id FROM user_groups ug JOIN groups g ON g.id = ug.group_id "
                 "WHERE g.name = ?)")
        params.append(group)
    elif user_id is not None:
        where = "WHERE u.id = ?"
        params.append(user_id)
    rows = reader.rows(
        "SELECT u.id, u.username, u.full_name, u.email, u.cost_center, u.enabled, u.source, "
        "u.pin_hash IS NOT NULL, a.id, a.balance, u.deleted_at IS NOT NULL FROM users u LEFT JOIN accounts a ON a.user_id = u.id "
        f"{where} ORDER BY u.username" + (f" LIMIT {int(limit)}" if limit else ""), params)
    group_names, card_numbers = defaultdict(list), defaultdict(list)
    ids = [row[0] for row in rows]
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for user_id, name in reader.rows(
                "SELECT ug.user_id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id "
                f"WHERE ug.user_id IN ({_in(chunk)}) ORDER BY g.name", chunk):
            group_names[user_id].append(name)
        for user_id, number in reader.rows(
                f"SELECT user_id, number FROM cards WHERE user_id IN ({_in(chunk)}) ORDER BY id", chunk):
            card_numbers[user_id].append(number)
    return [User(id=r[0], username=r[1], full_name=r[2], email=r[3], cost_center=r[4], enabled=bool(r[5]),
                 source=r[6], groups=group_names[r[0]], cards=card_numbers[r[0]], has_pin=bool(r[7]),
                 account_id=r[8], balance=r[9], deleted=bool(r[10]))
            for r in rows]


def _datetime(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _json(value):
    return json.loads(value) if value else None


#: How a stored value becomes a HeldJob field, by the field's declared type: the drivers
#: hand back SQLite's storage forms (text times, 0/1) or PostgreSQL's own types.
_CONVERTERS = {"datetime": _datetime, "dict": _json, "dict | None": _json, "bool": bool,
               "bool | None": lambda v: None if v is None else bool(v)}
_HELD_JOB_FIELDS = [(f.name, _CONVERTERS.get(f.type)) for f in dataclasses.fields(HeldJob)]


def list_jobs(reader: Reader, *, owner: str | None = None, states=("held",)) -> list[HeldJob]:
    """Jobs in id order (``states`` None: every state), as ``JobStore.list_jobs`` gives
    them."""
    clauses, params = [], []
    if owner is not None:
        clauses.append("j.owner = ?")
        params.append(owner)
    if states:
        clauses.append(f"j.state IN ({_in(states)})")
        params.extend(states)
    rows = reader.rows("SELECT j.*, q.name AS queue_name FROM jobs j JOIN queues q ON q.id = j.queue_id"
                       + (f" WHERE {' AND '.join(clauses)}" if clauses else "") + " ORDER BY j.id", params)
    position = {name: i for i, name in enumerate(reader.columns)}
    position["queue"] = position["queue_name"]
    jobs = []
    for row in rows:
        values = {}
        for name, convert in _HELD_JOB_FIELDS:
            if name in position:
                value = row[position[name]]
                values[name] = convert(value) if convert is not None and value is not None else value
        values["attributes"] = values.get("attributes") or {}
        jobs.append(HeldJob(**values))
    return jobs


def queue_currencies(reader: Reader) -> dict[str, str | None]:
    """The currency of each queue's prices: its own price list's, else the default
    list's; ``None`` when there is no price list at all (every job is free)."""
    default = reader.rows("SELECT currency FROM price_lists WHERE is_default = ? ORDER BY id", [True])
    fallback = default[0][0] if default else None
    return {name: currency or fallback for name, currency in reader.rows(
        "SELECT q.name, p.currency FROM queues q LEFT JOIN price_lists p ON p.id = q.price_list_id")}
