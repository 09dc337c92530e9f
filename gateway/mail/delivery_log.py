"""The delivery log (``<data_dir>/mail/delivery.log``): one JSON line per event of a
message — queued, attempt failed (with the server's answer and the next try), delivered,
given up — so an admin can answer "did the mail go out?" without the debug log."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path


class DeliveryLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, event: str, entry, **details) -> None:
        record = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, "id": entry.id,
                  "to": entry.recipients, "subject": entry.subject, **details}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)

    def events(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
