"""The spool store: job bytes on disk, encrypted at rest, durable before acknowledgement.

Layout under ``<data_dir>/spool``: ``tmp/`` holds files being received; a file is moved
to ``jobs/`` only after it is complete and fsynced (and the directory fsynced after the
rename), so a crash leaves either a whole file or a temporary that ``clean_temporaries``
removes at start.

Small jobs (most of them) never become files when the store is attached to the database
(``attach_database``): their encrypted bytes, exactly what the file would hold, are
recorded with the job in the group commit's transaction (``accounting.schema.spool_blobs``)
and deleted by the transaction that ends the job. Creating, syncing and renaming a file
per job cost more than everything else a small job needs together; this way one commit
makes it durable.

File format (nothing is ever written in clear): ``MAGIC``, a 16-byte salt, then records of
a 4-byte big-endian length and an AES-256-GCM ciphertext of up to ``CHUNK`` plaintext
bytes. Each file has its own key, derived from the store's master key and the salt with
HKDF, so nonces can simply count records. The last record's nonce carries a "final" flag:
a file cut short cannot pass for a complete one.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import secrets
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from spooler.background import BackgroundWork
from spooler.errors import JobTooLarge, SpoolerError, SpoolWriteError

MAGIC = b"PGSPOOL1"
SALT_SIZE = 16
CHUNK = 256 * 1024
TAG_SIZE = 16
_LENGTH = struct.Struct(">I")
_SPOOL_NAME = re.compile(r"[0-9a-f]+")


class SpoolCorrupt(SpoolerError):
    def __init__(self, message, *, spool_name=None):
        super().__init__(message)
        self.spool_name = spool_name


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


_KEY_INFO = b"printgate spool v1"


def _file_key(master_key: bytes, salt: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) for one 32-byte block, written out as its two HMACs: the
    key ``cryptography``'s HKDF derives, without its cost on the reactor, where every job
    derives one. That HKDF gives up the GIL, and taking it back while the committing thread
    runs cost about 50 µs a job, against 2 µs for these two calls."""
    pseudo_random_key = hmac.digest(salt, master_key, "sha256")
    return hmac.digest(pseudo_random_key, _KEY_INFO + b"\x01", "sha256")


def _file_cipher(master_key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(_file_key(master_key, salt))


def load_or_create_key(path: Path) -> bytes:
    """Read the 32-byte master key, creating it (mode 0600) on first start."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_directory(path.parent)
        return key
    if len(key) != 32:
        raise SpoolerError(f"spool key {path} must hold exactly 32 bytes")
    return key


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolStore:
    def __init__(self, root: Path, master_key: bytes, *, max_job_size: int):
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.jobs_dir = self.root / "jobs"
        self.max_job_size = max_job_size
        self._key = master_key
        for directory in (self.root, self.tmp_dir, self.jobs_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        #: Names the key the spool is encrypted with: the node whose blobs these are.
        self.node = hashlib.sha256(b"printgate spool node\0" + master_key).hexdigest()[:32]
        self._blob_of = None
        self._blob_names = None

    def attach_database(self, blob_of, blob_names) -> None:
        """Keep small jobs in the database: ``blob_of(name) -> bytes | None`` and
        ``blob_names() -> set`` read what ``SpoolWriter.blob`` handed to the job record."""
        self._blob_of, self._blob_names = blob_of, blob_names

    @property
    def keeps_small_jobs_in_database(self) -> bool:
        return self._blob_of is not None

    @classmethod
    def open(cls, data_dir: Path, *, key_file: Path | None = None, max_job_size: int) -> "SpoolStore":
        data_dir = Path(data_dir)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = load_or_create_key(Path(key_file) if key_file else data_dir / "spool.key")
        return cls(data_dir / "spool", key, max_job_size=max_job_size)

    def create(self) -> "SpoolWriter":
        return SpoolWriter(self, secrets.token_hex(16))

    def path(self, spool_name: str) -> Path:
        if not _SPOOL_NAME.fullmatch(spool_name or ""):
            raise SpoolCorrupt(f"bad spool name {spool_name!r}", spool_name=spool_name)
        return self.jobs_dir / f"{spool_name}.job"

    def blob(self, spool_name: str) -> bytes | None:
        """A small job's encrypted bytes when the database holds them rather than a file
        (a database read: call it off the reactor, and hand the result to ``read_chunks``)."""
        if self._blob_of is None or self.path(spool_name).exists():
            return None
        return self._blob_of(spool_name)

    def read_chunks(self, spool_name: str, *, blob: bytes | None = None):
        """Yield a job's plaintext, verifying every record; raises ``SpoolCorrupt``, or
        ``FileNotFoundError`` when neither a file nor a blob holds the job. ``blob``: what
        ``blob(spool_name)`` returned, so that reading does not go to the database."""
        path = self.path(spool_name)
        try:
            f = io.BytesIO(blob) if blob is not None else open(path, "rb")
        except FileNotFoundError:
            blob = self._blob_of(spool_name) if self._blob_of is not None else None
            if blob is None:
                raise
            f = io.BytesIO(blob)
        with f:
            head = f.read(len(MAGIC) + SALT_SIZE)
            if len(head) != len(MAGIC) + SALT_SIZE or not head.startswith(MAGIC):
                raise SpoolCorrupt(f"{path} is not a spool file", spool_name=spool_name)
            cipher = _file_cipher(self._key, head[len(MAGIC):])
            index = 0
            while True:
                length_bytes = f.read(4)
                if len(length_bytes) != 4:
                    raise SpoolCorrupt(f"{path} is truncated", spool_name=spool_name)
                (length,) = _LENGTH.unpack(length_bytes)
                if length < TAG_SIZE or length > CHUNK + TAG_SIZE:
                    raise SpoolCorrupt(f"{path} has a bad record length", spool_name=spool_name)
                record = f.read(length)
                if len(record) != length:
                    raise SpoolCorrupt(f"{path} is truncated", spool_name=spool_name)
                for final in (False, True):
                    try:
                        plaintext = cipher.decrypt(_nonce(index, final), record, MAGIC)
                        break
                    except InvalidTag:
                        continue
                else:
                    raise SpoolCorrupt(f"{path} failed authentication at record {index}", spool_name=spool_name)
                if plaintext:
                    yield plaintext
                index += 1
                if final:
                    if f.read(1):
                        raise SpoolCorrupt(f"{path} has data after its final record", spool_name=spool_name)
                    return

    def remove(self, spool_name: str) -> bool:
        """Delete a job's file. The bytes were only ever written encrypted, so unlinking
        them (and forgetting the per-file key with the salt) is the secure deletion."""
        try:
            os.unlink(self.path(spool_name))
        except FileNotFoundError:
            return False
        return True

    def clean_temporaries(self) -> int:
        """Remove files of receives that never completed (run at start)."""
        removed = 0
        for path in self.tmp_dir.iterdir():
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    def remove_orphans(self, live_names: set[str]) -> int:
        """Remove spool files no live job refers to: renamed into place just before a
        crash, before the job row was committed (so never acknowledged)."""
        removed = 0
        for path in self.jobs_dir.glob("*.job"):
            if path.stem not in live_names:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def spool_names(self) -> set[str]:
        """The jobs this node holds the bytes of: its files, and its blobs."""
        names = {path.stem for path in self.jobs_dir.glob("*.job")}
        if self._blob_names is not None:
            names |= self._blob_names()
        return names


class SpoolWriter:
    """Receives one job's plaintext and writes it encrypted to a temporary file.

    ``write`` runs on the reactor thread (buffered writes, no fsync); ``make_durable``
    runs in a committer thread; ``discard`` may run anywhere and is idempotent.

    The file is created only once the job outgrows ``DEFER_FILE`` bytes of ciphertext:
    a small job (most of them) is kept encrypted in memory, then either handed to the
    database as ``blob`` or written, fsynced and renamed in one go by ``make_durable``, so
    creating files never stalls the reactor behind other jobs' fsyncs in the journal.
    """

    DEFER_FILE = CHUNK + 64 * 1024
    #: Bytes of a large job handed to its writer thread and not yet written.
    SEALER_LIMIT = 8 * 1024 * 1024
    #: A large job's writer thread asks the disk to start writing every this many bytes
    #: (2 MiB beat 1, 4, 8 and 32 on 200 MiB jobs here).
    WRITEBACK_STEP = 2 * 1024 * 1024
    #: ... over this many of its newest bytes (see ``_start_writeback``).
    WRITEBACK_WINDOW = 32 * 1024 * 1024

    def __init__(self, store: SpoolStore, name: str):
        self.store = store
        self.name = name
        self.size = 0
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        self._fd = None
        self._file_created = False
        self._file_size = 0
        self._written_back = 0
        salt = secrets.token_bytes(SALT_SIZE)
        self._cipher = _file_cipher(store._key, salt)
        self._pending = [MAGIC + salt]
        self._pending_size = len(MAGIC) + SALT_SIZE
        self._blob: bytes | None = None
        self._sealer: BackgroundWork | None = None
        self._inline = False

    @property
    def tmp_path(self) -> Path:
        """Where a large job is received (small jobs never have a file there)."""
        return self.store.tmp_dir / f"{self.name}.partial"

    def _open_file(self) -> None:
        self._file_created = True
        try:
            self._fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            self.discard()
            raise SpoolWriteError(f"cannot create spool file: {exc}", path=self.tmp_path) from exc
        pending, self._pending = self._pending, None
        self._write_all(*pending)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def in_memory(self) -> int:
        """Bytes of this job held in memory: ciphertext not yet in a file (a small job
        keeps all of it) and a partial record, or what waits for its writer thread."""
        held = len(self._buffer) + (self._pending_size if self._pending is not None else 0)
        sealer = self._sealer
        return held + (sealer.in_flight if sealer is not None else 0)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise SpoolWriteError("write to a closed spool file", path=self.tmp_path)
        self.size += len(data)
        if self.size > self.store.max_job_size:
            raise JobTooLarge(self.size, self.store.max_job_size)
        if self._sealer is not None:
            self._sealer.put(data if type(data) is bytes else bytes(data))
            return
        self._consume(data)
        if self._fd is not None and self._sealer is None and not self._inline:
            # A large job: from now on its hashing, sealing and writing happen in a
            # thread of its own, beside the reactor. Profiled on a 200 MiB job, the
            # reactor spent more time hashing and writing (both release the GIL) than
            # receiving; this way receiving and writing overlap on two cores.
            self._sealer = BackgroundWork.start(self._consume, final=self._seal_final, name="printgate-spool-writer",
                                                limit=self.SEALER_LIMIT, wrap_error=self._write_error)
            self._inline = self._sealer is None  # too many writer threads: this job stays inline

    def _consume(self, data) -> None:
        self._hash.update(data)
        view = memoryview(data)
        buffer = self._buffer
        if buffer:
            # Top up the partial record first; whole records then go straight from the
            # caller's bytes to the cipher, without another copy.
            need = CHUNK - len(buffer)
            buffer += view[:need]
            if len(buffer) < CHUNK:
                return
            self._seal(buffer, final=False)
            buffer.clear()
            view = view[need:]
        whole = len(view) - len(view) % CHUNK
        for start in range(0, whole, CHUNK):
            self._seal(view[start:start + CHUNK], final=False)
        buffer += view[whole:]

    def _seal(self, plaintext, *, final: bool) -> None:
        record = self._cipher.encrypt(_nonce(self._index, final), plaintext, MAGIC)
        self._index += 1
        if self._pending is not None:
            self._pending += (_LENGTH.pack(len(record)), record)
            self._pending_size += 4 + len(record)
            if self._pending_size <= self.DEFER_FILE or final:
                return
            self._open_file()
            return
        self._write_all(_LENGTH.pack(len(record)), record)

    def _write_all(self, *parts: bytes) -> None:
        try:
            pending = [memoryview(part) for part in parts]
            while pending:
                written = os.writev(self._fd, pending)
                while pending and written >= len(pending[0]):
                    written -= len(pending[0])
                    pending.pop(0)
                if pending and written:
                    pending[0] = pending[0][written:]
            self._file_size += sum(len(part) for part in parts)
            if self._file_size - self._written_back >= self.WRITEBACK_STEP and self._sealer is not None:
                self._start_writeback()
        except OSError as exc:
            raise SpoolWriteError(f"writing spool file failed: {exc}", path=self.tmp_path) from exc

    def _start_writeback(self) -> None:
        """Have the kernel write this file's newest bytes now, and forget those it has
        written. Left alone, it keeps a large job's dirty pages in memory until the fsync
        before the acknowledgement, which then waits for the whole file to reach the disk;
        started as the bytes arrive, the disk writes while the network receives, and the
        fsync has only the tail left.

        On Linux, ``POSIX_FADV_DONTNEED`` starts writeback of the dirty pages in its range
        without waiting for it, and drops the pages already written. The range is the
        last ``WRITEBACK_WINDOW`` bytes, so pages are dropped once their writeback is done
        and a 2 GiB job does not leave 2 GiB of cache behind (``make_durable`` drops the
        rest). A held job is read once, at release: keeping it cached gains nothing, and
        pages freed as fast as they are filled are the ones the next writes get.

        Only the job's own writer thread calls this, never the reactor: starting writeback
        can wait for the disk's queue. It is advice: where it fails, the fsync does all the
        work, as before."""
        self._written_back = self._file_size
        start = max(0, self._file_size - self.WRITEBACK_WINDOW)
        try:
            os.posix_fadvise(self._fd, start, self._file_size - start, os.POSIX_FADV_DONTNEED)
        except OSError:
            self._written_back = float("inf")

    def finish(self) -> None:
        """Seal the last record; after this only ``make_durable`` or ``discard``. For a
        large job the sealing may still be under way in its thread: ``make_durable``
        waits for it, and ``sha256`` is known after that."""
        if self._closed:
            raise SpoolWriteError("spool file already finished", path=self.tmp_path)
        self._closed = True
        if self._sealer is not None:
            self._sealer.close()
            return
        self._seal_final()

    def _write_error(self, exc: BaseException) -> SpoolWriteError:
        if isinstance(exc, SpoolWriteError):
            return exc
        return SpoolWriteError(f"writing spool file failed: {exc}", path=self.tmp_path)

    def _seal_final(self) -> None:
        self._seal(self._buffer, final=True)
        self._buffer = bytearray()

    @property
    def blob(self) -> bytes | None:
        """After ``make_durable``: the whole encrypted file of a job the database is to
        keep (its record must carry it), or None when the job is a file."""
        return self._blob

    @property
    def needs_directory_sync(self) -> bool:
        return self._blob is None

    @property
    def goes_to_database(self) -> bool:
        """Finished, still in memory, and to be kept by the database as a blob:
        ``make_durable`` will only join bytes, never touch the disk."""
        return (self._closed and self._pending is not None and self._sealer is None
                and self.store.keeps_small_jobs_in_database)

    def make_durable(self) -> Path | None:
        """fsync the file, close it and rename it into the jobs directory. The caller
        fsyncs the jobs directory (once for a whole group of files). A small job still in
        memory, when the store keeps those in the database, is only joined into ``blob``:
        the transaction that records it makes it durable."""
        final_path = self.store.path(self.name)
        if self._sealer is not None:
            try:
                self._sealer.wait()
            except SpoolWriteError:
                self.discard()
                raise
        if self._pending is not None and self.store.keeps_small_jobs_in_database:
            if not self._closed:
                raise SpoolWriteError("spool file not finished", path=self.tmp_path)
            self._blob = b"".join(self._pending)
            self._pending = None
            return None
        if self._pending is not None:
            self._open_file()
        try:
            os.fsync(self._fd)
            if self._written_back:
                self._forget_cached_pages()
            os.close(self._fd)
            self._fd = None
            os.rename(self.tmp_path, final_path)
        except OSError as exc:
            self.discard()
            raise SpoolWriteError(f"making spool file durable failed: {exc}", path=self.tmp_path) from exc
        return final_path

    def _forget_cached_pages(self) -> None:
        """A large job, now on disk: drop what is left of it in the page cache."""
        try:
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass

    def discard(self) -> None:
        self._closed = True
        sealer, self._sealer = getattr(self, "_sealer", None), None
        if sealer is not None:
            sealer.abandon()
        self._pending = None
        self._blob = None
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        if self._file_created:
            try:
                os.unlink(self.tmp_path)
            except FileNotFoundError:
                pass

