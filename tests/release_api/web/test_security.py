"""The web pages' defences, over HTTPS against the served site: CSRF, security headers,
cookie flags, session fixation, sessions ended by a privilege change or a disabled
account, one answer for every failed login, throttling, and the second factor."""
from __future__ import annotations

import re

import pyotp
import pytest

from release_api.web.sessions import WebSessions
from tests.fixtures.web import PASSWORD, csrf_of, web_world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(world):
    http = world.session("carol")
    before = world.core.users.get_user("carol").has_pin
    answer = http.post(world.url + "/me/pin", data={"pin": "1357", "pin_again": "1357", "password": PASSWORD},
                       allow_redirects=False)
    assert answer.status_code == 403
    assert world.core.users.get_user("carol").has_pin == before
    wrong = http.post(world.url + "/me/pin", data={"csrf": "not-the-token", "pin": "1357", "pin_again": "1357",
                                                   "password": PASSWORD}, allow_redirects=False)
    assert wrong.status_code == 403


def test_a_form_posted_with_its_token_goes_through(world):
    http = world.session("carol")
    answer = world.post_form(http, "/me/cards", "/me/pin", {"pin": "1357", "pin_again": "1357",
                                                              "password": PASSWORD})
    assert answer.status_code == 200 and "PIN changed" in answer.text
    assert world.core.users.get_user("carol").has_pin


@pytest.mark.parametrize("path", ["/login", "/me/jobs", "/static/web.css", "/no/such/page", "/admin/users"])
def test_every_answer_carries_the_security_headers(world, path):
    answer = world.browser_session().get(world.url + path, allow_redirects=False)
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_pages_load_nothing_from_elsewhere_and_carry_no_script(world):
    http = world.session("ana")
    for path in ("/login", "/admin/", "/admin/users", "/me/history"):
        html = http.get(world.url + path).text
        assert "<script" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html), path


def test_the_session_cookie_is_host_only_secure_httponly_and_strict(world):
    answer = world.browser_session().get(world.url + "/login")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-pg_web=")
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie


def test_a_session_id_known_before_login_is_worthless_after_it(world):
    """Session fixation: the attacker knows (or planted) the anonymous session's token
    the victim logs in with; after the login that token opens nothing."""
    victim = world.browser_session()
    page = victim.get(world.url + "/login")
    planted = victim.cookies.get("__Host-pg_web")
    victim.post(world.url + "/login", data={"csrf": csrf_of(page.text), "username": "bob", "password": PASSWORD})
    assert victim.get(world.url + "/me/jobs").status_code == 200
    assert victim.cookies.get("__Host-pg_web") != planted
    attacker = world.browser_session()
    answer = attacker.get(world.url + "/me/jobs", headers={"Cookie": f"__Host-pg_web={planted}"},
                          allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_made_up_session_cookie_gets_nowhere(world):
    http = world.browser_session()
    answer = http.get(world.url + "/me/jobs", headers={"Cookie": "__Host-pg_web=" + "A" * 43}, allow_redirects=False)
    assert answer.status_code == 303


def test_a_user_opening_admin_urls_is_refused(world):
    http = world.session("bob")
    for path in ("/admin/", "/admin/users", "/admin/settings", "/finance/ledger", "/admin/access-log"):
        answer = http.get(world.url + path, allow_redirects=False)
        assert answer.status_code == 403, path
    answer = world.post_form(http, "/me/cards", "/admin/users", {"username": "mallory"})
    assert answer.status_code == 403
    assert "mallory" not in [u.username for u in world.core.users.list_users()]


def test_someone_elses_job_is_not_found(world):
    http = world.session("carol")
    assert http.get(world.url + f"/me/history/{world.bob_job}").status_code == 404
    answer = world.post_form(http, "/me/jobs", f"/me/jobs/{world.bob_job}/delete", {})
    assert answer.status_code == 404
    assert world.core.jobs.get_job(world.bob_job).state == "held"


def test_disabling_a_person_ends_their_session_at_their_next_request(world):
    world.add_person("erin")
    http = world.session("erin")
    assert http.get(world.url + "/me/jobs").status_code == 200
    world.core.users.set_enabled("erin", False, actor="test")  # as `printgate users disable` would
    answer = http.get(world.url + "/me/jobs", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    events = world.core.lists.access(username="erin").rows
    assert events[0].event == "session-ended"


def test_revoking_a_role_ends_the_session_that_held_it(world):
    world.add_person("finn", roles=("finance",))
    http = world.session("finn")
    assert http.get(world.url + "/finance/ledger").status_code == 200
    admin = world.session("ana")
    answer = world.post_form(admin, "/admin/users/finn", "/admin/users/finn", {"action": "revoke", "role": "finance"})
    assert answer.status_code == 200
    revoked = http.get(world.url + "/finance/ledger", allow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"].startswith("/login")
    assert http.get(world.url + "/me/jobs", allow_redirects=False).status_code == 303


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(world):
    answers = []
    for username, password in (("nobody-here", "whatever1"), ("carol", "wrong password")):
        http = world.browser_session()
        page = http.get(world.url + "/login")
        answer = http.post(world.url + "/login", data={"csrf": csrf_of(page.text), "username": username,
                                                       "password": password})
        answers.append((answer.status_code, answer.text.replace(csrf_of(answer.text), "")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401
    failed = world.core.lists.access(event="login-failed").rows
    assert {"nobody-here", "carol"} <= {e.username for e in failed}
    assert all(e.address == "127.0.0.1" and e.user_agent for e in failed)


def test_logins_and_privilege_use_are_in_the_access_log(world):
    http = world.session("ana")
    world.post_form(http, "/admin/groups", "/admin/groups", {"name": "printroom"})
    events = {e.event for e in world.core.lists.access(username="ana").rows}
    assert {"login", "second-factor", "privilege"} <= events
    page = http.get(world.url + "/admin/access-log?username=ana")
    assert "privilege" in page.text and "add_group" in page.text


def test_a_totp_code_is_accepted_once(world):
    world.add_person("otto", roles=("admin",))
    world.session("otto")
    secret = world.totp_secrets["otto"]
    code = pyotp.TOTP(secret).now()
    http = world.browser_session()
    page = http.get(world.url + "/login")
    first = http.post(world.url + "/login", data={"csrf": csrf_of(page.text), "username": "otto",
                                                  "password": PASSWORD})
    assert first.url.endswith("/login/second-factor")
    # The code the enrolment used (or one just used) is refused: a code is good once.
    used = world.core.second_factors
    answer = http.post(world.url + "/login/second-factor", data={"csrf": csrf_of(first.text), "code": code})
    if answer.status_code == 200 and answer.url.endswith("/admin/"):
        pytest.fail("a TOTP code was accepted twice")
    assert answer.status_code == 401
    assert used.is_enrolled("otto")


def test_a_recovery_code_logs_in_once(world):
    world.add_person("rita", roles=("finance",))
    http = world.browser_session()
    page = http.get(world.url + "/login")
    enrol = http.post(world.url + "/login", data={"csrf": csrf_of(page.text), "username": "rita",
                                                  "password": PASSWORD})
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', enrol.text).group(1).replace(" ", "")
    codes_page = http.post(world.url + "/login/enrol", data={"csrf": csrf_of(enrol.text),
                                                             "code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", codes_page.text)
    assert len(codes) == 10
    for attempt in range(2):
        http = world.browser_session()
        page = http.get(world.url + "/login")
        step = http.post(world.url + "/login", data={"csrf": csrf_of(page.text), "username": "rita",
                                                     "password": PASSWORD})
        answer = http.post(world.url + "/login/second-factor", data={"csrf": csrf_of(step.text), "code": codes[0]})
        assert (answer.status_code, answer.url.endswith("/finance/")) == ((200, True) if attempt == 0 else (401, False))


def test_a_privileged_login_without_the_second_factor_opens_nothing(world):
    http = world.browser_session()
    page = http.get(world.url + "/login")
    http.post(world.url + "/login", data={"csrf": csrf_of(page.text), "username": "ana", "password": PASSWORD})
    for path in ("/admin/", "/me/jobs", "/finance/"):
        answer = http.get(world.url + path, allow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path


def test_repeated_failures_lock_the_account_and_the_right_password_gets_the_same_answer(tmp_path):
    with web_world(tmp_path) as w:
        w.add_person("dave")
        answers = []
        for password in ["wrong"] * 5 + [PASSWORD]:
            http = w.browser_session()
            page = http.get(w.url + "/login")
            answer = http.post(w.url + "/login", data={"csrf": csrf_of(page.text), "username": "dave",
                                                       "password": password}, allow_redirects=False)
            answers.append(answer.status_code)
        assert answers == [401] * 6
        assert [e.detail for e in w.core.lists.access(username="dave").rows][0] == "LockedOut"


def test_repeated_failures_from_one_address_lock_that_address(tmp_path):
    with web_world(tmp_path) as w:
        w.add_person("gina")
        for n in range(20):
            http = w.browser_session()
            page = http.get(w.url + "/login")
            http.post(w.url + "/login", data={"csrf": csrf_of(page.text), "username": f"guess{n}",
                                              "password": "x"})
        http = w.browser_session()
        page = http.get(w.url + "/login")
        answer = http.post(w.url + "/login", data={"csrf": csrf_of(page.text), "username": "gina",
                                                   "password": PASSWORD}, allow_redirects=False)
        assert answer.status_code == 401


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_session_ends_after_15_idle_minutes():
    clock = Clock()
    sessions = WebSessions(clock=clock)
    token, _ = sessions.open()
    clock.now += 14 * 60
    assert sessions.find(token) is not None
    clock.now += 15 * 60 + 1
    assert sessions.find(token) is None


def test_a_session_ends_after_its_absolute_lifetime_however_busy():
    clock = Clock()
    sessions = WebSessions(clock=clock, max_age=3600)
    token, _ = sessions.open()
    for _ in range(7):
        clock.now += 10 * 60
        found = sessions.find(token)
    assert found is None


def test_rotation_gives_a_new_token_and_a_new_csrf_token():
    sessions = WebSessions()
    token, old = sessions.open()
    new_token, new = sessions.rotate(old, user=None, elevated=False)
    assert new_token != token and new.csrf != old.csrf
    assert sessions.find(token) is None and sessions.find(new_token) is new
