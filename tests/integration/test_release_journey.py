"""The whole release journey with real peers, loopback only: CUPS's lpd backend prints a
Ghostscript-made document to a real gateway process → the job is held → headless
Chromium at 800×480, signed in as a registered printer, logs in with a card, sees the job
with its pages and price, releases it → the printer (ippeveprinter, an LPD sink, a RAW
sink) receives it → the ledger shows exactly one charge.

Screenshots go to ``test-artifacts/release-e2e/``."""
import hashlib

import pytest

from panel_menus.render import format_money
from tests.fixtures.browser import ARTIFACTS, chromium
from tests.fixtures.printer_sinks import LpdSink, RawSink
from tests.release_api.release_peers import (
    CARD, ippeveprinter, make_pdf, make_postscript, print_with_cups_lpd, release_gateway,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SHOTS = ARTIFACTS / "release-e2e"
FORCE_RULES = (("Mono for drafts", "force-mono", {"document": "*draft*"}),
               ("Two-sided drafts", "force-duplex", {"document": "*draft*"}))


def release_at_panel(gateway, name: str):
    """Card login at the panel, release everything; the job list and result as text."""
    with chromium("800x480", device_signer=gateway.signer(), artifacts=SHOTS, timeout_ms=30_000) as browser:
        page = browser.page
        page.goto(gateway.panel_url + "/panel/launch")
        browser.screenshot(f"{name}-1-idle")
        page.fill("#card_number", CARD)
        page.press("#card_number", "Enter")
        page.wait_for_url("**/panel/jobs")
        browser.screenshot(f"{name}-2-jobs")
        jobs_text = page.locator("#jobs").inner_text()
        page.click("#action-release_all")
        page.wait_for_url("**/panel/result")
        browser.screenshot(f"{name}-3-result")
        return jobs_text, page.locator("#results").inner_text()


def assert_listed_with_pages_and_price(jobs_text: str, job: dict, currency: str = "EUR"):
    assert job["title"] in jobs_text
    assert f"{job['pages']} p" in jobs_text, jobs_text
    assert format_money(job["price_estimate"], currency) in jobs_text, jobs_text


def assert_one_charge(gateway, job: dict):
    charges = gateway.charges()
    assert [(c["job_id"], c["amount"]) for c in charges] == [(job["id"], -job["price_estimate"])]
    assert gateway.job(job["id"])["state"] == "released"
    assert gateway.jobs() == []


def test_a_card_release_sends_the_pdf_byte_for_byte_to_an_ipp_printer_and_charges_once(tmp_path):
    document = make_pdf(tmp_path / "budget.pdf", pages=2)
    with ippeveprinter(tmp_path / "printer") as printer, \
            release_gateway(tmp_path, protocol="ipp", endpoint=printer.endpoint) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "budget.pdf", title="Budget 2027")
        [job] = gateway.wait_for_held()
        assert job["pages"] == 2 and job["price_estimate"] > 0
        jobs_text, result = release_at_panel(gateway, "ipp")
        assert_listed_with_pages_and_price(jobs_text, job)
        assert "sent to the printer" in result
        [received] = printer.documents()
        assert hashlib.sha256(received.read_bytes()).hexdigest() == hashlib.sha256(document).hexdigest()
        [attributes] = printer.job_environments()
        assert attributes.get("IPP_JOB_NAME") == "Budget 2027"
        assert_one_charge(gateway, job)


def test_forced_mono_and_duplex_reach_the_ipp_printer_as_job_attributes(tmp_path):
    document = make_pdf(tmp_path / "draft.pdf", pages=3)
    with ippeveprinter(tmp_path / "printer") as printer, \
            release_gateway(tmp_path, protocol="ipp", endpoint=printer.endpoint, rules=FORCE_RULES) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "draft.pdf", title="Thesis draft")
        [job] = gateway.wait_for_held()
        assert job["decision_changes"] == {"mono": True, "duplex": True}
        jobs_text, result = release_at_panel(gateway, "ipp-forced")
        assert "Changed: mono" in jobs_text and "Changed: duplex" in jobs_text
        assert "sent to the printer" in result
        [received] = printer.documents()
        assert received.read_bytes() == document  # IPP: the document as held, changes as attributes
        [attributes] = printer.job_environments()
        assert attributes.get("IPP_PRINT_COLOR_MODE") == "monochrome"
        assert attributes.get("IPP_SIDES") == "two-sided-long-edge"
        assert_one_charge(gateway, job)


def test_a_card_release_to_an_lpd_printer_arrives_byte_for_byte(tmp_path):
    document = make_postscript(tmp_path / "budget.ps", pages=2)
    with LpdSink() as sink, \
            release_gateway(tmp_path, protocol="lpd", endpoint=f"127.0.0.1:{sink.port}/floor3") as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "budget.ps", title="Budget 2027")
        [job] = gateway.wait_for_held()
        jobs_text, result = release_at_panel(gateway, "lpd")
        assert_listed_with_pages_and_price(jobs_text, job)
        assert "sent to the printer" in result
        [received] = sink.wait_for_jobs(1)
        assert received.complete and received.sha256 == hashlib.sha256(document).hexdigest()
        assert "Palice" in received.control_lines
        assert_one_charge(gateway, job)


def test_forced_mono_and_duplex_are_injected_for_a_raw_printer(tmp_path):
    document = make_postscript(tmp_path / "draft.ps", pages=2)
    with RawSink() as sink, \
            release_gateway(tmp_path, protocol="raw", endpoint=f"127.0.0.1:{sink.port}", rules=FORCE_RULES) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "draft.ps", title="Slides draft")
        [job] = gateway.wait_for_held()
        jobs_text, result = release_at_panel(gateway, "raw-forced")
        assert "Changed: mono" in jobs_text and "Changed: duplex" in jobs_text
        assert "sent to the printer" in result
        [received] = sink.wait_for_jobs(1)
        data = received.data
        assert b"/ProcessColorModel /DeviceGray" in data and b"/Duplex true" in data, data[:2000]
        assert data.startswith(document[:len(b"%!PS-Adobe-3.0")])
        assert_one_charge(gateway, job)


def test_an_unknown_card_is_linked_after_one_password_login_and_then_logs_in_alone(tmp_path):
    from accounting.core import open_core
    from accounting.database import sqlite_url
    from tests.release_api.release_peers import HttpsPanelClient

    with LpdSink() as sink, \
            release_gateway(tmp_path, protocol="lpd", endpoint=f"127.0.0.1:{sink.port}/floor3") as gateway:
        data_dir = gateway.process.data_dir
        core = open_core(sqlite_url(data_dir), data_dir=data_dir)
        core.users.set_password("alice", "correct horse")
        core.database.dispose()
        panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
        status, _, html = panel.card_login("CAFE0042")
        assert status == 200 and 'action="/panel/link"' in html
        status, headers, _ = panel.request("POST", "/panel/link", {"csrf": panel.csrf(html), "username": "alice",
                                                                   "password": "correct horse"})
        assert status == 303 and headers["location"] == "/panel/jobs"
        again = HttpsPanelClient(gateway.panel_url, gateway.signer())
        status, headers, _ = again.card_login("cafe0042")
        assert status == 303 and headers["location"] == "/panel/jobs"
        assert "CAFE0042" in gateway.process.cli("users", "list", "--json").stdout
