"""The intake decision: rules, price estimate and balance check for a job that is about
to be acknowledged. Read-mostly and fast: rules and prices come from memory, the user
and the account from one indexed read; only denials and changed jobs write (their
policy record and audit row). An allowed job's decision is stored with the job itself
by ``JobStore.record_jobs`` (``NewJob.decision``)."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from accounting.database import Database
from accounting.jobs import record_refused_in
from accounting.lean_sql import LeanSelectIn
from accounting.money import format_amount
from accounting.policy import write_policy_record
from accounting.pricing import JobShape, PriceStore, job_shape, price
from accounting.records import Decision, HeldJob, NewJob, PolicyRecord
from accounting.rules import Rule, RuleContext, RuleStore, evaluate, validate
from accounting.schema import accounts, groups, jobs, policy_records, queues, user_groups, users
from accounting.time import aware, utcnow
from accounting.users import USERNAME, UserStore


def format_money(amount: int, currency: str = "EUR") -> str:
    return format_amount(amount, currency)


@dataclass
class TrialJob:
    job_id: int
    owner: str
    title: str
    effect: str
    changes: dict
    price_before: int
    price_after: int


@dataclass
class RuleTrial:
    """What a rule would have done to past jobs: counts per effect ("deny", "change",
    "hold-confirm", "allow", "notify", ...), the money it would have kept from being
    printed (``saved``, minor units) and the jobs it matched."""

    rule: str
    since: datetime
    until: datetime | None
    examined: int = 0
    counts: dict = field(default_factory=dict)
    saved: int = 0
    jobs: list = field(default_factory=list)


#: Whom a job's stated name makes a user: nobody, names in the known domains, everyone.
AUTO_CREATE = ("never", "known-domains", "always")
_AUTO_CREATE_ALIASES = {"create": "always", "deny": "never"}
#: Set (True) in a job's ``attributes`` by the intake when nobody could be named as its
#: owner (``unknown@<address>``): the job is held for whoever claims it at a printer.
UNCLAIMED = "unclaimed"


def is_unclaimed(job) -> bool:
    return (job.attributes or {}).get(UNCLAIMED) is True


class PendingPolicyRecords:
    """Refused jobs waiting for a commit: each one's policy record and its job row (state
    ``refused``, no bytes: ``printgate jobs list --state refused``). A refusal must not make
    the sender wait for a disk flush, so it is written with the next group commit of jobs
    (``JobStore.record_jobs`` drains this), or by the first decision made a second after
    it, or by ``flush`` (the gateway's intake calls it a second after a refusal, the service
    on close). A crash can lose at most that second of refusals — never money, never a job.

    What was written waits in ``take_written`` as ``(HeldJob, Decision)`` pairs, for the
    notifications the refusing rules asked for."""

    max_age = 1.0

    def __init__(self, database: Database):
        self.db = database
        self._lock = threading.Lock()
        self._refusals: list = []
        self._written: list = []
        self._oldest = 0.0

    def add(self, decision, job: NewJob | None = None) -> None:
        with self._lock:
            if not self._refusals:
                self._oldest = time.monotonic()
            self._refusals.append((decision, job))

    def take(self) -> list:
        with self._lock:
            taken, self._refusals = self._refusals, []
            return taken

    def put_back(self, refusals) -> None:
        """Refusals taken for a transaction that failed: they wait for the next one."""
        with self._lock:
            if refusals and not self._refusals:
                self._oldest = time.monotonic()
            self._refusals[:0] = refusals

    def due(self) -> bool:
        return bool(self._refusals) and time.monotonic() - self._oldest > self.max_age

    def write(self, conn, refusals) -> list:
        """In the caller's transaction; returns the refused jobs' rows with their decisions."""
        for decision, _ in refusals:
            write_policy_record(conn, decision)
        refused = [(job, decision) for decision, job in refusals if job is not None]
        rows = record_refused_in(conn, refused)
        return [(row, decision) for row, (_, decision) in zip(rows, refused)]

    def written(self, pairs) -> None:
        """``write``'s result, once its transaction committed."""
        if pairs:
            with self._lock:
                self._written.extend(pairs)

    def take_written(self) -> list:
        with self._lock:
            taken, self._written = self._written, []
            return taken

    def flush(self) -> int:
        refusals = self.take()
        if refusals:
            try:
                with self.db.writer.begin() as conn:
                    pairs = self.write(conn, refusals)
            except BaseException:
                self.put_back(refusals)
                raise
            self.written(pairs)
        return len(refusals)


#: Built once: the user, their personal account and groups in one indexed read.
_OWNER_COLUMNS = (
    select(users.c.id, users.c.enabled, accounts.c.id.label("account_id"), accounts.c.balance, accounts.c.reserved,
           accounts.c.overdraft_limit, accounts.c.restricted, groups.c.name.label("group_name"),
           users.c.username)
    .outerjoin(accounts, accounts.c.user_id == users.c.id)
    .outerjoin(user_groups, user_groups.c.user_id == users.c.id)
    .outerjoin(groups, groups.c.id == user_groups.c.group_id)
)
_OWNER = _OWNER_COLUMNS.where(users.c.username == bindparam("username"))
_OWNERS = _OWNER_COLUMNS.where(users.c.username.in_(bindparam("usernames", expanding=True)))


def _owner_of(rows):
    if not rows:
        return None, frozenset()
    return rows[0], frozenset(row.group_name for row in rows if row.group_name is not None)


class DecisionMaker:
    def __init__(self, database: Database, *, users_store: UserStore, prices: PriceStore, rules: RuleStore,
                 timezone: str = "UTC", server_name: str | None = None, unknown_users: str = "always",
                 known_domains=()):
        """``unknown_users``: whom a job's stated name makes a user (``AUTO_CREATE``;
        the older "create" and "deny" mean "always" and "never"); ``known_domains``: the
        domains of names "known-domains" creates (``alice@example.org``)."""
        policy = _AUTO_CREATE_ALIASES.get(unknown_users, unknown_users)
        if policy not in AUTO_CREATE:
            raise ValueError(f"unknown_users is one of {', '.join(AUTO_CREATE)}")
        self.auto_create = policy
        self.known_domains = frozenset(domain.strip().lstrip("@").lower() for domain in known_domains)
        self.db = database
        self.users = users_store
        self.prices = prices
        self.rules = rules
        self.tz = ZoneInfo(timezone)
        self.server_name = server_name or socket.gethostname()
        self.pending = PendingPolicyRecords(database)
        self._prefetched = threading.local()
        #: On SQLite, the group's owners are read on a sqlite3 connection of their own.
        self._owners_lean = (LeanSelectIn(_OWNERS, database.reader.dialect, "usernames")
                             if database.is_sqlite else None)

    def prefetch_owners(self, usernames) -> None:
        """Read the owners of a whole group of jobs in one query, for this thread's next
        ``decide`` calls until ``forget_owners``: the group committer decides every job
        of a group in a row, and one read per job was most of a decision's cost. What is
        read is as fresh as a read per job would be (it happens at the group's commit)."""
        names = sorted(set(usernames))
        found: dict[str, list] = {name: [] for name in names}
        if self._owners_lean is not None:
            with self.db.raw_read() as cursor:
                rows = self._owners_lean.rows(cursor, names)
        else:
            with self.db.reader.connect() as conn:
                rows = conn.execute(_OWNERS, {"usernames": names}).all()
        for row in rows:
            found[row.username].append(row)
        self._prefetched.owners = {name: _owner_of(rows) for name, rows in found.items()}

    def forget_owners(self) -> None:
        self._prefetched.owners = None

    def _owner(self, username: str):
        owners = getattr(self._prefetched, "owners", None)
        if owners is not None and username in owners:
            return owners[username]
        with self.db.reader.connect() as conn:
            return _owner_of(conn.execute(_OWNER, {"username": username}).all())

    def may_create(self, username: str) -> bool:
        """Whether a job's stated ``username`` becomes a user (source "auto") on first sight
        (never a name no user may have: its job is refused as an unknown user's)."""
        if not USERNAME.match(username or ""):
            return False
        if self.auto_create == "always":
            return True
        if self.auto_create == "never":
            return False
        local, at, domain = username.rpartition("@")
        return bool(at and local and domain.lower() in self.known_domains)

    def decide(self, job: NewJob, *, at: datetime | None = None, record: bool = True) -> Decision:
        if self.pending.due():
            self.pending.flush()
        at = at or utcnow()
        decision_id = str(uuid.uuid4())
        unclaimed = is_unclaimed(job)
        if unclaimed:
            # Nobody to read or create: whoever claims it at a printer is checked and pays then.
            owner, group_names = None, frozenset()
        else:
            owner, group_names = self._owner(job.owner)
            if owner is None and self.may_create(job.owner):
                self.users.ensure_user(job.owner)
                owners = getattr(self._prefetched, "owners", None)
                if owners is not None:
                    owners.pop(job.owner, None)  # read again: the user exists now
                owner, group_names = self._owner(job.owner)
        price_list = self.prices.for_queue(job.queue)
        shape = self._shape(job, price_list, {})
        estimate = price(price_list, shape)
        money = lambda amount: format_money(amount, price_list.currency)  # noqa: E731
        if owner is None and not unclaimed:
            return self._finish(job, at, Decision(id=decision_id, action="deny", rule="unknown-user", price_estimate=estimate,
                                                  message=f"Unknown user {job.owner}: printing is not allowed."),
                                shape, record)
        if owner is not None and not owner.enabled:
            return self._finish(job, at, Decision(id=decision_id, action="deny", rule="disabled-user", price_estimate=estimate,
                                                  message="Your user account is disabled.", account_id=owner.account_id,
                                                  user_id=owner.id),
                                shape, record)
        available = None
        if owner is not None and owner.account_id is not None:
            available = owner.balance - owner.reserved + owner.overdraft_limit
        ctx = self._context(job, shape, estimate, group_names, at, available, owner.balance if owner else None)

        def reprice(changes):
            new_shape = self._shape(job, price_list, changes)
            return {"cost": price(price_list, new_shape), "color": new_shape.color, "sheets": new_shape.sheets,
                    "impressions": new_shape.sides, "duplex": new_shape.duplex, "copies": new_shape.copies,
                    "color_pages": 0 if changes.get("mono") else ctx.color_pages}

        outcome = evaluate(self.rules.active(), ctx, tz=self.tz, reprice=reprice, format_price=money)
        estimate = ctx.cost
        if outcome.changes:
            shape = self._shape(job, price_list, outcome.changes)
        decision = Decision(id=decision_id, action=outcome.action, message=outcome.message, rule=outcome.rule,
                            price_estimate=estimate, changes=dict(outcome.changes), notify=outcome.notify,
                            account_id=owner.account_id if owner else None, user_id=owner.id if owner else None,
                            require_shared_account=outcome.require_shared_account, route_to=outcome.route_to)
        if (decision.action != "deny" and owner is not None and owner.restricted and available is not None
                and estimate > available and not outcome.require_shared_account):
            decision.action = "deny"
            decision.rule = "balance"
            decision.message = (f"Your balance ({money(available)}) does not cover this job ({money(estimate)}).")
        return self._finish(job, at, decision, shape, record)

    def recheck(self, job: HeldJob, *, at: datetime | None = None) -> Decision:
        """The rules again for a held job at release time (nothing is recorded). The
        balance is not judged here: the release reserves the device's price instead."""
        new = NewJob(queue=job.queue, owner=job.owner, source_host=job.source_host, protocol=job.protocol,
                     size=job.size, sha256=job.sha256, spool_name=job.spool_name or "", received_at=job.received_at,
                     title=job.title, copies_requested=job.copies_requested, sides=job.sides,
                     color_mode=job.color_mode, attributes=job.attributes, facts=job.facts)
        return self.decide(new, at=at, record=False)

    def _shape(self, job: NewJob, price_list, changes) -> JobShape:
        return job_shape(job.facts, copies_requested=job.copies_requested, color_mode=job.color_mode, sides=job.sides,
                         changes=changes, unknown_pages=price_list.unknown_pages)

    def _context(self, job, shape, estimate, group_names, at, available, balance) -> RuleContext:
        facts = job.facts or {}
        return RuleContext(
            user=job.owner, groups=group_names, queue=job.queue, device_class=(job.attributes or {}).get("device_class", ""),
            pages=shape.pages, copies=shape.copies, impressions=shape.sides, sheets=shape.sheets,
            color_pages=shape.color_sides // max(1, shape.copies) if shape.copies else 0, duplex=shape.duplex,
            color=shape.color, media=shape.media, document=job.title or "", language=facts.get("pdl") or "",
            source_host=job.source_host, at=aware(at), cost=estimate, available=available, quota_left=balance,
        )

    def _finish(self, job: NewJob, at, decision: Decision, shape: JobShape, record: bool) -> Decision:
        decision.uncounted = not shape.counted
        if decision.action == "deny" or decision.changes:
            decision.policy = dict(
                decision_id=decision.id, at=at, workstation=job.source_host[:255], server=self.server_name[:255],
                queue=job.queue[:127], document_name=(job.title or "")[:1024], username=job.owner[:255],
                duplex=shape.duplex, color=shape.color, impressions=shape.sides, price=decision.price_estimate,
                action="deny" if decision.action == "deny" else "change",
                changes=json.dumps(decision.changes, sort_keys=True), notified=bool(decision.notify),
                message=decision.message[:1024], rule_name=decision.rule[:127],
            )
        if record and decision.action == "deny":
            self.pending.add(decision, job)
        return decision

    def trial(self, rule: Rule, *, since: datetime, until: datetime | None = None, limit: int = 100_000) -> RuleTrial:
        """What ``rule`` would have done to the jobs received since ``since``: the rule is
        evaluated alone (enabled or not) on each past job as intake saw it."""
        validate(rule)
        rule = replace(rule, enabled=True)
        trial = RuleTrial(rule=rule.name, since=since, until=until)
        query = select(jobs, queues.c.name.label("queue_name")).join(queues, queues.c.id == jobs.c.queue_id).where(
            jobs.c.received_at >= since).order_by(jobs.c.id).limit(limit)
        if until is not None:
            query = query.where(jobs.c.received_at < until)
        with self.db.reader.connect() as conn:
            rows = conn.execute(query).all()
            memberships: dict[str, set] = {}
            for username, group in conn.execute(select(users.c.username, groups.c.name)
                                                .join(user_groups, user_groups.c.user_id == users.c.id)
                                                .join(groups, groups.c.id == user_groups.c.group_id)):
                memberships.setdefault(username, set()).add(group)
        for row in rows:
            job = NewJob(queue=row.queue_name, owner=row.owner, source_host=row.source_host, protocol=row.protocol,
                         size=row.size, sha256=row.sha256, spool_name=row.spool_name or "", received_at=row.received_at,
                         title=row.title, copies_requested=row.copies_requested, sides=row.sides,
                         color_mode=row.color_mode, attributes=json.loads(row.attributes or "{}"),
                         facts=json.loads(row.facts) if row.facts else None)
            price_list = self.prices.for_queue(job.queue)
            shape = self._shape(job, price_list, {})
            ctx = self._context(job, shape, price(price_list, shape), frozenset(memberships.get(row.owner, ())),
                                row.received_at, None, None)
            before = ctx.cost

            def reprice(changes, job=job, price_list=price_list):
                new_shape = self._shape(job, price_list, changes)
                return {"cost": price(price_list, new_shape), "color": new_shape.color, "sheets": new_shape.sheets,
                        "impressions": new_shape.sides, "duplex": new_shape.duplex, "copies": new_shape.copies}

            outcome = evaluate([rule], ctx, tz=self.tz, reprice=reprice)
            trial.examined += 1
            if not outcome.matched:
                continue
            effect = outcome.action if outcome.action != "allow" or not outcome.changes else "change"
            if rule.action in ("notify", "require-shared-account", "route"):
                effect = rule.action
            trial.counts[effect] = trial.counts.get(effect, 0) + 1
            trial.saved += max(0, before - ctx.cost) if effect != "deny" else before
            trial.jobs.append(TrialJob(job_id=row.id, owner=row.owner, title=row.title, effect=effect,
                                       changes=dict(outcome.changes), price_before=before,
                                       price_after=0 if effect == "deny" else ctx.cost))
        return trial

    def flush(self) -> int:
        return self.pending.flush()

    def policy_records(self, *, since: datetime | None = None, limit: int = 1000) -> list[PolicyRecord]:
        self.flush()
        query = select(policy_records).order_by(policy_records.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(policy_records.c.at >= since)
        with self.db.reader.connect() as conn:
            return [PolicyRecord(decision_id=r.decision_id, at=aware(r.at), workstation=r.workstation, server=r.server,
                                 queue=r.queue, document_name=r.document_name, username=r.username, duplex=r.duplex,
                                 color=r.color, impressions=r.impressions, price=r.price, action=r.action,
                                 changes=json.loads(r.changes), notified=r.notified, message=r.message,
                                 rule_name=r.rule_name)
                    for r in conn.execute(query)]
