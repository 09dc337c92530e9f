"""The group committer's SQLite hot path (``accounting.lean_sql``) writes and reads exactly
what the SQLAlchemy path does."""
import pytest
from sqlalchemy import select

from accounting.decisions import _OWNERS
from accounting.lean_sql import LeanInsert, LeanSelectIn
from accounting.schema import job_events, jobs, spool_blobs
from tests.accounting.conftest import new_job

pytestmark = pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)


def _jobs_like(job_count, owner="alice"):
    made = []
    for n in range(job_count):
        job = new_job(owner, pages=n + 1, copies=2, color_pages=n % 2, duplex=bool(n % 2), title=f"t{n}")
        job.spool_blob, job.spool_node = bytes([n]) * (100 + n), "node-a"
        job.attributes = {"job-name": f"t{n}", "n": n}
        made.append(job)
    return made


def _stored(database, table, order_by):
    """Rows exactly as SQLite holds them (no SQLAlchemy result processing)."""
    with database.writer.begin() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order_by}")]


def _record_through_sqlalchemy(store, new_jobs):
    with store.db.writer.begin() as conn:
        return store._insert_jobs(conn, new_jobs)


def test_lean_and_sqlalchemy_inserts_store_the_same_bytes(core):
    store = core.jobs
    core.decide(new_job("alice"))  # the owner exists; a decision is kept on the job below
    store.record_jobs(_jobs_like(1))  # learns the queue id: the lean path needs it
    lean_jobs = _jobs_like(3)
    for job in lean_jobs:
        job.decision = core.decide(job)
    slow_jobs = _jobs_like(3)
    for job, twin in zip(slow_jobs, lean_jobs):
        job.decision = twin.decision
        job.spool_name = twin.spool_name + "-slow"
    assert store._lean_path_fits(lean_jobs)
    lean_rows = store._insert_jobs_lean(lean_jobs)
    slow_rows = _record_through_sqlalchemy(store, slow_jobs)

    def without_keys(row, id_index, name_index=None):
        return tuple(v for i, v in enumerate(row) if i not in (id_index, name_index))

    stored_jobs = _stored(store.db, "jobs", "id")[-6:]
    id_at = [c.name for c in jobs.columns].index("id")
    name_at = [c.name for c in jobs.columns].index("spool_name")
    assert ([without_keys(r, id_at, name_at) for r in stored_jobs[:3]]
            == [without_keys(r, id_at, name_at) for r in stored_jobs[3:]])
    events = _stored(store.db, "job_events", "id")[-6:]
    event_id_at = [c.name for c in job_events.columns].index("id")
    job_id_at = [c.name for c in job_events.columns].index("job_id")
    assert ([without_keys(r, event_id_at, job_id_at) for r in events[:3]]
            == [without_keys(r, event_id_at, job_id_at) for r in events[3:]])
    assert [r["id"] for r in lean_rows] == [r[id_at] for r in stored_jobs[:3]]
    assert [e[job_id_at] for e in events[:3]] == [r["id"] for r in lean_rows]
    blobs = {name: data for name, _node, data in _stored(store.db, "spool_blobs", "spool_name")}
    for lean, slow in zip(lean_jobs, slow_jobs):
        assert blobs[lean.spool_name] == blobs[slow.spool_name] == lean.spool_blob
    # What record_jobs hands back is the same either way, ids and names aside.
    for lean, slow in zip(lean_rows, slow_rows):
        assert {k: v for k, v in lean.items() if k not in ("id", "spool_name")} == \
               {k: v for k, v in slow.items() if k not in ("id", "spool_name")}


def test_a_failed_lean_transaction_leaves_nothing(core):
    store = core.jobs
    store.record_jobs(_jobs_like(1))
    before = _stored(store.db, "jobs", "id")
    first, second = _jobs_like(2)
    second.spool_name = first.spool_name  # the spool_blobs primary key refuses the second
    with pytest.raises(Exception):
        store._insert_jobs_lean([first, second])
    assert _stored(store.db, "jobs", "id") == before
    store.record_jobs(_jobs_like(1))  # the connection is usable again
    assert len(_stored(store.db, "jobs", "id")) == len(before) + 1


def test_jobs_with_a_policy_record_or_an_unknown_queue_take_the_sqlalchemy_path(core):
    store = core.jobs
    [job] = _jobs_like(1)
    assert not store._lean_path_fits([job])  # queue id not learned yet
    store.record_jobs([job])
    [job] = _jobs_like(1)
    assert store._lean_path_fits([job])

    class WithRecord:
        action = "allow"
        policy = {"username": "alice"}

    job.decision = WithRecord()
    assert not store._lean_path_fits([job])


def test_lean_insert_fills_scalar_defaults_and_refuses_unknown_columns(database):
    statement = LeanInsert(job_events, database.writer.engine.dialect)
    assert "id" not in statement.names
    values = statement.parameters(dict(job_id=1, at=None, old_state=None, new_state="held", actor="a"))
    assert values[statement.names.index("reason")] == ""  # the column's default
    with pytest.raises(KeyError):
        statement.parameters(dict(job_id=1, nonsense=2))
    assert "spool_name" in LeanInsert(spool_blobs, database.writer.engine.dialect).names


def test_bulk_rows_of_changing_keys_each_get_their_own_values_and_defaults(database):
    statement = LeanInsert(job_events, database.writer.engine.dialect)
    every = {name: None for name in statement.names}
    full = [{**every, "job_id": n, "new_state": "held", "actor": "a", "reason": f"r{n}"} for n in (1, 2)]
    partial = dict(job_id=3, at=None, old_state=None, new_state="held", actor="a")
    rows = [full[0], partial, full[1], {**partial, "job_id": 4}]
    assert list(statement._parameters(rows)) == [statement.parameters(row) for row in rows]
    assert statement.parameters(partial)[statement.names.index("reason")] == ""
    with pytest.raises(KeyError):
        list(statement._parameters([full[0], {**full[0], "nonsense": 2}]))


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 9])
def test_owners_read_lean_equal_owners_read_through_sqlalchemy(core, database, count):
    names = [f"user{n}" for n in range(count)]
    for name in names:
        core.decide(new_job(name))  # creates the user and their account
    lean = LeanSelectIn(_OWNERS, database.reader.dialect, "usernames")
    asked = names + ["nobody"]
    with database.raw_read() as cursor:
        got = sorted(tuple(row) for row in lean.rows(cursor, asked))
    with database.reader.connect() as conn:
        want = sorted(tuple(row) for row in conn.execute(_OWNERS, {"usernames": asked}))
    assert got == want
    with database.raw_read() as cursor:
        assert all(type(row.enabled) is bool for row in lean.rows(cursor, names))
        assert lean.rows(cursor, []) == []


def test_the_owner_table_select_is_refused_by_lean_insert_on_other_paramstyles(database):
    class Named:
        paramstyle = "named"

    with pytest.raises(ValueError):
        LeanInsert(jobs, Named())
    with pytest.raises(ValueError):
        LeanSelectIn(select(jobs.c.id), Named(), "x")
