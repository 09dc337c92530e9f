"""The release journey in headless Chromium, as far as it goes without accounting:
a registered device opens the panel at 800x480, the user taps a card, sees the job,
releases it, and the job's bytes leave the real spool store through the real forwarder
to a printer sink on loopback, byte for byte (or with forced mono/duplex injected).

Users, jobs, prices and the ledger are the in-memory TEST DOUBLE, extended here to
forward for real; the accounting-backed services replace it when they land."""
import datetime
import hashlib

import pytest
from twisted.internet import defer

from release_api.device_auth import DeviceRequestSigner
from release_api.services import ForcedChangeView, HeldJobView, JobReleaseResult
from spooler.forward import ForcedChanges, Forwarder, ForwardJob, PrinterTarget, RetryPolicy
from spooler.spool import SpoolStore
from tests.fixtures.browser import ARTIFACTS, chromium, panel_server
from tests.fixtures.printer_sinks import LpdSink, RawSink, unused_port
from tests.release_api.panel_test_double import ALICE, InMemoryPanelServicesTestDouble

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

UEL = b"\x1b%-12345X"
DOCUMENT = UEL + b"@PJL JOB NAME=\"Budget\"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE" + bytes(range(256)) * 2000 + b"\x1bE" + UEL


class ForwardingPanelServicesTestDouble(InMemoryPanelServicesTestDouble):
    """TEST DOUBLE: the in-memory services, but ``release`` forwards spool files for real."""

    def __init__(self, spool: SpoolStore, reactor, targets: dict):
        super().__init__()
        self.spool = spool
        self.targets = targets
        self.spool_names: dict[str, str] = {}
        self.forced: dict[str, ForcedChanges] = {}
        self.charges: list[tuple[str, int]] = []
        self.outcomes = []
        self.forwarder = Forwarder(reactor, retry=RetryPolicy(max_attempts=2, initial_delay=0.05, deadline=3),
                                   gateway_host="printgate-test")

    def hold(self, job: HeldJobView, data: bytes, forced: ForcedChanges = ForcedChanges()):
        writer = self.spool.create()
        writer.write(data)
        writer.finish()
        writer.make_durable()
        self.spool_names[job.job_id] = writer.name
        self.forced[job.job_id] = forced
        self.jobs.setdefault(ALICE.user_id, []).append(job)

    @defer.inlineCallbacks
    def release(self, job_ids, device, user):
        results = []
        for job_id in job_ids:
            job = self._find(user, job_id)
            name = self.spool_names[job_id]
            outcome = yield self.forwarder.forward(
                ForwardJob(job_id=job_id, open_chunks=lambda name=name: self.spool.read_chunks(name),
                           title=job.title, user=user.username, copies=job.copies, forced=self.forced[job_id]),
                self.targets[device.device_id])
            self.outcomes.append(outcome)
            if outcome.accepted:
                self.jobs[user.user_id] = [j for j in self.jobs[user.user_id] if j.job_id != job_id]
                self.charges.append((job_id, job.price_minor))
                results.append(JobReleaseResult(job_id, True, "", job.title))
            else:
                results.append(JobReleaseResult(job_id, False, f"{outcome.message} Nothing was charged.",
                                                job.title))
        return results


def held(job_id, title, forced_changes=()):
    return HeldJobView(job_id, title, 1, 1, False, bool(forced_changes), 35, "EUR",
                       datetime.datetime.now(datetime.timezone.utc), forced_changes=forced_changes)


def release_everything(browser, name):
    page = browser.page
    page.click("#action-release_all")
    page.wait_for_url("**/panel/result")
    browser.screenshot(name)
    return page.locator("#results").inner_text()


def test_a_card_login_and_release_sends_the_job_byte_for_byte_to_an_lpd_printer(tmp_path):
    with LpdSink() as sink:
        services, text = _journey(tmp_path, PrinterTarget("lpd", "127.0.0.1", sink.port, queue="floor3"),
                                  [(held("j1", "Budget 2027.xlsx"), DOCUMENT, ForcedChanges())], "release-lpd")
        [received] = sink.wait_for_jobs(1)
    assert "sent to the printer" in text
    assert received.complete and received.sha256 == hashlib.sha256(DOCUMENT).hexdigest()
    assert "JBudget 2027.xlsx" in received.control_lines and "Palice" in received.control_lines
    assert services.charges == [("j1", 35)]


def test_forced_mono_and_duplex_are_in_what_a_raw_printer_received(tmp_path):
    forced = (ForcedChangeView("mono", "rule 'Mono only'"), ForcedChangeView("duplex", "rule 'Save paper'"))
    with RawSink() as sink:
        services, text = _journey(tmp_path, PrinterTarget("raw", "127.0.0.1", sink.port),
                                  [(held("j1", "Budget", forced), DOCUMENT, ForcedChanges(mono=True, duplex=True))],
                                  "release-raw-forced")
        [received] = sink.wait_for_jobs(1)
    assert "sent to the printer" in text
    assert (b"@PJL SET RENDERMODE=GRAYSCALE\r\n@PJL SET DUPLEX=ON\r\n@PJL SET BINDING=LONGEDGE\r\n"
            b"@PJL ENTER LANGUAGE=PCL\r\n") in received.data
    assert services.charges == [("j1", 35)]


def test_a_printer_that_is_down_leaves_the_job_held_shows_why_and_charges_nothing(tmp_path):
    services, text = _journey(tmp_path, PrinterTarget("lpd", "127.0.0.1", unused_port()),
                              [(held("j1", "Budget"), DOCUMENT, ForcedChanges())], "release-printer-down")
    assert "The printer could not be reached. Nothing was charged." in text
    assert services.charges == [] and [j.job_id for j in services.jobs[ALICE.user_id]] == ["j1"]
    assert services.outcomes[0].kind == "refused" and services.outcomes[0].attempts == 2


def test_a_printer_that_takes_half_the_bytes_then_closes_is_not_a_release(tmp_path):
    big = DOCUMENT * 8
    with RawSink(close_after=len(big) // 2, receive_buffer=65536) as sink:
        services, text = _journey(tmp_path, PrinterTarget("raw", "127.0.0.1", sink.port),
                                  [(held("j1", "Budget"), big, ForcedChanges())], "release-half-then-close")
    assert "stopped receiving the job part way" in text and services.charges == []
    assert services.outcomes[0].kind == "connection-lost"


def _journey(tmp_path, target, jobs, screenshot_name):
    spool = SpoolStore.open(tmp_path / "data", max_job_size=1 << 30)
    services = None

    def make_services(reactor):
        nonlocal services
        services = ForwardingPanelServicesTestDouble(spool, reactor, {"mfp-regular": target})
        services.jobs = {ALICE.user_id: []}
        for job, data, forced in jobs:
            services.hold(job, data, forced)
        return services

    with panel_server(make_services, tmp_path / "release") as server:
        signer = DeviceRequestSigner("mfp-regular", services.devices["mfp-regular"][0])
        with chromium("800x480", device_signer=signer, artifacts=ARTIFACTS / "release") as browser:
            page = browser.page
            page.goto(server.url + "/panel/launch")
            page.fill("#card_number", "04A1B2C3")
            page.press("#card_number", "Enter")
            page.wait_for_url("**/panel/jobs")
            text = release_everything(browser, screenshot_name)
    return services, text
