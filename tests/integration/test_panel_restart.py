"""Panels survive a gateway restart (issue 14.8): the device cookie key is kept, encrypted,
in the data directory; a cookie made with a key since rotated sends the panel back to its
signed launch instead of "Printer not recognised". Headless Chromium as the panel, a real
gateway process."""
from contextlib import contextmanager

import pytest

from tests.fixtures.browser import ARTIFACTS, chromium
from tests.fixtures.printer_sinks import LpdSink
from tests.release_api.release_peers import release_gateway

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SHOTS = ARTIFACTS / "panel-restart"


@contextmanager
def launched_panel(tmp_path):
    """A gateway, and Chromium as one of its printers' panels, launched: (gateway, browser)."""
    with LpdSink() as sink, \
            release_gateway(tmp_path, protocol="lpd", endpoint=f"127.0.0.1:{sink.port}/floor3") as gateway:
        with chromium("800x480", device_signer=gateway.signer(), artifacts=SHOTS, timeout_ms=30_000) as browser:
            browser.page.goto(gateway.panel_url + "/panel/launch")
            assert browser.page.locator("#card_number").count() == 1
            yield gateway, browser


def test_a_panel_launched_before_a_restart_still_works_after_it(tmp_path):
    with launched_panel(tmp_path) as (gateway, browser):
        page = browser.page
        gateway.process.stop()
        gateway.process.start()
        signed = []
        browser.context.on("request", lambda request: signed.append(request.url)
                           if "/panel/launch" in request.url else None)
        page.goto(gateway.panel_url + "/panel/")
        browser.screenshot("after-restart")
        assert "Printer not recognised" not in page.content()
        assert page.locator("#card_number").count() == 1
        assert signed == []  # the cookie from before the restart was enough


def test_after_a_key_rotation_a_panel_signs_its_launch_again_and_carries_on(tmp_path):
    with launched_panel(tmp_path) as (gateway, browser):
        page = browser.page
        rotated = gateway.process.cli("devices", "rotate-cookie-key")
        assert "replaced" in rotated.stdout
        gateway.process.stop()
        gateway.process.start()
        page.goto(gateway.panel_url + "/panel/")
        browser.screenshot("after-rotation")
        assert page.url.endswith("/panel/")
        assert "Printer not recognised" not in page.content()
        page.fill("#card_number", "04A1B2C3")
        page.press("#card_number", "Enter")
        page.wait_for_url("**/panel/jobs")
