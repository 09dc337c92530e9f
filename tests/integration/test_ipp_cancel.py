"""Cancel over IPP ends a job the one way every job ends: against a real gateway process,
a job printed with ``lp -h`` and cancelled with CUPS's ``cancel -h`` has its bytes gone
at once — a large job's spool file and a small job's row of encrypted bytes alike."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.fixtures.gateway import start_gateway
from tests.fixtures.peers import require

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def postscript(path, size: int) -> None:
    head = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\n"
    tail = b"/Helvetica findfont 20 scalefont setfont 72 700 moveto (held) show showpage\n%%EOF\n"
    line = b"% " + b"x" * 77 + b"\n"
    path.write_bytes(head + line * max(0, (size - len(head) - len(tail)) // len(line)) + tail)


@pytest.fixture
def gateway(tmp_path):
    running = start_gateway(tmp_path, protocols=("ipp",))
    yield running
    running.stop()


def print_with_lp(gateway, path, title: str) -> int:
    lp = require("lp", "cups-client")
    done = subprocess.run([lp, "-h", f"127.0.0.1:{gateway.ports['ipp']}", "-d", "secure", "-U", "alice", "-t", title,
                           str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr + gateway.log()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for job in gateway.jobs():
            if job["title"] == title:
                return job
        time.sleep(0.2)
    pytest.fail(f"no job titled {title!r}: {gateway.log()}")


def cancel_with_cups(gateway, ipp_job_id: str) -> None:
    cancel = require("cancel", "cups-client")
    done = subprocess.run([cancel, "-h", f"127.0.0.1:{gateway.ports['ipp']}", "-U", "alice", ipp_job_id],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr + gateway.log()


@pytest.mark.parametrize("size, kept_as", [(2 << 20, "file"), (4 << 10, "blob")])
def test_cancel_job_removes_the_jobs_bytes_at_once(gateway, tmp_path, size, kept_as):
    path = tmp_path / "held.ps"
    postscript(path, size)
    job = print_with_lp(gateway, path, f"Held {kept_as}")
    spool_files = {p.stem for p in (gateway.data_dir / "spool" / "jobs").glob("*.job")}
    assert (job["spool_name"] in spool_files) == (kept_as == "file")
    assert job["spool_name"] in gateway.spooled()
    ipp_id = job["client_job_ref"].removeprefix("ipp-job-id:") or str(job["id"])
    cancel_with_cups(gateway, f"secure-{ipp_id}")
    [ended] = [j for j in gateway.jobs("--all") if j["id"] == job["id"]]
    assert ended["state"] == "canceled"
    assert job["spool_name"] not in gateway.spooled()
