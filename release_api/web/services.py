"""What the web pages need from the rest of Printgate, declared as ``typing.Protocol`` s:
logging in (``WebLogins``), a person's own jobs, money, cards and PIN (``SelfService``),
the admin and finance pages (``Administration``), and finance's reports (``ReportDesk``).

The application layer implements them (``gateway.web_services``) over accounting, the
release use case (``gateway.release_job.JobRelease``), "end a job" and device
registration; test doubles implement the same signatures (``tests/test_interfaces.py``).
Every method may return its value or a Deferred firing with it. ``actor`` is the
username of the person acting, for the audit log. Values are accounting's dataclasses
(``accounting.records``, ``accounting.browse.Page``, ...), which the pages only read.

Errors: ``LoginFailed``/``LockedOut`` (``release_api.errors``) from ``verify_password``;
``SecondFactorRejected`` from the second-factor methods; anything a person typed wrong
raises ``ValueError`` or an ``AccountingError`` whose message is shown on the form.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO, Protocol, Sequence, runtime_checkable

from twisted.internet.defer import Deferred

from release_api.errors import ReleaseApiError


class SecondFactorRejected(ReleaseApiError):
    def __init__(self, username: str):
        super().__init__("the code was not accepted")
        self.username = username


@dataclass(frozen=True)
class WebUser:
    """Who is logged in: ``roles`` is a subset of {"admin", "finance"}."""

    username: str
    display_name: str
    roles: frozenset = frozenset()

    @property
    def privileged(self) -> bool:
        return bool(self.roles)


@dataclass(frozen=True)
class Enrolment:
    username: str
    secret: str
    uri: str


@dataclass(frozen=True)
class PrinterChoice:
    name: str
    model: str
    location: str
    color: bool
    duplex: bool


@dataclass(frozen=True)
class ReleaseAnswer:
    job_id: int
    printed: bool
    message: str


@dataclass(frozen=True)
class Dashboard:
    held_now: int
    pages_today: int
    money_today: int
    currency: str
    refused_today: int
    devices: int
    devices_revoked: tuple[str, ...] = ()
    #: Devices in error ("mfp-1 (jammed)") and low supplies ("mfp-1: black toner 4%") from
    #: the fleet (SNMP); None when fleet monitoring is off.
    devices_in_error: tuple[str, ...] | None = None
    low_supplies: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DeviceRow:
    name: str
    model: str
    location: str
    protocol: str
    endpoint: str
    color: bool
    duplex: bool
    price_list: str | None
    queue: str | None
    enabled: bool
    credential_active: bool
    #: From the fleet (SNMP): "ok", "warning", "error", "unreachable", "unknown"; None when
    #: the printer is not watched (or monitoring is off).
    health: str | None = None
    health_reason: str = ""
    low_supplies: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueRow:
    name: str
    price_list: str | None
    expire_minutes: int | None
    held: int


@dataclass(frozen=True)
class SettingsView:
    """What the settings page shows. Secrets are only ever ``True`` (stored) or
    ``False``: their values never leave the gateway."""

    timezone: str
    retention_days: int
    mail: dict = field(default_factory=dict)
    directory: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)
    config_file: str | None = None
    #: The fleet's SNMP credentials in the order they are tried: (name, description),
    #: the description never holding a community or key.
    snmp_credentials: tuple[tuple[str, str], ...] = ()


@runtime_checkable
class WebLogins(Protocol):
    def verify_password(self, username: str, password: str, *, address: str) -> WebUser | Deferred:
        """Throttled per account and per address; unknown users answer like wrong
        passwords, in the same time."""

    def identity(self, username: str) -> WebUser | None | Deferred:
        """The user as they are now (roles included); None when disabled or gone."""

    def second_factor_enrolled(self, username: str) -> bool | Deferred: ...

    def begin_enrolment(self, username: str) -> Enrolment | Deferred: ...

    def confirm_enrolment(self, username: str, secret: str, code: str) -> Sequence[str] | Deferred:
        """Returns the recovery codes, shown once."""

    def verify_second_factor(self, username: str, code: str) -> None | Deferred:
        """A TOTP code, or a recovery code (spent)."""

    def record_access(self, username: str, event: str, *, address: str, user_agent: str,
                      detail: str = "") -> None | Deferred: ...


@runtime_checkable
class SelfService(Protocol):
    def held_jobs(self, username: str) -> Sequence | Deferred: ...

    def printers(self) -> Sequence[PrinterChoice] | Deferred: ...

    def release_job(self, username: str, job_id: int, printer: str, *, on_behalf_of: str | None = None
                    ) -> ReleaseAnswer | Deferred:
        """``on_behalf_of``: an admin releases another person's job (audited)."""

    def delete_job(self, username: str, job_id: int, *, on_behalf_of: str | None = None) -> None | Deferred: ...

    def history(self, username: str, *, after: str | None = None, before: str | None = None) -> object | Deferred:
        """A keyset ``Page`` of the person's jobs, newest first."""

    def job_price(self, username: str | None, job_id: int) -> object | Deferred:
        """(``HeldJob``, ``PriceExplanation``); ``username`` None: any job (admins)."""

    def money(self, username: str, *, after: str | None = None, before: str | None = None) -> object | Deferred:
        """(``Account``, currency, a keyset ``Page`` of its ledger)."""

    def cards(self, username: str) -> Sequence[str] | Deferred: ...

    def link_card(self, username: str, password: str, card: str, *, address: str) -> None | Deferred:
        """The person proves it is them with their password again."""

    def change_pin(self, username: str, password: str, new_pin: str, *, address: str) -> None | Deferred: ...


@runtime_checkable
class Administration(Protocol):
    def dashboard(self) -> Dashboard | Deferred: ...

    def users(self, **filters) -> object | Deferred: ...

    def user(self, username: str) -> object | Deferred:
        """(``User``, roles, second factor enrolled)."""

    def add_user(self, actor: str, username: str, *, full_name: str, email: str, cost_center: str,
                 groups: Sequence[str], cards: Sequence[str]) -> None | Deferred: ...

    def update_user(self, actor: str, username: str, *, full_name: str, email: str, cost_center: str,
                    groups: Sequence[str]) -> None | Deferred: ...

    def set_user_enabled(self, actor: str, username: str, enabled: bool) -> None | Deferred: ...

    def add_card(self, actor: str, username: str, card: str) -> None | Deferred: ...

    def remove_card(self, actor: str, card: str) -> None | Deferred: ...

    def set_pin(self, actor: str, username: str, pin: str) -> None | Deferred: ...

    def set_password(self, actor: str, username: str, password: str) -> None | Deferred: ...

    def set_role(self, actor: str, username: str, role: str, granted: bool) -> None | Deferred: ...

    def reset_second_factor(self, actor: str, username: str) -> None | Deferred: ...

    def groups(self, **filters) -> object | Deferred:
        """A keyset page of ``GroupSummary`` (filters: search, after, before)."""

    def add_group(self, actor: str, name: str, description: str) -> None | Deferred: ...

    def accounts(self, kind: str | None = None) -> Sequence | Deferred: ...

    def account_list(self, **filters) -> object | Deferred:
        """A keyset ``Page`` of accounts by name (``kind``, ``search`` a name prefix)."""

    def account(self, name: str, *, after: str | None = None, before: str | None = None) -> object | Deferred:
        """(``Account``, its parent account's name or None, members, a keyset ``Page`` of its ledger)."""

    def add_shared_account(self, actor: str, name: str, *, parent: str | None, restricted: bool,
                           overdraft: int) -> None | Deferred: ...

    def allow_account(self, actor: str, account: str, *, user: str | None, group: str | None) -> None | Deferred: ...

    def disallow_account(self, actor: str, account: str, *, user: str | None, group: str | None) -> None | Deferred:
        ...

    def configure_account(self, actor: str, account: str, *, restricted: bool, overdraft: int,
                          enabled: bool) -> None | Deferred:
        """Restricted (never below zero nor its overdraft), the overdraft limit, on or off."""

    def move_money(self, actor: str, account: str, amount: int, reason: str, *, kind: str) -> object | Deferred:
        """``kind`` "topup" (amount > 0) or "adjustment" (either sign); a reason always."""

    def ledger(self, **filters) -> object | Deferred: ...

    def ledger_export(self, *, kind: str | None, since, until) -> bytes | Deferred:
        """The ledger entries of the period as CSV (``accounting.ledger_export``)."""

    def devices(self, **filters) -> object | Deferred:
        """A keyset page of ``DeviceRow`` (filters: search, after, before)."""

    def device(self, name: str) -> DeviceRow | Deferred: ...

    def edit_device(self, actor: str, name: str, *, protocol: str, endpoint: str, screen: str | None, color: bool,
                    duplex: bool, price_list: str | None, model: str, location: str) -> None | Deferred:
        """Change a registered printer, keeping its device id and panel secret."""

    def register_device(self, actor: str, name: str, *, protocol: str, endpoint: str, screen: str, color: bool,
                        duplex: bool, price_list: str | None, model: str, location: str) -> str | Deferred:
        """Returns the panel secret (shown once)."""

    def revoke_device(self, actor: str, name: str) -> None | Deferred: ...

    def reissue_device(self, actor: str, name: str) -> str | Deferred: ...

    def queues(self) -> Sequence[QueueRow] | Deferred: ...

    def set_queue_price_list(self, actor: str, queue: str, price_list: str | None) -> None | Deferred: ...

    def price_lists(self) -> Sequence | Deferred: ...

    def save_price_list(self, actor: str, price_list) -> None | Deferred: ...

    def preview_price(self, price_list, sample: dict) -> object | Deferred:
        """A ``PriceExplanation`` of a sample job (pages, copies, colour pages, duplex,
        media) under ``price_list`` (not saved)."""

    def rules(self) -> Sequence | Deferred: ...

    def save_rule(self, actor: str, rule, *, replacing: str | None = None) -> None | Deferred: ...

    def set_rule_enabled(self, actor: str, name: str, enabled: bool) -> None | Deferred: ...

    def move_rule(self, actor: str, name: str, *, before: str | None = None, after: str | None = None
                  ) -> None | Deferred: ...

    def remove_rule(self, actor: str, name: str) -> None | Deferred: ...

    def test_rule(self, rule, *, since, until=None) -> object | Deferred:
        """accounting's ``RuleTrial``: what ``rule`` would have done to past jobs."""

    def quotas(self) -> Sequence | Deferred: ...

    def add_quota(self, actor: str, name: str, *, amount: int, period: str, user: str | None, group: str | None,
                  cap: int | None, period_days: int | None) -> None | Deferred: ...

    def remove_quota(self, actor: str, name: str) -> None | Deferred: ...

    def jobs(self, **filters) -> object | Deferred: ...

    def audit(self, **filters) -> object | Deferred: ...

    def access_log(self, **filters) -> object | Deferred: ...

    def settings(self) -> SettingsView | Deferred: ...

    def set_secret(self, actor: str, name: str, value: str) -> None | Deferred:
        """Write-only: stored encrypted, never read back to a page."""

    def set_snmp_credential(self, actor: str, name: str, *, version: str, community: str, user: str,
                            auth_protocol: str, auth_key: str, priv_protocol: str, priv_key: str) -> None | Deferred:
        """Add or replace an SNMP credential (its community or keys kept as a secret)."""

    def move_snmp_credential(self, actor: str, name: str, position: int) -> None | Deferred: ...

    def remove_snmp_credential(self, actor: str, name: str) -> None | Deferred: ...


@dataclass(frozen=True)
class ClosedMonth:
    """A closed month (``printgate period close``): its figures cannot change."""

    period: str  # YYYY-MM
    closed_at: datetime
    closed_by: str


@dataclass(frozen=True)
class ReportMenu:
    """What the reports page offers: the reports (name, what it shows), the chargeback's
    groupings, the usage report's buckets, the formats; periods are local days in
    ``timezone``, ``today`` being today there."""

    reports: tuple[tuple[str, str], ...]
    groupings: tuple[str, ...]
    buckets: tuple[str, ...]
    formats: tuple[str, ...]
    timezone: str
    today: date
    closed: tuple[ClosedMonth, ...] = ()


@dataclass
class ReportFile:
    """A report written out: ``handle`` is an open binary file at its start, with no name
    on disk (it vanishes when closed), which the receiver sends and closes."""

    handle: BinaryIO
    size: int
    content_type: str
    filename: str
    title: str
    period: str
    rows: int | None = None


@runtime_checkable
class ReportDesk(Protocol):
    """Issue 15's finance reports, as the reports page asks for them."""

    def available(self) -> ReportMenu | Deferred: ...

    def export(self, name: str, *, since: date, until: date, fmt: str, by: Sequence[str] = ("cost-center",),
               bucket: str = "day") -> ReportFile | Deferred:
        """The report ``name`` of the local days ``since`` .. ``until`` (both included) in
        ``fmt``; ``by``: the chargeback's one or two groupings, ``bucket``: usage's. Made
        off the reactor, streamed to a nameless temporary file (memory stays flat); a bad
        choice raises ``ValueError`` or accounting's ``ReportError``."""
