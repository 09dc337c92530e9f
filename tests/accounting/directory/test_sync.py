"""Directory sync against a real slapd: full and incremental, disabling and enabling,
cards, groups, dry runs and failures that change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounting.directory import SyncFailed
from accounting.schema import cards, directory_syncs
from tests.accounting.directory.conftest import directory_settings, make_directory
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
