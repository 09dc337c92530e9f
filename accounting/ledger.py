"""The ledger: append-only money movements, and the only code that changes a balance.

Every change of ``accounts.balance`` is one conditional UPDATE plus one ledger row in the
same transaction, so a balance is always the sum of its ledger. A debit's UPDATE carries
its own guard (``balance - reserved + amount + overdraft >= 0`` for restricted accounts):
the database decides atomically, so concurrent releases on one node (SQLite: one writer
at a time) or on many (PostgreSQL: the row lock re-checks the guard after waiting) can
never overdraw. Charges are idempotent by key: the key is unique in the ledger.

Each chargeback row (charge, refund, adjustment) also keeps what it was for, as it was
when posted (``accounting.charge_facts``), and no row may be dated inside a closed period
(``accounting.periods``): corrections of a closed period are adjustments in the open one
that name the entry they correct (``Ledger.correct``).

Signs: credits (top-up, refund, quota grant) are positive, charges negative.
"""
from __future__ import annotations

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from accounting.audit import audit
from accounting.charge_facts import PrintedJob, facts_for_entry
from accounting.database import Database
from accounting.errors import InsufficientFunds, UnknownAccount, UnknownLedgerEntry
from accounting.periods import PeriodClosed, closed_period_at
from accounting.records import LedgerEntry
from accounting.schema import LEDGER_KINDS, accounts, ledger_entries
from accounting.time import aware, utcnow


def _entry(row) -> LedgerEntry:
    return LedgerEntry(id=row.id, account_id=row.account_id, kind=row.kind, amount=row.amount,
                       balance_after=row.balance_after, job_id=row.job_id, actor=row.actor, reason=row.reason,
                       idempotency_key=row.idempotency_key, created_at=aware(row.created_at))


def entry_by_key(conn, key: str) -> LedgerEntry | None:
    row = conn.execute(select(ledger_entries).where(ledger_entries.c.idempotency_key == key)).first()
    return _entry(row) if row else None


def available(conn, account_id: int) -> int:
    row = conn.execute(select(accounts.c.balance, accounts.c.reserved, accounts.c.overdraft_limit)
                       .where(accounts.c.id == account_id)).first()
    if row is None:
        raise UnknownAccount(account_id)
    return row.balance - row.reserved + row.overdraft_limit


def post(conn, account_id: int, kind: str, amount: int, *, actor: str, reason: str = "", job_id: int | None = None,
         key: str | None = None, unreserve: int = 0, guard: bool = True, printed: PrintedJob | None = None,
         corrects: int | None = None) -> LedgerEntry:
    """Add ``amount`` to the balance (and take ``unreserve`` off the reservation) and append
    the ledger row, inside the caller's transaction. With ``guard`` a restricted account
    may not end below zero available; ``InsufficientFunds`` leaves nothing changed.
    ``printed``: what a charge's release printed (its chargeback facts); ``corrects``: the
    id of the entry an adjustment corrects. Raises ``PeriodClosed`` (nothing changed) when
    now falls inside a closed period."""
    if kind not in LEDGER_KINDS:
        raise ValueError(f"unknown ledger kind {kind!r}")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("money is an int of minor units")
    now = utcnow()
    closed = closed_period_at(conn, now)
    if closed is not None:
        raise PeriodClosed(closed, now)
    statement = update(accounts).where(accounts.c.id == account_id).values(
        balance=accounts.c.balance + amount, reserved=accounts.c.reserved - unreserve)
    if guard and amount < 0:
        statement = statement.where(or_(
            accounts.c.restricted.is_(False),
            accounts.c.balance + amount - (accounts.c.reserved - unreserve) + accounts.c.overdraft_limit >= 0,
        ))
    account = conn.execute(statement.returning(accounts.c.balance, accounts.c.kind, accounts.c.name,
                                               accounts.c.user_id, accounts.c.cost_center)).first()
    if account is None:
        available_now = available(conn, account_id)  # raises UnknownAccount if absent
        raise InsufficientFunds(account_id, -amount, available_now + unreserve)
    balance_after = account.balance
    entry_id = conn.execute(insert(ledger_entries).values(
        account_id=account_id, kind=kind, amount=amount, balance_after=balance_after, job_id=job_id,
        actor=actor[:255], reason=reason[:255], idempotency_key=key, created_at=now, corrects_entry_id=corrects,
        **facts_for_entry(conn, account, kind, job_id, printed, corrects),
    )).inserted_primary_key[0]
    return LedgerEntry(id=entry_id, account_id=account_id, kind=kind, amount=amount, balance_after=balance_after,
                       job_id=job_id, actor=actor, reason=reason, idempotency_key=key, created_at=now)


def reserve(conn, account_id: int, amount: int) -> None:
    """Set ``amount`` aside for a release in progress, or raise InsufficientFunds."""
    if amount <= 0:
        return
    changed = conn.execute(update(accounts).where(
        accounts.c.id == account_id,
        or_(accounts.c.restricted.is_(False),
            accounts.c.balance - accounts.c.reserved - amount + accounts.c.overdraft_limit >= 0),
    ).values(reserved=accounts.c.reserved + amount)).rowcount
    if changed != 1:
        raise InsufficientFunds(account_id, amount, available(conn, account_id))


def unreserve(conn, account_id: int, amount: int) -> None:
    if amount > 0:
        conn.execute(update(accounts).where(accounts.c.id == account_id)
                     .values(reserved=accounts.c.reserved - amount))


class Ledger:
    def __init__(self, database: Database):
        self.db = database

    def _account_id(self, conn, account) -> int:
        if isinstance(account, int):
            found = conn.execute(select(accounts.c.id).where(accounts.c.id == account)).scalar()
        else:
            found = conn.execute(select(accounts.c.id).where(accounts.c.name == account)).scalar()
        if found is None:
            raise UnknownAccount(account)
        return found

    def charge(self, account, amount: int, *, key: str, actor: str, reason: str = "",
               job_id: int | None = None) -> LedgerEntry:
        """Debit ``amount`` (> 0) once per ``key``: a retry with the same key returns the
        first entry and changes nothing."""
        if amount < 0:
            raise ValueError("a charge amount is positive; it is stored negative")
        try:
            with self.db.writer.begin() as conn:
                existing = entry_by_key(conn, key)
                if existing is not None:
                    return existing
                account_id = self._account_id(conn, account)
                return post(conn, account_id, "charge", -amount, actor=actor, reason=reason, job_id=job_id, key=key)
        except IntegrityError:
            # A concurrent call with the same key committed first (PostgreSQL).
            with self.db.writer.begin() as conn:
                existing = entry_by_key(conn, key)
            if existing is None:
                raise
            return existing

    def credit(self, account, amount: int, *, kind: str = "topup", actor: str, reason: str = "",
               job_id: int | None = None, key: str | None = None) -> LedgerEntry:
        if amount <= 0:
            raise ValueError("a credit is a positive amount")
        with self.db.writer.begin() as conn:
            if key is not None and (existing := entry_by_key(conn, key)) is not None:
                return existing
            account_id = self._account_id(conn, account)
            entry = post(conn, account_id, kind, amount, actor=actor, reason=reason, job_id=job_id, key=key)
            audit(conn, actor=actor, action=f"ledger.{kind}", target=str(account),
                  new={"amount": amount, "balance": entry.balance_after, "reason": reason})
            return entry

    def topup(self, account, amount: int, *, actor: str, reason: str = "top-up") -> LedgerEntry:
        return self.credit(account, amount, kind="topup", actor=actor, reason=reason)

    def adjust(self, account, amount: int, *, actor: str, reason: str) -> LedgerEntry:
        """An admin correction, either sign. Not guarded: an admin may take an account
        below zero on purpose; the reason is required and audited."""
        if not reason:
            raise ValueError("an adjustment needs a reason")
        if amount == 0:
            raise ValueError("an adjustment of zero changes nothing")
        with self.db.writer.begin() as conn:
            account_id = self._account_id(conn, account)
            old = conn.execute(select(accounts.c.balance).where(accounts.c.id == account_id)).scalar()
            entry = post(conn, account_id, "adjustment", amount, actor=actor, reason=reason, guard=False)
            audit(conn, actor=actor, action="ledger.adjust", target=str(account), old={"balance": old},
                  new={"balance": entry.balance_after, "reason": reason})
            return entry

    def correct(self, entry_id: int, amount: int, *, actor: str, reason: str) -> LedgerEntry:
        """Correct entry ``entry_id`` (typically of a closed period) by ``amount`` (signed:
        negative takes more money, positive gives some back): an adjustment dated now, in
        the open period, on the same account, that names the entry it corrects and is
        reported under the same cost center, person, device and price list."""
        if not reason:
            raise ValueError("a correction needs a reason")
        if amount == 0:
            raise ValueError("a correction of zero changes nothing")
        with self.db.writer.begin() as conn:
            original = conn.execute(select(ledger_entries.c.account_id, ledger_entries.c.job_id)
                                    .where(ledger_entries.c.id == entry_id)).first()
            if original is None:
                raise UnknownLedgerEntry(entry_id)
            entry = post(conn, original.account_id, "adjustment", amount, actor=actor, reason=reason,
                         job_id=original.job_id, guard=False, corrects=entry_id)
            audit(conn, actor=actor, action="ledger.correct", target=f"entry {entry_id}",
                  new={"amount": amount, "entry": entry.id, "reason": reason})
            return entry

    def entries(self, account, *, limit: int | None = None) -> list[LedgerEntry]:
        with self.db.reader.connect() as conn:
            account_id = self._account_id(conn, account)
            query = select(ledger_entries).where(ledger_entries.c.account_id == account_id).order_by(ledger_entries.c.id)
            if limit:
                query = query.limit(limit)
            return [_entry(row) for row in conn.execute(query)]

    def entries_for_job(self, job_id: int) -> list[LedgerEntry]:
        with self.db.reader.connect() as conn:
            return [_entry(row) for row in conn.execute(
                select(ledger_entries).where(ledger_entries.c.job_id == job_id).order_by(ledger_entries.c.id))]

    def unbalanced_accounts(self) -> list[tuple[int, int, int]]:
        """Accounts whose balance is not the sum of their ledger: (id, balance, sum).
        Empty on a healthy database; the test suite checks it after every ledger test."""
        sums = (select(ledger_entries.c.account_id, func.sum(ledger_entries.c.amount).label("total"))
                .group_by(ledger_entries.c.account_id).subquery())
        query = (select(accounts.c.id, accounts.c.balance, func.coalesce(sums.c.total, 0))
                 .outerjoin(sums, sums.c.account_id == accounts.c.id)
                 .where(accounts.c.balance != func.coalesce(sums.c.total, 0)))
        with self.db.reader.connect() as conn:
            unbalanced = [tuple(r) for r in conn.execute(query)]
            negative_reserve = conn.execute(select(accounts.c.id).where(accounts.c.reserved < 0)).scalars().all()
        return unbalanced + [(i, None, None) for i in negative_reserve]
