"""Shared accounts: members, groups, PINs, sub-accounts."""
import pytest

from accounting.errors import AccountNotAllowed, UnknownAccount


def test_a_shared_account_is_chargeable_by_its_members_and_groups(core):
    core.users.add_user("alice", groups=("lab",))
    core.users.add_user("bob")
    core.accounts.create_shared("cc-100")
    core.accounts.create_shared("client-acme", parent="cc-100")
    core.accounts.allow("cc-100", group="lab")
    core.accounts.allow("client-acme", user="bob")
    assert [a.name for a in core.accounts.chargeable("alice")] == ["alice", "cc-100"]
    assert [a.name for a in core.accounts.chargeable("bob")] == ["bob", "client-acme"]
    assert core.accounts.get("client-acme").parent_id == core.accounts.get("cc-100").id


def test_charging_an_account_one_may_not_use_is_refused(core):
    core.users.add_user("alice")
    core.accounts.create_shared("cc-100")
    with pytest.raises(AccountNotAllowed):
        core.accounts.check_chargeable("alice", "cc-100")


def test_a_pin_protected_shared_account_needs_its_pin(core):
    core.users.add_user("alice")
    core.accounts.create_shared("secret-project", pin="2468")
    core.accounts.allow("secret-project", user="alice")
    with pytest.raises(AccountNotAllowed):
        core.accounts.check_chargeable("alice", "secret-project", pin="0000")
    assert core.accounts.check_chargeable("alice", "secret-project", pin="2468").name == "secret-project"


def test_configuration_changes_are_audited_with_old_and_new(core):
    core.accounts.create_shared("cc-1")
    core.accounts.configure("cc-1", overdraft_limit=1000)
    entry = core.audit.entries(action="account.configure")[0]
    assert '"overdraft_limit": 0' in entry.old_value and '"overdraft_limit": 1000' in entry.new_value


def test_an_unknown_account_is_a_clear_error(core):
    with pytest.raises(UnknownAccount):
        core.accounts.get("nope")


def test_a_user_or_group_no_longer_allowed_cannot_charge_the_shared_account(core):
    core.users.add_user("alice", groups=("sales",))
    core.users.add_user("bob")
    core.accounts.create_shared("marketing", restricted=True, actor="test")
    core.accounts.allow("marketing", group="sales", actor="test")
    core.accounts.allow("marketing", user="bob", actor="test")
    assert "marketing" in [a.name for a in core.accounts.chargeable("alice")]
    core.accounts.disallow("marketing", group="sales", actor="ana")
    core.accounts.disallow("marketing", user="bob", actor="ana")
    assert "marketing" not in [a.name for a in core.accounts.chargeable("alice")]
    assert "marketing" not in [a.name for a in core.accounts.chargeable("bob")]
    with pytest.raises(ValueError, match="may not charge marketing anyway"):
        core.accounts.disallow("marketing", user="bob", actor="ana")
    assert core.audit.entries(action="account.disallow")[0].actor == "ana"
