"""SQLite's WAL is copied back into the database by a thread of its own, not by a commit,
and stays bounded while commits go on."""
import os
import threading

from accounting.database import Database, WalCheckpointer, migrate, sqlite_url


def _database(tmp_path):
    database = Database(sqlite_url(tmp_path))
    migrate(database.writer)
    with database.writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (n INTEGER PRIMARY KEY, data BLOB)")
    return database


def _commit_rows(database, count, size=8192):
    for n in range(count):
        with database.writer.raw_transaction() as cursor:
            cursor.execute("INSERT INTO filler (data) VALUES (?)", (os.urandom(size),))


def test_writers_leave_checkpoints_to_the_thread_and_readers_keep_sqlites(tmp_path):
    database = _database(tmp_path)
    try:
        with database.writer.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with database.reader.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        database.dispose()


def test_the_wal_stays_bounded_while_commits_go_on(tmp_path):
    database = _database(tmp_path)
    try:
        # 3,000 commits of 8 KiB rows: about 9,000 WAL pages (36 MiB) if never reset.
        _commit_rows(database, 3000)
        checkpointer = database.writer.checkpointer
        assert checkpointer.checkpoints >= 10
        assert checkpointer._thread.name == "printgate-wal-checkpoint"
        assert os.path.getsize(tmp_path / "printgate.sqlite3-wal") < 8 * 1024 * 1024
        with database.reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == 3000
    finally:
        database.dispose()


def test_the_copying_runs_in_a_thread_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(WalCheckpointer, "EVERY_COMMITS", 8)
    database = _database(tmp_path)
    threads_that_checkpointed = set()
    real_run = WalCheckpointer._run

    def run(self):
        threads_that_checkpointed.add(threading.current_thread().name)
        real_run(self)

    monkeypatch.setattr(WalCheckpointer, "_run", run)
    try:
        _commit_rows(database, 100)
        assert threads_that_checkpointed == {"printgate-wal-checkpoint"}
    finally:
        database.dispose()


def test_dispose_ends_the_checkpoint_thread(tmp_path):
    database = _database(tmp_path)
    _commit_rows(database, WalCheckpointer.EVERY_COMMITS + 1)
    thread = database.writer.checkpointer._thread
    assert thread is not None and thread.is_alive()
    database.dispose()
    assert not thread.is_alive()


def test_a_commit_after_dispose_does_not_reach_for_the_closed_checkpoint_connection(tmp_path):
    database = _database(tmp_path)
    _commit_rows(database, WalCheckpointer.EVERY_COMMITS + 1)
    checkpointer = database.writer.checkpointer
    database.dispose()
    checkpointer._second_pass_due = True  # the background pass had finished just before
    checkpointer.committed()
    assert checkpointer._second_pass_due is False


def _count_fdatasyncs(monkeypatch):
    import accounting.database as module

    synced = []
    real = os.fdatasync

    def counting(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(module.os, "fdatasync", counting)
    return synced


def test_the_intake_connection_commits_without_waiting_and_one_fdatasync_covers_many(tmp_path, monkeypatch):
    database = _database(tmp_path)
    synced = _count_fdatasyncs(monkeypatch)
    try:
        for _ in range(3):
            with database.writer.raw_transaction(sync=False) as cursor:
                cursor.execute("INSERT INTO filler (data) VALUES (x'00')")
                (level,) = cursor.execute("PRAGMA synchronous").fetchone()
        assert level == 1  # NORMAL: the COMMIT does not wait for the disk
        assert synced == []
        database.writer.sync_commits()
        assert synced == [database.writer.wal_path]
        database.writer.sync_commits()  # nothing new: nothing to wait for
        assert len(synced) == 1
        with database.writer.raw_transaction() as cursor:  # sync=True: durable on return
            cursor.execute("INSERT INTO filler (data) VALUES (x'01')")
        assert len(synced) == 2
    finally:
        database.dispose()


def test_other_connections_keep_synchronous_full(tmp_path):
    database = _database(tmp_path)
    try:
        with database.writer.raw_transaction() as cursor:
            cursor.execute("INSERT INTO filler (data) VALUES (x'00')")
        with database.writer.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    finally:
        database.dispose()
