"""Release and charging: money moves only when a device accepted the job.

1. ``start_release`` (held → releasing) re-checks the rules (a job refused now —
   night hours, a rule added since it arrived — raises ReleaseRefused), prices the job for the device it goes to and
   *reserves* that amount on the account, atomically; a job the account cannot pay is
   refused before a single byte goes to the printer, and two releases racing for the last
   euro cannot both reserve it.
2. ``charge_release`` (releasing → released), once the device accepted the job, turns
   the reservation into a ledger charge — in the same transaction as the state change,
   and idempotent by key (and by job: a job is charged at most once). Each step locks
   the job row first (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), so
   racing taps on several nodes see each other's outcome instead of charging twice.
3. ``fail_release`` (releasing → held) drops the reservation; nothing is charged.
4. ``mark_charge_pending`` (releasing → charge_pending): the device took the job but the
   charge could not be written; the reservation stays, the job is never offered for
   release again, and ``charge_release`` (which accepts this state too) settles it later.
5. ``refund_shortfall`` credits back what a job was charged but did not print.

Before a release: a job a ``hold-confirm`` rule held waits for its owner's ``confirm``
(``start_release`` refuses it until then), and a job held for ``unknown@<host>`` (its
sender could not be told) is ``claim``-ed by whoever logs in and takes it: they then own
it and pay for it.

``quote`` prices a held job at a device with the same rule ``start_release`` reserves by
(``accounting.pricing.quote_at_device``).
"""
from __future__ import annotations

import json

from sqlalchemy import insert, select, update

from accounting.audit import audit
from accounting.charge_facts import PrintedJob
from accounting.database import Database
from accounting.errors import (AccountingError, ConfirmationRequired, InvalidStateChange, JobNotFound,
                               NotClaimable, ReleaseRefused, SharedAccountRequired, UnknownAccount)
from accounting.jobs import JobStore, change_state_in
from accounting.ledger import entry_by_key, post, reserve, unreserve
from accounting.pricing import DeviceQuote, PriceList, PriceStore, quote_at_device
from accounting.records import Device, HeldJob, LedgerEntry
from accounting.schema import accounts, devices, job_events, jobs, ledger_entries, queues, users
from accounting.time import utcnow
from accounting.users import UserStore


#: The owner intake records for a job whose sender could not be told: ``unknown@<host>``.
UNCLAIMED_PREFIX = "unknown@"


def is_unclaimed(owner: str) -> bool:
    return owner.startswith(UNCLAIMED_PREFIX)


def sides_at(sides: str, device_duplex: bool) -> str:
    """The client's ``sides`` as a device can honour it."""
    return sides if device_duplex else ""


class ReleaseDesk:
    def __init__(self, database: Database, *, job_store: JobStore, prices: PriceStore, users_store: UserStore,
                 recheck=None):
        """``recheck(held_job) -> Decision`` re-runs the rules at release (see
        ``DecisionMaker.recheck``); None skips that."""
        self.db = database
        self.recheck = recheck
        self.jobs = job_store
        self.prices = prices
        self.users = users_store

    def price_list_for(self, price_list_id: int | None, queue: str) -> PriceList:
        """The device's price list when it has one, else the queue's."""
        if price_list_id is not None:
            return self.prices.by_id(price_list_id)
        return self.prices.for_queue(queue)

    def quote(self, job: HeldJob, device: Device | None) -> DeviceQuote:
        """What ``job`` costs at ``device`` (None: at no device in particular). At a
        one-sided printer the two-sided printing a client asked for is not charged: it
        cannot be made there (the release sends ``one-sided``)."""
        price_list = (self.prices.get(device.price_list) if device is not None and device.price_list
                      else self.prices.for_queue(job.queue))
        return quote_at_device(price_list, facts=job.facts, copies_requested=job.copies_requested,
                               color_mode=job.color_mode, sides=sides_at(job.sides, device.duplex if device else True),
                               changes=job.decision_changes, device_color=device.color if device is not None else True)

    def price_for_device(self, conn, job_row, device: str | None) -> int:
        return self.quote_for_row(conn, job_row, device).amount

    def printed_at(self, conn, job_row, device: str | None):
        """(price list, ``JobShape``) of the job as ``device`` prints it (the one rule,
        ``quote_at_device``): what its charge records and "why this price" explains."""
        quote = self.quote_for_row(conn, job_row, device)
        return quote.price_list, quote.shape

    def quote_for_row(self, conn, job_row, device: str | None) -> DeviceQuote:
        """A stored job priced at ``device``: the device's list (else the queue's), forced
        changes applied, and mono on a mono device."""
        price_list_id, device_color, device_duplex = None, True, True
        if device:
            found = conn.execute(select(devices.c.price_list_id, devices.c.color, devices.c.duplex)
                                 .where(devices.c.name == device)).first()
            if found is not None:
                price_list_id, device_color, device_duplex = found.price_list_id, bool(found.color), bool(found.duplex)
        queue = conn.execute(select(queues.c.name).where(queues.c.id == job_row.queue_id)).scalar()
        return quote_at_device(
            self.price_list_for(price_list_id, queue),
            facts=json.loads(job_row.facts) if job_row.facts else None, copies_requested=job_row.copies_requested,
            color_mode=job_row.color_mode, sides=sides_at(job_row.sides, device_duplex),
            changes=json.loads(job_row.decision_changes) if job_row.decision_changes else None,
            device_color=device_color)

    def _account_for(self, conn, job_row, account: str | None) -> int:
        if account is not None:
            found = conn.execute(select(accounts.c.id).where(accounts.c.name == account)).scalar()
            if found is None:
                raise UnknownAccount(account)
            return found
        if job_row.account_id is not None:
            return job_row.account_id
        found = conn.execute(select(accounts.c.id).join(users, users.c.id == accounts.c.user_id)
                             .where(users.c.username == job_row.owner)).scalar()
        if found is None:
            raise UnknownAccount(job_row.owner)
        return found

    # -- before a release ------------------------------------------------------------------
    def unconfirmed(self, job_ids) -> set[int]:
        """The jobs among ``job_ids`` a ``hold-confirm`` rule held and whose owner has not
        confirmed them yet."""
        ids = [int(job_id) for job_id in job_ids]
        if not ids:
            return set()
        with self.db.reader.connect() as conn:
            return set(conn.execute(select(jobs.c.id).where(
                jobs.c.id.in_(ids), jobs.c.decision_action == "hold-confirm", jobs.c.confirmed_at.is_(None))).scalars())

    def confirm(self, job_id: int, username: str, *, actor: str, source: str = "") -> None:
        """The owner confirms a job a ``hold-confirm`` rule held (once; a second time
        changes nothing). The job stays held, and expires as any held job does."""
        with self.db.writer.begin() as conn:
            row = conn.execute(select(jobs.c.owner, jobs.c.state, jobs.c.decision_action, jobs.c.confirmed_at)
                               .where(jobs.c.id == job_id).with_for_update()).first()
            if row is None or row.owner != username:
                raise JobNotFound(job_id)
            if row.state != "held":
                raise InvalidStateChange(job_id, row.state, "held")
            if row.decision_action != "hold-confirm" or row.confirmed_at is not None:
                return
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(confirmed_at=utcnow(), confirmed_by=actor))
            audit(conn, actor=actor, source=source, action="release.confirm", target=f"job {job_id}")

    def unclaimed(self, *, limit: int = 50) -> list[HeldJob]:
        """Held jobs whose sender could not be told (``unknown@<host>``), newest first."""
        # A prefix match the (state, owner) index serves: SQLite's LIKE ignores case and so
        # cannot use it, its GLOB can; PostgreSQL's LIKE is case-sensitive already.
        unclaimed = (jobs.c.owner.op("GLOB")(UNCLAIMED_PREFIX + "*") if self.db.is_sqlite
                     else jobs.c.owner.like(UNCLAIMED_PREFIX + "%"))
        with self.db.reader.connect() as conn:
            ids = list(conn.execute(select(jobs.c.id).where(jobs.c.state == "held", unclaimed)
                                    .order_by(jobs.c.id.desc()).limit(limit)).scalars())
        return [self.jobs.get_job(job_id) for job_id in ids] if ids else []

    def claim(self, job_id: int, username: str, *, actor: str, source: str = "") -> HeldJob:
        """``username`` takes a held job of ``unknown@<host>``: it is theirs from now on,
        charged to their account, and its history says who it came from."""
        user_id = self.users.ensure_user(username)
        with self.db.writer.begin() as conn:
            row = conn.execute(select(jobs.c.owner, jobs.c.state).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise JobNotFound(job_id)
            if row.state != "held" or not is_unclaimed(row.owner):
                raise NotClaimable(job_id, row.owner)
            changed = conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.owner == row.owner,
                                                      jobs.c.state == "held")
                                   .values(owner=username, user_id=user_id, account_id=None, updated_at=utcnow())
                                   ).rowcount
            if changed != 1:
                raise NotClaimable(job_id, row.owner)
            conn.execute(insert(job_events).values(job_id=job_id, at=utcnow(), old_state="held", new_state="held",
                                                   actor=actor, reason=f"claimed by {username} (sent as {row.owner})"
                                                   [:255]))
            audit(conn, actor=actor, source=source, action="job.claim", target=f"job {job_id}",
                  old={"owner": row.owner}, new={"owner": username})
        return self.jobs.get_job(job_id)

    def start_release(self, job_id: int, device: str | None, actor: str, *, account: str | None = None) -> HeldJob:
        """Reserve the job's price for ``device`` and mark it releasing. Raises
        InsufficientFunds (nothing changed) when the account cannot pay, and
        ConfirmationRequired for a job a ``hold-confirm`` rule held that its owner has not
        confirmed. ``account`` names a shared account to charge instead of the owner's
        (check it with ``AccountStore.check_chargeable`` first)."""
        if job_id in self.unconfirmed([job_id]):
            raise ConfirmationRequired(job_id, self.jobs.get_job(job_id).decision_message or "")
        if self.recheck is not None:
            job = self.jobs.get_job(job_id)
            decision = self.recheck(job)
            if decision.action == "deny" and decision.rule not in ("balance", "unknown-user"):
                with self.db.writer.begin() as conn:
                    audit(conn, actor=actor, source=device or "", action="release.refused", target=f"job {job_id}",
                          new={"rule": decision.rule, "message": decision.message})
                raise ReleaseRefused(job_id, decision.rule, decision.message)
            if decision.require_shared_account and account is None:
                raise SharedAccountRequired(job_id)
        if account is None:
            owner = self._owner(job_id)
            if owner is not None:
                self.users.ensure_user(owner)
        with self.db.writer.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise JobNotFound(job_id)
            if row.state != "held":
                raise InvalidStateChange(job_id, row.state, "releasing")
            amount = self.price_for_device(conn, row, device)
            account_id = self._account_for(conn, row, account)
            reserve(conn, account_id, amount)
            change_state_in(conn, job_id, "releasing", actor=actor, reason=f"release at {device}",
                            expect=("held",),
                            values={"reserved_amount": amount, "account_id": account_id, "release_device": device})
            audit(conn, actor=actor, source=device or "", action="release.start", target=f"job {job_id}",
                  new={"price": amount, "account_id": account_id})
        return self.jobs.get_job(job_id)

    def _owner(self, job_id):
        with self.db.reader.connect() as conn:
            return conn.execute(select(jobs.c.owner).where(jobs.c.id == job_id)).scalar()

    def charge_release(self, job_id: int, device: str | None, idempotency_key: str, actor: str) -> LedgerEntry:
        """Charge the reserved price now that ``device`` accepted the job. A retry (same
        key, or the same job again) returns the first charge and changes nothing."""
        with self.db.writer.begin() as conn:
            existing = entry_by_key(conn, idempotency_key)
            if existing is not None:
                return existing
            row = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise JobNotFound(job_id)
            if row.state == "released":
                prior = conn.execute(select(ledger_entries.c.idempotency_key).where(
                    ledger_entries.c.job_id == job_id, ledger_entries.c.kind == "charge")).scalar()
                if prior is not None:
                    return entry_by_key(conn, prior)
            if row.state not in ("releasing", "charge_pending"):
                raise InvalidStateChange(job_id, row.state, "released")
            amount = row.reserved_amount or 0
            price_list, shape = self.printed_at(conn, row, row.release_device or device)
            entry = post(conn, row.account_id, "charge", -amount, actor=actor, job_id=job_id, key=idempotency_key,
                         reason=f"job {job_id} printed at {device or row.release_device}", unreserve=amount,
                         printed=PrintedJob.from_shape(shape, price_list.name))
            change_state_in(conn, job_id, "released", actor=actor, reason=f"accepted by {device or row.release_device}",
                            expect=("releasing", "charge_pending"),
                            values={"charged_amount": amount, "reserved_amount": None})
            audit(conn, actor=actor, source=device or "", action="release.charge", target=f"job {job_id}",
                  new={"amount": amount, "balance": entry.balance_after})
            return entry

    def mark_charge_pending(self, job_id: int, device: str | None, reason: str, *, actor: str) -> HeldJob:
        """The device accepted the job but charging it failed: keep the reservation (the
        money stays set aside), and record that it printed so it is never released again.
        A job already pending or charged is left as it is."""
        with self.db.writer.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise JobNotFound(job_id)
            if row.state == "releasing":
                change_state_in(conn, job_id, "charge_pending", actor=actor, expect=("releasing",),
                                reason=f"printed at {device or row.release_device}; charge pending: {reason}"[:255])
                audit(conn, actor=actor, source=device or "", action="release.charge_pending", target=f"job {job_id}",
                      new={"reserved": row.reserved_amount, "reason": reason[:255]})
            elif row.state not in ("charge_pending", "released"):
                raise InvalidStateChange(job_id, row.state, "charge_pending")
        return self.jobs.get_job(job_id)

    def fail_release(self, job_id: int, reason: str, *, actor: str = "release", state: str = "held") -> HeldJob:
        """The device did not take the job: drop the reservation, charge nothing, and put
        the job back on hold (or ``state="aborted"``)."""
        with self.db.writer.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise JobNotFound(job_id)
            if row.state != "releasing":
                raise InvalidStateChange(job_id, row.state, state)
            unreserve(conn, row.account_id, row.reserved_amount or 0)
            change_state_in(conn, job_id, state, actor=actor, reason=reason[:255], expect=("releasing",),
                            values={"reserved_amount": None})
            audit(conn, actor=actor, source=row.release_device or "", action="release.fail", target=f"job {job_id}",
                  new={"reason": reason})
        return self.jobs.get_job(job_id)

    def refund_shortfall(self, job_id: int, amount: int, *, actor: str, reason: str) -> LedgerEntry:
        """Give back ``amount`` of a released job's charge (e.g. the counter shows fewer
        pages than charged). At most one refund per job, never more than was charged."""
        key = f"refund:job:{job_id}"
        with self.db.writer.begin() as conn:
            existing = entry_by_key(conn, key)
            if existing is not None:
                return existing
            row = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise JobNotFound(job_id)
            if row.state != "released" or not row.charged_amount:
                raise AccountingError(f"job {job_id} has no charge to refund")
            if not 0 < amount <= row.charged_amount:
                raise ValueError(f"a refund is between 1 and the charge ({row.charged_amount})")
            entry = post(conn, row.account_id, "refund", amount, actor=actor, job_id=job_id, key=key, reason=reason)
            audit(conn, actor=actor, action="ledger.refund", target=f"job {job_id}", new={"amount": amount, "reason": reason})
            return entry
