"""What the panel web layer needs from the rest of Printgate, as one typing.Protocol.

The real implementation is the application layer's ``gateway.panel_services`` (over the
release and "end a job" use cases and accounting's logins); it maps accounting's own
errors to the ones named here. Test doubles implement the same signatures
(``tests/test_interfaces.py``). Every method
may return its value directly or a Deferred firing with it (blocking database work runs
in the reactor's thread pool). Money is integer minor units.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

from twisted.internet.defer import Deferred


@dataclass(frozen=True)
class PanelDevice:
    """A registered printer as the panel sees it. ``screen`` is a key of
    ``panel_menus.menus.SCREEN_SIZES``; ``color``/``duplex`` are its capabilities."""

    device_id: str
    name: str
    screen: str = "800x480"
    color: bool = True
    duplex: bool = True
    location: str = ""


@dataclass(frozen=True)
class PanelUser:
    user_id: str
    username: str
    display_name: str


@dataclass(frozen=True)
class ForcedChangeView:
    """One change a rule made, e.g. ``ForcedChangeView("mono", "colour costs 4x; rule 'Students mono'")``."""

    change: str
    reason: str


@dataclass(frozen=True)
class HeldJobView:
    """A held job as listed at a given device: price and notes are for *that* device
    (a colour job on a mono printer is priced as mono, or not printable there per rule)."""

    job_id: str
    title: str
    pages: int | None
    copies: int
    color: bool
    duplex: bool
    price_minor: int
    currency: str
    received_at: datetime.datetime
    forced_changes: tuple[ForcedChangeView, ...] = ()
    printable_here: bool = True
    device_note: str = ""
    #: A rule held the job until its owner confirms it: the rule's message ("This job
    #: costs €4.20. Confirm at the printer to print it."); empty when nothing to confirm.
    needs_confirmation: str = ""
    #: A rule says the job must be charged to a shared account (chosen at release).
    needs_shared_account: bool = False
    #: Where an unclaimed job came from (its sender's address), for the claim list.
    origin: str = ""


@dataclass(frozen=True)
class AccountChoice:
    """A shared account a user may charge; ``needs_pin`` when it has a PIN."""

    name: str
    label: str
    needs_pin: bool = False


@dataclass(frozen=True)
class Balance:
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class JobReleaseResult:
    """``released`` only when the device accepted every byte; otherwise the job is held
    again, nothing was charged, and ``message`` says why (shown at the panel)."""

    job_id: str
    released: bool
    message: str = ""
    title: str = ""


@dataclass(frozen=True)
class DeleteResult:
    deleted: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class PanelServices(Protocol):
    """Errors to raise (from ``release_api.errors``): ``LoginFailed``, ``UnknownCard``
    (card not linked yet: the panel offers first-use linking), ``LockedOut`` (too many
    failures per user or per device; the service counts and audits), ``JobNotFound``,
    ``AccountRefused``."""

    def device_secret(self, device_id: str) -> bytes | None | Deferred:
        """The device's HMAC secret, decrypted; ``None`` if unknown or revoked."""

    def describe_device(self, device_id: str) -> PanelDevice | None | Deferred:
        """``None`` if unknown or revoked (checked on every request)."""

    def authenticate_card(self, card_number: str, device: PanelDevice) -> PanelUser | Deferred: ...

    def authenticate_pin(self, user_number: str, pin: str, device: PanelDevice) -> PanelUser | Deferred:
        """The user number and the PIN as typed on the pad (digits, each entered on its own)."""

    def verify_password(self, username: str, password: str, device: PanelDevice) -> PanelUser | Deferred:
        """Local hash, or an LDAP bind once the directory integration lands."""

    def link_card(self, card_number: str, user: PanelUser, device: PanelDevice) -> None | Deferred:
        """First use of a card: bind it to ``user`` (who just proved who they are)."""

    def list_held_jobs(self, user: PanelUser, device: PanelDevice) -> Sequence[HeldJobView] | Deferred: ...

    def release(self, job_ids: Sequence[str], device: PanelDevice, user: PanelUser, account: str | None = None,
                account_pin: str | None = None) -> Sequence[JobReleaseResult] | Deferred:
        """Forward each job to ``device`` and charge only what was accepted — to the
        shared ``account`` when given (``AccountRefused`` if the user may not charge it
        or ``account_pin`` is wrong). Must be idempotent per job: a second release of a
        job already released or in flight prints nothing more."""

    def confirm(self, job_ids: Sequence[str], user: PanelUser) -> Sequence[str] | Deferred:
        """The owner confirms jobs a ``hold-confirm`` rule held; the ids confirmed."""

    def shared_accounts(self, user: PanelUser) -> Sequence[AccountChoice] | Deferred:
        """The shared accounts ``user`` may charge (for jobs a rule sends to one)."""

    def unclaimed_jobs(self, user: PanelUser, device: PanelDevice) -> Sequence[HeldJobView] | Deferred:
        """Held jobs whose sender could not be told, which ``user`` may claim."""

    def claim(self, job_ids: Sequence[str], user: PanelUser, device: PanelDevice) -> Sequence[str] | Deferred:
        """``user`` takes unclaimed jobs (then owns and pays for them); the ids claimed."""

    def delete(self, job_ids: Sequence[str], user: PanelUser) -> DeleteResult | Deferred: ...

    def balance(self, user: PanelUser) -> Balance | None | Deferred: ...
