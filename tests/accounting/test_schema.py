"""The models are the migrated schema; only accounting/ imports SQLAlchemy."""
import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from accounting.database import Database, current_revision, migrate
from accounting.listings import newest_revision
from accounting.schema import metadata

ROOT = Path(__file__).resolve().parents[2]


def test_models_equal_the_migrated_schema(database):
    with database.writer.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_the_database_is_at_the_newest_revision(database):
    assert current_revision(database.writer) == newest_revision()


def test_the_newest_revision_read_from_the_files_is_alembics_head():
    from alembic.script import ScriptDirectory

    from accounting.database import MIGRATIONS, alembic_config

    assert newest_revision() == ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    assert (MIGRATIONS / "versions").is_dir()


def test_migration_0002_downgrades_to_0001_and_upgrades_again(database_url):
    from alembic import command

    from accounting.database import alembic_config

    db = Database(database_url)
    try:
        with db.writer.begin() as conn:
            command.downgrade(alembic_config(conn), "0001")
        assert current_revision(db.writer) == "0001"
        with db.writer.connect() as conn:
            assert not inspect(conn).has_table("ledger_entries")
            assert "pin_hash" not in {c["name"] for c in inspect(conn).get_columns("users")}
        migrate(db.writer)
        assert current_revision(db.writer) == newest_revision()
    finally:
        db.dispose()


def columns(db, table) -> set[str]:
    with db.writer.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_migration_0008_adds_login_lockouts_and_job_confirmation_and_downgrades(database_url):
    from alembic import command

    from accounting.database import alembic_config

    db = Database(database_url)
    try:
        with db.writer.begin() as conn:
            command.downgrade(alembic_config(conn), "0005")
        assert "lockouts" not in columns(db, "login_throttles") and "confirmed_at" not in columns(db, "jobs")
        migrate(db.writer)
        assert "lockouts" in columns(db, "login_throttles")
        assert {"confirmed_at", "confirmed_by"} <= columns(db, "jobs")
        assert current_revision(db.writer) == newest_revision()
    finally:
        db.dispose()


def test_migration_0003_adds_spool_blobs_and_downgrades(database_url):
    from alembic import command

    from accounting.database import alembic_config

    db = Database(database_url)
    try:
        with db.writer.connect() as conn:
            assert inspect(conn).has_table("spool_blobs")
        with db.writer.begin() as conn:
            command.downgrade(alembic_config(conn), "0002")
        with db.writer.connect() as conn:
            assert not inspect(conn).has_table("spool_blobs")
        migrate(db.writer)
        assert current_revision(db.writer) == newest_revision()
    finally:
        db.dispose()


def test_migration_0007_adds_directory_and_notice_tables_and_downgrades(database_url):
    from alembic import command

    from accounting.database import alembic_config

    db = Database(database_url)
    try:
        with db.writer.begin() as conn:
            command.downgrade(alembic_config(conn), "0010")
        with db.writer.connect() as conn:
            assert not inspect(conn).has_table("directory_users")
            assert "source" not in {c["name"] for c in inspect(conn).get_columns("cards")}
        migrate(db.writer)
        with db.writer.connect() as conn:
            assert inspect(conn).has_table("notices_sent")
            assert "low_balance_threshold" in {c["name"] for c in inspect(conn).get_columns("accounts")}
        assert current_revision(db.writer) == newest_revision()
    finally:
        db.dispose()


def test_migration_0009_adds_analysis_pending_and_downgrades(database_url):
    from alembic import command

    from accounting.database import alembic_config

    db = Database(database_url)
    try:
        with db.writer.connect() as conn:
            assert "analysis_pending" in {c["name"] for c in inspect(conn).get_columns("jobs")}
        with db.writer.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
        with db.writer.connect() as conn:
            assert "analysis_pending" not in {c["name"] for c in inspect(conn).get_columns("jobs")}
        migrate(db.writer)
        assert current_revision(db.writer) == newest_revision()
    finally:
        db.dispose()


def test_migration_0002_keeps_existing_jobs(tmp_path):
    from datetime import datetime, timezone

    from sqlalchemy import select

    from accounting.schema import jobs, queues

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate(db.writer, "0001")
    now = datetime.now(timezone.utc)
    with db.writer.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO queues (name, description, created_at) VALUES ('secure', '', '2026-01-01 00:00:00')")
        conn.exec_driver_sql(
            "INSERT INTO jobs (queue_id, owner, source_host, protocol, client_job_ref, title, document_format, size,"
            " sha256, state, state_reason, received_at, updated_at, copies_requested, sides, color_mode, attributes)"
            " VALUES (1, 'alice', 'ws', 'lpd', '', 't', 'x', 1, 'h', 'held', '', '2026-01-01', '2026-01-01', 1, '',"
            " '', '{}')")
    migrate(db.writer)
    with db.reader.connect() as conn:
        row = conn.execute(select(jobs.c.owner, jobs.c.price_estimate)).one()
    assert tuple(row) == ("alice", None)
    db.dispose()


def _imports_sqlalchemy(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("sqlalchemy", "alembic") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("sqlalchemy", "alembic"):
            return True
    return False


def test_only_accounting_imports_sqlalchemy():
    offenders = []
    for folder in ("gateway", "spooler", "release_api", "panel_menus"):
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).exists() else []:
            if _imports_sqlalchemy(path):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_postgresql_backup_restores_into_an_empty_database(postgres_server, tmp_path):
    from accounting.backup import backup_database, restore_database
    from accounting.core import AccountingCore
    from accounting.passwords import SecretHasher, fast_hasher

    url = postgres_server.create_database("backup_source", template=postgres_server.template)
    source = Database(url)
    AccountingCore(source, hasher=SecretHasher(fast_hasher())).users.add_user("alice", balance=42)
    backup_database(source, tmp_path / "bk")
    source.dispose()
    target_url = postgres_server.create_database("backup_target")
    restore_database(tmp_path / "bk", target_url)
    target = Database(target_url)
    try:
        core = AccountingCore(target)
        assert core.accounts.personal("alice").balance == 42
        assert current_revision(target.writer) == newest_revision()
    finally:
        target.dispose()
        postgres_server.drop_database("backup_source")
        postgres_server.drop_database("backup_target")


def test_migration_0005_adds_the_finance_tables_and_downgrades(database_url):
    from alembic import command

    from accounting.database import alembic_config

    db = Database(database_url)
    try:
        with db.writer.begin() as conn:
            command.downgrade(alembic_config(conn), "0009")
        with db.writer.connect() as conn:
            assert not inspect(conn).has_table("closed_periods")
            assert "cost_center" not in {c["name"] for c in inspect(conn).get_columns("ledger_entries")}
        migrate(db.writer)
        assert current_revision(db.writer) == newest_revision()
        with db.writer.connect() as conn:
            assert {"closed_periods", "schedules", "schedule_runs"} <= set(inspect(conn).get_table_names())
    finally:
        db.dispose()
