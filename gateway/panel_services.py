"""The real ``PanelServices``: the panel's needs answered by accounting, the spool store
and the forwarder.

- **Devices** are rows of accounting's devices table, keyed by name (the panel's device
  id). The panel credential is a secret in accounting's encrypted secret store, named
  ``device/<name>`` (the row's ``credential_secret``): JSON with the HMAC secret and the
  panel's screen size. ``printgate devices add`` writes it; ``devices revoke`` blanks it,
  which makes the device unknown at once (both lookups run on every request).
- **Logins** go through accounting's ``LoginGuard`` (hashes, per-user and per-device
  lockouts, audit). A card no one has is offered for linking (first use); the link is
  made only after a password login. The PIN pad sends the user's number followed by the
  PIN (the last ``pin_length`` digits): accounting checks a PIN against one user.
- **Jobs** are listed with the price accounting will reserve at *this* device (its price
  list, else the queue's), the forced changes of the intake decision, and a note when the
  device cannot honour them.
- **Release** is ``start_release`` (reserve) → ``Forwarder.forward`` → ``charge_release``
  with a key unique to this release attempt, or ``fail_release`` with the reason the panel
  shows. Accounting's state machine (held → releasing → released) makes a second release
  of the same job fail before a byte is sent, so a double tap prints and charges once.
"""
from __future__ import annotations

import base64
import json
import re
import secrets as random_secrets
from dataclasses import dataclass

from twisted.internet import defer, threads
from twisted.logger import Logger

from accounting.errors import (
    AccountingError, DuplicateCard, InsufficientFunds, InvalidStateChange, LoginFailed as AccountingLoginFailed,
    LoginLocked, ReleaseRefused, SharedAccountRequired, UnknownDevice, UnknownSecret, UnknownUser,
)
from accounting.pricing import job_shape, price
from accounting.time import utcnow
from panel_menus.menus import SCREEN_SIZES
from release_api.errors import JobNotFound, LockedOut, LoginFailed, UnknownCard
from release_api.services import (
    Balance, DeleteResult, ForcedChangeView, HeldJobView, JobReleaseResult, PanelDevice, PanelUser,
)
from spooler.forward import ForcedChanges, ForwardJob, PrinterTarget
from spooler.forward.errors import BadTarget
from gateway.end_job import end_job

log = Logger()

SECRET_PREFIX = "device/"
DEVICE_NAME = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
MONO_MODES = {"monochrome", "mono", "gray", "grayscale", "process-monochrome", "bi-level"}


def device_secret_name(device_name: str) -> str:
    return SECRET_PREFIX + device_name


def new_device_secret() -> bytes:
    return random_secrets.token_bytes(32)


def encode_panel_credential(secret: bytes, screen: str) -> str:
    return json.dumps({"hmac": base64.urlsafe_b64encode(secret).decode("ascii"), "screen": screen})


def decode_panel_credential(text: str | None) -> tuple[bytes, str] | None:
    """``(secret, screen)``; ``None`` when revoked (blank) or unreadable."""
    if not text:
        return None
    try:
        data = json.loads(text)
        secret = base64.urlsafe_b64decode(data["hmac"])
    except (ValueError, KeyError, TypeError):
        return None
    if not secret:
        return None
    screen = data.get("screen") if data.get("screen") in SCREEN_SIZES else "800x480"
    return secret, screen


@dataclass(frozen=True)
class _Registered:
    device: object  # accounting.records.Device
    secret: bytes
    screen: str


class GatewayPanelServices:
    """``PanelServices`` over an ``AccountingService`` (its ``.core``, run in the thread
    pool), a ``SpoolStore`` and a ``Forwarder``."""

    def __init__(self, accounting, spool, forwarder, *, reactor, threadpool=None, pin_length: int = 4,
                 currency: str | None = None, release_observer=None):
        self.accounting = accounting
        self.core = accounting.core
        self.spool = spool
        self.forwarder = forwarder
        self.reactor = reactor
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.pin_length = pin_length
        self.currency = currency
        #: Told ``release_failed(job, device, reason)`` and ``charged(job, entry)`` (notices).
        self.release_observer = release_observer

    def _run(self, function, *args, **kwargs) -> defer.Deferred:
        return threads.deferToThreadPool(self.reactor, self.threadpool, function, *args, **kwargs)

    # -- devices ----------------------------------------------------------------------------
    def _registered(self, device_id: str) -> _Registered | None:
        if not DEVICE_NAME.match(device_id or ""):
            return None
        try:
            device = self.core.devices.get(device_id)
        except UnknownDevice:
            return None
        store = self.core.secrets
        if not device.enabled or store is None:
            return None
        try:
            credential = decode_panel_credential(store.reveal(device_secret_name(device.name)))
        except (UnknownSecret, AccountingError):
            return None
        if credential is None:
            return None
        return _Registered(device, *credential)

    def device_secret(self, device_id):
        return self._run(lambda: (found.secret if (found := self._registered(device_id)) else None))

    def describe_device(self, device_id):
        def describe():
            found = self._registered(device_id)
            if found is None:
                return None
            d = found.device
            return PanelDevice(device_id=d.name, name=d.model or d.name, screen=found.screen, color=d.color,
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

    def authenticate_pin(self, pin, device):
        digits = pin or ""
        if not digits.isdigit() or len(digits) <= self.pin_length:
            return defer.fail(LoginFailed("enter your user number, then your PIN"))
        user_number, secret = int(digits[:-self.pin_length]), digits[-self.pin_length:]
        return self._login(self.core.authenticate_pin, user_number, secret, device=device, who=str(user_number))

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
    def _price_list(self, device, queue: str):
        prices = self.core.prices
        if device is not None and device.price_list:
            return prices.get(device.price_list)
        return prices.for_queue(queue)

    def _view(self, job, device, panel_device: PanelDevice) -> HeldJobView:
        changes = job.decision_changes or {}
        price_list = self._price_list(device, job.queue)
        colour_shape = job_shape(job.facts, copies_requested=job.copies_requested, color_mode=job.color_mode,
                                 sides=job.sides, changes=changes, unknown_pages=price_list.unknown_pages)
        # Priced as accounting will reserve it here: a mono printer prints (and charges) mono.
        shape = colour_shape if panel_device.color else job_shape(
            job.facts, copies_requested=job.copies_requested, color_mode=job.color_mode, sides=job.sides,
            changes={**changes, "mono": True}, unknown_pages=price_list.unknown_pages)
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
        if changes.get("duplex") and not panel_device.duplex:
            printable, note = False, "Cannot print here: a rule requires two-sided and this printer is one-sided"
        elif colour_shape.color and not panel_device.color:
            note = "Prints in mono here, priced as mono"
        return HeldJobView(job_id=str(job.id), title=job.title or f"Job {job.id}", pages=job.pages,
                           copies=shape.copies, color=shape.color, duplex=shape.duplex,
                           price_minor=price(price_list, shape), currency=price_list.currency,
                           received_at=job.received_at, forced_changes=tuple(forced), printable_here=printable,
                           device_note=note)

    def _held_jobs(self, user: PanelUser, panel_device: PanelDevice):
        device = self.core.devices.get(panel_device.device_id)
        jobs = self.core.jobs.list_jobs(owner=user.username, states=("held",))
        return [(job, self._view(job, device, panel_device)) for job in jobs]

    def list_held_jobs(self, user, device):
        return self._run(lambda: [view for _, view in self._held_jobs(user, device)])

    def _owned_held_job(self, job_id: str, user: PanelUser):
        from accounting.errors import JobNotFound as AccountingJobNotFound

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
    def release(self, job_ids, device, user):
        results = []
        for job_id in job_ids:
            result = yield self._release_one(str(job_id), device, user)
            results.append(result)
        return results

    @defer.inlineCallbacks
    def _release_one(self, job_id: str, panel_device: PanelDevice, user: PanelUser):
        actor = user.username
        job = yield self._run(self._owned_held_job, job_id, user)
        title = job.title or f"Job {job.id}"
        if job.state != "held":
            already = {"releasing": "This job is already being printed.", "released": "This job was already printed."}
            return JobReleaseResult(job_id, False, already.get(job.state, "This job is no longer waiting."), title)
        registered = yield self._run(self.core.devices.get, panel_device.device_id)
        try:
            target = PrinterTarget.from_endpoint(registered.protocol, registered.endpoint, name=registered.name)
        except BadTarget as error:
            log.warn("Device {device_id} has an unusable endpoint: {reason}", device_id=registered.name,
                     reason=str(error))
            return JobReleaseResult(job_id, False, "This printer is not set up correctly. Nothing was charged.", title)
        try:
            started = yield self._run(self.core.start_release, job.id, registered.name, actor)
        except InvalidStateChange:
            return JobReleaseResult(job_id, False, "This job is already being printed.", title)
        except InsufficientFunds:
            return JobReleaseResult(job_id, False, "Your balance is too low for this job.", title)
        except ReleaseRefused as refused:
            return JobReleaseResult(job_id, False, refused.message if hasattr(refused, "message") and refused.message
                                    else "A print rule does not allow this job now.", title)
        except SharedAccountRequired:
            return JobReleaseResult(job_id, False, "This job must be charged to a shared account.", title)
        changes = started.decision_changes or {}
        copies = max(1, int(started.copies_requested or 1))
        if changes.get("copies"):
            copies = min(copies, max(1, int(changes["copies"])))
        spool_name = started.spool_name
        # A small job's bytes are in the database: read them here, in a thread, so that the
        # sender (which reads the spool on the reactor) never waits for the database.
        try:
            blob = yield self._run(self.spool.blob, spool_name)
        except Exception:  # noqa: BLE001 - then the sender reads it itself
            log.failure("Reading the bytes of job {job_id} ahead of sending failed", job_id=started.id)
            blob = None
        forward_job = ForwardJob(
            job_id=str(started.id), open_chunks=lambda: self.spool.read_chunks(spool_name, blob=blob),
            size=started.size,
            title=title, user=started.owner, copies=min(copies, 999),
            forced=ForcedChanges(mono=bool(changes.get("mono")), duplex=bool(changes.get("duplex"))),
            document_format=started.document_format or "")
        outcome = yield self.forwarder.forward(forward_job, target)
        if not outcome.accepted:
            reason = f"{outcome.kind}: {outcome.reason}"
            yield self._run(self.core.fail_release, started.id, reason, actor=actor)
            if self.release_observer is not None:
                self.release_observer.release_failed(started, registered.name, outcome.message)
            return JobReleaseResult(job_id, False, f"{outcome.message} Nothing was charged.", title)
        key = f"release:{started.id}:{started.updated_at.isoformat()}:{registered.name}"
        for attempt in range(3):
            try:
                entry = yield self._run(self.core.charge_release, started.id, registered.name, key, actor)
                break
            except Exception:
                log.failure("Charging job {job_id} (printed at {device_id}) failed; attempt {attempt}",
                            job_id=started.id, device_id=registered.name, attempt=attempt + 1)
        else:
            return JobReleaseResult(job_id, True, "Printed; the charge will be checked by an administrator.", title)
        try:
            self.spool.remove(spool_name)
        except OSError:
            log.failure("Removing the spool file of released job {job_id} failed", job_id=started.id)
        if self.release_observer is not None:
            self.release_observer.charged(started, entry)
        log.info("Job {job_id} of {user} released at {device_id}: charged {amount}, ledger entry {entry_id}",
                 job_id=started.id, user=actor, device_id=registered.name, amount=-entry.amount, entry_id=entry.id)
        return JobReleaseResult(job_id, True, "", title)

    @defer.inlineCallbacks
    def delete(self, job_ids, user):
        deleted = []
        for job_id in job_ids:
            job = yield self._run(self._owned_held_job, str(job_id), user)
            try:
                yield end_job(self.accounting, self.spool, job.id, "deleted", actor=user.username,
                              reason="deleted at the printer panel")
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
