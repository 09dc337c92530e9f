"""The running gateway (``printgate serve``) runs scheduled reports and backups: a
schedule made due with ``printgate schedule run`` is produced and delivered by the
gateway itself, and ``printgate schedule list`` shows the outcome."""
from __future__ import annotations

import json
import time

import pytest

from tests.fixtures.gateway import start_gateway

pytestmark = pytest.mark.timeout(120)


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_the_gateway_delivers_a_due_report_and_backup_and_lists_the_outcome(tmp_path):
    gateway = start_gateway(tmp_path, config_text='[server]\ntimezone = "Europe/Paris"\n')
    try:
        out = tmp_path / "reports"
        gateway.cli("users", "add", "alice", "--balance", "5.00")
        gateway.cli("schedule", "add", "report", "daily-cb", "--every", "daily", "--at", "06:00", "--format", "csv",
                    "--to", str(out))
        gateway.cli("schedule", "add", "backup", "nightly", "--every", "daily", "--at", "02:00", "--to", str(out))
        gateway.stop()
        gateway.cli("schedule", "run", "daily-cb")
        gateway.cli("schedule", "run", "nightly")
        gateway.start()

        def delivered():
            listing = json.loads(gateway.cli("schedule", "list", "--json").stdout)
            runs = [s["last_run"] for s in listing]
            return listing if all(run and run["status"] == "delivered" for run in runs) else None

        listing = wait_for(delivered)
        names = sorted(p.name for p in out.iterdir())
        assert len(names) == 2 and names[0].startswith("daily-cb-") and names[0].endswith(".csv")
        assert names[1].startswith("printgate-backup-") and names[1].endswith(".tar")
        assert "Cost center" in (out / names[0]).read_text()
        assert "schedule daily-cb: run" in gateway.log() and "delivered" in gateway.log()
        assert all(s["next_run_at"] > s["last_run"]["due_at"] for s in listing)
    finally:
        gateway.stop()
