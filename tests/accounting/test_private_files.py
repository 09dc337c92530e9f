"""Files holding money or secrets are their owner's alone, whatever the umask."""
import os
import stat

import pytest

from accounting.backup import backup_database
from accounting.database import Database, migrate
from accounting.private_files import private_directory


@pytest.fixture
def no_umask():
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path, no_umask):
    database = Database(f"sqlite:///{tmp_path / 'printgate.sqlite3'}")
    try:
        migrate(database.writer)
        with database.writer.begin() as conn:
            conn.exec_driver_sql("INSERT INTO groups (name, description, created_at) VALUES ('g', '', '2026-01-01')")
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == ["printgate.sqlite3", "printgate.sqlite3-shm", "printgate.sqlite3-wal"]
        assert all(mode(tmp_path / name) == 0o600 for name in files)
    finally:
        database.dispose()


def test_a_database_left_world_readable_is_tightened_when_opened(tmp_path):
    path = tmp_path / "printgate.sqlite3"
    Database(f"sqlite:///{path}").dispose()
    os.chmod(path, 0o644)
    Database(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600


def test_a_backup_is_a_0700_directory_of_0600_files(tmp_path, no_umask):
    database = Database(f"sqlite:///{tmp_path / 'printgate.sqlite3'}")
    config = tmp_path / "printgate.toml"
    config.write_text("[server]\n")
    try:
        migrate(database.writer)
        backup_database(database, tmp_path / "backup", config_file=config)
    finally:
        database.dispose()
    assert mode(tmp_path / "backup") == 0o700
    assert {p.name: mode(p) for p in (tmp_path / "backup").iterdir()} == {
        "printgate.sqlite3": 0o600, "printgate.toml": 0o600, "MANIFEST.json": 0o600}


def test_a_private_directory_is_0700_even_when_it_existed_wider(tmp_path):
    path = tmp_path / "data"
    path.mkdir(mode=0o755)
    private_directory(path)
    assert mode(path) == 0o700
