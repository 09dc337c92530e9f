"""Lists for the web pages, paged by keyset: page 1 and page 10,000 cost the same.

A page is asked for with a sort (one of the list's ``SORTS``, each a column that is never
NULL, with the row id as tie-break), filters, and a cursor: the sort values of the last
row of the page before (``after``) or of the first row of the page after (``before``).
The query is ``WHERE <filters> AND (col, id) beyond (cursor) ORDER BY col, id LIMIT n+1``
written as ``col <= c AND (col < c OR id < i)`` so that both engines walk the index on
``col`` from the cursor on. One row more than the page tells whether a next page exists.

Cursors are opaque to the browser (base64url of JSON) and hostile on the way back: a
cursor that does not decode to values of the sort's types is ``BadCursor``. Filters are
bound parameters; text searches escape LIKE's own metacharacters (``%``, ``_``, ``\\``).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import and_, func, or_, select

from accounting.access_log import AccessEvent
from accounting.accounts import _account
from accounting.devices import _device, device_select
from accounting.errors import AccountingError
from accounting.jobs import _held_job
from accounting.records import AuditEntry, LedgerEntry
from accounting.schema import account_members as members
from accounting.schema import groups, user_groups
from accounting.schema import (
    access_log, accounts, audit_log, devices, jobs, ledger_entries, policy_records, price_lists, queues, user_roles, users,
)
from accounting.time import aware
from accounting.user_profiles import GroupSummary

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_FILTER_LENGTH = 255


class BadCursor(AccountingError, ValueError):
    def __init__(self, text: str):
        super().__init__("this page link is not valid (start again from the first page)")
        self.text = text[:80]


@dataclass(frozen=True)
class Sort:
    """A sort of a list: ``column`` (never NULL), its value type for cursors, and the
    direction a fresh list starts in."""

    name: str
    column: object
    kind: type
    descending: bool = False


@dataclass
class Page:
    rows: list
    sort: str
    descending: bool
    next_cursor: str | None = None
    previous_cursor: str | None = None
    filters: dict = field(default_factory=dict)


def encode_cursor(values: list) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str, sort: Sort) -> tuple:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
        value, row_id = raw
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            raise ValueError
        if sort.kind is datetime:
            value = aware(datetime.fromisoformat(value))
        elif sort.kind is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError
        elif not isinstance(value, str):
            raise ValueError
        return value, row_id
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        raise BadCursor(text) from None


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's metacharacters in ``text`` taken literally (escape ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column, text: str):
    return column.like(like_pattern(text), escape="\\")


def keyset_statement(query, sort: Sort, id_column, *, descending: bool, after: str | None = None,
                     before: str | None = None, limit: int = PAGE_SIZE):
    """The page's SELECT (filters, cursor, order, one row more than the page), and
    whether it walks backwards. ``benchmarks/web.py`` runs this very statement in the
    sqlite3 shell."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    backwards = before is not None
    cursor = decode_cursor(before if backwards else after, sort) if (before or after) else None
    forward_desc = descending != backwards  # the direction this query walks
    if cursor is not None:
        value, row_id = cursor
        if forward_desc:
            query = query.where(and_(sort.column <= value, or_(sort.column < value, id_column < row_id)))
        else:
            query = query.where(and_(sort.column >= value, or_(sort.column > value, id_column > row_id)))
    order = (sort.column.desc(), id_column.desc()) if forward_desc else (sort.column.asc(), id_column.asc())
    return query.order_by(*order).limit(limit + 1), backwards, cursor is not None, limit


def keyset_page(conn, query, sort: Sort, id_column, *, descending: bool, after: str | None = None,
                before: str | None = None, limit: int = PAGE_SIZE, row: Callable = lambda r: r,
                key: Callable = None) -> Page:
    """Run ``query`` (filters applied) one page at a time; ``key(row) -> [value, id]``."""
    statement, backwards, had_cursor, limit = keyset_statement(query, sort, id_column, descending=descending,
                                                               after=after, before=before, limit=limit)
    rows = conn.execute(statement).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    items = [row(r) for r in rows]
    page = Page(rows=items, sort=sort.name, descending=descending)
    if rows:
        first, last = key(rows[0]), key(rows[-1])
        has_next = more if not backwards else True
        has_previous = had_cursor if not backwards else more
        page.next_cursor = encode_cursor(last) if has_next else None
        page.previous_cursor = encode_cursor(first) if has_previous else None
    return page


def _bounded(text: str | None) -> str | None:
    if text is None:
        return None
    text = str(text).strip()
    return text[:MAX_FILTER_LENGTH] or None


# -- jobs ---------------------------------------------------------------------------
JOB_SORTS = {s.name: s for s in (
    Sort("received", jobs.c.received_at, datetime, descending=True),
    Sort("owner", jobs.c.owner, str),
    Sort("title", jobs.c.title, str),
    Sort("size", jobs.c.size, int, descending=True),
)}
JOB_STATE_FILTERS = {"held": ("held",), "printed": ("released", "charge_pending"), "releasing": ("releasing",),
                     "ended": ("canceled", "deleted", "expired", "aborted")}


def _job_key(sort: Sort):
    return lambda r: [r[sort.column.name], r["id"]]


def job_query(*, owner: str | None = None, state: str | None = None, since: datetime | None = None,
              until: datetime | None = None, title: str | None = None):
    query = select(jobs, queues.c.name.label("queue_name")).join(queues, queues.c.id == jobs.c.queue_id)
    if (owner := _bounded(owner)) is not None:
        query = query.where(jobs.c.owner == owner)
    if state:
        if state not in JOB_STATE_FILTERS:
            raise ValueError(f"unknown state filter {state!r}")
        query = query.where(jobs.c.state.in_(JOB_STATE_FILTERS[state]))
    if since is not None:
        query = query.where(jobs.c.received_at >= since)
    if until is not None:
        query = query.where(jobs.c.received_at < until)
    if (title := _bounded(title)) is not None:
        query = query.where(contains(jobs.c.title, title))
    return query


def jobs_statement(*, sort: str = "received", descending: bool | None = None, after=None, before=None,
                   limit: int = PAGE_SIZE, **filters):
    """The SELECT ``jobs_page`` runs for these options."""
    chosen = JOB_SORTS.get(sort) or JOB_SORTS["received"]
    descending = chosen.descending if descending is None else descending
    return keyset_statement(job_query(**filters), chosen, jobs.c.id, descending=descending, after=after,
                            before=before, limit=limit)[0]


def jobs_page(conn, *, sort: str = "received", descending: bool | None = None, after=None, before=None,
              limit: int = PAGE_SIZE, **filters) -> Page:
    chosen = JOB_SORTS.get(sort) or JOB_SORTS["received"]
    descending = chosen.descending if descending is None else descending
    page = keyset_page(conn, job_query(**filters), chosen, jobs.c.id, descending=descending, after=after,
                       before=before, limit=limit, row=_held_job, key=_job_key(chosen))
    page.filters = filters
    return page


# -- users --------------------------------------------------------------------------
USER_SORTS = {s.name: s for s in (
    Sort("username", users.c.username, str),
    Sort("number", users.c.id, int),
    Sort("name", users.c.full_name, str),
    Sort("cost_center", users.c.cost_center, str),
)}


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    full_name: str
    email: str
    cost_center: str
    enabled: bool
    deleted: bool
    balance: int | None
    roles: tuple[str, ...]


def users_page(conn, *, search: str | None = None, role: str | None = None, sort: str = "username",
               descending: bool | None = None, after=None, before=None, limit: int = PAGE_SIZE,
               include_deleted: bool = False) -> Page:
    chosen = USER_SORTS.get(sort) or USER_SORTS["username"]
    descending = chosen.descending if descending is None else descending
    query = (select(users.c.id, users.c.username, users.c.full_name, users.c.email, users.c.cost_center,
                    users.c.enabled, users.c.deleted_at, accounts.c.balance)
             .outerjoin(accounts, accounts.c.user_id == users.c.id))
    if not include_deleted:
        query = query.where(users.c.deleted_at.is_(None))
    if (search := _bounded(search)) is not None:
        # A username prefix walks the unique index; names and addresses are searched too.
        query = query.where(or_(and_(users.c.username >= search, users.c.username < search + "\uffff"),
                                contains(users.c.full_name, search), contains(users.c.email, search)))
    if role:
        query = query.where(users.c.id.in_(select(user_roles.c.user_id).where(user_roles.c.role == role)))
    page = keyset_page(conn, query, chosen, users.c.id, descending=descending, after=after, before=before,
                       limit=limit, key=lambda r: [r[chosen.column.name], r["id"]])
    ids = [r["id"] for r in page.rows]
    roles: dict[int, list[str]] = {}
    if ids:
        for user_id, name in conn.execute(select(user_roles.c.user_id, user_roles.c.role)
                                          .where(user_roles.c.user_id.in_(ids)).order_by(user_roles.c.role)):
            roles.setdefault(user_id, []).append(name)
    page.rows = [UserRow(id=r["id"], username=r["username"], full_name=r["full_name"], email=r["email"],
                         cost_center=r["cost_center"], enabled=bool(r["enabled"]),
                         deleted=r["deleted_at"] is not None, balance=r["balance"],
                         roles=tuple(roles.get(r["id"], ()))) for r in page.rows]
    page.filters = {"search": search, "role": role}
    return page


# -- accounts -----------------------------------------------------------------------------
def accounts_page(conn, *, kind: str | None = None, search: str | None = None, after=None, before=None,
                  limit: int = PAGE_SIZE, descending: bool = False) -> Page:
    query = select(accounts)
    if kind in ("personal", "shared"):
        query = query.where(accounts.c.kind == kind)
    if (search := _bounded(search)) is not None:
        query = query.where(and_(accounts.c.name >= search, accounts.c.name < search + "\uffff"))
    sort = Sort("name", accounts.c.name, str)
    page = keyset_page(conn, query, sort, accounts.c.id, descending=descending, after=after, before=before,
                       limit=limit, key=lambda r: [r["name"], r["id"]], row=lambda r: _account(r))
    page.filters = {"kind": kind, "search": search}
    return page


# -- devices ------------------------------------------------------------------------------
def devices_page(conn, *, search: str | None = None, after=None, before=None, limit: int = PAGE_SIZE,
                 descending: bool = False) -> Page:
    """Registered printers by name; the search is a name prefix or part of the location
    or model."""
    query = device_select()
    if (search := _bounded(search)) is not None:
        query = query.where(or_(and_(devices.c.name >= search, devices.c.name < search + "\uffff"),
                                contains(devices.c.location, search), contains(devices.c.model, search)))
    sort = Sort("name", devices.c.name, str)
    page = keyset_page(conn, query, sort, devices.c.id, descending=descending, after=after, before=before,
                       limit=limit, key=lambda r: [r["name"], r["id"]], row=_device)
    page.filters = {"search": search}
    return page


# -- groups -------------------------------------------------------------------------------
def groups_page(conn, *, search: str | None = None, after=None, before=None, limit: int = PAGE_SIZE,
                descending: bool = False) -> Page:
    """Groups by name (a directory may bring thousands); members counted for the page's
    groups only."""
    query = select(groups.c.id, groups.c.name, groups.c.description)
    if (search := _bounded(search)) is not None:
        query = query.where(or_(and_(groups.c.name >= search, groups.c.name < search + "\uffff"),
                                contains(groups.c.description, search)))
    sort = Sort("name", groups.c.name, str)
    page = keyset_page(conn, query, sort, groups.c.id, descending=descending, after=after, before=before,
                       limit=limit, key=lambda r: [r["name"], r["id"]])
    ids = [r["id"] for r in page.rows]
    members = dict(conn.execute(select(user_groups.c.group_id, func.count()).where(user_groups.c.group_id.in_(ids))
                                .group_by(user_groups.c.group_id)).all()) if ids else {}
    page.rows = [GroupSummary(r["name"], r["description"], members.get(r["id"], 0)) for r in page.rows]
    page.filters = {"search": search}
    return page


# -- audit and access logs ------------------------------------------------------------
AUDIT_SORTS = {"newest": Sort("newest", audit_log.c.id, int, descending=True)}


def audit_page(conn, *, actor: str | None = None, action: str | None = None, target: str | None = None,
               since: datetime | None = None, until: datetime | None = None, after=None, before=None,
               limit: int = PAGE_SIZE, descending: bool = True) -> Page:
    query = select(audit_log)
    if (actor := _bounded(actor)) is not None:
        query = query.where(audit_log.c.actor == actor)
    if (action := _bounded(action)) is not None:
        # "user." finds every user.* action: a prefix, walked literally.
        query = query.where(audit_log.c.action.like(like_pattern(action)[1:], escape="\\"))
    if (target := _bounded(target)) is not None:
        query = query.where(contains(audit_log.c.target, target))
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    sort = AUDIT_SORTS["newest"]
    page = keyset_page(conn, query, sort, audit_log.c.id, descending=descending, after=after, before=before,
                       limit=limit, key=lambda r: [r["id"], r["id"]],
                       row=lambda r: AuditEntry(id=r["id"], at=aware(r["at"]), actor=r["actor"], source=r["source"],
                                                action=r["action"], target=r["target"], old_value=r["old_value"],
                                                new_value=r["new_value"]))
    page.filters = {"actor": actor, "action": action, "target": target}
    return page


def access_page(conn, *, username: str | None = None, event: str | None = None, after=None, before=None,
                limit: int = PAGE_SIZE) -> Page:
    query = select(access_log)
    if (username := _bounded(username)) is not None:
        query = query.where(access_log.c.username == username)
    if (event := _bounded(event)) is not None:
        query = query.where(access_log.c.event == event)
    sort = Sort("newest", access_log.c.id, int, descending=True)
    page = keyset_page(conn, query, sort, access_log.c.id, descending=True, after=after, before=before, limit=limit,
                       key=lambda r: [r["id"], r["id"]],
                       row=lambda r: AccessEvent(id=r["id"], at=aware(r["at"]), username=r["username"],
                                                 event=r["event"], address=r["address"], user_agent=r["user_agent"],
                                                 detail=r["detail"]))
    page.filters = {"username": username, "event": event}
    return page


# -- ledger -------------------------------------------------------------------------------
def ledger_page(conn, *, account_id: int | None = None, kind: str | None = None, since: datetime | None = None,
                until: datetime | None = None, after=None, before=None, limit: int = PAGE_SIZE,
                descending: bool = True) -> Page:
    query = select(ledger_entries, accounts.c.name.label("account_name")).join(
        accounts, accounts.c.id == ledger_entries.c.account_id)
    if account_id is not None:
        query = query.where(ledger_entries.c.account_id == account_id)
    if (kind := _bounded(kind)) is not None:
        query = query.where(ledger_entries.c.kind == kind)
    if since is not None:
        query = query.where(ledger_entries.c.created_at >= since)
    if until is not None:
        query = query.where(ledger_entries.c.created_at < until)
    sort = Sort("newest", ledger_entries.c.id, int, descending=True)

    def entry(r):
        item = LedgerEntry(id=r["id"], account_id=r["account_id"], kind=r["kind"], amount=r["amount"],
                           balance_after=r["balance_after"], job_id=r["job_id"], actor=r["actor"], reason=r["reason"],
                           idempotency_key=r["idempotency_key"], created_at=aware(r["created_at"]))
        return LedgerLine(entry=item, account=r["account_name"])

    page = keyset_page(conn, query, sort, ledger_entries.c.id, descending=descending, after=after, before=before,
                       limit=limit, key=lambda r: [r["id"], r["id"]], row=entry)
    page.filters = {"kind": kind}
    return page


@dataclass(frozen=True)
class LedgerLine:
    entry: LedgerEntry
    account: str


def held_count(conn) -> int:
    return conn.execute(select(func.count()).select_from(jobs).where(jobs.c.state == "held")).scalar()


class Lists:
    """The lists above, each on a reader connection of its own (thread-safe)."""

    def __init__(self, database):
        self.db = database

    def _read(self, function, **options) -> Page:
        with self.db.reader.connect() as conn:
            return function(conn, **options)

    def jobs(self, **options) -> Page:
        return self._read(jobs_page, **options)

    def users(self, **options) -> Page:
        return self._read(users_page, **options)

    def accounts(self, **options) -> Page:
        return self._read(accounts_page, **options)

    def groups(self, **options) -> Page:
        return self._read(groups_page, **options)

    def devices(self, **options) -> Page:
        return self._read(devices_page, **options)

    def audit(self, **options) -> Page:
        return self._read(audit_page, **options)

    def access(self, **options) -> Page:
        return self._read(access_page, **options)

    def ledger(self, **options) -> Page:
        return self._read(ledger_page, **options)

    def queues(self) -> list:
        with self.db.reader.connect() as conn:
            return queue_summaries(conn)

    def account_members(self, account_id: int) -> list:
        with self.db.reader.connect() as conn:
            return account_members(conn, account_id)

    def day(self, since: datetime):
        with self.db.reader.connect() as conn:
            return day_summary(conn, since)


# -- summaries -------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueSummary:
    name: str
    price_list: str | None
    expire_minutes: int | None
    held: int


@dataclass(frozen=True)
class DaySummary:
    """Since a moment (local midnight): pages printed, money charged, jobs refused."""

    held_now: int
    pages: int
    charged: int
    refused: int


def queue_summaries(conn) -> list[QueueSummary]:
    held = (select(jobs.c.queue_id, func.count().label("held")).where(jobs.c.state == "held")
            .group_by(jobs.c.queue_id).subquery())
    query = (select(queues.c.name, price_lists.c.name.label("price_list"), queues.c.expire_minutes,
                    func.coalesce(held.c.held, 0).label("held"))
             .outerjoin(price_lists, price_lists.c.id == queues.c.price_list_id)
             .outerjoin(held, held.c.queue_id == queues.c.id).order_by(queues.c.name))
    return [QueueSummary(r.name, r.price_list, r.expire_minutes, r.held) for r in conn.execute(query)]


def day_summary(conn, since: datetime) -> DaySummary:
    printed = conn.execute(select(func.coalesce(func.sum(jobs.c.impressions), 0)).where(
        jobs.c.state == "released", jobs.c.updated_at >= since)).scalar()
    charged = conn.execute(select(func.coalesce(func.sum(ledger_entries.c.amount), 0)).where(
        ledger_entries.c.kind == "charge", ledger_entries.c.created_at >= since)).scalar()
    refused = conn.execute(select(func.count()).select_from(policy_records).where(
        policy_records.c.action == "deny", policy_records.c.at >= since)).scalar()
    return DaySummary(held_now=held_count(conn), pages=int(printed or 0), charged=-int(charged or 0),
                      refused=int(refused or 0))


@dataclass(frozen=True)
class AccountMember:
    user: str | None
    group: str | None


def account_members(conn, account_id: int) -> list[AccountMember]:
    query = (select(users.c.username, groups.c.name).select_from(members)
             .outerjoin(users, users.c.id == members.c.user_id).outerjoin(groups, groups.c.id == members.c.group_id)
             .where(members.c.account_id == account_id).order_by(members.c.id))
    return [AccountMember(user, group) for user, group in conn.execute(query)]
