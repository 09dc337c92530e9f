"""Calendar schedules and their runs, as stored (``printgate schedule``; run by the
gateway's scheduler in ``gateway.scheduler``).

A schedule is due when ``next_run_at`` has passed. Whoever runs it first *claims* it by
moving ``next_run_at`` on with a conditional UPDATE, so on several gateway nodes sharing
one PostgreSQL database a run happens once. A run keeps the destinations it has still
to deliver to (``pending``); a failed delivery is retried at ``next_attempt_at``, again
claimed by a conditional UPDATE of ``attempts``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError
from accounting.schema import schedule_runs, schedules
from accounting.time import aware, utcnow

RUN_STATES = ("running", "delivered", "retrying", "failed")


class UnknownSchedule(AccountingError):
    def __init__(self, name):
        super().__init__(f"no schedule named {name!r}")
        self.name = name


class DuplicateSchedule(AccountingError):
    def __init__(self, name):
        super().__init__(f"a schedule named {name!r} exists")
        self.name = name


@dataclass
class ScheduleRun:
    id: int
    schedule_id: int
    due_at: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    pending: list
    output: str | None
    error: str


@dataclass
class Schedule:
    id: int
    name: str
    kind: str
    cadence: str
    params: dict
    destinations: list
    enabled: bool
    next_run_at: datetime
    created_at: datetime
    last_run: ScheduleRun | None = field(default=None)


def _run(row) -> ScheduleRun:
    return ScheduleRun(id=row.id, schedule_id=row.schedule_id, due_at=aware(row.due_at),
                       started_at=aware(row.started_at), finished_at=aware(row.finished_at), status=row.status,
                       attempts=row.attempts, next_attempt_at=aware(row.next_attempt_at),
                       pending=json.loads(row.pending or "[]"), output=row.output, error=row.error)


def _schedule(row, last_run=None) -> Schedule:
    return Schedule(id=row.id, name=row.name, kind=row.kind, cadence=row.cadence, params=json.loads(row.params),
                    destinations=json.loads(row.destinations), enabled=row.enabled,
                    next_run_at=aware(row.next_run_at), created_at=aware(row.created_at), last_run=last_run)


class ScheduleBook:
    def __init__(self, database: Database):
        self.db = database

    def add(self, name: str, *, kind: str, cadence: str, params: dict, destinations: list, next_run_at: datetime,
            actor: str = "admin") -> Schedule:
        try:
            with self.db.writer.begin() as conn:
                if conn.execute(select(schedules.c.id).where(schedules.c.name == name)).first():
                    raise DuplicateSchedule(name)
                conn.execute(insert(schedules).values(
                    name=name, kind=kind, cadence=cadence, params=json.dumps(params, sort_keys=True),
                    destinations=json.dumps(list(destinations)), enabled=True, next_run_at=next_run_at,
                    created_at=utcnow()))
                audit(conn, actor=actor, action="schedule.add", target=name,
                      new={"kind": kind, "cadence": cadence, "params": params, "destinations": list(destinations)})
        except IntegrityError:
            raise DuplicateSchedule(name) from None
        return self.get(name)

    def remove(self, name: str, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            if conn.execute(delete(schedules).where(schedules.c.name == name)).rowcount != 1:
                raise UnknownSchedule(name)
            audit(conn, actor=actor, action="schedule.remove", target=name)

    def run_now(self, name: str, *, now: datetime | None = None, actor: str = "admin") -> None:
        """Make ``name`` due now: the running gateway runs it at its next tick (and then
        goes on with its cadence)."""
        with self.db.writer.begin() as conn:
            if conn.execute(update(schedules).where(schedules.c.name == name)
                            .values(next_run_at=now or utcnow())).rowcount != 1:
                raise UnknownSchedule(name)
            audit(conn, actor=actor, action="schedule.run-now", target=name)

    def get(self, name: str) -> Schedule:
        for schedule in self.list():
            if schedule.name == name:
                return schedule
        raise UnknownSchedule(name)

    def list(self) -> list[Schedule]:
        """Every schedule with its latest run."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(schedules).order_by(schedules.c.name)).all()
            latest = {}
            for row in rows:
                run = conn.execute(select(schedule_runs).where(schedule_runs.c.schedule_id == row.id)
                                   .order_by(schedule_runs.c.id.desc()).limit(1)).first()
                latest[row.id] = _run(run) if run else None
        return [_schedule(row, latest[row.id]) for row in rows]

    def runs(self, name: str, *, limit: int = 20) -> list[ScheduleRun]:
        with self.db.reader.connect() as conn:
            schedule_id = conn.execute(select(schedules.c.id).where(schedules.c.name == name)).scalar()
            if schedule_id is None:
                raise UnknownSchedule(name)
            return [_run(row) for row in conn.execute(select(schedule_runs).where(
                schedule_runs.c.schedule_id == schedule_id).order_by(schedule_runs.c.id.desc()).limit(limit))]

    # -- what the scheduler does ------------------------------------------------------------
    def due(self, now: datetime) -> list[Schedule]:
        with self.db.reader.connect() as conn:
            return [_schedule(row) for row in conn.execute(select(schedules).where(
                schedules.c.enabled.is_(True), schedules.c.next_run_at <= now).order_by(schedules.c.next_run_at))]

    def claim(self, schedule: Schedule, following: datetime, *, now: datetime) -> ScheduleRun | None:
        """Start a run of ``schedule`` (due at its ``next_run_at``) and move it on to
        ``following``; None when another node (or an earlier tick) claimed it first."""
        with self.db.writer.begin() as conn:
            moved = conn.execute(update(schedules).where(
                schedules.c.id == schedule.id, schedules.c.next_run_at == schedule.next_run_at)
                .values(next_run_at=following)).rowcount
            if moved != 1:
                return None
            run_id = conn.execute(insert(schedule_runs).values(
                schedule_id=schedule.id, due_at=schedule.next_run_at, started_at=now, status="running", attempts=0,
                pending=json.dumps(schedule.destinations), error="")).inserted_primary_key[0]
            return _run(conn.execute(select(schedule_runs).where(schedule_runs.c.id == run_id)).one())

    def retries_due(self, now: datetime) -> list[tuple[ScheduleRun, Schedule]]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(schedule_runs).where(
                schedule_runs.c.status == "retrying", schedule_runs.c.next_attempt_at <= now)).all()
            found = []
            for row in rows:
                schedule = conn.execute(select(schedules).where(schedules.c.id == row.schedule_id)).first()
                if schedule is not None:
                    found.append((_run(row), _schedule(schedule)))
        return found

    def claim_retry(self, run: ScheduleRun, *, now: datetime) -> bool:
        with self.db.writer.begin() as conn:
            return conn.execute(update(schedule_runs).where(
                schedule_runs.c.id == run.id, schedule_runs.c.status == "retrying",
                schedule_runs.c.attempts == run.attempts).values(status="running")).rowcount == 1

    def record(self, run_id: int, *, status: str, attempts: int, pending: list, error: str = "",
               output: str | None = None, next_attempt_at: datetime | None = None,
               finished_at: datetime | None = None) -> None:
        if status not in RUN_STATES:
            raise ValueError(f"unknown run status {status!r}")
        values = dict(status=status, attempts=attempts, pending=json.dumps(pending), error=error[:1024],
                      next_attempt_at=next_attempt_at, finished_at=finished_at)
        if output is not None:
            values["output"] = output[:1024]
        with self.db.writer.begin() as conn:
            conn.execute(update(schedule_runs).where(schedule_runs.c.id == run_id).values(**values))

    def interrupted(self) -> list[ScheduleRun]:
        """Runs left "running" by a gateway that stopped: the scheduler retries them."""
        with self.db.reader.connect() as conn:
            return [_run(row) for row in conn.execute(select(schedule_runs).where(
                schedule_runs.c.status == "running"))]
