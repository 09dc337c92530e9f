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
    #: What ``decide`` said about this job at intake; stored with the job by record_jobs.
    decision: "Decision | None" = None
    #: A small job's whole encrypted spool file, stored with the job (no file on disk),
    #: and the spool key's node name it is encrypted for.
    spool_blob: bytes | None = None
    spool_node: str = ""
    #: The page analysis needs Ghostscript and runs once the job is stored: ``facts``
    #: are what scanning alone found, and the job is not releasable until they are final.
    analysis_pending: bool = False


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
    decision_id: str | None = None
    decision_action: str | None = None
    decision_rule: str | None = None
    decision_message: str | None = None
    decision_changes: dict | None = None
    price_estimate: int | None = None
    account_id: int | None = None
    reserved_amount: int | None = None
    charged_amount: int | None = None
    release_device: str | None = None
    #: The facts are not final yet (``NewJob.analysis_pending``): not releasable.
    analysis_pending: bool = False
    user_id: int | None = None

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


@dataclass
class Decision:
    """What accounting said about a job at intake.

    ``action`` is "allow", "deny" or "hold-confirm" (the job is held until its owner
    confirms the price). ``changes`` holds what must be applied when the job is released:
    ``{"mono": True, "duplex": True, "copies": 3}`` (each key only when forced).
    ``notify`` lists the notifications rules asked for (``{"rule", "to", "message"}``).
    """

    id: str
    action: str
    message: str
    rule: str
    price_estimate: int
    changes: dict = field(default_factory=dict)
    notify: list = field(default_factory=list)
    account_id: int | None = None
    #: The owner's user row (None for an unclaimed job, or an owner not made a user).
    user_id: int | None = None
    require_shared_account: bool = False
    route_to: str | None = None
    #: The analyzer could not count the pages: the price assumed the price list's
    #: ``unknown_pages`` (the job is flagged for the admin).
    uncounted: bool = False
    #: The policy record of a refused or changed job (written by decide for a refusal,
    #: by record_jobs with the job for a change).
    policy: dict | None = None

    @property
    def refused(self) -> bool:
        return self.action == "deny"


@dataclass
class User:
    id: int
    username: str
    full_name: str
    email: str
    cost_center: str
    enabled: bool
    source: str
    groups: list[str]
    cards: list[str]
    has_pin: bool
    account_id: int | None = None
    balance: int | None = None
    #: Deleted with ``printgate users delete``: disabled for good, history kept.
    deleted: bool = False


@dataclass
class Account:
    id: int
    name: str
    kind: str
    user_id: int | None
    parent_id: int | None
    balance: int
    reserved: int
    overdraft_limit: int
    restricted: bool
    enabled: bool

    @property
    def available(self) -> int:
        """What may still be spent: balance less reservations, plus the overdraft."""
        return self.balance - self.reserved + self.overdraft_limit


@dataclass
class LedgerEntry:
    id: int
    account_id: int
    kind: str
    amount: int
    balance_after: int
    job_id: int | None
    actor: str
    reason: str
    idempotency_key: str | None
    created_at: datetime


@dataclass
class PolicyRecord:
    decision_id: str
    at: datetime
    workstation: str
    server: str
    queue: str
    document_name: str
    username: str
    duplex: bool | None
    color: bool | None
    impressions: int | None
    price: int
    action: str
    changes: dict
    notified: bool
    message: str
    rule_name: str


@dataclass
class AuditEntry:
    id: int
    at: datetime
    actor: str
    source: str
    action: str
    target: str
    old_value: str | None
    new_value: str | None


@dataclass
class Device:
    id: int
    name: str
    model: str
    serial: str
    mac: str
    location: str
    device_class: str
    color: bool
    duplex: bool
    media: list
    protocol: str
    endpoint: str
    price_list: str | None
    queue: str | None
    enabled: bool
