"""What a ledger row was charged for, written onto the row when it is posted.

A chargeback groups money by cost center, person, group, device, queue and price list,
and counts what was printed. Reading those from the live tables at report time would
make last month's report change whenever someone moves to another cost center, a device
is renamed or retention purges old jobs; so ``post`` freezes them on the row instead:

- **cost center**: a shared account's own (``accounts.cost_center``, else its name) —
  shared-account charges go to the shared account's cost center, not the person's; a
  personal account's: its user's ``cost_center``.
- **person** (``username``): the job's owner when the row is about a job, else the
  personal account's user; **group**: that person's first group by name (a person in
  several groups is counted once, under that one, so a report by group adds up).
- **device, queue, price list and counts**: from ``PrintedJob`` for a charge (what the
  release printed, after forced changes); a refund of a job carries its charge's device,
  queue and price list with no counts; a correction (``corrects_entry_id``) carries the
  corrected row's facts, again without counts.

Only chargeback kinds (charge, refund, adjustment) get facts; top-ups and grants fund
accounts and stay NULL there.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from accounting.schema import accounts, groups, jobs, ledger_entries, queues, user_groups, users

CHARGEBACK_KINDS = ("charge", "refund", "adjustment")
DIMENSIONS = ("cost_center", "username", "group_name", "device", "queue", "price_list")


@dataclass(frozen=True)
class PrintedJob:
    """What a release printed, as it was priced (``accounting.pricing.JobShape`` plus the
    list): the facts a charge row keeps."""

    price_list: str
    pages: int
    copies: int
    impressions: int
    sheets: int
    color_impressions: int
    mono_impressions: int
    duplex: bool

    @classmethod
    def from_shape(cls, shape, price_list: str) -> "PrintedJob":
        return cls(price_list=price_list, pages=shape.pages, copies=shape.copies, impressions=shape.sides,
                   sheets=shape.sheets, color_impressions=shape.color_sides, mono_impressions=shape.mono_sides,
                   duplex=shape.duplex)


def facts_for_entry(conn, account, kind: str, job_id: int | None, printed: PrintedJob | None,
                    corrects: int | None) -> dict:
    """The facts columns of a new ledger row (empty for non-chargeback kinds).
    ``account`` has ``kind``, ``name``, ``user_id`` and ``cost_center``."""
    if kind not in CHARGEBACK_KINDS:
        return {}
    facts: dict = {}
    source = None
    if corrects is not None:
        source = conn.execute(select(*[ledger_entries.c[name] for name in DIMENSIONS])
                              .where(ledger_entries.c.id == corrects)).first()
    elif job_id is not None and kind != "charge":
        source = conn.execute(select(*[ledger_entries.c[name] for name in DIMENSIONS]).where(
            ledger_entries.c.job_id == job_id, ledger_entries.c.kind == "charge")
            .order_by(ledger_entries.c.id).limit(1)).first()
    if source is not None:
        return dict(source._mapping)
    owner = None
    if job_id is not None:
        job = conn.execute(select(jobs.c.owner, jobs.c.release_device, queues.c.name.label("queue"))
                           .join(queues, queues.c.id == jobs.c.queue_id).where(jobs.c.id == job_id)).first()
        if job is not None:
            owner = job.owner
            facts.update(device=job.release_device, queue=job.queue)
    person = _person(conn, owner, account.user_id)
    if person is not None:
        facts.update(username=person.username, group_name=person.group_name)
    elif owner is not None:
        facts.update(username=owner)
    if account.kind == "shared":
        facts["cost_center"] = account.cost_center or account.name
    else:
        facts["cost_center"] = person.cost_center if person is not None else ""
    if printed is not None:
        facts.update(price_list=printed.price_list, pages=printed.pages, copies=printed.copies,
                     impressions=printed.impressions, sheets=printed.sheets,
                     color_impressions=printed.color_impressions, mono_impressions=printed.mono_impressions,
                     duplex=printed.duplex)
    return facts


def _person(conn, username: str | None, user_id: int | None):
    """username, cost_center and first group (by name) of the job's owner, else of the
    account's user."""
    first_group = (select(groups.c.name).join(user_groups, user_groups.c.group_id == groups.c.id)
                   .where(user_groups.c.user_id == users.c.id).order_by(groups.c.name).limit(1)
                   .scalar_subquery())
    query = select(users.c.username, users.c.cost_center, first_group.label("group_name"))
    if username is not None:
        row = conn.execute(query.where(users.c.username == username)).first()
        if row is not None:
            return row
    if user_id is not None:
        return conn.execute(query.where(users.c.id == user_id)).first()
    return None
