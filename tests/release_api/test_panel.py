"""The panel's HTTP flow over an in-memory transport, with the services TEST DOUBLE."""
import re
from urllib.parse import urlencode

import pytest
from twisted.internet import defer
from twisted.internet.testing import StringTransport

from release_api.device_auth import DeviceRequestSigner, DeviceRequestVerifier
from release_api.panel import DeviceCookies
from release_api.server import build_site
from release_api.sessions import PanelSessions
from tests.release_api.panel_http import InMemoryPanelBrowser
from tests.release_api.panel_test_double import InMemoryPanelServicesTestDouble


class Clock:
    now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def world():
    clock = Clock()
    services = InMemoryPanelServicesTestDouble()
    site, panel = build_site(services, sessions=PanelSessions(clock=clock, idle_timeout=60),
                             verifier=DeviceRequestVerifier(services.device_secret, clock=clock),
                             device_cookies=DeviceCookies(b"k" * 32, clock=clock))

    def browser(device="mfp-regular", signed=True):
        secret = services.devices[device][0] if device in services.devices else b"x"
        return InMemoryPanelBrowser(site, DeviceRequestSigner(device, secret, clock=clock) if signed else None)

    return clock, services, browser


def csrf_of(response):
    return re.search(r'name="csrf" value="([^"]+)"', response.body).group(1)


def press(browser, csrf, keys):
    """Press each key of ``keys`` (digits, or the words ``ok``/``back``/``clear``); the last page."""
    page = None
    for key in keys:
        page = browser.post("/panel/pin", {"csrf": csrf, "key": key})
    return page


def pin_login(browser, csrf, user_number, pin):
    """The user number, OK, the PIN, OK: the response to the last OK."""
    return press(browser, csrf, [*user_number, "ok", *pin, "ok"])


def card_login(browser, card="04A1B2C3"):
    idle = browser.get("/panel/")
    return browser.post("/panel/card", {"csrf": csrf_of(idle), "card_number": card})


def test_an_unsigned_request_without_a_device_cookie_is_sent_to_the_signed_launch(world):
    _, _, browser = world
    response = browser(signed=False).get("/panel/")
    assert response.status == 303 and response.header("location") == "/panel/launch"
    assert "csrf" not in response.body


def test_an_unsigned_launch_gets_nothing_but_an_error(world):
    _, _, browser = world
    response = browser(signed=False).get("/panel/launch")
    assert response.status == 401 and "not registered" in response.body and "csrf" not in response.body


def test_an_unregistered_device_is_refused(world):
    _, _, browser = world
    response = browser("mfp-stranger").get("/panel/")
    assert response.status == 401 and "Printer not recognised" in response.body


def test_a_replayed_signed_request_is_refused(world):
    _, _, browser = world
    b = browser()
    assert b.get("/panel/").status == 200
    assert b.get("/panel/", authorization=b.last_authorization).status == 401


def test_the_idle_screen_is_sized_for_the_device_and_has_the_login_choices(world):
    _, _, browser = world
    response = browser("mfp-small").get("/panel/")
    assert response.status == 200
    assert 'class="screen-compact page-idle"' in response.body
    assert 'name="card_number"' in response.body and 'href="/panel/pin"' in response.body
    assert response.header("cache-control") == "no-store"
    assert "default-src 'none'" in response.header("content-security-policy")


def test_launch_gives_a_device_cookie_that_later_unsigned_requests_use(world):
    _, services, browser = world
    b = browser()
    launched = b.get("/panel/launch")
    assert launched.status == 303 and "pg_device" in b.cookies
    b.signer = None
    assert b.get("/panel/").status == 200
    services.revoked.add("mfp-regular")
    assert b.get("/panel/").status == 401


def test_launch_itself_needs_a_signature(world):
    _, _, browser = world
    b = browser()
    b.get("/panel/launch")
    b.signer = None
    assert b.get("/panel/launch").status == 401


def test_a_card_tap_logs_in_rotates_the_session_and_lists_the_jobs(world):
    _, _, browser = world
    b = browser()
    idle = b.get("/panel/")
    anonymous = b.cookies["pg_panel"]
    response = b.post("/panel/card", {"csrf": csrf_of(idle), "card_number": "04A1B2C3"})
    assert response.status == 303 and response.header("location") == "/panel/jobs"
    assert b.cookies["pg_panel"] != anonymous
    jobs = b.get("/panel/jobs")
    assert jobs.status == 200
    assert "Alice Example" in jobs.body and "€12.50" in jobs.body
    assert "Poster &lt;A3&gt; &amp; friends" in jobs.body  # autoescaped
    assert re.search(r'value="j3" disabled', jobs.body)
    assert "rule &#39;Save paper&#39;: jobs over 10 pages" in jobs.body
    assert "Prints in mono here" in jobs.body and "€2.40" in jobs.body
    assert 'content="60;url=/panel/logout?why=idle"' in jobs.body


def test_a_form_without_the_sessions_csrf_token_is_refused(world):
    _, _, browser = world
    b = browser()
    b.get("/panel/")
    response = b.post("/panel/card", {"csrf": "forged", "card_number": "04A1B2C3"})
    assert response.status == 403


def test_the_pin_pad_collects_digits_server_side_and_logs_in(world):
    _, _, browser = world
    b = browser()
    csrf = csrf_of(b.get("/panel/pin"))
    page = press(b, csrf, ["7", "ok"])
    assert "User 7: your PIN" in page.body
    page = press(b, csrf, "2469")
    assert page.body.count("●") == 4 and "2469" not in page.body
    press(b, csrf, ["back", "8"])
    response = press(b, csrf, ["ok"])
    assert response.status == 303 and response.header("location") == "/panel/jobs"


def test_a_pin_of_twelve_digits_reaches_the_services_whole(world):
    _, services, browser = world
    services.pins[("7", "135792468024")] = services.pins[("7", "2468")]
    b = browser()
    response = pin_login(b, csrf_of(b.get("/panel/pin")), "7", "135792468024")
    assert response.status == 303 and response.header("location") == "/panel/jobs"


def test_back_on_an_empty_pin_returns_to_the_user_number(world):
    _, _, browser = world
    b = browser()
    csrf = csrf_of(b.get("/panel/pin"))
    page = press(b, csrf, ["9", "ok", "back"])
    assert "Your user number" in page.body and ">9<" in page.body
    press(b, csrf, ["back", "7"])
    response = press(b, csrf, ["ok", *"2468", "ok"])
    assert response.status == 303


def test_ok_without_a_user_number_is_a_bad_request(world):
    _, _, browser = world
    b = browser()
    assert press(b, csrf_of(b.get("/panel/pin")), ["ok"]).status == 400


def test_a_wrong_pin_is_refused_and_points_back_to_the_pad(world):
    _, _, browser = world
    b = browser()
    response = pin_login(b, csrf_of(b.get("/panel/pin")), "7", "0000")
    assert response.status == 401 and 'href="/panel/pin"' in response.body


def test_a_locked_out_device_gets_429_with_retry_after(world):
    _, services, browser = world
    services.locked.add("mfp-regular")
    response = card_login(browser())
    assert response.status == 429 and response.header("retry-after") == "120"


def test_an_unknown_card_is_linked_after_one_password_login(world):
    _, services, browser = world
    b = browser()
    page = card_login(b, "NEWCARD77")
    assert page.status == 200 and 'action="/panel/link"' in page.body and "New card" in page.body
    response = b.post("/panel/link", {"csrf": csrf_of(page), "username": "alice", "password": "correct horse"})
    assert response.status == 303 and services.linked == [("NEWCARD77", "alice", "mfp-regular")]
    b.post("/panel/logout", {"csrf": csrf_of(b.get("/panel/jobs"))})
    assert card_login(b, "NEWCARD77").header("location") == "/panel/jobs"


def test_username_and_password_log_in(world):
    _, _, browser = world
    b = browser()
    csrf = csrf_of(b.get("/panel/password"))
    assert b.post("/panel/password", {"csrf": csrf, "username": "bob", "password": "pw"}).status == 303
    jobs = b.get("/panel/jobs")
    assert "No jobs are waiting for you." in jobs.body and "-€0.30" in jobs.body


def test_releasing_selected_jobs_shows_what_printed_and_what_did_not(world):
    _, services, browser = world
    services.failing_jobs["j2"] = "The printer closed the connection after 4096 bytes"
    b = browser()
    card_login(b)
    csrf = csrf_of(b.get("/panel/jobs"))
    response = b.post("/panel/jobs", {"csrf": csrf, "action": "release", "job": ["j1", "j2"]})
    assert response.status == 303 and response.header("location") == "/panel/result"
    result = b.get("/panel/result")
    assert "1 of 2 could not be printed" in result.body
    assert "sent to the printer" in result.body and "after 4096 bytes" in result.body
    assert services.released == [("j1", "mfp-regular")]


def test_release_all_sends_only_what_this_device_can_print(world):
    _, services, browser = world
    b = browser()
    card_login(b)
    b.post("/panel/jobs", {"csrf": csrf_of(b.get("/panel/jobs")), "action": "release_all"})
    assert [job for job, _ in services.released] == ["j1", "j2", "j4"]


def test_releasing_nothing_asks_for_a_selection(world):
    _, _, browser = world
    b = browser()
    card_login(b)
    page = b.post("/panel/jobs", {"csrf": csrf_of(b.get("/panel/jobs")), "action": "release"})
    assert page.status == 200 and "Select at least one job first." in page.body


def test_a_job_that_is_not_the_users_is_not_found(world):
    _, _, browser = world
    b = browser()
    card_login(b)
    page = b.post("/panel/jobs", {"csrf": csrf_of(b.get("/panel/jobs")), "action": "release", "job": "someone-elses"})
    assert page.status == 404


def test_a_double_tap_while_a_release_is_running_prints_once(world):
    _, services, browser = world
    services.deferred_release = defer.Deferred()
    b = browser()
    card_login(b)
    csrf = csrf_of(b.get("/panel/jobs"))
    form = {"csrf": csrf, "action": "release", "job": "j1"}
    body = urlencode(form).encode()
    raw = (f"POST /panel/jobs HTTP/1.0\r\nContent-Length: {len(body)}\r\n"
           f"Content-Type: application/x-www-form-urlencoded\r\nCookie: pg_panel={b.cookies['pg_panel']}\r\n"
           f"Authorization: {b.signer.authorization('POST', '/panel/jobs', body)}\r\n\r\n").encode() + body
    protocol = b.site.buildProtocol(None)
    pending = StringTransport()
    protocol.makeConnection(pending)
    protocol.dataReceived(raw)
    assert pending.value() == b""  # still releasing
    second = b.post("/panel/jobs", form)
    assert second.status == 409
    services.deferred_release.callback(None)
    assert pending.value().startswith(b"HTTP/1.0 303") and services.released == [("j1", "mfp-regular")]


def test_a_session_is_bound_to_its_device(world):
    _, services, browser = world
    alice = browser("mfp-regular")
    card_login(alice)
    thief = browser("mfp-roomy")
    thief.cookies = dict(alice.cookies)
    response = thief.get("/panel/jobs")
    assert response.status == 303 and response.header("location") == "/panel/?why=expired"


def test_a_minute_without_activity_ends_the_session(world):
    clock, _, browser = world
    b = browser()
    card_login(b)
    clock.now += 59
    assert b.get("/panel/jobs").status == 200
    clock.now += 61
    response = b.get("/panel/jobs")
    assert response.header("location") == "/panel/?why=expired"
    assert "logged out" in b.get("/panel/?why=idle").body


def test_logout_ends_the_session(world):
    _, _, browser = world
    b = browser()
    card_login(b)
    page = b.post("/panel/logout", {"csrf": csrf_of(b.get("/panel/jobs"))})
    assert page.status == 200 and "You are logged out" in page.body
    assert b.get("/panel/jobs").header("location") == "/panel/?why=expired"


def test_an_oversized_body_is_refused(world):
    _, _, browser = world
    b = browser()
    response = b.post("/panel/card", None, raw_body=b"x=" + b"a" * 20000)
    assert response.status == 413


def test_unknown_pages_are_404_and_the_stylesheet_needs_no_device(world):
    _, _, browser = world
    assert browser().get("/panel/nope").status == 404
    css = browser(signed=False).get("/panel/static/panel.css")
    assert css.status == 200 and css.header("content-type").startswith("text/css")


def test_twenty_wrong_pins_at_a_device_lock_it_for_a_while(world):
    clock, _, browser = world
    b = browser()
    for attempt in range(20):
        assert pin_login(b, csrf_of(b.get("/panel/pin")), "7", "9").status == 401
    locked = pin_login(b, csrf_of(b.get("/panel/pin")), "7", "2468")
    assert locked.status == 429
    assert browser("mfp-roomy").post("/panel/card", {"csrf": csrf_of(browser("mfp-roomy").get("/panel/")),
                                                    "card_number": "x"}).status != 429
