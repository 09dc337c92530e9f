"""Keyset-paged lists on both engines: walking every page forward, then back, gives each
row once in order; filters are bound parameters; a forged cursor is refused."""
from __future__ import annotations

from datetime import timedelta

import pytest

from accounting.browse import BadCursor, encode_cursor
from tests.accounting.conftest import T0, new_job


@pytest.fixture
def jobs_of(core):
    core.jobs.ensure_queues(["secure"])
    core.users.add_user("alice")
    core.users.add_user("bob")
    titles = ["100% done", "a_b", "plain", "back\\slash", "O'Brien"]
    recorded = []
    for n in range(23):
        owner = "alice" if n % 3 else "bob"
        # Several jobs share a receive time: the id breaks the tie.
        job = new_job(owner, title=titles[n % len(titles)], received_at=T0 + timedelta(minutes=n // 2))
        recorded += core.jobs.record_jobs([job])
    return recorded


def walk(list_page, **options):
    seen, page = [], list_page(limit=5, **options)
    pages = [page]
    while page.next_cursor:
        page = list_page(limit=5, after=page.next_cursor, **options)
        pages.append(page)
    for each in pages:
        seen += [row.id for row in each.rows]
    return seen, pages


def test_walking_the_job_pages_forward_gives_every_job_once_newest_first(core, jobs_of):
    seen, pages = walk(core.lists.jobs)
    expected = [j.id for j in sorted(jobs_of, key=lambda j: (j.received_at, j.id), reverse=True)]
    assert seen == expected
    assert pages[0].previous_cursor is None and pages[-1].next_cursor is None


def test_walking_back_from_the_last_page_gives_the_same_pages(core, jobs_of):
    _, pages = walk(core.lists.jobs)
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        back = core.lists.jobs(limit=5, before=back.previous_cursor)
        assert [r.id for r in back.rows] == [r.id for r in expected.rows]
    assert back.previous_cursor is None


def test_job_pages_sort_by_owner_both_ways(core, jobs_of):
    ascending, _ = walk(core.lists.jobs, sort="owner", descending=False)
    assert ascending == [j.id for j in sorted(jobs_of, key=lambda j: (j.owner, j.id))]
    descending, _ = walk(core.lists.jobs, sort="owner", descending=True)
    assert descending == list(reversed(ascending))


def test_job_filters_by_owner_and_by_date(core, jobs_of):
    seen, _ = walk(core.lists.jobs, owner="bob")
    assert seen and all(core.jobs.get_job(i).owner == "bob" for i in seen)
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=6)
    seen, _ = walk(core.lists.jobs, since=since, until=until)
    assert sorted(seen) == sorted(j.id for j in jobs_of if since <= j.received_at < until)


@pytest.mark.parametrize("text, expected_title", [("%", "100% done"), ("_", "a_b"), ("\\", "back\\slash"),
                                                  ("'", "O'Brien")])
def test_a_title_search_takes_like_metacharacters_literally(core, jobs_of, text, expected_title):
    seen, _ = walk(core.lists.jobs, title=text)
    assert seen and {core.jobs.get_job(i).title for i in seen} == {expected_title}


def test_a_forged_cursor_is_refused(core, jobs_of):
    for cursor in ("garbage!", encode_cursor(["not a time", 1]), encode_cursor([T0, "1"]), "W10"):
        with pytest.raises(BadCursor):
            core.lists.jobs(after=cursor)


def test_user_pages_walk_by_username_and_search_by_prefix_or_name(core):
    for n in range(12):
        core.users.add_user(f"user{n:02d}", full_name=f"Person {n}")
    core.roles.grant("user03", "admin", actor="test")
    seen, _ = walk(core.lists.users)
    assert seen == [core.users.get_user(f"user{n:02d}").id for n in range(12)]
    page = core.lists.users(search="user1")
    assert [r.username for r in page.rows] == ["user10", "user11"]
    assert [r.username for r in core.lists.users(search="Person 7").rows] == ["user07"]
    admins = core.lists.users(role="admin").rows
    assert [(r.username, r.roles) for r in admins] == [("user03", ("admin",))]


def test_audit_and_ledger_pages_are_newest_first(core):
    core.users.add_user("alice", balance=100)
    for amount in (1, 2, 3):
        core.ledger.topup("alice", amount, actor="test", reason=f"r{amount}")
    entries = core.lists.ledger(account_id=core.accounts.personal("alice").id).rows
    assert [line.entry.amount for line in entries] == [3, 2, 1, 100]
    audit = core.lists.audit(action="ledger.").rows
    assert [e.action for e in audit] == ["ledger.topup"] * 3


def test_account_pages_walk_by_name_within_a_kind(core):
    for n in range(7):
        core.users.add_user(f"p{n}")
        core.accounts.create_shared(f"shared{n}", actor="test")
    seen, _ = walk(core.lists.accounts, kind="shared")
    assert [core.accounts.get(i).name for i in seen] == [f"shared{n}" for n in range(7)]
    assert [a.name for a in core.lists.accounts(kind="personal", search="p3").rows] == ["p3"]


def test_group_pages_walk_by_name_with_their_member_counts_and_search(core):
    for n in range(12):
        core.profiles.add_group(f"team{n:02d}", description="floor 3" if n == 4 else "", actor="test")
    core.users.add_user("alice", groups=("team01", "team11"))
    core.users.add_user("bob", groups=("team11",))
    names, counts, page = [], {}, core.lists.groups(limit=5)
    while True:
        names += [g.name for g in page.rows]
        counts.update({g.name: g.members for g in page.rows})
        if not page.next_cursor:
            break
        page = core.lists.groups(limit=5, after=page.next_cursor)
    assert names == [f"team{n:02d}" for n in range(12)]
    assert (counts["team01"], counts["team11"], counts["team05"]) == (1, 2, 0)
    assert [g.name for g in core.lists.groups(search="team1").rows] == ["team10", "team11"]
    assert [g.name for g in core.lists.groups(search="floor").rows] == ["team04"]
    assert core.lists.groups(search="%").rows == []


def test_device_pages_walk_by_name_and_search_by_prefix_place_or_model(core):
    for n in range(8):
        core.devices.add(f"mfp-{n}", location="HQ/Floor 3" if n == 2 else "HQ", model="Colour 9000" if n == 5 else "",
                         endpoint="127.0.0.1:9", protocol="raw", actor="test")
    names, page = [], core.lists.devices(limit=3)
    while True:
        names += [d.name for d in page.rows]
        if not page.next_cursor:
            break
        page = core.lists.devices(limit=3, after=page.next_cursor)
    assert names == [f"mfp-{n}" for n in range(8)]
    assert [d.name for d in core.lists.devices(search="Floor 3").rows] == ["mfp-2"]
    assert [d.name for d in core.lists.devices(search="Colour").rows] == ["mfp-5"]
    assert [d.name for d in core.lists.devices(search="mfp-7").rows] == ["mfp-7"]
    assert core.lists.devices(search="_").rows == []
