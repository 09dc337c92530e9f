"""The gateway's ``release_api.services.PanelServices``: what a printer's panel asks,
answered by the application's use cases.

- **Devices**: registered printers and their panel credentials (``register_device``).
- **Logins** go through accounting's ``LoginGuard`` (hashes, per-user and per-device
  lockouts, audit). A card no one has is offered for linking (first use); the link is
  made only after a password login. The PIN pad sends the user's number and the PIN
  as two entries (a PIN has 4 to 12 digits): accounting checks a PIN against one user.
- **Jobs** are listed priced as accounting will reserve them at *this* device
  (``ReleaseDesk.quote``: one rule for both), with the forced changes of the intake
  decision and a note when the device cannot honour them — or, from the fleet
  (``gateway.release_checks``), when it reports an error.
- **Release** is the release use case (``gateway.release_job.JobRelease``); **delete**
  is "end a job" (``gateway.end_job.JobEnding``). Before it: a job a ``hold-confirm``
  rule held is **confirmed** by its owner; a job a rule sends to a shared account is
  charged to one the user may charge (``shared_accounts``, PIN checked); a job whose
  sender could not be told (``unknown@<host>``) is **claimed** by who takes it.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

from twisted.internet import defer, threads
from twisted.logger import Logger

from accounting.errors import (
    AccountingError, AccountNotAllowed, DuplicateCard, JobNotFound as AccountingJobNotFound,
    LoginFailed as AccountingLoginFailed, LoginLocked, UnknownAccount, UnknownUser,
)
from accounting.release import is_unclaimed
from accounting.time import utcnow
from spooler.forward.errors import BadTarget
from gateway.end_job import JobEnding
from gateway.register_device import panel_credential
from gateway.release_checks import DeviceChecks, NoDeviceChecks
from gateway.release_job import JobRelease, job_title, target_of
from release_api.errors import AccountRefused, JobNotFound, LockedOut, LoginFailed, UnknownCard
from release_api.services import (
    AccountChoice, Balance, DeleteResult, ForcedChangeView, HeldJobView, JobReleaseResult, PanelDevice, PanelUser,
)

log = Logger()



class GatewayPanelServices:
    """``PanelServices`` over an ``AccountingService`` (its synchronous ``.core`` run in
    the thread pool), the release use case and "end a job"."""

    def __init__(self, accounting, releases: JobRelease, ending: JobEnding, *, reactor, threadpool=None,
                 currency: str | None = None, device_checks: DeviceChecks | None = None):
        self.accounting = accounting
        self.core = accounting.core
        self.releases = releases
        self.ending = ending
        self.reactor = reactor
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.currency = currency
        self.device_checks = device_checks if device_checks is not None else NoDeviceChecks()

    def _run(self, function, *args, **kwargs) -> defer.Deferred:
        return threads.deferToThreadPool(self.reactor, self.threadpool, function, *args, **kwargs)

    # -- devices ----------------------------------------------------------------------------
    def device_secret(self, device_id):
        return self._run(lambda: (found.secret if (found := panel_credential(self.core, device_id)) else None))

    def describe_device(self, device_id):
        def describe():
            credential = panel_credential(self.core, device_id)
            if credential is None:
                return None
            d = self.core.devices.get(device_id)
            return PanelDevice(device_id=d.name, name=d.model or d.name, screen=credential.screen, color=d.color,
                               duplex=d.duplex, location=d.location)
        return self._run(describe)

    # -- logins -----------------------------------------------------------------------------
    @staticmethod
    def _panel_user(user) -> PanelUser:
        return PanelUser(user_id=str(user.id), username=user.username, display_name=user.full_name or user.username)

    def _login(self, function, *args, device: PanelDevice, card: str | None = None, who: str | None = None):
        def call():
            try:
                return self._panel_user(function(*args, device=device.device_id))
            except LoginLocked as locked:
                seconds = max(1, int((locked.until - utcnow()).total_seconds()) + 1)
                raise LockedOut(str(locked), retry_after=seconds, user=who) from None
            except AccountingLoginFailed:
                if card is not None:
                    raise UnknownCard(card) from None
                raise LoginFailed(user=who) from None
        return self._run(call)

    def authenticate_card(self, card_number, device):
        # A failed card login is offered for linking: the link still needs a password
        # login, and a card that belongs to someone (a disabled user) cannot be linked.
        return self._login(self.core.authenticate_card, card_number, device=device, card=card_number)

    def authenticate_pin(self, user_number, pin, device):
        # Accounting checks the PIN, whatever its length, against the one user numbered so.
        if not (user_number or "").isdigit() or not (pin or "").isdigit():
            return defer.fail(LoginFailed("enter your user number, then your PIN"))
        number = int(user_number)
        return self._login(self.core.authenticate_pin, number, pin, device=device, who=str(number))

    def verify_password(self, username, password, device):
        return self._login(self.core.verify_password, username, password, device=device, who=username)

    def link_card(self, card_number, user, device):
        def link():
            try:
                self.core.users.add_card(user.username, card_number, actor=f"{user.username}@{device.device_id}")
            except (DuplicateCard, ValueError) as error:
                raise LoginFailed(f"card cannot be linked: {error}", user=user.username) from None
        return self._run(link)

    # -- jobs ---------------------------------------------------------------------------------
    def _view(self, job, device, panel_device: PanelDevice, cannot_print: str = "", *,
              unconfirmed: frozenset = frozenset(), shared_rule: bool = True) -> HeldJobView:
        changes = job.decision_changes or {}
        quote = self.core.release.quote(job, device)
        reason = job.decision_message or (f"rule '{job.decision_rule}'" if job.decision_rule else "a print rule")
        if sum(1 for key in ("mono", "duplex", "copies") if changes.get(key)) > 1:
            # The decision keeps the message of the last rule that changed the job only.
            reason = f"print rules (the last: {reason})"
        forced = []
        if changes.get("mono"):
            forced.append(ForcedChangeView("mono", reason))
        if changes.get("duplex"):
            forced.append(ForcedChangeView("duplex", reason))
        if changes.get("copies"):
            forced.append(ForcedChangeView(f"copies ≤ {changes['copies']}", reason))
        printable, note = True, ""
        if cannot_print:
            printable, note = False, cannot_print
        elif changes.get("duplex") and not panel_device.duplex:
            printable, note = False, "Cannot print here: a rule requires two-sided and this printer is one-sided"
        elif quote.job_color and not panel_device.color:
            note = "Prints in mono here, priced as mono"
        shape = quote.shape
        confirmation = ""
        if job.id in unconfirmed:
            confirmation = job.decision_message or "Confirm this job to print it."
        return HeldJobView(job_id=str(job.id), title=job_title(job), pages=job.pages, copies=shape.copies,
                           color=shape.color, duplex=shape.duplex, price_minor=quote.amount,
                           currency=quote.price_list.currency, received_at=job.received_at,
                           forced_changes=tuple(forced), printable_here=printable, device_note=note,
                           needs_confirmation=confirmation,
                           needs_shared_account=shared_rule and self._needs_shared_account(job),
                           origin=job.source_host if is_unclaimed(job.owner) else "")

    def _needs_shared_account(self, job) -> bool:
        """The rules, as the release will run them again, send this job to a shared account
        (not asked for an unclaimed job: its owner is not known yet)."""
        return not is_unclaimed(job.owner) and self.core.decisions.recheck(job).require_shared_account

    def _views(self, jobs, device, panel_device: PanelDevice, notes) -> list[HeldJobView]:
        """The jobs as the panel lists them at ``panel_device`` (in a thread)."""
        if not jobs:
            return []
        held_to_confirm = [job.id for job in jobs if job.decision_action == "hold-confirm"]
        unconfirmed = frozenset(self.core.release.unconfirmed(held_to_confirm) if held_to_confirm else ())
        shared_rule = any(rule.action == "require-shared-account" for rule in self.core.rules.active())
        # The rules run again only where one could send a job to a shared account.
        with self.core.owners_read_once(jobs) if shared_rule else contextlib.nullcontext():
            views = [self._view(job, device, panel_device, notes.get(job.id, ""), unconfirmed=unconfirmed,
                                shared_rule=shared_rule) for job in jobs]
        # The fleet's word on the printer (in error: where to print instead).
        fleet_note = self.device_checks.panel_note(panel_device.device_id)
        if fleet_note is not None:
            text, printable = fleet_note
            views = [replace(view, device_note=text, printable_here=view.printable_here and printable)
                     for view in views]
        return views

    @defer.inlineCallbacks
    def _listing(self, find_jobs, panel_device: PanelDevice):
        """``find_jobs()``'s jobs as views, with what the printer cannot print: one trip to
        the thread pool, and for an IPP printer one question to it (cached) and a second trip."""
        def read():
            jobs = find_jobs()
            if not jobs:
                return jobs, None, None, []
            device = self.core.devices.get(panel_device.device_id)
            try:
                target = target_of(self.core, device)
            except BadTarget:
                target = None
            if target is None or target.protocol != "ipp":
                return jobs, device, target, self._views(jobs, device, panel_device, {})
            return jobs, device, target, None

        jobs, device, target, views = yield self._run(read)
        if views is None:
            notes = yield self.releases.printability(jobs, target)
            views = yield self._run(self._views, jobs, device, panel_device, notes)
        return views

    def list_held_jobs(self, user, device):
        return self._listing(lambda: self.core.jobs.list_jobs(owner=user.username, states=("held",)), device)

    def _owned_job(self, job_id: str, user: PanelUser):
        if not str(job_id).isdigit():
            raise JobNotFound(str(job_id), user=user.username)
        try:
            job = self.core.jobs.get_job(int(job_id))
        except AccountingJobNotFound:
            raise JobNotFound(str(job_id), user=user.username) from None
        if job.owner != user.username:
            raise JobNotFound(str(job_id), user=user.username)
        return job

    @defer.inlineCallbacks
    def release(self, job_ids, device, user, account=None, account_pin=None):
        if account is not None:
            yield self._run(self._chargeable, user, account, account_pin)
        results = []
        for job_id in job_ids:
            job = yield self._run(self._owned_job, str(job_id), user)
            outcome = yield self.releases.release(job.id, device.device_id, actor=user.username, owner=user.username,
                                                  account=account)
            results.append(JobReleaseResult(str(job_id), outcome.printed, outcome.message, outcome.title))
        return results

    def _chargeable(self, user: PanelUser, account: str, pin: str | None) -> None:
        try:
            self.core.accounts.check_chargeable(user.username, account, pin)
        except (AccountNotAllowed, UnknownAccount):
            raise AccountRefused(account, user=user.username) from None

    def confirm(self, job_ids, user):
        def confirm_all():
            confirmed = []
            for job_id in job_ids:
                job = self._owned_job(str(job_id), user)
                try:
                    self.core.release.confirm(job.id, user.username, actor=user.username)
                except AccountingError:
                    continue
                confirmed.append(str(job_id))
            return confirmed
        return self._run(confirm_all)

    def shared_accounts(self, user):
        def choices():
            return [AccountChoice(account.name, account.name, needs_pin)
                    for account, needs_pin in self.core.accounts.shared_choices(user.username)]
        return self._run(choices)

    def unclaimed_jobs(self, user, device):
        return self._listing(self.core.release.unclaimed, device)

    def claim(self, job_ids, user, device):
        def claim_all():
            claimed = []
            for job_id in job_ids:
                if not str(job_id).isdigit():
                    continue
                try:
                    self.core.release.claim(int(job_id), user.username, actor=user.username, source=device.device_id)
                except AccountingError as error:
                    log.info("{user} could not claim job {job_id} at {device_id}: {reason}", user=user.username,
                             job_id=job_id, device_id=device.device_id, reason=str(error))
                    continue
                log.info("{user} claimed unclaimed job {job_id} at {device_id}", user=user.username, job_id=job_id,
                         device_id=device.device_id)
                claimed.append(str(job_id))
            return claimed
        return self._run(claim_all)

    @defer.inlineCallbacks
    def delete(self, job_ids, user):
        deleted = []
        for job_id in job_ids:
            job = yield self._run(self._owned_job, str(job_id), user)
            try:
                yield self.ending.end(job.id, "deleted", actor=user.username, reason="deleted at the printer panel")
            except AccountingError:
                continue
            deleted.append(str(job_id))
        return DeleteResult(tuple(deleted))

    def balance(self, user):
        def read():
            try:
                account = self.core.accounts.personal(user.username)
            except (UnknownUser, AccountingError):
                return None
            currency = self.currency or self.core.prices.by_id(None).currency
            return Balance(account.balance, currency)
        return self._run(read)
