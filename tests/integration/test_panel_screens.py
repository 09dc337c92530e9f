"""Every panel screen, at every panel size, in headless Chromium against the real HTTPS
release API (self-signed TLS on 127.0.0.1). Screenshots go to test-artifacts/panel/.

The services behind the panel are the in-memory TEST DOUBLE (the accounting-backed
implementation is not written yet); what is under test here is the web layer and how
its pages look and behave on a panel."""
import pytest

from release_api.device_auth import DeviceRequestSigner
from tests.fixtures.browser import ARTIFACTS, PANEL_VIEWPORTS, chromium, panel_server
from dataclasses import replace

from release_api.services import AccountChoice, Balance
from tests.release_api.panel_test_double import RECEIVED, InMemoryPanelServicesTestDouble, sample_jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

DEVICE_FOR_SIZE = {"480x272": "mfp-small", "800x480": "mfp-regular", "1024x600": "mfp-roomy"}
MIN_TARGET = {"480x272": 36, "800x480": 44, "1024x600": 48}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    services = InMemoryPanelServicesTestDouble()
    services.failing_jobs["j2"] = "The printer closed the connection after 4,096 bytes; nothing was charged"
    with panel_server(services, tmp_path_factory.mktemp("release-data")) as running:
        yield running


@pytest.mark.parametrize("size", list(PANEL_VIEWPORTS))
def test_every_screen_renders_touch_sized_and_uncut(server, size):
    device = DEVICE_FOR_SIZE[size]
    secret = server.services.devices[device][0]
    problems = {}

    def fresh_jobs():
        jobs = sample_jobs()
        server.services.jobs["u1"] = jobs + [
            replace(jobs[0], job_id="j5", title="Poster run", needs_confirmation="This job costs €42.00. Confirm at "
                    "the printer to print it.", needs_shared_account=True)]
        server.services.balances["u1"] = Balance(1250, "EUR")
        server.services.accounts["u1"] = [(AccountChoice("cc-4711", "Cost centre 4711 — Marketing", True), "9876"),
                                          (AccountChoice("project-x", "Project X"), None)]
        server.services.unclaimed = [replace(jobs[1], job_id="j9", title="Scan to print", origin="10.0.3.44",
                                             received_at=RECEIVED)]

    server.reactor_thread.call(fresh_jobs)
    with chromium(size, device_signer=DeviceRequestSigner(device, secret),
                  artifacts=ARTIFACTS / "panel") as browser:
        page = browser.page

        def check(name):
            browser.screenshot(name)
            found = browser.layout_problems(MIN_TARGET[size])
            if found:
                problems[name] = found

        page.goto(server.url + "/panel/launch")
        assert page.locator("#card_number").is_visible()
        check("01-idle")

        page.click("#login-pin")
        page.click("#key-4")
        check("02-pin-number")
        page.click("#pin-ok")
        for key in "24":
            page.click(f"#key-{key}")
        assert page.locator("#pin-display").inner_text().count("●") == 2
        check("02-pin")
        page.click("#key-clear")
        page.click("#key-1")
        page.click("#pin-ok")
        for key in "0000":
            page.click(f"#key-{key}")
        page.click("#pin-ok")
        assert page.locator("#error-title").inner_text() == "Login failed"
        check("03-error-wrong-pin")

        page.goto(server.url + "/panel/password")
        check("04-password")

        page.goto(server.url + "/panel/")
        page.fill("#card_number", f"NEW{size.replace('x', '')}")
        page.click("#card-login")
        assert "New card" in page.content()
        check("05-link-card")

        page.goto(server.url + "/panel/")
        page.fill("#card_number", "04A1B2C3")
        page.press("#card_number", "Enter")  # a card reader types the number and Enter
        page.wait_for_url("**/panel/jobs")
        assert page.locator("#balance").is_visible()
        assert page.locator("#job-j3 input").is_disabled()
        page.click("#job-j1")
        page.click("#job-j2")
        check("06-jobs")

        page.click("#action-release")
        page.wait_for_url("**/panel/result")
        check("07-result")

        page.goto(server.url + "/panel/jobs")
        assert "To confirm: This job costs €42.00" in page.locator("#job-j5").inner_text()
        page.click("#job-j5")
        page.click("#action-release")
        assert page.locator("#confirm-print").is_visible()
        check("09-confirm-and-account")
        page.click("#account-2")
        page.click("#confirm-print")
        page.wait_for_url("**/panel/result")
        assert "sent to the printer" in page.locator("#results").inner_text()

        page.goto(server.url + "/panel/jobs")
        page.click("#unclaimed-link")
        assert "from 10.0.3.44" in page.locator("#unclaimed").inner_text()
        check("10-unclaimed")
        page.click("#unclaimed-j9")
        page.click("#claim")
        assert "1 job now yours." in page.content()
        assert page.locator("#job-j9").is_visible()

        page.goto(server.url + "/panel/result")
        page.click("#result-logout")
        assert page.locator("#goodbye").is_visible()
        check("08-logged-out")
    assert problems == {}, problems
    assert server.services.charged_to[-1] == ("j5", "project-x") and "j5" in server.services.confirmed
    for name in ("01-idle", "02-pin", "06-jobs", "07-result"):
        assert (ARTIFACTS / "panel" / f"{name}-{size}.png").stat().st_size > 2000


def test_a_missing_chromium_fails_the_test_naming_the_package(monkeypatch):
    import tests.fixtures.browser as browser_fixture

    monkeypatch.setattr(browser_fixture, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y --no-install-recommends chromium"):
        browser_fixture.require_chromium()
