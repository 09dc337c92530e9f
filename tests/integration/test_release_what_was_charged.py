"""What is printed is what was charged (issue 14, items 1 to 3), with real peers: jobs sent
by CUPS's ipp and lpd backends to a real gateway, released at its panel (HTTPS, signed as
a registered printer), received by ``ippeveprinter`` or the LPD/RAW sinks. Every
attribute the price depended on — sides, copies, colour mode — reaches the printer;
a repeated document goes once with copies=N; PCL goes as PCL, and a printer that cannot
take a job's language is named at the panel before anything is charged."""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fixtures.browser import ARTIFACTS, chromium
from tests.fixtures.peers import require
from tests.fixtures.printer_sinks import LpdSink, RawSink
from tests.release_api.release_peers import (
    CARD, HttpsPanelClient, ippeveprinter, log_in_at_panel, make_pdf, print_with_cups_lpd, release_gateway,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SHOTS = ARTIFACTS / "release-charged"
#: 0.05 a mono side, 0.20 a colour side, 10 % off two-sided sides.
PRICES = ("--mono", "0.05", "--color", "0.20", "--duplex-discount", "100")


def colour_postscript(path: Path, pages: int = 2) -> bytes:
    gs = require("gs", "ghostscript")
    program = " ".join(f"1 0 0 setrgbcolor /Helvetica findfont 40 scalefont setfont 72 600 moveto (page {n}) show "
                       "showpage" for n in range(1, pages + 1))
    source = path.with_suffix(".src.pdf")
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", f"-o{source}", "-c", program],
                   check=True, timeout=60, capture_output=True)
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=ps2write", f"-o{path}", str(source)],
                   check=True, timeout=60, capture_output=True)
    return path.read_bytes()


def pcl_document(path: Path, pages: int = 2) -> bytes:
    gs = require("gs", "ghostscript")
    program = " ".join(f"/Helvetica findfont 20 scalefont setfont 72 700 moveto (pcl page {n}) show showpage"
                       for n in range(1, pages + 1))
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=ljet4", "-r150", f"-o{path}", "-c",
                    program], check=True, timeout=60, capture_output=True)
    return path.read_bytes()


def print_with_cups_ipp(port: int, path: Path, *, copies: int, options: str, title: str, user: str = "alice"):
    """CUPS's ``ipp`` backend, standalone, as CUPS runs it for ``lp -n COPIES -o OPTIONS``."""
    backend = require("/usr/lib/cups/backend/ipp", "cups")
    env = dict(os.environ, DEVICE_URI=f"ipp://127.0.0.1:{port}/printers/secure?waitjob=false&waitprinter=false",
               CONTENT_TYPE="application/postscript", FINAL_CONTENT_TYPE="application/postscript")
    done = subprocess.run([backend, "42", user, title, str(copies), options, str(path)], env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]


def release_all(gateway) -> str:
    """Card login at the panel over HTTPS, release everything; the result page."""
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    status, headers, _ = panel.card_login(CARD)
    assert status == 303 and headers["location"] == "/panel/jobs", (status, headers)
    _, _, jobs = panel.request("GET", "/panel/jobs")
    status, headers, _ = panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(jobs), "action": "release_all"})
    assert status == 303, status
    _, _, result = panel.request("GET", "/panel/result")
    return result


def duplex_mono_two_copies(tmp_path, gateway) -> dict:
    colour_postscript(tmp_path / "report.ps", pages=2)
    print_with_cups_ipp(gateway.process.ports["ipp"], tmp_path / "report.ps", copies=2, title="Two-sided report",
                        options="sides=two-sided-long-edge print-color-mode=monochrome")
    [job] = gateway.wait_for_held()
    assert (job["sides"], job["color_mode"], job["copies_requested"]) == (
        "two-sided-long-edge", "monochrome", 2), job
    return job


#: 2 pages × 2 copies, mono, two-sided: 4 sides × 0.05 less 10 % = 0.18.
EXPECTED_CHARGE = 18


def gateway_for(tmp_path, protocol, endpoint, **options):
    return release_gateway(tmp_path, protocol=protocol, endpoint=endpoint, intake=("lpd", "ipp"),
                           prices=PRICES, **options)


def test_an_ipp_printer_receives_the_sides_copies_and_colour_mode_that_were_charged(tmp_path):
    with ippeveprinter(tmp_path / "printer") as printer, \
            gateway_for(tmp_path, "ipp", printer.endpoint) as gateway:
        job = duplex_mono_two_copies(tmp_path, gateway)
        assert "sent to the printer" in release_all(gateway)
        [attributes] = printer.job_environments()
        assert attributes.get("IPP_SIDES") == "two-sided-long-edge"
        assert attributes.get("IPP_COPIES") == "2"
        assert attributes.get("IPP_PRINT_COLOR_MODE") == "monochrome"
        assert [c["amount"] for c in gateway.charges()] == [-EXPECTED_CHARGE]
        assert gateway.job(job["id"])["state"] == "released"


def counted(gateway, timeout: float = 60.0) -> dict:
    """The one held job once its pages are counted (PDF analysis runs after the ack)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        [job] = gateway.wait_for_held()
        if not job["analysis_pending"] or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def test_a_pdf_the_cups_lpd_backend_sent_twice_reaches_the_printer_once_with_two_copies(tmp_path):
    with ippeveprinter(tmp_path / "printer") as printer, \
            gateway_for(tmp_path, "ipp", printer.endpoint) as gateway:
        one_copy = make_pdf(tmp_path / "three.pdf", pages=3)
        print_with_cups_lpd(gateway.process.ports["lpd"], tmp_path / "three.pdf", title="Twice", copies=2)
        job = counted(gateway)
        assert not job["analysis_pending"] and job["facts"]["copy_length"] == len(one_copy), job
        assert "sent to the printer" in release_all(gateway)
        [document] = printer.documents()
        [attributes] = printer.job_environments()
        assert document.read_bytes() == one_copy
        assert attributes.get("IPP_COPIES") == "2"
        # 3 pages x 2 copies, one-sided mono sides at 0.05 (the text is black).
        assert [c["amount"] for c in gateway.charges()] == [-30]


def test_an_lpd_printer_receives_them_in_the_job_and_its_control_file(tmp_path):
    with LpdSink() as sink, gateway_for(tmp_path, "lpd", f"127.0.0.1:{sink.port}/floor3") as gateway:
        duplex_mono_two_copies(tmp_path, gateway)
        assert "sent to the printer" in release_all(gateway)
        [received] = sink.wait_for_jobs(1)
        assert received.control_lines.count(f"l{received.data_name}") == 2
        assert b"<< /Duplex true /Tumble false >> setpagedevice" in received.data
        assert b"<< /ProcessColorModel /DeviceGray >> setpagedevice" in received.data
        assert [c["amount"] for c in gateway.charges()] == [-EXPECTED_CHARGE]


def test_a_raw_printer_receives_them_in_the_job(tmp_path):
    with RawSink() as sink, gateway_for(tmp_path, "raw", f"127.0.0.1:{sink.port}") as gateway:
        document = duplex_mono_two_copies(tmp_path, gateway)
        assert "sent to the printer" in release_all(gateway)
        [received] = sink.wait_for_jobs(1)
        data = received.data
        assert b"<< /Duplex true /Tumble false >> setpagedevice" in data
        assert b"<< /ProcessColorModel /DeviceGray >> setpagedevice" in data
        assert b"<< /NumCopies 2 >> setpagedevice" in data
        assert data.count(b"%%EOF") == (tmp_path / "report.ps").read_bytes().count(b"%%EOF")  # sent once
        assert [c["amount"] for c in gateway.charges()] == [-EXPECTED_CHARGE]
        assert document["copies_requested"] == 2


@contextmanager
def pcl_job_at_ipp_printer(tmp_path, formats: str):
    """A PCL job printed by CUPS's lpd backend and held, an ippeveprinter taking
    ``formats`` registered as the printer: (printer, gateway, job)."""
    pcl_document(tmp_path / "ledger.pcl")
    with ippeveprinter(tmp_path / "printer", formats=formats) as printer, \
            gateway_for(tmp_path, "ipp", printer.endpoint) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "ledger.pcl", title="Ledger")
        [job] = gateway.wait_for_held()
        yield printer, gateway, job


def test_a_pcl_job_goes_to_an_ipp_printer_as_pcl(tmp_path):
    with pcl_job_at_ipp_printer(tmp_path, "application/vnd.hp-pcl,application/pdf") as (printer, gateway, job):
        assert job["pdl"] == "pcl5"
        assert "sent to the printer" in release_all(gateway)
        [attributes] = printer.job_environments()
        assert attributes.get("CONTENT_TYPE") == "application/vnd.hp-pcl"
        assert len(gateway.charges()) == 1


def test_a_printer_that_cannot_take_the_jobs_language_is_named_at_the_panel_and_nothing_is_charged(tmp_path):
    with pcl_job_at_ipp_printer(tmp_path, "application/pdf,application/postscript") as (printer, gateway, job):
        with chromium("800x480", device_signer=gateway.signer(), artifacts=SHOTS, timeout_ms=30_000) as browser:
            page = log_in_at_panel(browser, gateway)
            browser.screenshot("cannot-take-pcl")
            row = page.locator(f"#job-{job['id']}")
            assert "does not take PCL" in row.inner_text()
            assert page.locator(f"#job-{job['id']} input[type=checkbox]").is_disabled()
        panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
        panel.card_login(CARD)
        _, _, jobs = panel.request("GET", "/panel/jobs")
        status, _, page = panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(jobs), "action": "release_all"})
        assert status == 200 and "Select at least one job first." in page  # nothing printable here
        # A request naming the job anyway (the checkbox is disabled) is refused before anything starts.
        status, _, _ = panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(jobs), "action": "release",
                                                             "job": str(job["id"])})
        _, _, result = panel.request("GET", "/panel/result")
        assert printer.job_environments() == []
        assert "does not take PCL" in result and "Nothing will be charged" in result
        assert gateway.charges() == [] and gateway.job(job["id"])["state"] == "held"
