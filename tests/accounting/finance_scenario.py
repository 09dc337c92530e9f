"""A small, known history of printing and money for the finance tests (reports, periods,
exports): people in two cost centers and groups, a shared account with its own cost
center, two devices and price lists, charges, a refund, corrections, a refusal and a
changed job, dated where a test's clock says."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from accounting.pricing import PriceList
from accounting.rules import Rule
from tests.accounting.conftest import new_job

UTC = timezone.utc
NOV = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
DEC = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Clock:
    """Stands in for ``utcnow`` wherever the ledger and the jobs date what they write."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(NOV)
    for target in ("accounting.ledger.utcnow", "accounting.jobs.utcnow", "accounting.decisions.utcnow",
                   "accounting.audit.utcnow"):
        monkeypatch.setattr(target, clock)
    return clock


@pytest.fixture
def paris_core(database, settings, hasher):
    """Accounting in Europe/Paris (summer time, and an offset from UTC that matters)."""
    from accounting.core import AccountingCore

    settings.timezone = "Europe/Paris"
    return AccountingCore(database, settings, hasher=hasher)


@pytest.fixture
def history(paris_core, clock):
    return build_history(paris_core, clock)


@dataclass
class History:
    jobs: dict


def priced(core):
    core.prices.save(PriceList(name="standard", currency="EUR", is_default=True, job_fee=1, sheet_fee=0,
                               duplex_discount_permille=100,
                               items={("*", False): 10_000, ("*", True): 50_000, ("A3", False): 20_000}))
    core.prices.save(PriceList(name="colour-floor", currency="EUR", items={("*", False): 8_000, ("*", True): 40_000}))
    core.devices.add("mfp-1", color=True, duplex=True)
    core.devices.add("mfp-2", color=True, duplex=True, price_list="colour-floor")


def people(core):
    core.users.add_user("alice", cost_center="CC-100", groups=("staff", "finance"), balance=100_000)
    core.users.add_user("bob", cost_center="CC-200", groups=("staff",), balance=100_000)
    core.users.add_user("carol", cost_center="CC-100", groups=(), balance=100_000)
    core.accounts.create_shared("project-x", restricted=False)
    core.accounts.allow("project-x", user="bob")


def release(core, owner, device, *, account=None, key=None, **job):
    held = new_job(owner, **job)
    held.decision = core.decide(held)
    recorded = core.jobs.record_jobs([held])[0]
    core.start_release(recorded.id, device, owner, account=account)
    core.charge_release(recorded.id, device, key or f"rel-{recorded.id}", owner)
    return recorded.id


def build_history(core, clock) -> History:
    """November: five printed jobs, a refund, a correction, a refusal, a changed job, a
    cancelled job; December: one job. Returns the job ids by name."""
    priced(core)
    people(core)
    core.rules.add(Rule(name="no-huge", action="deny", conditions={"pages": {"min": 500}},
                        params={"message": "Jobs over 500 pages are refused."}))
    core.rules.add(Rule(name="posters-mono", action="force-mono", conditions={"document": "poster*"}))
    ids = {}
    clock.now = NOV
    ids["a1"] = release(core, "alice", "mfp-1", pages=3, title="=HYPERLINK(\"http://x\")")
    clock.advance(hours=1)
    ids["a2"] = release(core, "alice", "mfp-2", pages=4, color_pages=2, duplex=True, title="colour.pdf")
    clock.advance(hours=1)
    ids["b1"] = release(core, "bob", "mfp-1", pages=10, title="+cmd|' /C calc'!A0")
    clock.advance(hours=1)
    ids["b2"] = release(core, "bob", "mfp-1", pages=2, account="project-x", title="project.pdf")
    clock.advance(days=1)
    ids["c1"] = release(core, "carol", "mfp-2", pages=5, color_pages=5, media=("A3",), title="poster.pdf")
    refused = new_job("carol", pages=900, title="whole-library.pdf")
    assert core.decide(refused).action == "deny"
    core.decisions.flush()
    clock.advance(hours=2)
    core.refund_shortfall(ids["b1"], 30, actor="admin", reason="jam: 3 pages lost")
    clock.advance(hours=1)
    core.ledger.topup("carol", 5_000, actor="admin")
    core.ledger.adjust("alice", -250, actor="admin", reason="manual fee")
    cancelled = new_job("carol", pages=1, title="never printed")
    cancelled.decision = core.decide(cancelled)
    job = core.jobs.record_jobs([cancelled])[0]
    core.jobs.change_state(job.id, "canceled", actor="carol")
    ids["cancelled"] = job.id
    clock.now = DEC
    ids["d1"] = release(core, "alice", "mfp-1", pages=1, title="december.pdf")
    return History(jobs=ids)
