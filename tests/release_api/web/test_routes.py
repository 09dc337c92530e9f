"""Every route of the web pages, taken from the router's own table, opened anonymously
and as each role (user, finance, admin), checked against the role table of issue 16:
admin everything; finance money, ledger, audit, reports, and reading the admin pages;
a user their own pages; nobody anything without logging in but the login pages."""
from __future__ import annotations

import re

import pytest

from tests.fixtures.web import csrf_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EVERYONE = frozenset({"user", "finance", "admin"})
STAFF = frozenset({"finance", "admin"})
ADMIN = frozenset({"admin"})
ANYONE = "anyone"


def who_may(path: str, method: str):
    """The issue's role table, written out independently of the code's access levels."""
    if path.startswith("/login") or path in ("/static/web.css", "/"):
        return ANYONE  # "/": a plain page saying what the server is, for anyone not logged in
    if path.startswith("/me/") or path == "/logout":
        return EVERYONE
    if path.startswith("/finance/"):
        return STAFF
    if path in ("/admin/access-log", "/admin/settings"):
        return ADMIN
    if path.startswith("/admin/"):
        return STAFF if method == "GET" else ADMIN
    raise AssertionError(f"{method} {path} is not in the role table: add it there first")


def concrete(rule: str, world) -> str:
    values = {"job_id": str(world.bob_job), "username": "carol", "name": "carol"}
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule)


def routes(world):
    found = []
    for rule in world.site.router.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, concrete(rule.rule, world), rule.rule))
    # Logging out ends the session: last.
    return sorted(found, key=lambda r: (r[1] in ("/logout",), r[1], r[0]))


def test_the_route_table_is_the_one_the_server_uses(world):
    paths = {rule.rule for rule in world.site.router.url_map.iter_rules()}
    assert {"/login", "/me/jobs", "/admin/users", "/finance/accounts", "/admin/access-log"} <= paths
    assert len(paths) > 30


def test_no_route_is_a_setup_or_first_run_page(world):
    for rule in world.site.router.url_map.iter_rules():
        assert not re.search(r"setup|install|first|bootstrap|init", rule.rule), rule.rule


def _ask(http, world, method, path):
    if method == "GET":
        return http.get(world.url + path, allow_redirects=False)
    # The form's token, as a browser has it: from a page of the person's own, or the login page.
    page = http.get(world.url + "/me/cards", allow_redirects=False)
    token = csrf_of(page.text if page.status_code == 200 else http.get(world.url + "/login").text)
    return http.post(world.url + path, data={"csrf": token}, allow_redirects=False)


def test_anonymous_visitors_reach_only_the_login_pages(world):
    for method, path, rule in routes(world):
        http = world.browser_session()
        answer = _ask(http, world, method, path)
        if who_may(rule, method) == ANYONE:
            assert answer.status_code in (200, 303, 401, 404), (method, path, answer.status_code)
            continue
        if method == "GET":
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login?next="), (method, path)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)


@pytest.mark.parametrize("role, person", [("user", "bob"), ("finance", "fay"), ("admin", "ana")])
def test_each_role_reaches_what_the_table_allows_and_nothing_else(world, role, person):
    http = world.session(person)
    for method, path, rule in routes(world):
        allowed = who_may(rule, method)
        answer = _ask(http, world, method, path)
        if allowed == ANYONE:
            assert answer.status_code not in (403, 500), (role, method, path, answer.status_code)
        elif path == "/logout":
            assert answer.status_code == 303 and answer.headers["location"] == "/login"
        elif role in allowed:
            assert answer.status_code != 403, (role, method, path)
            assert not answer.headers.get("location", "").startswith("/login"), (role, method, path)
            assert answer.status_code < 500, (role, method, path, answer.text[:300])
        else:
            assert answer.status_code == 403, (role, method, path, answer.status_code)
            assert "Not for you" in answer.text


def test_the_start_page_says_what_the_server_is_to_a_visitor_and_shows_no_data(world):
    page = world.browser_session().get(world.url + "/", allow_redirects=False)
    assert page.status_code == 200
    assert "Printgate print gateway" in page.text and 'href="/login"' in page.text and "/panel/launch" in page.text
    for private in ("bob", "Quarterly report", "Ana Admin"):
        assert private not in page.text


@pytest.mark.parametrize("person, home", [("bob", "/me/jobs"), ("fay", "/finance/"), ("ana", "/admin/")])
def test_the_start_page_sends_a_signed_in_person_to_their_own_pages(world, person, home):
    answer = world.session(person).get(world.url + "/", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == home
