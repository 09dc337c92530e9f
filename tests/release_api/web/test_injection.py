"""Hostile text where people's text is shown or searched: a document name carrying
script and a spreadsheet formula is shown as text on every page that shows it, and
SQL's and LIKE's metacharacters in filters are searched for literally."""
from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HOSTILE = '=HYPERLINK("http://evil.example/x","Budget")<script>alert(1)</script><img src=x onerror=alert(2)>\'"'


@pytest.fixture(scope="module")
def hostile_job(world):
    return world.hold("bob", HOSTILE)


def assert_shown_as_text(page: str, where: str):
    assert "<script>alert(1)</script>" not in page, where
    assert "<img src=x" not in page, where
    assert html.escape(HOSTILE, quote=True).replace("&#x27;", "&#39;") in page or \
        html.escape(HOSTILE, quote=False) in page or "&lt;script&gt;alert(1)&lt;/script&gt;" in page, where


def test_a_hostile_document_name_is_text_on_the_owners_pages(world, hostile_job):
    http = world.session("bob")
    for path in ("/me/jobs", "/me/history", f"/me/history/{hostile_job}"):
        page = http.get(world.url + path)
        assert page.status_code == 200
        assert_shown_as_text(page.text, path)
        assert "=HYPERLINK(" in html.unescape(page.text), path


def test_a_hostile_document_name_is_text_on_the_admin_pages(world, hostile_job):
    http = world.session("ana")
    for path in ("/admin/jobs", f"/admin/jobs/{hostile_job}", "/admin/jobs?owner=bob&state=held"):
        page = http.get(world.url + path)
        assert page.status_code == 200
        assert_shown_as_text(page.text, path)
    since = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    trial = world.post_form(http, "/admin/rules/edit", "/admin/rules/edit",
                            {"action": "test", "name": "all", "rule_action": "deny", "conditions": "{}",
                             "since": since, "enabled": "on"})
    assert trial.status_code == 200 and "would have done" in trial.text
    assert_shown_as_text(trial.text, "rule test")


def test_sql_metacharacters_in_the_job_filters_are_searched_literally(world, hostile_job):
    http = world.session("ana")
    for owner in ("' OR '1'='1", "bob' --", "bob\"; DROP TABLE jobs; --"):
        page = http.get(world.url + "/admin/jobs", params={"owner": owner})
        assert page.status_code == 200
        assert "No job matches" in page.text, owner
    assert world.core.jobs.get_job(hostile_job).title == HOSTILE
    for pattern, matches in (("%", False), ("_", False), ("HYPERLINK(\"", True), ("\\", False), ("'\"", True)):
        page = http.get(world.url + "/admin/jobs", params={"title": pattern})
        assert page.status_code == 200
        assert ("No job matches" not in page.text) == matches, pattern


def test_sql_metacharacters_in_the_user_and_audit_filters_are_searched_literally(world):
    http = world.session("ana")
    for search in ("%", "_", "' OR 1=1 --", "a%"):
        page = http.get(world.url + "/admin/users", params={"search": search})
        assert page.status_code == 200 and "No user matches" in page.text, search
    page = http.get(world.url + "/admin/users", params={"search": "bo"})
    assert "Bob User" in page.text
    for action in ("%", "_ogin", "' OR ''='"):
        page = http.get(world.url + "/finance/audit", params={"action": action})
        assert page.status_code == 200 and "No entry matches" in page.text, action


def test_a_forged_page_cursor_is_refused_in_the_form_of_an_error_page(world):
    http = world.session("ana")
    for cursor in ("not-base64!", "W10", "WyJ4Iiwi", "eyJhIjoxfQ"):
        page = http.get(world.url + "/admin/jobs", params={"after": cursor})
        assert page.status_code in (200, 400), cursor
        assert page.status_code != 500
