"""Single sign-on against a real OpenID Connect provider (oidc-provider under Node) on
loopback, driven over HTTP the way a browser follows it: our login page → the provider's
login and consent screens → back to us with a code → logged in as the local user the
ID token names. The ID token's checks are tested on tokens the provider really signed."""
from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest

from tests.fixtures.oidc import sso_web_world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def sso(tmp_path_factory):
    with sso_web_world(tmp_path_factory.mktemp("sso")) as (world, provider):
        world.add_person("bob", full_name="Bob User")
        world.add_person("ana", roles=("admin",))
        yield world, provider


def follow_provider(http, start_url: str, login: str, *, until: str | None = None):
    """What a person does at the provider's development screens: log in, then consent.
    ``until``: stop at the redirect to a URL starting with this and return it."""
    page = http.get(start_url, allow_redirects=until is None)
    for _ in range(12):
        if until is not None and page.status_code in (302, 303):
            location = urljoin(page.url, page.headers["location"])
            if location.startswith(until):
                return location
            page = http.get(location, allow_redirects=False)
            continue
        refresh = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', page.text)
        if refresh is not None:  # our "logged in" page moves on by itself
            return http.get(urljoin(page.url, refresh.group(1)))
        form = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post"', page.text)
        if form is None:
            return page
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
        if 'name="login"' in page.text:
            fields.update(login=login, password="anything")
        page = http.post(urljoin(page.url, form.group(1)), data=fields, allow_redirects=until is None)
    return page


def test_a_person_logs_in_through_the_provider_as_their_local_user(sso):
    world, provider = sso
    http = world.browser_session()
    http.get(world.url + "/login")
    start = http.get(world.url + "/login/sso", allow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(provider.issuer + "/auth?")
    assert "code_challenge=" in start.headers["location"] and "nonce=" in start.headers["location"]
    landed = follow_provider(http, start.headers["location"], "bob")
    assert landed.url == world.url + "/me/jobs", landed.url
    assert "Bob User" in landed.text
    assert [e.detail for e in world.core.lists.access(username="bob").rows][0] == "sso"


def test_single_sign_on_still_asks_an_admin_for_the_second_factor(sso):
    world, provider = sso
    http = world.browser_session()
    http.get(world.url + "/login")
    start = http.get(world.url + "/login/sso", allow_redirects=False)
    landed = follow_provider(http, start.headers["location"], "ana")
    assert landed.url == world.url + "/login/enrol"


def test_someone_the_provider_knows_but_printgate_does_not_is_refused(sso):
    world, provider = sso
    http = world.browser_session()
    http.get(world.url + "/login")
    start = http.get(world.url + "/login/sso", allow_redirects=False)
    landed = follow_provider(http, start.headers["location"], "stranger")
    assert landed.status_code == 401 and "did not log you in" in landed.text
    assert world.core.lists.access(event="login-failed").rows[0].username == "stranger"


def test_an_answer_this_browser_did_not_ask_for_is_refused(sso):
    world, provider = sso
    victim = world.browser_session()
    victim.get(world.url + "/login")
    attacker = world.browser_session()
    attacker.get(world.url + "/login")
    start = attacker.get(world.url + "/login/sso", allow_redirects=False)
    # The attacker gets a code for their own login and has the victim's browser deliver it.
    callback = follow_provider(world.browser_session(), start.headers["location"], "bob",
                               until=world.url + "/login/sso/callback")
    assert callback and callback.startswith(world.url + "/login/sso/callback?")
    answer = victim.get(callback, allow_redirects=False)
    assert answer.status_code in (303, 401) and "Logged in" not in answer.text
    assert victim.get(world.url + "/me/jobs", allow_redirects=False).status_code == 303
