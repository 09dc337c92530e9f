"""Ghostscript never holds an acknowledgement, and one sender's endless PostScript cannot
keep another sender's jobs from being counted: a real gateway, real clients on loopback."""
import os
import signal
import time

import pytest

from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.gateway import start_gateway
from tests.fixtures.lpd_client import lpd_print, raw_print
from tests.fixtures.polling import wait_for
from tests.fixtures.smtp import start_smtp

pytestmark = pytest.mark.integration

ENDLESS = b"%!PS\n{ } loop\n"  # 14 bytes that keep Ghostscript busy for a job's whole budget
TWO_PAGES = b"%!PS\n72 700 moveto showpage\n72 700 moveto showpage\n"  # no DSC: only Ghostscript counts it
BUDGET = 20  # seconds of Ghostscript per job in these gateways; clients wait far less for an answer


@pytest.fixture
def gateway(tmp_path, monkeypatch):
    monkeypatch.setenv("PRINTGATE_GS_JOB_BUDGET", str(BUDGET))
    monkeypatch.setenv("PRINTGATE_GS_TIMEOUT", str(BUDGET))
    process = start_gateway(tmp_path)
    yield process
    kill_children(process.process.pid)  # Ghostscript runs still looping must not outlive the test
    process.stop()


def kill_children(pid: int) -> None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


def job_of(gateway, owner):
    return next((job for job in gateway.jobs() if job["owner"] == owner), None)


def wait_until_counted(gateway, owner, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_of(gateway, owner)
        if job is not None and not job["analysis_pending"]:
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job of {owner} was not counted within {timeout} s: {job_of(gateway, owner)}")


def test_a_job_ghostscript_would_spend_its_whole_budget_on_is_acknowledged_at_once(gateway):
    # The client gives up long before Ghostscript's budget: the answer must not wait for it.
    lpd_print("127.0.0.1", gateway.ports["lpd"], ENDLESS, user="looper", timeout=BUDGET / 3)
    job = job_of(gateway, "looper")
    assert job["analysis_pending"]  # held, but not releasable until counted
    job = wait_until_counted(gateway, "looper", timeout=BUDGET * 3)
    assert job["pages"] is None  # the budget was spent: priced as a job of unknown pages


def test_one_senders_endless_jobs_do_not_keep_anothers_job_from_being_counted(gateway):
    for n in range(6):
        raw_print("127.0.0.1", gateway.ports["raw"],
                  b'\x1b%-12345X@PJL SET USERNAME="mallory' + str(n).encode() + b'"\r\n' + ENDLESS,
                  timeout=BUDGET / 3, source="127.0.0.2")
    lpd_print("127.0.0.1", gateway.ports["lpd"], TWO_PAGES, user="alice", timeout=BUDGET / 3)
    alice = wait_until_counted(gateway, "alice")
    assert alice["pages"] == 2
    still_counting = [job["owner"] for job in gateway.jobs() if job["analysis_pending"]]
    assert still_counting, "alice's job should not have waited for all of mallory's"


def test_the_owners_receipt_of_a_job_counted_after_storing_gives_its_counted_pages(tmp_path, monkeypatch):
    monkeypatch.setenv("PRINTGATE_GS_JOB_BUDGET", str(BUDGET))
    authority = CertificateAuthority.create(tmp_path / "ca")
    controller, mailbox = start_smtp(authority, auth=False)
    process = start_gateway(tmp_path, config_text=f"""
[mail]
host = "127.0.0.1"
port = {controller.port}
ca_file = "{authority.ca_file}"
from = "printgate@example.org"
timeout = 10

[notices]
job_held = true
""")
    try:
        process.cli("users", "add", "grace", "--email", "grace@example.org", "--balance", "10.00")
        lpd_print("127.0.0.1", process.ports["lpd"], TWO_PAGES, user="grace", title="counted later")
        assert wait_until_counted(process, "grace")["pages"] == 2
        assert wait_for(lambda: mailbox.messages, timeout=60), process.log()
        [receipt] = mailbox.messages
        assert receipt["to"] == ["grace@example.org"] and b"(2 pages)" in receipt["data"]
    finally:
        process.stop()
        controller.stop()
