"""The database dies between the print and the charge, against a real gateway process on a
real PostgreSQL, a job printed by CUPS's lpd backend and released at the panel over HTTPS
to a RAW printer that kills the database the moment it has the whole job: the printer
gets the job exactly once and the ledger ends with exactly one charge — whether the
gateway keeps running or is killed before the database comes back."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.postgres import PostgresServer
from tests.fixtures.printer_sinks import RawSink
from tests.release_api.release_peers import (
    HttpsPanelClient, make_postscript, print_with_cups_lpd, release_gateway,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.timeout(240)]

PRICE = 10  # one page of PostScript, mono, at 0.05 per side, two pages


@pytest.fixture
def database():
    server = PostgresServer(durable=True).start()  # a crash must not lose what was committed
    try:
        yield server
    finally:
        server.stop()


def held_job_released_at_the_panel(gateway, tmp_path):
    print_with_cups_lpd(gateway.lpd_port, tmp_path / "budget.ps", title="Budget")
    [job] = gateway.wait_for_held(1)
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    status, headers, _ = panel.card_login()
    assert status == 303, status
    status, _, html = panel.request("GET", "/panel/jobs")
    assert status == 200 and "Budget" in html
    status, _, _ = panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(html), "action": "release_all"})
    assert status == 303
    return job, panel


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"waited {timeout} s for {what}", pytrace=False)


def config_for(database) -> str:
    url = database.create_database("printgate")
    return f'[server]\ndatabase_url = "{url}"\n\n[release]\ncharge_retry_seconds = 1\n'


def test_the_database_lost_after_the_print_leaves_one_print_and_one_charge(tmp_path, database):
    make_postscript(tmp_path / "budget.ps")
    with RawSink(before_goodbye=database.crash) as printer, \
            release_gateway(tmp_path, protocol="raw", endpoint=f"127.0.0.1:{printer.port}",
                            config_text=config_for(database)) as gateway:
        job, panel = held_job_released_at_the_panel(gateway, tmp_path)
        printer.wait_for_jobs(1)
        assert "charge pending" in gateway.process.log()
        database.restart()
        status, _, html = panel.request("GET", "/panel/result")
        assert status == 200 and "Printed. The charge could not be recorded yet" in html
        status, _, html = panel.request("GET", "/panel/jobs")
        assert status == 200 and "Budget" not in html  # never offered again
        charges = wait_for(gateway.charges, "the pending charge")
        assert [entry["amount"] for entry in charges] == [-PRICE]
        assert gateway.job(job["id"])["state"] == "released"
        time.sleep(3)  # further retries come and go
        assert [entry["amount"] for entry in gateway.charges()] == [-PRICE]
        assert len(printer.jobs) == 1 and printer.jobs[0].complete


def test_a_gateway_killed_while_the_database_is_down_charges_once_after_both_return(tmp_path, database):
    make_postscript(tmp_path / "budget.ps")
    with RawSink(before_goodbye=database.crash) as printer, \
            release_gateway(tmp_path, protocol="raw", endpoint=f"127.0.0.1:{printer.port}",
                            config_text=config_for(database)) as gateway:
        job, _ = held_job_released_at_the_panel(gateway, tmp_path)
        printer.wait_for_jobs(1)
        wait_for(lambda: "charge pending" in gateway.process.log(), "the charge to be left pending")
        gateway.process.kill()
        database.restart()
        gateway.process.start()
        charges = wait_for(gateway.charges, "the pending charge after the restart")
        assert [entry["amount"] for entry in charges] == [-PRICE]
        assert gateway.job(job["id"])["state"] == "released"
        assert gateway.jobs() == []
        assert len(printer.jobs) == 1
