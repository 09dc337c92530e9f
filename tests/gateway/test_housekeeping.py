"""What the running gateway does by itself, on its own clock (issue 14.15-14.17, 14.19):
grant quotas when a period starts, purge history after ``[retention] days``, read rule
hours in ``[server] timezone``, take the SMTP password from the secret store.

The gateway runs on a ``task.Clock`` whose thread pool runs work inline, so a test moves
the gateway's time across a period boundary and sees what its housekeeping did."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from twisted.internet.task import Clock

from accounting.pricing import PriceList
from accounting.rules import Rule
from gateway.process import QUOTA_GRANT_SECONDS, Gateway
from spooler.config import ConfigError, GatewayConfig, MailConfig
from tests.accounting.conftest import new_job
from tests.gateway.release_world import InlinePool


class ClockReactor(Clock):
    """The reactor the gateway's housekeeping needs, on a clock the test moves."""

    def __init__(self, at: datetime):
        super().__init__()
        self.advance(at.timestamp())
        self.pool = InlinePool()

    def getThreadPool(self):
        return self.pool

    def callFromThread(self, function, *args, **kwargs):
        function(*args, **kwargs)


@pytest.fixture
def run_gateway(tmp_path):
    opened = []

    def run(at: datetime, **config) -> tuple[Gateway, ClockReactor]:
        reactor = ClockReactor(at)
        gateway = Gateway(GatewayConfig(data_dir=tmp_path / "data", **config), reactor=reactor)
        gateway.open_storage()
        opened.append(gateway)
        return gateway, reactor

    yield run
    for gateway in opened:
        for loop in gateway._loops:
            if loop.running:
                loop.stop()
        gateway.mail.stop()
        gateway.committer.stop(5)
        gateway.accounting.close()


def quota_grants(gateway, account):
    return [(e.amount, e.reason) for e in gateway.accounting.core.ledger.entries(account) if e.kind == "quota-grant"]


def test_the_gateway_grants_a_monthly_quota_when_the_month_starts_in_its_time_zone(run_gateway):
    # 23:58 on 31 March in Paris (CEST, UTC+2) is 21:58 UTC: the new month starts at 22:00 UTC.
    gateway, clock = run_gateway(datetime(2026, 3, 31, 21, 58, tzinfo=timezone.utc), timezone="Europe/Paris")
    core = gateway.accounting.core
    core.users.add_user("alice", groups=("staff",))
    core.quotas.add("staff-monthly", amount=1000, period="monthly", group="staff", cap=1500)
    gateway.start_housekeeping()
    assert quota_grants(gateway, "alice") == [(1000, "quota staff-monthly for 2026-03-01")]
    clock.advance(QUOTA_GRANT_SECONDS)  # 23:59 in Paris: still March
    assert len(quota_grants(gateway, "alice")) == 1
    for _ in range(3):
        clock.advance(QUOTA_GRANT_SECONDS)  # past midnight in Paris, 22:01 UTC
    assert quota_grants(gateway, "alice") == [(1000, "quota staff-monthly for 2026-03-01"),
                                              (500, "quota staff-monthly for 2026-04-01")]  # capped at 15.00
    clock.advance(24 * 3600)
    assert len(quota_grants(gateway, "alice")) == 2


def test_the_gateway_purges_history_older_than_the_configured_retention_every_day(run_gateway):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    gateway, clock = run_gateway(now, retention_days=30)
    core = gateway.accounting.core
    old, recent = core.jobs.record_jobs([new_job("alice", received_at=now - timedelta(days=40)),
                                         new_job("bob", received_at=now - timedelta(days=10))])
    for job in (old, recent):
        core.jobs.change_state(job.id, "deleted", actor="t")
    with core.database.writer.begin() as conn:  # as if deleted back then
        conn.exec_driver_sql(f"UPDATE jobs SET updated_at = received_at WHERE id IN ({old.id}, {recent.id})")
    gateway.start_housekeeping()
    assert [j.id for j in core.jobs.list_jobs(states=None)] == [recent.id]
    clock.advance(21 * 24 * 3600)  # the recent one is 31 days old at the next daily purge
    assert core.jobs.list_jobs(states=None) == []


@pytest.mark.parametrize("at, action", [
    (datetime(2026, 3, 28, 7, 30, tzinfo=timezone.utc), "allow"),  # 08:30 in Paris (CET): before office hours
    (datetime(2026, 3, 30, 7, 30, tzinfo=timezone.utc), "deny"),   # 09:30 in Paris (CEST, after the switch)
])
def test_the_gateway_reads_rule_hours_in_its_configured_zone(run_gateway, at, action):
    gateway, _ = run_gateway(at, timezone="Europe/Paris")
    core = gateway.accounting.core
    core.users.add_user("alice", balance=1000)
    core.prices.save(PriceList(name="std", is_default=True))
    core.rules.add(Rule(name="office-hours", action="deny", conditions={"hours": "09:00-17:00"}))
    assert core.decide(new_job("alice", received_at=at), at=at).action == action


def test_the_smtp_password_comes_from_the_secret_the_config_names(run_gateway, tmp_path):
    from gateway.cli import main

    mail = MailConfig(host="127.0.0.1", user="printgate", password_secret="smtp/password")
    with pytest.raises(ConfigError, match="printgate secrets set smtp/password"):
        run_gateway(datetime(2026, 1, 5, tzinfo=timezone.utc), mail=mail)
    import io
    import sys

    stdin, sys.stdin = sys.stdin, io.StringIO("relay-secret\n")
    try:
        assert main(["--data-dir", str(tmp_path / "data"), "secrets", "set", "smtp.password"]) == 0
    finally:
        sys.stdin = stdin
    gateway, _ = run_gateway(datetime(2026, 1, 5, tzinfo=timezone.utc), mail=mail)
    assert gateway.mail.target().password == "relay-secret"
