"""What must not happen at the printer, against a real gateway process on loopback:
an unregistered, revoked or replaying device gets nothing; wrong PINs lock the user out
(audited, at every printer); a printer that is down, or that takes half the job and
hangs up, leaves the job held and charges nothing; a double release prints once."""
import base64
import hashlib
import json
import threading

import pytest

from release_api.device_auth import DeviceRequestSigner
from tests.fixtures.browser import ARTIFACTS, chromium
from tests.fixtures.printer_sinks import LpdSink, RawSink, unused_port
from tests.release_api.release_peers import (
    CARD, HttpsPanelClient, ippeveprinter, log_in_at_panel, make_postscript, print_with_cups_lpd, release_gateway,
    set_pin, user_id_of,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SHOTS = ARTIFACTS / "release-e2e"


def big_postscript(path, size: int = 4 << 20) -> bytes:
    """A valid one-page PostScript job of ``size`` bytes (comment padding)."""
    head = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\n"
    tail = b"/Helvetica findfont 20 scalefont setfont 72 700 moveto (big) show showpage\n%%EOF\n"
    line = b"% " + b"x" * 77 + b"\n"
    data = head + line * ((size - len(head) - len(tail)) // len(line)) + tail
    path.write_bytes(data)
    return data


def release_in_browser(gateway, name):
    with chromium("800x480", device_signer=gateway.signer(), artifacts=SHOTS, timeout_ms=30_000) as browser:
        page = log_in_at_panel(browser, gateway)
        page.click("#action-release_all")
        page.wait_for_url("**/panel/result")
        browser.screenshot(name)
        return page.locator("#results").inner_text()


@pytest.fixture
def lpd_printer_gateway(tmp_path):
    with LpdSink() as sink, \
            release_gateway(tmp_path, protocol="lpd", endpoint=f"127.0.0.1:{sink.port}/floor3") as gateway:
        yield sink, gateway


def test_an_unregistered_device_gets_only_an_error(lpd_printer_gateway):
    _, gateway = lpd_printer_gateway
    stranger = HttpsPanelClient(gateway.panel_url, DeviceRequestSigner("mfp-ghost", b"guessed-secret-0123456789"))
    status, _, html = stranger.request("GET", "/panel/launch")
    assert status == 401 and "Printer not recognised" in html and "pg_device" not in stranger.cookies
    impostor = HttpsPanelClient(gateway.panel_url, DeviceRequestSigner(gateway.device_id, b"wrong-secret-0123456789"))
    assert impostor.request("GET", "/panel/")[0] == 401
    unsigned = HttpsPanelClient(gateway.panel_url, None)
    status, headers, _ = unsigned.request("GET", "/panel/")
    assert status == 303 and headers["location"] == "/panel/launch"  # where only a signed launch gets in
    assert unsigned.request("GET", "/panel/launch")[0] == 401


def test_a_revoked_device_is_refused_at_its_next_request(lpd_printer_gateway):
    _, gateway = lpd_printer_gateway
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    assert panel.request("GET", "/panel/")[0] == 200
    gateway.process.cli("devices", "revoke", gateway.device_id)
    status, _, html = panel.request("GET", "/panel/")
    assert status == 401 and "Printer not recognised" in html


def test_a_replayed_signed_request_is_refused(lpd_printer_gateway):
    _, gateway = lpd_printer_gateway
    panel = HttpsPanelClient(gateway.panel_url, None)
    authorization = gateway.signer().authorization("GET", "/panel/")
    assert panel.request("GET", "/panel/", authorization=authorization)[0] == 200
    status, _, html = panel.request("GET", "/panel/", authorization=authorization)
    assert status == 401 and "Printer not recognised" in html


def test_wrong_pins_lock_the_user_out_at_that_printer_only_and_are_audited(lpd_printer_gateway):
    _, gateway = lpd_printer_gateway
    set_pin(gateway, "alice", "2468")
    number = str(user_id_of(gateway, "alice"))
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    assert panel.request("GET", "/panel/")[0] == 200
    for _ in range(5):
        status, _, html = panel.enter_pin(number, "1111")
        assert status == 401 and "Login failed" in html
    status, headers, html = panel.enter_pin(number, "2468")
    assert status == 429 and "Too many attempts" in html and int(headers["retry-after"]) > 0
    # Someone guessing at one printer does not lock the user out at the others (issue 20.9).
    other = gateway.process.cli("devices", "add", "mfp-2f", "--protocol", "raw", "--endpoint", "127.0.0.1:9",
                                "--json").stdout
    registered = json.loads(other)
    elsewhere = HttpsPanelClient(gateway.panel_url, DeviceRequestSigner(
        "mfp-2f", base64.urlsafe_b64decode(registered["secret"])))
    assert elsewhere.request("GET", "/panel/")[0] == 200
    status, headers, _ = elsewhere.enter_pin(number, "2468")
    assert status == 303 and headers["location"] == "/panel/jobs"
    actions = gateway.audit_actions()
    assert actions.count("login.pin.fail") == 5 and actions.count("login.pin.ok") == 1


def test_a_correct_pin_logs_in_and_lists_the_jobs(lpd_printer_gateway, tmp_path):
    _, gateway = lpd_printer_gateway
    set_pin(gateway, "alice", "2468")
    make_postscript(tmp_path / "doc.ps", pages=1)
    print_with_cups_lpd(gateway.lpd_port, tmp_path / "doc.ps", title="Minutes")
    gateway.wait_for_held()
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    status, headers, _ = panel.enter_pin(str(user_id_of(gateway, "alice")), "2468")
    assert status == 303 and headers["location"] == "/panel/jobs"
    status, _, html = panel.request("GET", "/panel/jobs")
    assert status == 200 and "Minutes" in html and "Alice Example" in html


def test_a_pin_of_any_length_users_set_pin_accepts_logs_in_at_the_panel(lpd_printer_gateway):
    _, gateway = lpd_printer_gateway
    number = str(user_id_of(gateway, "alice"))
    for pin in ("24681357", "135792468024"):
        set_pin(gateway, "alice", pin)
        panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
        status, headers, _ = panel.enter_pin(number, pin)
        assert status == 303 and headers["location"] == "/panel/jobs", pin


def test_a_printer_that_is_down_leaves_the_job_held_and_charges_nothing(tmp_path):
    make_postscript(tmp_path / "doc.ps", pages=1)
    with release_gateway(tmp_path, protocol="lpd", endpoint=f"127.0.0.1:{unused_port()}/floor3") as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "doc.ps", title="Minutes")
        [job] = gateway.wait_for_held()
        result = release_in_browser(gateway, "fault-printer-down")
        assert "The printer could not be reached. Nothing was charged." in result
        assert [j["id"] for j in gateway.jobs()] == [job["id"]]
        assert gateway.job(job["id"])["state"] == "held" and gateway.charges() == []
        assert "release.fail" in gateway.audit_actions()


def test_a_printer_that_takes_half_the_job_and_hangs_up_charges_nothing(tmp_path):
    data = big_postscript(tmp_path / "big.ps")
    with RawSink(close_after=len(data) // 2, receive_buffer=65536) as sink, \
            release_gateway(tmp_path, protocol="raw", endpoint=f"127.0.0.1:{sink.port}") as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "big.ps", title="Big poster")
        [job] = gateway.wait_for_held()
        result = release_in_browser(gateway, "fault-half-then-close")
        assert "stopped receiving the job part way" in result and "Nothing was charged" in result
        assert gateway.job(job["id"])["state"] == "held" and gateway.charges() == []
        [partial] = sink.wait_for_jobs(1)
        assert len(partial.data) < len(data)


def test_a_double_release_prints_and_charges_once(lpd_printer_gateway, tmp_path):
    sink, gateway = lpd_printer_gateway
    data = big_postscript(tmp_path / "big.ps", size=8 << 20)
    print_with_cups_lpd(gateway.lpd_port, tmp_path / "big.ps", title="Annual report")
    [job] = gateway.wait_for_held()
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    status, _, _ = panel.card_login()
    assert status == 303
    status, _, html = panel.request("GET", "/panel/jobs")
    form = {"csrf": panel.csrf(html), "action": "release", "job": str(job["id"])}
    statuses = []

    def tap():
        twin = HttpsPanelClient(gateway.panel_url, gateway.signer())
        twin.cookies = dict(panel.cookies)
        statuses.append(twin.request("POST", "/panel/jobs", form)[0])

    taps = [threading.Thread(target=tap) for _ in range(2)]
    for t in taps:
        t.start()
    for t in taps:
        t.join(60)
    # A third, late retry of the same request, after the job was printed.
    statuses.append(panel.request("POST", "/panel/jobs", form)[0])
    assert statuses.count(303) == 1 and statuses[-1] == 404, statuses
    assert set(statuses) <= {303, 404, 409}, statuses
    [received] = sink.wait_for_jobs(1)
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert sink.connections == 1
    assert [c["job_id"] for c in gateway.charges()] == [job["id"]]


def test_an_ipp_printer_that_is_down_leaves_the_job_held_and_charges_nothing(tmp_path):
    make_postscript(tmp_path / "doc.ps", pages=1)
    endpoint = f"ipp://127.0.0.1:{unused_port()}/ipp/print"
    with release_gateway(tmp_path, protocol="ipp", endpoint=endpoint) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "doc.ps", title="Minutes")
        [job] = gateway.wait_for_held()
        panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
        assert panel.card_login()[0] == 303
        status, _, html = panel.request("GET", "/panel/jobs")
        status, headers, _ = panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(html), "action": "release_all"})
        assert status == 303 and headers["location"] == "/panel/result"
        status, _, html = panel.request("GET", "/panel/result")
        assert "The printer could not be reached. Nothing was charged." in html
        assert gateway.job(job["id"])["state"] == "held" and gateway.charges() == []


def test_an_ipp_printer_that_cannot_do_a_forced_duplex_gets_nothing_and_nothing_is_charged(tmp_path):
    make_postscript(tmp_path / "draft.ps", pages=2)
    rules = (("Two-sided drafts", "force-duplex", {"document": "*draft*"}),)
    with ippeveprinter(tmp_path / "printer", duplex=False) as printer, \
            release_gateway(tmp_path, protocol="ipp", endpoint=printer.endpoint, rules=rules) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "draft.ps", title="Essay draft")
        [job] = gateway.wait_for_held()
        panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
        assert panel.card_login()[0] == 303
        status, _, html = panel.request("GET", "/panel/jobs")
        panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(html), "action": "release_all"})
        status, _, html = panel.request("GET", "/panel/result")
        assert "The job could not be changed as the print rules require. Nothing was charged." in html
        assert printer.documents() == [] and printer.job_environments() == []
        assert gateway.job(job["id"])["state"] == "held" and gateway.charges() == []
