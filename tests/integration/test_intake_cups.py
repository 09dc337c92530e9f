"""Real print clients (CUPS's own lpd and socket backends) printing to a real gateway."""
import hashlib
import os
import subprocess

import pytest

from tests.fixtures.peers import require

pytestmark = pytest.mark.integration

PS_DOC = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%Page: 1 1\n/Helvetica findfont 24 scalefont setfont 72 720 moveto (Hello) show showpage\n%%EOF\n"


def run_backend(name, uri, *, job_id, user, title, copies, path, options=""):
    backend = require(f"/usr/lib/cups/backend/{name}", "cups")
    env = dict(os.environ, DEVICE_URI=uri)
    result = subprocess.run([backend, str(job_id), user, title, str(copies), options, str(path)],
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]


@pytest.fixture
def document(tmp_path):
    path = tmp_path / "doc.ps"
    path.write_bytes(PS_DOC)
    return path


@pytest.mark.parametrize("order", ["control,data", "data,control"])
def test_the_cups_lpd_backend_prints_a_held_job_with_owner_title_and_bytes(gateway, document, order):
    uri = f"lpd://127.0.0.1:{gateway.ports['lpd']}/secure?reserve=none&order={order}"
    run_backend("lpd", uri, job_id=11, user="alice", title="Quarterly report", copies=1, path=document)
    [job] = gateway.jobs()
    assert job["owner"] == "alice"
    assert job["title"] == "Quarterly report"  # CUPS 2.4.2 keeps the space (PEERS.md says "_")
    assert job["protocol"] == "lpd" and job["state"] == "held"
    assert job["sha256"] == hashlib.sha256(PS_DOC).hexdigest()


def test_the_cups_lpd_backend_copies_as_format_lines_are_kept_as_copies(gateway, document):
    uri = f"lpd://127.0.0.1:{gateway.ports['lpd']}/secure?reserve=none&manual_copies=no"
    run_backend("lpd", uri, job_id=12, user="bob", title="three", copies=3, path=document)
    [job] = gateway.jobs()
    assert job["copies_requested"] == 3 and job["sha256"] == hashlib.sha256(PS_DOC).hexdigest()


def test_the_cups_lpd_backend_default_copies_repeat_the_document(gateway, document):
    uri = f"lpd://127.0.0.1:{gateway.ports['lpd']}/secure?reserve=none"
    run_backend("lpd", uri, job_id=13, user="bob", title="twice", copies=2, path=document)
    [job] = gateway.jobs()
    assert job["copies_requested"] == 1 and job["sha256"] == hashlib.sha256(PS_DOC * 2).hexdigest()


def test_the_cups_lpd_backend_with_a_banner_and_stream_mode(gateway, document):
    uri = f"lpd://127.0.0.1:{gateway.ports['lpd']}/secure?reserve=none&banner=on&mode=stream"
    run_backend("lpd", uri, job_id=14, user="carol", title="streamed", copies=1, path=document)
    [job] = gateway.jobs()
    assert job["owner"] == "carol" and job["sha256"] == hashlib.sha256(PS_DOC).hexdigest()


def test_the_cups_socket_backend_prints_a_pjl_job_held_for_the_pjl_user(gateway, tmp_path):
    data = (b"\x1b%-12345X@PJL JOB NAME=\"Payroll.pdf\"\r\n@PJL SET USERNAME=\"dave\"\r\n"
            b"@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + PS_DOC + b"\x1b%-12345X")
    path = tmp_path / "job.prn"
    path.write_bytes(data)
    run_backend("socket", f"socket://127.0.0.1:{gateway.ports['raw']}/?waiteof=false", job_id=15, user="ignored",
                title="t", copies=1, path=path)
    [job] = gateway.jobs()
    assert (job["owner"], job["title"], job["protocol"]) == ("dave", "Payroll.pdf", "raw")
    assert job["sha256"] == hashlib.sha256(data).hexdigest()


def test_jobs_list_filters_by_user_and_show_has_history(gateway, document):
    for user in ("erin", "frank"):
        uri = f"lpd://127.0.0.1:{gateway.ports['lpd']}/secure?reserve=none"
        run_backend("lpd", uri, job_id=20, user=user, title="x", copies=1, path=document)
    [job] = gateway.jobs("--user", "frank")
    assert job["owner"] == "frank"
    shown = gateway.cli("jobs", "show", str(job["id"])).stdout
    assert '"to": "held"' in shown
    assert "deleted" in gateway.cli("jobs", "delete", str(job["id"])).stdout
    assert [j["owner"] for j in gateway.jobs()] == ["erin"]
    assert gateway.cli("jobs", "delete", str(job["id"]), check=False).returncode == 1


def test_a_pdf_the_cups_lpd_backend_sends_twice_is_counted_as_two_copies_of_one(gateway, tmp_path):
    import time

    gs = require("gs", "ghostscript")
    source = tmp_path / "three.ps"
    source.write_bytes(b"%!PS\n" + b"72 700 moveto /Helvetica findfont 12 scalefont setfont (page) show showpage\n" * 3)
    pdf = tmp_path / "three.pdf"
    subprocess.run([gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", f"-sOutputFile={pdf}",
                    str(source)], check=True, timeout=60)
    uri = f"lpd://127.0.0.1:{gateway.ports['lpd']}/secure?reserve=none"  # default manual_copies: sent twice
    run_backend("lpd", uri, job_id=15, user="dora", title="twice", copies=2, path=pdf)
    deadline = time.monotonic() + 60
    while True:
        [job] = gateway.jobs()
        if not job["analysis_pending"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not job["analysis_pending"]
    assert (job["pages"], job["copies"], job["impressions"]) == (3, 2, 6)
    assert job["facts"]["copy_length"] == len(pdf.read_bytes())
    assert job["size"] == 2 * len(pdf.read_bytes())
