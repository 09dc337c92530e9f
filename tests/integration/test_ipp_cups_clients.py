"""Real CUPS clients print to the gateway over IPP: the ``ipp`` backend and ``lp -h``.

The held job must carry the owner, title, copies and exact bytes the client sent.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import time

import pytest

from tests.fixtures.peers import require
from tests.integration.test_ipp_conformance import RunningGateway

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT = 60


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    gateway = RunningGateway(tmp_path_factory.mktemp("ipp-cups-clients"), panel=False)
    yield gateway
    gateway.stop()


@pytest.fixture
def document(tmp_path):
    gs = require("gs", "ghostscript")
    path = tmp_path / "report.pdf"
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite",
                    "-sPAPERSIZE=a4", f"-o{path}", "-c",
                    "/Helvetica findfont 20 scalefont setfont 72 700 moveto (Quarterly) show showpage "
                    "72 700 moveto (page two) show showpage"],
                   check=True, timeout=60, capture_output=True)
    return path


def wait_for_job(gateway, title, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in gateway.jobs():
            if job["title"] == title:
                return job
        time.sleep(0.2)
    pytest.fail(f"no job titled {title!r} arrived; gateway log:\n{gateway.log()}")


@pytest.mark.timeout(CLIENT_TIMEOUT + 30)
def test_the_cups_ipp_backend_prints_a_held_job_with_owner_title_copies_and_bytes(gateway, document):
    backend = require("/usr/lib/cups/backend/ipp", "cups")
    env = dict(os.environ, DEVICE_URI=f"{gateway.uri}?waitjob=false&waitprinter=false",
               CONTENT_TYPE="application/pdf", FINAL_CONTENT_TYPE="application/pdf")
    done = subprocess.run([backend, "42", "alice", "Quarterly report", "2", "", str(document)],
                          env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    assert done.returncode == 0, done.stderr
    job = wait_for_job(gateway, "Quarterly report")
    assert job["owner"] == "alice"
    assert job["protocol"] == "ipp"
    assert job["state"] == "held"
    # With a file argument the backend sends no copies attribute (under cupsd the filters
    # have applied copies by then); copies over IPP are checked with lp -h below.
    assert job["document_format"] == "application/pdf"
    assert job["sha256"] == hashlib.sha256(document.read_bytes()).hexdigest()
    assert job["size"] == document.stat().st_size


@pytest.mark.timeout(CLIENT_TIMEOUT + 30)
def test_lp_h_prints_a_held_job_with_owner_title_copies_and_bytes(gateway, document):
    lp = require("lp", "cups-client")
    done = subprocess.run(
        [lp, "-h", f"127.0.0.1:{gateway.port}", "-d", "secure", "-U", "bob", "-t", "Budget 2027",
         "-n", "3", str(document)],
        capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr + gateway.log()
    assert "request id is secure-" in done.stdout
    job = wait_for_job(gateway, "Budget 2027")
    assert job["owner"] == "bob"
    assert job["copies_requested"] == 3
    assert job["sha256"] == hashlib.sha256(document.read_bytes()).hexdigest()
