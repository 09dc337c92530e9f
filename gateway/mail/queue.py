"""The mail queue on disk (``<data_dir>/mail/queue``): a notice survives a restart.

Each message is two files: ``<id>.eml`` (the bytes to send) and ``<id>.json`` (envelope,
attempts, when to try next). Both are written to a temporary name, fsynced and renamed,
the ``.json`` last: a message exists once its ``.json`` does. Everything here blocks; the
sender calls it from the reactor's thread pool.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from printgate_errors import PrintgateError


class MailQueueFull(PrintgateError):
    def __init__(self, limit: int):
        super().__init__(f"the mail queue holds {limit} messages already; message refused")
        self.limit = limit


@dataclass
class QueuedMail:
    id: str
    sender: str
    recipients: list
    subject: str
    created_at: float
    next_attempt: float
    attempts: int = 0
    last_error: str = ""
    notes: dict = field(default_factory=dict)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class MailQueue:
    def __init__(self, directory: Path, *, max_messages: int = 10_000):
        self.directory = Path(directory)
        self.failed = self.directory.parent / "failed"
        self.max_messages = max_messages
        self.directory.mkdir(parents=True, exist_ok=True)

    def _sync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def add(self, sender: str, recipients: list, subject: str, message: bytes, *, notes: dict | None = None,
            now: float | None = None) -> QueuedMail:
        if len(list(self.directory.glob("*.json"))) >= self.max_messages:
            raise MailQueueFull(self.max_messages)
        now = time.time() if now is None else now
        entry = QueuedMail(id=f"{int(now)}-{secrets.token_hex(6)}", sender=sender, recipients=list(recipients),
                           subject=subject[:200], created_at=now, next_attempt=now, notes=notes or {})
        _write_atomically(self.directory / f"{entry.id}.eml", message)
        self.save(entry)
        self._sync_directory()
        return entry

    def save(self, entry: QueuedMail) -> None:
        _write_atomically(self.directory / f"{entry.id}.json", json.dumps(asdict(entry)).encode())

    def message(self, entry_id: str) -> bytes:
        return (self.directory / f"{entry_id}.eml").read_bytes()

    def entries(self) -> list[QueuedMail]:
        """Every queued message (unreadable leftovers of a crash are removed)."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                entry = QueuedMail(**data)
            except (ValueError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if (self.directory / f"{entry.id}.eml").exists():
                found.append(entry)
            else:
                path.unlink(missing_ok=True)
        for orphan in self.directory.glob("*.eml"):
            if not orphan.with_suffix(".json").exists():
                orphan.unlink(missing_ok=True)
        for temporary in self.directory.glob(".*.tmp"):
            temporary.unlink(missing_ok=True)
        return found

    def remove(self, entry_id: str) -> None:
        (self.directory / f"{entry_id}.json").unlink(missing_ok=True)
        (self.directory / f"{entry_id}.eml").unlink(missing_ok=True)
        self._sync_directory()

    def give_up(self, entry: QueuedMail) -> None:
        """Keep a message that could not be delivered in ``failed/`` for the admin."""
        self.failed.mkdir(parents=True, exist_ok=True)
        os.replace(self.directory / f"{entry.id}.eml", self.failed / f"{entry.id}.eml")
        _write_atomically(self.failed / f"{entry.id}.json", json.dumps(asdict(entry)).encode())
        (self.directory / f"{entry.id}.json").unlink(missing_ok=True)
        self._sync_directory()
