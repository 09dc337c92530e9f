"""Shared accounts in the web pages: a sub-account names its parent; an admin allows and
removes who may charge it and sets its limits; finance moves money but changes neither."""
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def accounts(world):
    world.core.accounts.create_shared("cc-200", actor="test")
    world.core.accounts.create_shared("project-x", parent="cc-200", restricted=True, actor="test")
    return world


def test_a_sub_account_names_its_parent(accounts):
    page = accounts.session("fay").get(accounts.url + "/finance/accounts/project-x")
    assert 'part of <a href="/finance/accounts/cc-200">cc-200</a>' in page.text


def test_an_admin_allows_and_removes_who_may_charge_an_account(accounts):
    http = accounts.session("ana")
    path = "/finance/accounts/project-x"
    accounts.post_form(http, path, path, {"action": "allow", "who": "user:carol"})
    assert "project-x" in [a.name for a in accounts.core.accounts.chargeable("carol")]
    done = accounts.post_form(http, path, path, {"action": "disallow", "who": "user:carol"})
    assert "user:carol may no longer charge project-x" in done.text
    assert "project-x" not in [a.name for a in accounts.core.accounts.chargeable("carol")]


def test_an_admin_sets_an_accounts_overdraft_and_turns_it_off(accounts):
    http = accounts.session("ana")
    path = "/finance/accounts/project-x"
    done = accounts.post_form(http, path, path, {"action": "configure", "overdraft": "12.50", "restricted": "on"})
    assert "project-x saved" in done.text
    account = accounts.core.accounts.get("project-x")
    assert (account.overdraft_limit, account.restricted, account.enabled) == (1250, True, False)
    negative = accounts.post_form(http, path, path, {"action": "configure", "overdraft": "-1", "enabled": "on"})
    assert "an overdraft limit is zero or more" in negative.text
    assert accounts.core.accounts.get("project-x").overdraft_limit == 1250


def test_finance_may_not_change_who_charges_or_the_limits(accounts):
    http = accounts.session("fay")
    path = "/finance/accounts/cc-200"
    page = http.get(accounts.url + path).text
    assert 'value="configure"' not in page and 'value="allow"' not in page
    for data in ({"action": "allow", "who": "user:bob"}, {"action": "configure", "overdraft": "100", "enabled": "on"}):
        refused = accounts.post_form(http, path, path, data)
        assert "only an admin" in refused.text
    account = accounts.core.accounts.get("cc-200")
    assert account.overdraft_limit == 0 and "cc-200" not in [a.name for a in accounts.core.accounts.chargeable("bob")]
