"""Bulk rows in a caller's transaction (``accounting.lean_sql.insert_rows``,
``insert_tuples``, ``insert_rows_returning_ids``, ``scan``) store and read exactly what SQLAlchemy does, on
both engines."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert, select

from accounting.lean_sql import insert_rows, insert_rows_returning_ids, insert_tuples, scan
from accounting.schema import audit_log, groups, user_groups, users
from accounting.time import aware

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def audit_rows(count, *, at=T0, step=timedelta(0)):
    return [{"at": at + step * n, "actor": "directory", "action": "user.add", "target": f"user{n}",
             "new_value": '{"n": %d}' % n} for n in range(count)]


def stored(database, table, order_by):
    """Rows without their id; times as aware UTC (SQLite hands them back naive)."""
    with database.reader.connect() as conn:
        return [tuple(aware(v) if isinstance(v, datetime) else v for v in tuple(row)[1:])
                for row in conn.execute(select(table).order_by(order_by))]


def test_bulk_rows_are_stored_as_sqlalchemys_insert_stores_them(database):
    with database.writer.begin() as conn:
        conn.execute(insert(audit_log), audit_rows(3))
    through_sqlalchemy = stored(database, audit_log, audit_log.c.id)
    with database.writer.begin() as conn:
        conn.execute(delete(audit_log))
        insert_rows(conn, audit_log, audit_rows(3))
    assert stored(database, audit_log, audit_log.c.id) == through_sqlalchemy
    assert through_sqlalchemy[0][:3] == (T0, "directory", "")  # source: its default


def test_rows_with_different_values_keep_each_their_own_after_a_shared_one(database):
    rows = audit_rows(2) + audit_rows(3, at=T0 + timedelta(days=1), step=timedelta(minutes=1))
    with database.writer.begin() as conn:
        insert_rows(conn, audit_log, rows)
    assert [row[0] for row in stored(database, audit_log, audit_log.c.id)] == [r["at"] for r in rows]


def test_new_ids_come_back_in_the_order_of_the_rows_also_after_gaps(database):
    def group(name):
        return {"name": name, "description": "", "created_at": T0, "source": "directory"}

    with database.writer.begin() as conn:
        first = insert_rows_returning_ids(conn, groups, [group("a"), group("b"), group("c")])
        conn.execute(delete(groups).where(groups.c.name == "c"))
    with database.writer.begin() as conn:
        second = insert_rows_returning_ids(conn, groups, [group("z"), group("y")])
    with database.reader.connect() as conn:
        names = dict(conn.execute(select(groups.c.id, groups.c.name)).all())
    assert [names[i] for i in first[:2] + second] == ["a", "b", "z", "y"]


def test_a_scan_reads_what_sqlalchemy_reads_a_chunk_at_a_time(database):
    with database.writer.begin() as conn:
        insert_rows(conn, audit_log, audit_rows(7))
    query = select(audit_log.c.id, audit_log.c.target).where(audit_log.c.actor != "nobody").order_by(audit_log.c.id)
    with database.reader.connect() as conn:
        assert list(scan(conn, query, size=3)) == [tuple(row) for row in conn.execute(query)]


def test_tuples_are_stored_as_dictionaries_are(database):
    with database.writer.begin() as conn:
        group_ids = insert_rows_returning_ids(conn, groups, [{"name": n, "description": "", "created_at": T0}
                                                             for n in ("a", "b")])
        [user_id] = insert_rows_returning_ids(conn, users, [{"username": "ann", "created_at": T0}])
        insert_tuples(conn, user_groups, ("user_id", "group_id"), [(user_id, group_id) for group_id in group_ids])
    with database.reader.connect() as conn:
        assert sorted(tuple(row) for row in conn.execute(select(user_groups))) == [(user_id, g) for g in group_ids]


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)  # the check guards the SQLite path
def test_tuples_may_not_leave_out_a_column_only_sqlalchemy_would_fill(database):
    with database.writer.begin() as conn:
        with pytest.raises(ValueError, match="leaves out"):
            insert_tuples(conn, groups, ("name", "description"), [("x", "")])
        with pytest.raises(ValueError, match="processed"):
            insert_tuples(conn, groups, ("name", "description", "created_at"), [("x", "", T0)])
