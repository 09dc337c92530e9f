"""The command line's listings read what the service reads, with the driver alone."""
import subprocess
import sys
import pytest

from accounting.listings import NoDatabase, Reader, list_jobs, list_users, newest_revision, queue_currencies, \
    schema_is_current
from accounting.pricing import PriceList
from tests.accounting.conftest import new_job


@pytest.fixture
def reader(database_url, database):
    opened = Reader.open(database_url)
    yield opened
    opened.close()


def test_the_user_listing_is_what_the_user_store_lists(core, reader):
    core.users.add_user("bob", groups=("lab", "staff"), cards=("c2", "c1"), balance=250)
    core.users.add_user("alice", pin="2468")
    core.users.delete_user("bob")
    assert list_users(reader) == core.users.list_users()
    [bob] = [u for u in list_users(reader) if u.username == "bob"]
    assert bob.deleted and not bob.enabled and bob.balance == 250


def test_the_job_listing_is_what_the_job_store_lists(core, reader):
    core.users.add_user("alice", balance=1000)
    held, other = core.jobs.record_jobs([new_job("alice", copies_requested=2, duplex=True),
                                         new_job("bob", pages=None, facts=False)])
    core.jobs.change_state(other.id, "deleted", actor="cli")
    assert list_jobs(reader, states=None) == core.jobs.list_jobs(states=None)
    assert list_jobs(reader, owner="alice") == core.jobs.list_jobs(owner="alice")
    assert [j.id for j in list_jobs(reader)] == [held.id]


def test_each_queue_is_priced_in_its_own_or_the_default_currency(core, reader):
    core.jobs.ensure_queues(["secure", "chf"])
    assert queue_currencies(reader) == {"secure": None, "chf": None}
    core.prices.save(PriceList(name="std", currency="EUR", is_default=True))
    core.prices.save(PriceList(name="swiss", currency="CHF"))
    core.prices.assign_queue("chf", "swiss")
    assert queue_currencies(reader) == {"secure": "EUR", "chf": "CHF"}


def test_a_migrated_database_is_current_and_a_missing_file_is_no_database(reader, tmp_path):
    assert schema_is_current(reader)
    with pytest.raises(NoDatabase):
        Reader.open(f"sqlite:///{tmp_path / 'nowhere' / 'printgate.sqlite3'}")
    assert not (tmp_path / "nowhere").exists()


def test_a_database_of_an_older_schema_is_not_current(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        db.execute("INSERT INTO alembic_version VALUES ('0001')")
    reader = Reader.open(f"sqlite:///{path}")
    try:
        assert newest_revision() != "0001" and not schema_is_current(reader)
    finally:
        reader.close()


def test_a_listing_imports_neither_sqlalchemy_nor_alembic():
    code = ("import sys, accounting.listings, accounting.job_titles, accounting.money, accounting.colour_modes; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'twisted')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_sqlite_listing_opens_read_only(sqlite_template, tmp_path):
    import shutil

    path = tmp_path / "printgate.sqlite3"
    shutil.copyfile(sqlite_template, path)
    reader = Reader.open(f"sqlite:///{path}")
    try:
        with pytest.raises(Exception, match="readonly"):
            reader.rows("INSERT INTO groups (name, description, created_at) VALUES ('x', '', '2026-01-01')")
    finally:
        reader.close()
