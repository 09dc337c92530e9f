"""Directory sync against a real slapd: full and incremental, disabling and enabling,
cards, groups, dry runs and failures that change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounting.directory import SyncFailed
from accounting.schema import cards, directory_syncs
from tests.accounting.directory.conftest import directory_settings, make_directory, user_count
from tests.fixtures.slapd import DirectoryData, card_decimal, person_dn

pytestmark = pytest.mark.timeout(120)


def card_owner(core, number):
    with core.database.reader.connect() as conn:
        from accounting.schema import users
        return conn.execute(select(users.c.username).join(cards, cards.c.user_id == users.c.id)
                            .where(cards.c.number == number)).scalar()


def test_a_full_sync_imports_five_thousand_people_with_cards_groups_and_cost_centers(core, big_slapd, tmp_path):
    directory = make_directory(core, directory_settings(big_slapd), tmp_path)
    summary = directory.sync.run(full=True)
    assert (summary.kind, summary.added, summary.changed, summary.disabled) == ("full", 5000, 0, 0)
    assert summary.problems == []
    user = core.users.get_user("user00042")
    assert (user.full_name, user.email, user.cost_center, user.source) == (
        "User 42", "user00042@example.org", "CC-2", "directory")
    assert user.cards == [card_decimal(100042)]
    assert set(user.groups) == {"dept-2", "staff-b", "staff", "unix-2"}
    assert len(core.users.list_users(group="staff")) == 5000


def test_a_second_full_sync_of_an_unchanged_directory_writes_nothing_but_its_record(core, big_slapd, tmp_path):
    directory = make_directory(core, directory_settings(big_slapd), tmp_path)
    directory.sync.run(full=True)
    again = directory.sync.run(full=True)
    assert (again.added, again.changed, again.disabled, again.enabled, again.unchanged, again.groups_changed) == (
        0, 0, 0, 0, 5000, 0)


def small(make_slapd, users=30, **options):
    server = make_slapd(DirectoryData(users=users, **options))
    return server


def synced(core, make_slapd, tmp_path):
    """A small directory, fully synced once: ``(server, directory)``."""
    server = small(make_slapd)
    directory = make_directory(core, directory_settings(server), tmp_path)
    directory.sync.run(full=True)
    return server, directory


def set_card(server, uid: str, number: str) -> None:
    server.modify(f"dn: {person_dn(uid)}\nchangetype: modify\nreplace: employeeNumber\nemployeeNumber: {number}\n")


def counting_map_user(monkeypatch):
    """Counts the entries the sync reads (maps); passes each on to the real mapping."""
    import accounting.directory.sync as sync_module

    mapped = []
    real = sync_module.map_user

    def counted(entry, settings, problems):
        mapped.append(entry.dn)
        return real(entry, settings, problems)

    monkeypatch.setattr(sync_module, "map_user", counted)
    return mapped


def test_a_repeat_full_sync_reads_no_entry_sent_as_before_and_only_the_one_that_changed(core, make_slapd, tmp_path,
                                                                                         monkeypatch):
    server, directory = synced(core, make_slapd, tmp_path)
    mapped = counting_map_user(monkeypatch)
    again = directory.sync.run(full=True)
    assert (again.unchanged, again.changed, mapped) == (30, 0, [])
    server.modify(f"dn: {person_dn('user00012')}\nchangetype: modify\nreplace: mail\nmail: twelve@example.org\n")
    changed = directory.sync.run(full=True)
    assert (changed.unchanged, changed.changed, mapped) == (29, 1, [person_dn("user00012")])
    assert core.users.get_user("user00012").email == "twelve@example.org"


def test_a_new_attribute_map_reads_every_entry_again(core, make_slapd, tmp_path):
    from dataclasses import replace

    server, directory = synced(core, make_slapd, tmp_path)
    settings = directory_settings(server)
    remapped = make_directory(core, replace(settings, attributes=replace(settings.attributes, full_name="sn")),
                              tmp_path)
    summary = remapped.sync.run(full=True)
    assert (summary.changed, summary.unchanged) == (30, 0)
    assert core.users.get_user("user00003").full_name == "Number3"


def test_a_syncs_additions_are_audited_as_one_summary_row(core, make_slapd, tmp_path):
    synced(core, make_slapd, tmp_path)
    assert core.audit.entries(action="user.add") == []
    [summary] = core.audit.entries(action="directory.sync")
    assert '"added": 30' in summary.new_value and summary.actor == "directory"


def test_an_incremental_sync_reads_only_what_changed_since_the_server_clock_of_the_last(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    server.modify(f"dn: {person_dn('user00003')}\nchangetype: modify\nreplace: cn\ncn: Third Person\n-\n"
                  f"replace: employeeNumber\nemployeeNumber: 0000777777\n\n"
                  f"dn: {person_dn('user00031')}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: user00031\n"
                  f"cn: Newcomer\nsn: New\nmail: new@example.org\n")
    summary = directory.sync.run()
    assert summary.kind == "incremental"
    assert (summary.added, summary.changed) == (1, 1)
    assert summary.read < 30, "an incremental sync asks only for entries changed since the watermark"
    user = core.users.get_user("user00003")
    assert (user.full_name, user.cards) == ("Third Person", ["0000777777"])
    assert core.users.get_user("user00031").full_name == "Newcomer"
    assert card_owner(core, card_decimal(100003)) is None


def test_users_gone_from_the_directory_are_disabled_not_deleted_and_come_back_enabled(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    data = DirectoryData(users=30)
    server.ldap_tool("ldapdelete", "", person_dn("user00007"))
    summary = directory.sync.run(full=True)
    assert summary.disabled == 1
    gone = core.users.get_user("user00007")
    assert gone.enabled is False and gone.cards == [card_decimal(100007)], "history and cards stay"
    server.ldap_tool("ldapadd", data.person(7))
    back = directory.sync.run(full=True)
    assert (back.enabled, back.changed, back.added) == (1, 0, 0)
    assert core.users.get_user("user00007").enabled is True


def test_a_user_an_admin_disabled_stays_disabled_after_a_sync(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    core.users.set_enabled("user00005", False)
    server.modify(f"dn: {person_dn('user00005')}\nchangetype: modify\nreplace: cn\ncn: Renamed\n")
    directory.sync.run(full=True)
    user = core.users.get_user("user00005")
    assert (user.full_name, user.enabled) == ("Renamed", False)


def test_a_user_an_admin_deleted_stays_deleted_and_gets_neither_cards_nor_groups_back(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    core.users.delete_user("user00006")
    server.modify(f"dn: {person_dn('user00006')}\nchangetype: modify\nreplace: cn\ncn: Still Here\n")
    for full in (False, True):
        directory.sync.run(full=full)
        user = core.users.get_user("user00006")
        assert (user.deleted, user.enabled, user.cards, user.groups, user.full_name) == (
            True, False, [], [], "User 6"), f"full={full}"
    assert card_owner(core, card_decimal(100006)) is None


def test_a_card_number_two_users_have_is_given_to_neither_and_reported(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    shared = card_decimal(100004)
    set_card(server, "user00009", shared)
    summary = directory.sync.run(full=True)
    assert any(f"card {shared} is on user00004, user00009; given to neither" in p for p in summary.problems)
    assert card_owner(core, shared) is None
    assert core.users.get_user("user00009").cards == []
    set_card(server, "user00009", card_decimal(100009))
    directory.sync.run(full=True)
    assert card_owner(core, shared) == "user00004", "once the directory is fixed the card goes back"


def test_an_incremental_sync_takes_a_duplicated_card_from_both_users(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    shared = card_decimal(100004)
    set_card(server, "user00009", shared)
    summary = directory.sync.run()
    assert summary.kind == "incremental"
    assert card_owner(core, shared) is None
    assert any("given to neither" in p for p in summary.problems)


def test_a_card_linked_at_a_panel_is_kept_and_never_given_to_a_directory_user(core, make_slapd, tmp_path):
    server = small(make_slapd)
    core.users.add_user("walkin", cards=("0000999999",))
    directory = make_directory(core, directory_settings(server), tmp_path)
    directory.sync.run(full=True)
    core.users.add_card("user00002", "LOCAL-42")
    set_card(server, "user00003", "0000999999")
    summary = directory.sync.run(full=True)
    assert card_owner(core, "0000999999") == "walkin"
    assert any("card 0000999999 of user00003 is registered to another user" in p for p in summary.problems)
    assert "LOCAL-42" in core.users.get_user("user00002").cards


def test_group_memberships_and_nesting_follow_the_directory(core, make_slapd, tmp_path):
    from tests.fixtures.slapd import group_dn

    server, directory = synced(core, make_slapd, tmp_path)
    assert "staff" in core.users.get_user("user00002").groups
    server.modify(f"dn: {group_dn('staff')}\nchangetype: modify\ndelete: member\nmember: {group_dn('staff-b')}\n\n"
                  f"dn: {group_dn('dept-1')}\nchangetype: modify\ndelete: member\nmember: {person_dn('user00011')}\n")
    summary = directory.sync.run()
    assert summary.kind == "incremental" and summary.groups_changed == 2
    assert "staff" not in core.users.get_user("user00002").groups, "staff-b is no longer nested in staff"
    assert "staff" in core.users.get_user("user00001").groups
    assert "dept-1" not in core.users.get_user("user00011").groups
    assert len(core.users.list_users(group="staff")) == 15


def test_a_local_member_of_a_directory_group_stays(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    core.users.add_user("contractor", groups=("dept-3",))
    server.modify(f"dn: {person_dn('user00013')}\nchangetype: modify\nreplace: cn\ncn: Changed\n")
    directory.sync.run(full=True)
    assert "dept-3" in core.users.get_user("contractor").groups


def test_a_dry_run_counts_what_a_sync_would_do_and_changes_nothing(core, make_slapd, tmp_path):
    server = small(make_slapd)
    directory = make_directory(core, directory_settings(server), tmp_path)
    preview = directory.sync.run(full=True, dry_run=True)
    assert (preview.added, preview.dry_run) == (30, True)
    assert user_count(core) == 0
    assert directory.sync.last_sync() is None
    real = directory.sync.run(full=True)
    assert (real.added, real.changed, real.disabled) == (preview.added, preview.changed, preview.disabled)


def test_a_directory_that_goes_away_mid_sync_changes_nothing(core, make_slapd, tmp_path):
    server = small(make_slapd, users=3000)
    directory = make_directory(core, directory_settings(server, page_size=100), tmp_path)

    def stop_after_first_pages(kind, count):
        if count >= 200:
            server.kill()

    with pytest.raises(SyncFailed) as failed:
        directory.sync.run(full=True, progress=stop_after_first_pages)
    assert "nothing changed" in str(failed.value)
    assert user_count(core) == 0
    with core.database.reader.connect() as conn:
        row = conn.execute(select(directory_syncs.c.outcome, directory_syncs.c.error)).one()
    assert row.outcome == "failed" and row.error
    assert list(tmp_path.glob("directory-sync-*")) == [], "the staging file is removed"


def test_the_next_server_is_used_when_the_first_cannot_be_reached(core, make_slapd, tmp_path):
    from tests.fixtures.peers import free_port

    primary = small(make_slapd)
    replica = make_slapd(DirectoryData(users=30), name="replica")
    directory = make_directory(core, directory_settings(primary, servers=(
        f"ldap://127.0.0.1:{free_port()}", replica.uri)), tmp_path)
    summary = directory.sync.run(full=True)
    assert summary.server == replica.uri and summary.added == 30


def test_a_sync_refuses_to_disable_everyone_when_the_directory_returns_no_users(core, make_slapd, tmp_path):
    server, directory = synced(core, make_slapd, tmp_path)
    emptied = make_directory(core, directory_settings(server, user_filter="(objectClass=nobodyHasThis)"), tmp_path)
    with pytest.raises(SyncFailed, match="refusing to disable all 30"):
        emptied.sync.run(full=True)
    assert all(user.enabled for user in core.users.list_users())
