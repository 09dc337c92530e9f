"""The accounting suite runs twice: on SQLite and on a real PostgreSQL server that this
conftest starts (tests/fixtures/postgres.py). Every test gets a fresh, migrated database
(copied from a template migrated once per session), and after every test each account's
balance must equal the sum of its ledger."""
from __future__ import annotations

import itertools
import shutil
from datetime import datetime, timezone

import pytest

from accounting.core import AccountingCore, AccountingSettings
from accounting.database import Database, migrate
from accounting.ledger import Ledger
from accounting.passwords import SecretHasher, fast_hasher
from accounting.records import NewJob
from tests.fixtures.postgres import PostgresMissing, PostgresServer

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = PostgresServer().start()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    template = "printgate_template"
    server.create_database(template)
    database = Database(server.url(template))
    migrate(database.writer)
    database.dispose()
    server.template = template
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "printgate.sqlite3"
    database = Database(f"sqlite:///{path}")
    migrate(database.writer)
    database.dispose()
    return path


@pytest.fixture(params=ENGINES)
def engine_name(request):
    return request.param


@pytest.fixture
def database_url(request, engine_name, tmp_path):
    if engine_name == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "printgate.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"t{next(_counter)}"
    yield server.create_database(name, template=server.template)
    server.drop_database(name)


@pytest.fixture
def database(database_url):
    db = Database(database_url, pool_size=16)
    yield db
    try:
        unbalanced = Ledger(db).unbalanced_accounts()
    finally:
        db.dispose()
    assert unbalanced == [], f"balances differ from the sum of their ledger: {unbalanced}"


@pytest.fixture
def hasher():
    return SecretHasher(fast_hasher())


@pytest.fixture
def settings(tmp_path):
    return AccountingSettings(server_name="gw1", secrets_key_file=tmp_path / "keys" / "secrets.key",
                              rule_cache_seconds=0)


@pytest.fixture
def core(database, settings, hasher):
    return AccountingCore(database, settings, hasher=hasher)


T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday


def new_job(owner="alice", *, queue="secure", pages=2, copies=1, color_pages=0, duplex=False, title="report.pdf",
            copies_requested=1, received_at=T0, media=("A4",), facts=True, color_mode="", source_host="ws1",
            pdl="pdf", impressions=None, sheets=None):
    job_facts = None
    if facts:
        job_facts = {
            "pdl": pdl, "pages": pages, "copies": copies,
            "impressions": impressions if impressions is not None else (None if pages is None else pages * copies),
            "sheets": sheets if sheets is not None else (
                None if pages is None else ((pages + 1) // 2 if duplex else pages) * copies),
            "duplex": duplex, "color_pages": color_pages, "mono_pages": None if pages is None else pages - (color_pages or 0),
            "media": list(media), "method": "scan",
        }
    return NewJob(queue=queue, owner=owner, source_host=source_host, protocol="lpd", size=1000, sha256="0" * 64,
                  spool_name=f"spool-{next(_counter)}", received_at=received_at, title=title,
                  copies_requested=copies_requested, color_mode=color_mode, facts=job_facts)
