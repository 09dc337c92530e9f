"""Plain dataclasses that cross the accounting boundary: no ORM row or result escapes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class NewJob:
    """A job whose bytes are durable in the spool and which is about to be recorded."""

    queue: str
    owner: str
    source_host: str
    protocol: str
    size: int
    sha256: str
    spool_name: str
    received_at: datetime
    title: str = ""
    client_job_ref: str = ""
    document_format: str = "application/octet-stream"
    copies_requested: int = 1
    sides: str = ""
    color_mode: str = ""
    attributes: dict = field(default_factory=dict)
    facts: dict | None = None


@dataclass
class HeldJob:
    """A job as the gateway knows it, whatever its state."""

    id: int
    queue: str
    owner: str
    source_host: str
    protocol: str
    title: str
    client_job_ref: str
    document_format: str
    size: int
    sha256: str
    spool_name: str | None
    state: str
    state_reason: str
    received_at: datetime
    updated_at: datetime
    copies_requested: int
    sides: str
    color_mode: str
    attributes: dict
    pdl: str | None = None
    pages: int | None = None
    copies: int | None = None
    impressions: int | None = None
    sheets: int | None = None
    duplex: bool | None = None
    color_pages: int | None = None
    mono_pages: int | None = None
    analyzer_method: str | None = None
    facts: dict | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict (times in ISO 8601 UTC) for the CLI and the APIs."""
        data = dict(self.__dict__)
        data["received_at"] = _iso(self.received_at)
        data["updated_at"] = _iso(self.updated_at)
        return data


@dataclass
class JobEvent:
    job_id: int
    at: datetime
    old_state: str | None
    new_state: str
    actor: str
    reason: str


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
