"""The job component: recording held jobs and the one place their state changes.

Methods are synchronous and run off the reactor thread (the service wraps them in the
thread pool; the spooler's group committer calls ``record_jobs`` from its own thread).
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import delete, func, insert, select, update

from accounting.database import Database
from accounting.errors import InvalidStateChange, JobNotFound
from accounting.lean_sql import LeanInsert
from accounting.policy import write_policy_record
from accounting.records import HeldJob, JobEvent, NewJob, dumps
from accounting.schema import JOB_STATES, job_events, jobs, policy_records, queues, spool_blobs

#: Which state may follow which. Every change goes through ``JobStore.change_state``.
TRANSITIONS = {
    "held": {"releasing", "canceled", "expired", "deleted"},
    "releasing": {"released", "held", "aborted", "charge_pending"},
    "charge_pending": {"released"},
    "aborted": {"held", "deleted", "expired"},
    "released": set(),
    "canceled": set(),
    "expired": set(),
    "deleted": set(),
    "refused": set(),
}
#: States in which a job still has a spool file worth keeping.
LIVE_STATES = ("held", "releasing", "aborted")

_UNREAD = object()
_FACT_COLUMNS = ("pdl", "pages", "copies", "impressions", "sheets", "duplex", "color_pages", "mono_pages")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class JobStore:
    def __init__(self, database: Database, *, pending_policy_records=None):
        self.db = database
        self._queue_ids: dict[str, int] = {}
        #: Refusal records waiting for a commit (accounting.decisions); drained here.
        self.pending_policy_records = pending_policy_records
        #: On SQLite, the inserts of ``record_jobs``'s common case, run on the writer's
        #: own sqlite3 connection (``accounting.lean_sql``).
        self._lean = None
        if database.is_sqlite:
            dialect = database.writer.engine.dialect
            self._lean = {table.name: LeanInsert(table, dialect) for table in (jobs, spool_blobs, job_events)}

    # -- queues ---------------------------------------------------------------------
    def ensure_queues(self, names, *, expire_minutes: dict | None = None) -> None:
        """Create the queues named in the configuration that the database lacks, and set
        each queue's hold time (``{name: minutes}``; held jobs expire after it)."""
        expire_minutes = expire_minutes or {}
        with self.db.writer.begin() as conn:
            existing = set(conn.execute(select(queues.c.name)).scalars())
            for name in names:
                if name not in existing:
                    conn.execute(insert(queues).values(name=name, description="", created_at=utcnow()))
            for name, minutes in expire_minutes.items():
                conn.execute(update(queues).where(queues.c.name == name).values(expire_minutes=minutes))

    def _queue_id(self, conn, name: str) -> int:
        if name not in self._queue_ids:
            qid = conn.execute(select(queues.c.id).where(queues.c.name == name)).scalar()
            if qid is None:
                qid = conn.execute(
                    insert(queues).values(name=name, description="", created_at=utcnow())
                ).inserted_primary_key[0]
            self._queue_ids[name] = qid
        return self._queue_ids[name]

    # -- recording --------------------------------------------------------------------
    def record_jobs(self, new_jobs: list[NewJob], *, sync: bool = True) -> list[HeldJob]:
        """Record several jobs in one transaction (group commit); all or none.
        ``sync=False``: on SQLite's lean path the commit may not be durable yet when this
        returns; the caller then runs ``db.writer.sync_commits()`` before telling anyone
        (see ``SerializedWriter.raw_transaction``)."""
        pending = self.pending_policy_records
        refusals = pending.take() if pending is not None else []
        written = []
        try:
            if not refusals and self._lean_path_fits(new_jobs):
                rows = self._insert_jobs_lean(new_jobs, sync=sync)
            else:
                with self.db.writer.begin() as conn:
                    if refusals:
                        written = pending.write(conn, refusals)
                    rows = self._insert_jobs(conn, new_jobs)
        except BaseException:
            if refusals:
                pending.put_back(refusals)
            raise
        if written:
            pending.written(written)
        # Built from what was just inserted rather than read back, and with the analyzer's
        # facts (plain JSON types already) not decoded again: this runs for every job.
        return [_held_job(row, facts=job.facts) for row, job in zip(rows, new_jobs)]

    def _lean_path_fits(self, new_jobs) -> bool:
        """The common case on SQLite: queues known, no policy record to write with the
        jobs (those go through SQLAlchemy; see ``accounting.lean_sql``)."""
        return (self._lean is not None and bool(new_jobs)
                and all(job.queue in self._queue_ids for job in new_jobs)
                and all(job.decision is None or job.decision.action == "deny" or job.decision.policy is None
                        for job in new_jobs))

    def _insert_jobs(self, conn, new_jobs) -> list[dict]:
        """One multi-row INSERT for the jobs and one for their first history rows: the
        group committer calls this for every acknowledged job, so it stays lean. Returns
        the inserted rows, each with its ``id`` and ``queue_name``."""
        if not new_jobs:
            return []
        rows = [self._job_row(job, self._queue_id(conn, job.queue)) for job in new_jobs]
        result = conn.execute(insert(jobs).returning(jobs.c.id, sort_by_parameter_order=True), rows)
        ids = [job_id for (job_id,) in result]
        blobs = _blob_rows(new_jobs)
        if blobs:
            conn.execute(insert(spool_blobs), blobs)
        for job in new_jobs:
            if job.decision is not None and job.decision.action != "deny":
                write_policy_record(conn, job.decision)
        conn.execute(insert(job_events), _first_events(ids, new_jobs))
        return _as_inserted(rows, ids, new_jobs)

    def _insert_jobs_lean(self, new_jobs, *, sync: bool = True) -> list[dict]:
        """``_insert_jobs`` on the writer's own sqlite3 connection: the same rows."""
        lean = self._lean
        rows = [self._job_row(job, self._queue_ids[job.queue]) for job in new_jobs]
        with self.db.writer.raw_transaction(sync=sync) as cursor:
            ids = [lean["jobs"].insert_one(cursor, row) for row in rows]
            blobs = _blob_rows(new_jobs)
            if blobs:
                lean["spool_blobs"].insert_many(cursor, blobs)
            lean["job_events"].insert_many(cursor, _first_events(ids, new_jobs))
        return _as_inserted(rows, ids, new_jobs)

    @staticmethod
    def _job_row(job: NewJob, queue_id: int) -> dict:
        facts = job.facts or {}
        return dict(
            queue_id=queue_id,
            owner=_bounded(job.owner, 255),
            source_host=_bounded(job.source_host, 255),
            protocol=_bounded(job.protocol, 8),
            client_job_ref=_bounded(job.client_job_ref, 64),
            title=_bounded(job.title, 1024),
            document_format=_bounded(job.document_format, 127),
            size=job.size,
            sha256=job.sha256,
            spool_name=job.spool_name,
            state="held",
            state_reason="job-hold-until-specified",
            received_at=job.received_at,
            updated_at=job.received_at,
            copies_requested=job.copies_requested,
            sides=_bounded(job.sides, 32),
            color_mode=_bounded(job.color_mode, 32),
            attributes=dumps(job.attributes),
            analyzer_method=facts.get("method"),
            facts=dumps(facts) if job.facts is not None else None,
            analysis_pending=bool(job.analysis_pending),
            **{name: facts.get(name) for name in _FACT_COLUMNS},
            **_decision_columns(job.decision),
        )

    # -- reading ----------------------------------------------------------------------
    def _select(self):
        return select(jobs, queues.c.name.label("queue_name")).join(queues, queues.c.id == jobs.c.queue_id)

    def get_job(self, job_id: int) -> HeldJob:
        with self.db.reader.connect() as conn:
            row = conn.execute(self._select().where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise JobNotFound(job_id)
        return _held_job(row)

    def list_jobs(self, *, queue=None, owner=None, owners=None, states=("held",), limit=None,
                  newest_first=False) -> list[HeldJob]:
        query = self._select()
        if queue is not None:
            query = query.where(queues.c.name == queue)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        if owners:
            query = query.where(jobs.c.owner.in_(list(owners)))
        if states:
            query = query.where(jobs.c.state.in_(list(states)))
        query = query.order_by(jobs.c.id.desc() if newest_first else jobs.c.id)
        if limit:
            query = query.limit(limit)
        with self.db.reader.connect() as conn:
            return [_held_job(row) for row in conn.execute(query).mappings()]

    def count_jobs(self, *, queue=None, states=("held",)) -> int:
        query = select(func.count()).select_from(jobs.join(queues, queues.c.id == jobs.c.queue_id))
        if queue is not None:
            query = query.where(queues.c.name == queue)
        if states:
            query = query.where(jobs.c.state.in_(list(states)))
        with self.db.reader.connect() as conn:
            return conn.execute(query).scalar()

    def job_events(self, job_id: int) -> list[JobEvent]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(
                select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
            ).mappings()
            return [
                JobEvent(job_id=r["job_id"], at=_aware(r["at"]), old_state=r["old_state"],
                         new_state=r["new_state"], actor=r["actor"], reason=r["reason"])
                for r in rows
            ]

    def live_spool_names(self) -> set[str]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(
                select(jobs.c.spool_name).where(jobs.c.state.in_(LIVE_STATES), jobs.c.spool_name.is_not(None))
            )
            return {name for (name,) in rows}

    def policy_record(self, decision_id: str | None) -> dict | None:
        """The policy record of a refused or changed job's decision, JSON-ready."""
        if not decision_id:
            return None
        with self.db.reader.connect() as conn:
            row = conn.execute(select(policy_records).where(policy_records.c.decision_id == decision_id)
                               ).mappings().first()
        if row is None:
            return None
        record = {key: value for key, value in row.items() if key != "id"}
        record["at"] = _aware(record["at"]).isoformat().replace("+00:00", "Z")
        record["changes"] = json.loads(record["changes"] or "{}")
        return record

    def pending_analysis(self) -> list[HeldJob]:
        """Live jobs whose page analysis has not run yet (a restart interrupted it)."""
        query = self._select().where(jobs.c.analysis_pending.is_(True), jobs.c.state.in_(LIVE_STATES)
                                     ).order_by(jobs.c.id)
        with self.db.reader.connect() as conn:
            return [_held_job(row) for row in conn.execute(query).mappings()]

    def record_facts(self, job_id: int, facts: dict | None, *, price_estimate: int | None = None) -> None:
        """The analysis that ran after the job was stored is done: its facts replace what
        scanning found (None: keep those, the job's bytes are gone) and the job may be
        released. A job that ended meanwhile is updated all the same (its history)."""
        values: dict = {"analysis_pending": False}
        if facts is not None:
            values.update(facts=dumps(facts), analyzer_method=facts.get("method"),
                          **{name: facts.get(name) for name in _FACT_COLUMNS})
        if price_estimate is not None:
            values["price_estimate"] = price_estimate
        with self.db.writer.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    # -- spool bytes kept in the database -----------------------------------------------
    def spool_blob(self, spool_name: str, node: str) -> bytes | None:
        with self.db.reader.connect() as conn:
            return conn.execute(
                select(spool_blobs.c.data).where(spool_blobs.c.spool_name == spool_name, spool_blobs.c.node == node)
            ).scalar()

    def spool_blob_names(self, node: str) -> set[str]:
        with self.db.reader.connect() as conn:
            return set(conn.execute(select(spool_blobs.c.spool_name).where(spool_blobs.c.node == node)).scalars())

    # -- changing state -----------------------------------------------------------------
    def change_state(self, job_id: int, new_state: str, *, actor: str, reason: str = "",
                     expect: tuple[str, ...] | None = None) -> HeldJob:
        """Move a job to ``new_state`` if the transition is allowed (and, with ``expect``,
        only from one of those states). Atomic: two callers racing for the same change
        cannot both win, which is what makes a double-tapped release print once."""
        with self.db.writer.begin() as conn:
            change_state_in(conn, job_id, new_state, actor=actor, reason=reason, expect=expect)
        return self.get_job(job_id)


def _bounded(text: str, length: int) -> str:
    """What a client named, as its column can hold it on every engine: at most ``length``
    characters, no NUL (PostgreSQL refuses both, and one job that cannot be written would
    fail its whole group's transaction)."""
    text = text or ""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:length]


def record_refused_in(conn, refusals) -> list[HeldJob]:
    """Rows for jobs refused at intake (state ``refused``, the refusal in ``state_reason``
    and the decision columns, no bytes), in the caller's transaction. ``refusals``:
    ``(NewJob, Decision)`` pairs."""
    if not refusals:
        return []
    rows, new_jobs = [], []
    for job, decision in refusals:
        queue_id = conn.execute(select(queues.c.id).where(queues.c.name == job.queue)).scalar()
        if queue_id is None:
            queue_id = conn.execute(insert(queues).values(name=job.queue, description="", created_at=utcnow())
                                    ).inserted_primary_key[0]
        row = JobStore._job_row(replace(job, decision=decision), queue_id)
        row.update(state="refused", state_reason=_bounded(decision.message, 255), spool_name=None,
                   analysis_pending=False)
        rows.append(row)
        new_jobs.append(job)
    result = conn.execute(insert(jobs).returning(jobs.c.id, sort_by_parameter_order=True), rows)
    ids = [job_id for (job_id,) in result]
    conn.execute(insert(job_events), [
        dict(job_id=job_id, at=job.received_at, old_state=None, new_state="refused", actor=_bounded(job.owner, 255),
             reason=_bounded(f"refused over {job.protocol}: {row['state_reason']}", 255))
        for job_id, job, row in zip(ids, new_jobs, rows)])
    return [_held_job(row, facts=job.facts) for row, job in zip(_as_inserted(rows, ids, new_jobs), new_jobs)]


def _blob_rows(new_jobs) -> list[dict]:
    return [dict(spool_name=job.spool_name, node=job.spool_node, data=job.spool_blob)
            for job in new_jobs if job.spool_blob is not None]


def _first_events(ids, new_jobs) -> list[dict]:
    return [dict(job_id=job_id, at=job.received_at, old_state=None, new_state="held", actor=_bounded(job.owner, 255),
                 reason=f"received over {job.protocol}")
            for job_id, job in zip(ids, new_jobs)]


def _as_inserted(rows, ids, new_jobs) -> list[dict]:
    """The job rows as a read would return them, each with its ``id`` and ``queue_name``."""
    for row, job_id, job in zip(rows, ids, new_jobs):
        row.update(id=job_id, queue_name=job.queue, reserved_amount=None, charged_amount=None,
                   release_device=None)
        for name in ("decision_id", "decision_action", "decision_rule", "decision_message", "decision_changes",
                     "price_estimate", "account_id", "user_id"):
            row.setdefault(name, None)
    return rows


def change_state_in(conn, job_id: int, new_state: str, *, actor: str, reason: str = "",
                    expect: tuple[str, ...] | None = None, values: dict | None = None) -> str:
    """``JobStore.change_state`` inside a transaction the caller already holds, so a state
    change and the ledger entry it goes with commit together. ``values`` are further job
    columns to set in the same UPDATE. Returns the old state."""
    if new_state not in JOB_STATES:
        raise ValueError(f"unknown job state {new_state!r}")
    found = conn.execute(select(jobs.c.state, jobs.c.spool_name).where(jobs.c.id == job_id)).first()
    if found is None:
        raise JobNotFound(job_id)
    old_state, spool_name = found
    allowed = (expect is None or old_state in expect) and new_state in TRANSITIONS[old_state]
    if not allowed:
        raise InvalidStateChange(job_id, old_state, new_state)
    now = utcnow()
    changed = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state == old_state)
        .values(state=new_state, state_reason=reason[:255], updated_at=now, **(values or {}))
    ).rowcount
    if changed != 1:
        raise InvalidStateChange(job_id, old_state, new_state)
    if new_state not in LIVE_STATES and spool_name:
        # A small job's bytes live in the database: they go with the change that ends it.
        conn.execute(delete(spool_blobs).where(spool_blobs.c.spool_name == spool_name))
    conn.execute(
        insert(job_events).values(job_id=job_id, at=now, old_state=old_state,
                                  new_state=new_state, actor=actor, reason=reason[:255])
    )
    return old_state


def _held_job(row, facts=_UNREAD) -> HeldJob:
    """``facts``: what the row's ``facts`` column holds, when the caller has it already."""
    if facts is _UNREAD:
        facts = json.loads(row["facts"]) if row["facts"] else None
    return HeldJob(
        id=row["id"],
        queue=row["queue_name"],
        owner=row["owner"],
        source_host=row["source_host"],
        protocol=row["protocol"],
        title=row["title"],
        client_job_ref=row["client_job_ref"],
        document_format=row["document_format"],
        size=row["size"],
        sha256=row["sha256"],
        spool_name=row["spool_name"],
        state=row["state"],
        state_reason=row["state_reason"],
        received_at=_aware(row["received_at"]),
        updated_at=_aware(row["updated_at"]),
        copies_requested=row["copies_requested"],
        sides=row["sides"],
        color_mode=row["color_mode"],
        attributes=json.loads(row["attributes"] or "{}"),
        pdl=row["pdl"],
        pages=row["pages"],
        copies=row["copies"],
        impressions=row["impressions"],
        sheets=row["sheets"],
        duplex=row["duplex"],
        color_pages=row["color_pages"],
        mono_pages=row["mono_pages"],
        analyzer_method=row["analyzer_method"],
        facts=facts,
        decision_id=row["decision_id"],
        decision_action=row["decision_action"],
        decision_rule=row["decision_rule"],
        decision_message=row["decision_message"],
        decision_changes=json.loads(row["decision_changes"]) if row["decision_changes"] else None,
        price_estimate=row["price_estimate"],
        account_id=row["account_id"],
        reserved_amount=row["reserved_amount"],
        charged_amount=row["charged_amount"],
        release_device=row["release_device"],
        analysis_pending=bool(row["analysis_pending"]),
        user_id=row["user_id"],
    )


def _decision_columns(decision) -> dict:
    if decision is None:
        return {}
    return dict(
        decision_id=decision.id,
        decision_action=decision.action,
        decision_rule=decision.rule[:127],
        decision_message=decision.message[:1024],
        decision_changes=dumps(decision.changes),
        price_estimate=decision.price_estimate,
        account_id=decision.account_id,
        user_id=decision.user_id,
    )
