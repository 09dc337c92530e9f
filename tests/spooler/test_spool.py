"""The spool store: encrypted at rest, whole or nothing, streaming."""
import hashlib
import os
import time

import pytest

from spooler.errors import JobTooLarge, SpoolWriteError
from spooler.spool import CHUNK, SpoolCorrupt, SpoolStore, SpoolWriter


@pytest.fixture
def store(tmp_path):
    return SpoolStore.open(tmp_path, max_job_size=64 * 1024 * 1024)


def spool(store, data, piece=10_000):
    writer = store.create()
    for i in range(0, len(data), piece):
        writer.write(data[i:i + piece])
    writer.finish()
    writer.make_durable()
    return writer


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_what_goes_in_comes_out_with_its_sha256(store, size):
    data = os.urandom(size)
    writer = spool(store, data)
    assert b"".join(store.read_chunks(writer.name)) == data
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert writer.size == size


def test_no_plaintext_reaches_the_disk(store):
    marker = b"CONFIDENTIAL-SALARY-LIST-" * 1000
    writer = spool(store, marker)
    assert b"CONFIDENTIAL" not in store.path(writer.name).read_bytes()
    for path in store.root.rglob("*"):
        if path.is_file():
            assert b"CONFIDENTIAL" not in path.read_bytes()


def test_the_master_key_file_is_private(tmp_path, store):
    assert (tmp_path / "spool.key").stat().st_mode & 0o777 == 0o600


def test_a_truncated_file_is_detected_not_passed_off_as_whole(store):
    writer = spool(store, os.urandom(3 * CHUNK))
    path = store.path(writer.name)
    data = path.read_bytes()
    # Cut exactly at a record boundary: every remaining record still authenticates.
    boundary = 8 + 16 + 2 * (4 + CHUNK + 16)
    path.write_bytes(data[:boundary])
    with pytest.raises(SpoolCorrupt):
        b"".join(store.read_chunks(writer.name))


def test_a_flipped_bit_is_detected(store):
    writer = spool(store, b"x" * 1000)
    path = store.path(writer.name)
    data = bytearray(path.read_bytes())
    data[40] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(SpoolCorrupt):
        list(store.read_chunks(writer.name))


def test_a_discarded_receive_leaves_no_file(store):
    writer = store.create()
    writer.write(b"partial")
    writer.discard()
    assert list(store.tmp_dir.iterdir()) == [] and list(store.jobs_dir.iterdir()) == []


def test_a_job_over_the_size_limit_is_refused_while_streaming(tmp_path):
    store = SpoolStore.open(tmp_path, max_job_size=1000)
    writer = store.create()
    writer.write(b"a" * 1000)
    with pytest.raises(JobTooLarge) as raised:
        writer.write(b"b")
    assert raised.value.limit == 1000


def test_start_up_cleaning_removes_temporaries_and_unrecorded_files(store):
    kept = spool(store, b"kept")
    orphan = spool(store, b"orphan")
    store.create().write(b"in flight when the gateway died" * 20000)
    assert store.clean_temporaries() == 1
    assert store.remove_orphans({kept.name}) == 1
    assert store.spool_names() == {kept.name}
    assert not store.path(orphan.name).exists()


def test_a_small_job_touches_the_disk_only_when_made_durable(store):
    writer = store.create()
    writer.write(b"small")
    writer.finish()
    assert list(store.tmp_dir.iterdir()) == []
    writer.make_durable()
    assert b"".join(store.read_chunks(writer.name)) == b"small"


def test_each_file_has_its_own_key(store):
    a, b = spool(store, b"same bytes" * 100), spool(store, b"same bytes" * 100)
    assert store.path(a.name).read_bytes()[24:] != store.path(b.name).read_bytes()[24:]


def test_a_wrong_master_key_cannot_read_a_file(tmp_path, store):
    writer = spool(store, b"secret")
    other = SpoolStore(store.root, b"\x00" * 32, max_job_size=10)
    with pytest.raises(SpoolCorrupt):
        list(other.read_chunks(writer.name))


def attached(store):
    """The store as the gateway runs it: small jobs' bytes handed to 'the database'."""
    blobs = {}
    store.attach_database(blobs.get, lambda: set(blobs))
    return blobs


def test_an_attached_store_hands_a_small_job_to_the_database_not_to_a_file(store):
    blobs = attached(store)
    writer = store.create()
    writer.write(b"CONFIDENTIAL small job")
    writer.finish()
    assert writer.make_durable() is None
    assert not writer.needs_directory_sync
    assert list(store.jobs_dir.iterdir()) == [] and list(store.tmp_dir.iterdir()) == []
    assert b"CONFIDENTIAL" not in writer.blob
    blobs[writer.name] = writer.blob  # what recording the job does
    assert b"".join(store.read_chunks(writer.name)) == b"CONFIDENTIAL small job"
    assert store.spool_names() == {writer.name}


def test_an_attached_store_still_writes_a_large_job_to_a_file(store):
    attached(store)
    data = os.urandom(SpoolWriter.DEFER_FILE + 2 * CHUNK)
    writer = spool(store, data)
    assert writer.blob is None and writer.needs_directory_sync
    assert store.path(writer.name).exists()
    assert b"".join(store.read_chunks(writer.name)) == data


def test_a_blob_that_was_tampered_with_fails_authentication(store):
    blobs = attached(store)
    writer = store.create()
    writer.write(b"x" * 5000)
    writer.finish()
    writer.make_durable()
    damaged = bytearray(writer.blob)
    damaged[60] ^= 1
    blobs[writer.name] = bytes(damaged)
    with pytest.raises(SpoolCorrupt):
        list(store.read_chunks(writer.name))


def test_a_job_neither_in_a_file_nor_in_the_database_is_not_found(store):
    attached(store)
    with pytest.raises(FileNotFoundError):
        list(store.read_chunks("ab" * 16))


class FailingDisk(SpoolWriter):
    """Writes fail after the first few (a disk that fills up while a large job arrives)."""

    allowed = 3

    def _write_all(self, *parts):
        if self.allowed <= 0:
            raise SpoolWriteError("writing spool file failed: [Errno 28] No space left on device",
                                  path=self.tmp_path)
        self.allowed -= 1
        super()._write_all(*parts)


def test_a_write_error_in_a_large_jobs_writer_thread_reaches_the_receiver(store):
    writer = FailingDisk(store, "ab" * 16)
    block = os.urandom(64 * 1024)
    with pytest.raises(SpoolWriteError, match="No space left"):
        for _ in range(400):  # 25 MiB: far past the writes the disk allows
            writer.write(block)
        writer.finish()
        writer.make_durable()
    writer.discard()
    assert list(store.tmp_dir.iterdir()) == [] and list(store.jobs_dir.iterdir()) == []


def test_a_large_job_keeps_a_bounded_amount_in_flight(store, monkeypatch):
    monkeypatch.setattr(SpoolWriter, "SEALER_LIMIT", 256 * 1024)
    seen = []

    class SlowDisk(SpoolWriter):
        def _write_all(self, *parts):
            seen.append(self._sealer.in_flight if self._sealer else 0)
            time.sleep(0.002)
            super()._write_all(*parts)

    writer = SlowDisk(store, "cd" * 16)
    data = os.urandom(8 * 1024 * 1024)
    for i in range(0, len(data), 64 * 1024):
        writer.write(data[i:i + 64 * 1024])
    writer.finish()
    writer.make_durable()
    assert max(seen) <= 256 * 1024 + 2 * 64 * 1024
    assert b"".join(store.read_chunks(writer.name)) == data
    assert writer.sha256 == hashlib.sha256(data).hexdigest()


def test_discarding_a_large_job_mid_way_stops_its_writer_and_leaves_nothing(store):
    writer = store.create()
    block = os.urandom(64 * 1024)
    for _ in range(64):
        writer.write(block)
    sealer = writer._sealer
    assert sealer is not None and sealer._thread.is_alive()
    writer.discard()
    assert list(store.tmp_dir.iterdir()) == [] and list(store.jobs_dir.iterdir()) == []
    assert not sealer._thread.is_alive()


def test_a_blob_read_ahead_is_used_without_asking_the_database_again(store):
    blobs = attached(store)
    writer = store.create()
    writer.write(b"small")
    writer.finish()
    writer.make_durable()
    blobs[writer.name] = writer.blob
    blob = store.blob(writer.name)
    assert blob == writer.blob
    blobs.clear()  # the database is away now
    assert b"".join(store.read_chunks(writer.name, blob=blob)) == b"small"
    large = spool(store, os.urandom(SpoolWriter.DEFER_FILE + 2 * CHUNK))
    assert store.blob(large.name) is None  # a file: nothing to read ahead


def test_the_file_key_is_rfc5869_hkdf_sha256_as_the_cryptography_package_derives_it():
    # Files written before the key derivation was written out must still open.
    import os

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from spooler.spool import _file_key

    for _ in range(200):
        master, salt = os.urandom(32), os.urandom(16)
        expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"printgate spool v1").derive(master)
        assert _file_key(master, salt) == expected


def test_background_work_hands_pieces_over_in_batches_and_in_order():
    import threading

    from spooler.background import BackgroundWork

    seen, wakes = [], []
    work = BackgroundWork(seen.append, name="t", limit=8 * 1024 * 1024)
    original_notify = work._changed.notify_all

    def counting_notify():
        wakes.append(threading.current_thread().name)
        original_notify()

    work._changed.notify_all = counting_notify
    pieces = [bytes([n % 256]) * (64 * 1024) for n in range(200)]  # 12.5 MiB
    for piece in pieces:
        work.put(piece)
    work.close()
    work.wait()
    assert seen == pieces
    # 200 pieces, but the thread is woken at most once per 1 MiB batch (16 pieces).
    assert len([w for w in wakes if w != "t"]) <= 200 // 16 + 2


def test_a_large_job_starts_its_writeback_as_it_goes_and_leaves_no_cache_behind(store, monkeypatch):
    import threading

    monkeypatch.setattr(SpoolWriter, "WRITEBACK_WINDOW", 4 * 1024 * 1024)
    calls = []
    real = os.posix_fadvise

    def recording_fadvise(fd, offset, length, advice):
        calls.append((offset, length, advice, threading.current_thread() is threading.main_thread()))
        return real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", recording_fadvise)
    data = os.urandom(12 * 1024 * 1024)
    writer = spool(store, data, piece=64 * 1024)
    assert all(advice == os.POSIX_FADV_DONTNEED for _, _, advice, _ in calls)
    *while_writing, (last_offset, last_length, _, last_on_caller) = calls
    # While the job arrives: from its writer thread, never the receiving one, each call
    # over the newest bytes (at most the window), every step further into the file.
    assert len(while_writing) >= 4 and not any(on_caller for *_, on_caller in while_writing)
    ends = [offset + length for offset, length, _, _ in while_writing]
    assert while_writing[0][0] == 0
    assert all(b - a >= SpoolWriter.WRITEBACK_STEP for a, b in zip(ends, ends[1:]))
    assert all(length <= 4 * 1024 * 1024 for _, length, _, _ in while_writing)
    assert ends[-1] > len(data) - 2 * SpoolWriter.WRITEBACK_STEP
    # Once the file is durable (make_durable, here on the caller), all of it is dropped.
    assert (last_offset, last_length, last_on_caller) == (0, 0, True)
    assert b"".join(store.read_chunks(writer.name)) == data


def test_a_small_job_file_asks_nothing_of_the_page_cache(store, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "posix_fadvise", lambda *args: calls.append(args))
    spool(store, os.urandom(CHUNK + 100 * 1024))
    assert calls == []


def test_a_filesystem_that_refuses_the_writeback_advice_still_gets_the_whole_job(store, monkeypatch):
    def refusing_fadvise(fd, offset, length, advice):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "posix_fadvise", refusing_fadvise)
    data = os.urandom(6 * 1024 * 1024)
    writer = spool(store, data, piece=64 * 1024)
    assert b"".join(store.read_chunks(writer.name)) == data
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
