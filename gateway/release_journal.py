"""A node's own record of the releases a printer accepted, kept beside the spool.

Money moves only when a printer took a job, and the database says so. But the charge can
fail after the printer took the job — the database is gone for a while, or the gateway
dies between the two. Without a record outside the database, such a job would be put back
on hold at the next start and could print a second time, free. So the moment a printer
accepts a job, one line saying so is appended here and made durable (fsync) before
anything else happens; the line is settled once the charge is written. At start, a job
the database still calls ``releasing`` but this journal calls accepted is recorded as
printed (``charge_pending``), never offered again, and charged by the gateway's retries.

Lines are JSON objects, one per event; a torn last line (a crash mid-append) is ignored,
as that acceptance was never followed by anything that depended on it. The file is
rewritten, holding only what is still pending, at every start.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from threading import Lock

from twisted.logger import Logger

from spooler.spool import fsync_directory

log = Logger()


@dataclass(frozen=True)
class AcceptedRelease:
    job_id: int
    device: str
    key: str
    at: str


class ReleaseJournal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = Lock()

    def accepted(self, job_id: int, device: str, key: str) -> None:
        """Blocking (an fsync): call from a thread."""
        self._append({"event": "accepted", "job": job_id, "device": device, "key": key,
                      "at": datetime.now(timezone.utc).isoformat()})

    def settled(self, job_id: int) -> None:
        """The charge is written (or the job was found charged): nothing is pending."""
        self._append({"event": "settled", "job": job_id})

    def pending(self) -> dict[int, AcceptedRelease]:
        """Accepted releases not settled yet, by job id."""
        pending: dict[int, AcceptedRelease] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return pending
        for number, line in enumerate(text.splitlines(), 1):
            try:
                entry = json.loads(line)
                job_id = int(entry["job"])
                if entry["event"] == "accepted":
                    pending[job_id] = AcceptedRelease(job_id, str(entry["device"]), str(entry["key"]), str(entry["at"]))
                elif entry["event"] == "settled":
                    pending.pop(job_id, None)
            except (ValueError, KeyError, TypeError):
                log.warn("release journal {path}: line {number} unreadable, ignored", path=str(self.path),
                         number=number)
        return pending

    def compact(self) -> None:
        """Rewrite the journal with only what is pending (atomically)."""
        with self._lock:
            pending = self.pending()
            temporary = self.path.with_suffix(".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for entry in pending.values():
                    out.write(json.dumps({"event": "accepted", "job": entry.job_id, "device": entry.device,
                                          "key": entry.key, "at": entry.at}) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
            fsync_directory(self.path.parent)

    def _append(self, entry: dict) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_directory(self.path.parent)
