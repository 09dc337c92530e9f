"""Keeping users, cards, cost centers and groups in step with the directory.

A sync runs in two phases so that one that fails changes nothing:

1. **Read** (no database writes): every user entry (full), or those changed since the
   last sync's watermark (incremental, ``modifyTimestamp``/``whenChanged`` >= the
   server's clock when that sync began), a page at a time. Each entry is mapped and
   digested; only entries whose digest differs from what was imported last time are
   written to a staging file (so memory stays flat however many users there are).
   Groups are read when any changed (always, in a full sync).
2. **Apply**, in one database transaction: new users added, changed ones updated,
   users gone from the directory disabled (never deleted: their history stays) and
   users that come back enabled; cards, group memberships and cost centers follow. A
   card number that two directory users have is given to neither and reported. A dry
   run applies and rolls back, so its counts are exactly what a real run would do.

Only what the directory provides is managed: a card linked at a panel, a local group, a
user an admin disabled are left alone, and a user an admin deleted (``printgate users
delete``) stays deleted: their entry is skipped, and neither their cards nor their
groups come back.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import and_, bindparam, delete, insert, select, update
from twisted.logger import Logger

from accounting.audit import audit, audit_many
from accounting.database import Database
from accounting.directory.connection import DirectoryClient, DirectorySession
from accounting.directory.errors import DirectoryUnavailable, SyncFailed
from accounting.directory.filters import changed_since, user_named
from accounting.directory.groups import DirectoryGroup, UserNames, read_groups
from accounting.directory.mapping import DirectoryUser, map_user
from accounting.directory.settings import DirectorySettings
from accounting.schema import (
    cards, directory_groups, directory_syncs, directory_users, groups, user_groups, users,
)
from accounting.time import aware, utcnow
from accounting.users import UserStore

log = Logger()

BATCH = 500
MAX_PROBLEMS_KEPT = 500


@dataclass
class SyncSummary:
    kind: str
    dry_run: bool = False
    server: str = ""
    watermark: str | None = None
    read: int = 0
    added: int = 0
    changed: int = 0
    disabled: int = 0
    enabled: int = 0
    unchanged: int = 0
    groups_changed: int = 0
    problems: list = field(default_factory=list)
    references: list = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.kind} sync{' (dry run)' if self.dry_run else ''} from {self.server}: {self.added} added, "
                f"{self.changed} changed, {self.disabled} disabled, {self.enabled} enabled, {self.unchanged} unchanged, "
                f"{self.groups_changed} groups changed, {len(self.problems)} problems")


class _Known(NamedTuple):
    """What was imported of a directory user (a tuple: a full sync holds one per user)."""

    user_id: int
    fingerprint: int  # the first 64 bits of the stored digest (``_short``): smaller in memory
    enabled: bool
    disabled_by_sync: bool


def _short(fingerprint: str) -> int:
    return int(fingerprint[:16], 16)


class _Staging:
    """Changed users, as JSON lines in a temporary file, read back in batches."""

    def __init__(self, directory: Path | None):
        handle, self.path = tempfile.mkstemp(prefix="directory-sync-", suffix=".jsonl", dir=directory)
        self.file = os.fdopen(handle, "w+", encoding="utf-8")
        self.count = 0

    def add(self, record: dict) -> None:
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    def batches(self, size: int = BATCH):
        self.file.flush()
        self.file.seek(0)
        batch = []
        for line in self.file:
            batch.append(json.loads(line))
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def close(self) -> None:
        self.file.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class DirectorySync:
    def __init__(self, database: Database, settings: DirectorySettings, client: DirectoryClient, *,
                 users_store: UserStore, fingerprint_key: bytes, staging_dir: Path | None = None):
        self.db = database
        self.settings = settings
        self.client = client
        self.users = users_store
        self.fingerprint_key = fingerprint_key
        self.staging_dir = staging_dir

    # -- what callers use -----------------------------------------------------------------
    def run(self, *, full: bool = False, dry_run: bool = False, progress=None) -> SyncSummary:
        """One sync. ``full`` False: incremental when a previous sync left a watermark
        for the same server, else full. ``progress(kind, count)`` is called as entries
        are read (kind "users" or "groups"). Raises ``SyncFailed``: nothing changed."""
        started = utcnow()
        previous = self.last_sync()
        try:
            session = self.client.open()
        except DirectoryUnavailable as exc:
            self._record_failure("full" if full else "incremental", started, "", str(exc), dry_run)
            raise SyncFailed("full" if full else "incremental", str(exc)) from None
        incremental = (not full and previous is not None and bool(previous["watermark"])
                       and previous["server"] == session.uri)
        summary = SyncSummary(kind="incremental" if incremental else "full", dry_run=dry_run, server=session.uri)
        staging = _Staging(self.staging_dir)
        try:
            clock = session.server_clock()
            since = previous["watermark"] if incremental else None
            state = self._read(session, summary, staging, since=since, progress=progress, track_newest=clock is None)
            summary.watermark = clock or state.newest or (previous["watermark"] if previous else None)
            summary.references = list(dict.fromkeys(session.references))
            for uri in summary.references:
                summary.problems.append(f"referral to {uri} not followed")
            self._apply(summary, staging, state, started=started)
        except (DirectoryUnavailable, SyncFailed) as exc:
            reason = exc.reason if isinstance(exc, SyncFailed) else str(exc)
            self._record_failure(summary.kind, started, session.uri, reason, dry_run)
            raise SyncFailed(summary.kind, reason) from None
        finally:
            staging.close()
            session.close()
        log.info("directory {summary}", summary=summary.line())
        return summary

    def preview(self, username: str) -> tuple[DirectoryUser | None, list[str], list[str]]:
        """What a sync would import for ``username``: ``(user, groups, problems)``."""
        session = self.client.open()
        try:
            problems: list[str] = []
            user = None
            for base in self.settings.user_bases:
                for entry in session.paged_search(base, user_named(self.settings, username),
                                                  self.settings.attributes.user_attributes()):
                    found = map_user(entry, self.settings, problems)
                    if found is not None and user is None:
                        user = found
            group_names = []
            if user is not None and self.settings.group_bases:
                names = UserNames(self.settings, lambda name: name if name == user.username else None)
                names.add(user.dn, user.username)
                group_names = sorted(g.name for g in read_groups(session, self.settings, names, problems)
                                     if user.username in g.members)
            return user, group_names, problems
        finally:
            session.close()

    def history(self, limit: int = 10) -> list[dict]:
        """The last ``limit`` sync runs, newest first."""
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(directory_syncs).order_by(directory_syncs.c.id.desc()).limit(limit)).mappings()
            return [{**row, "started_at": aware(row["started_at"])} for row in rows]

    def last_sync(self, *, succeeded: bool = True) -> dict | None:
        query = select(directory_syncs).where(directory_syncs.c.dry_run.is_(False)).order_by(directory_syncs.c.id.desc())
        if succeeded:
            query = query.where(directory_syncs.c.outcome == "ok")
        with self.db.reader.connect() as conn:
            row = conn.execute(query.limit(1)).mappings().first()
        if row is None:
            return None
        found = dict(row)
        found["started_at"], found["finished_at"] = aware(found["started_at"]), aware(found["finished_at"])
        return found

    # -- phase 1: read ----------------------------------------------------------------------
    def _read(self, session: DirectorySession, summary: SyncSummary, staging: _Staging, *, since, progress,
              track_newest: bool = True):
        settings, attributes = self.settings, self.settings.attributes
        state = _ReadState(known=self._known(), deleted=self._deleted())
        if since is None:
            state.names = UserNames(settings, state.seen.get)
        else:
            state.names = UserNames(settings, lambda name: state.seen.get(name) or (
                name if name in state.known else None))
        modified_attribute = attributes.modified.lower()
        for base in settings.user_bases:
            search_filter = changed_since(settings.user_filter, attributes.modified, since)
            for entry in session.paged_search(base, search_filter, attributes.user_attributes()):
                summary.read += 1
                if progress is not None and summary.read % 100 == 0:
                    progress("users", summary.read)
                if track_newest:
                    state.note_modified(entry.values(modified_attribute))
                user = map_user(entry, settings, summary.problems)
                if user is None:
                    continue
                if user.username in state.seen:
                    summary.problems.append(f"{entry.dn}: {attributes.username} {user.username!r} is also on "
                                            "another entry; skipped")
                    continue
                if user.username in state.deleted:
                    summary.unchanged += 1  # deleted at the gateway: left as it is
                    continue
                state.seen[user.username] = user.username
                state.names.add(user.dn, user.username)
                for card in user.cards:
                    holder = state.card_holders.setdefault(card, user.username)
                    if holder != user.username:
                        state.duplicate_cards.setdefault(card, {holder}).add(user.username)
                known = state.known.get(user.username)
                fingerprint = self._fingerprint(user)
                if (known is not None and known.fingerprint == _short(fingerprint)
                        and not (known.disabled_by_sync and not user.disabled)):
                    summary.unchanged += 1
                    continue
                staging.add(self._record(user, fingerprint, known))
        if progress is not None:
            progress("users", summary.read)
        if since is None and not state.seen and state.known:
            raise SyncFailed("full", f"the directory returned no users under {', '.join(settings.user_bases)}; "
                                     f"refusing to disable all {len(state.known)} directory users")
        if settings.group_bases:
            groups_changed = since is None or any(
                True for base in settings.group_bases
                for _ in session.paged_search(base, changed_since(settings.group_filter, attributes.modified, since),
                                              [attributes.modified]))
            if groups_changed:
                if since is not None:
                    for dn, name in self._directory_dns():
                        if name not in state.seen:
                            state.names.add(dn, name)
                counter = [0]

                def group_read(count):
                    counter[0] += count
                    if progress is not None:
                        progress("groups", counter[0])

                state.groups = read_groups(session, settings, state.names, summary.problems, group_read)
        state.names = None  # only the group read needs it
        for card, holders in sorted(state.duplicate_cards.items()):
            summary.problems.append(f"card {card} is on {', '.join(sorted(holders))}; given to neither")
        return state

    def _fingerprint(self, user: DirectoryUser) -> str:
        if not user.pin:
            return user.fingerprint()
        return user.fingerprint(hmac.new(self.fingerprint_key, user.pin.encode(), hashlib.sha256).hexdigest())

    def _record(self, user: DirectoryUser, fingerprint: str, known: "_Known | None") -> dict:
        """A changed user as staged: what to write, and the digest it had before."""
        record = user.as_record()
        record["fingerprint"] = fingerprint
        record["changed"] = known is None or known.fingerprint != _short(fingerprint)
        record["pin_hash"] = self.users.hasher.hash(user.pin) if user.pin else None
        return record

    def import_user(self, user: DirectoryUser) -> None:
        """Add (or update) one user now, as a sync would: someone in the directory who
        logged in before the next sync brought them in. Their groups follow at that sync."""
        known = self._known(user.username).get(user.username)
        summary = SyncSummary(kind="login")
        with self._transaction(rollback=False) as conn:
            self._apply_users(conn, [self._record(user, self._fingerprint(user), known)], summary, full=False,
                              now=utcnow())

    def _known(self, username: str | None = None) -> dict[str, _Known]:
        query = (select(users.c.username, users.c.id, users.c.enabled, directory_users.c.fingerprint,
                        directory_users.c.disabled_by_sync)
                 .join(directory_users, directory_users.c.user_id == users.c.id))
        if username is not None:
            query = query.where(users.c.username == username)
        known = {}
        with self.db.reader.connect() as conn:
            result = conn.execute(query)
            while rows := result.fetchmany(BATCH):
                for name, user_id, enabled, fingerprint, by_sync in rows:
                    known[name] = _Known(user_id, _short(fingerprint), bool(enabled), bool(by_sync))
        return known

    def _deleted(self) -> frozenset:
        """Names of the directory users an admin deleted (few: read whole)."""
        with self.db.reader.connect() as conn:
            return frozenset(conn.execute(select(users.c.username).join(
                directory_users, directory_users.c.user_id == users.c.id).where(users.c.deleted_at.is_not(None)))
                .scalars())

    def _directory_dns(self):
        query = select(directory_users.c.dn, users.c.username).join(users, users.c.id == directory_users.c.user_id)
        with self.db.reader.connect() as conn:
            return conn.execute(query).all()

    # -- phase 2: apply -----------------------------------------------------------------------
    def _apply(self, summary: SyncSummary, staging: _Staging, state: "_ReadState", *, started) -> None:
        full = summary.kind == "full"
        with self._transaction(rollback=summary.dry_run) as conn:
            now = utcnow()
            for batch in staging.batches():
                self._apply_users(conn, batch, summary, full=full, now=now)
            ids = None
            if full or state.groups is not None:
                ids = {}
                result = conn.execute(select(users.c.username, users.c.id).join(
                    directory_users, directory_users.c.user_id == users.c.id).where(users.c.deleted_at.is_(None)))
                while rows := result.fetchmany(BATCH):
                    ids.update((state.seen.get(name, name), user_id) for name, user_id in rows)
            if full:
                self._disable_missing(conn, state, summary, now)
                self._reconcile_cards(conn, state, summary, ids)
            if state.groups is not None:
                self._apply_groups(conn, state.groups, summary, ids, full=full, now=now)
            problems = summary.problems
            audit(conn, actor="directory", action="directory.sync", target=summary.server,
                  new={"kind": summary.kind, "added": summary.added, "changed": summary.changed,
                       "disabled": summary.disabled, "enabled": summary.enabled, "problems": len(problems)})
            if not summary.dry_run:
                conn.execute(insert(directory_syncs).values(
                    kind=summary.kind, dry_run=False, started_at=started, finished_at=utcnow(),
                    server=summary.server[:255], watermark=summary.watermark, outcome="ok", added=summary.added,
                    changed=summary.changed, disabled=summary.disabled, enabled=summary.enabled,
                    unchanged=summary.unchanged, problem_count=len(problems),
                    problems=json.dumps(problems[:MAX_PROBLEMS_KEPT], ensure_ascii=False), error=""))

    @contextmanager
    def _transaction(self, *, rollback: bool):
        with self.db.writer.connect() as conn:
            transaction = conn.begin()
            try:
                yield conn
            except BaseException:
                transaction.rollback()
                raise
            if rollback:
                transaction.rollback()
            else:
                transaction.commit()

    def _apply_users(self, conn, batch: list[dict], summary: SyncSummary, *, full: bool, now) -> None:
        names = [record["username"] for record in batch]
        existing = {r.username: r for r in conn.execute(
            select(users.c.id, users.c.username, users.c.enabled, users.c.source, directory_users.c.disabled_by_sync,
                   directory_users.c.user_id.label("tracked"))
            .outerjoin(directory_users, directory_users.c.user_id == users.c.id).where(users.c.username.in_(names)))}
        new = [r for r in batch if r["username"] not in existing]
        ids = self.users.insert_users(conn, new, source="directory", actor="directory")
        summary.added += len(new)
        updates, tracked_rows, untracked_rows, events = [], [], [], []
        for record in batch:
            row = existing.get(record["username"])
            user_id = ids.get(record["username"]) if row is None else row.id
            disabled_by_sync = False
            if row is not None:
                enabled = row.enabled
                if record["disabled"] and row.enabled:
                    enabled, disabled_by_sync = False, True
                    summary.disabled += 1
                    events.append(("user.disable", record["username"]))
                elif not record["disabled"] and not row.enabled and row.disabled_by_sync:
                    enabled = True
                    summary.enabled += 1
                    events.append(("user.enable", record["username"]))
                elif not row.enabled:
                    disabled_by_sync = bool(row.disabled_by_sync)
                if record["changed"]:
                    summary.changed += 1
                values = {"uid": user_id, "full_name": record["full_name"], "email": record["email"],
                          "cost_center": record["cost_center"], "enabled": enabled}
                if record.get("pin_hash"):
                    values["pin_hash"] = record["pin_hash"]
                updates.append(values)
            elif record["disabled"]:
                conn.execute(update(users).where(users.c.id == user_id).values(enabled=False))
                disabled_by_sync = True
            directory_row = {"uid": user_id, "dn": record["dn"][:1024], "fingerprint": record["fingerprint"],
                             "disabled_by_sync": disabled_by_sync, "seen_at": now}
            (tracked_rows if row is not None and row.tracked is not None else untracked_rows).append(directory_row)
            if not full:
                self._set_cards(conn, user_id, record["username"], record["cards"], summary)
        for values in _group_by_keys(updates):
            statement = update(users).where(users.c.id == bindparam("uid")).values(
                {**{key: bindparam(key) for key in values[0] if key != "uid"}, "source": "directory"})
            conn.execute(statement, values)
        if tracked_rows:
            conn.execute(update(directory_users).where(directory_users.c.user_id == bindparam("uid")).values(
                dn=bindparam("dn"), fingerprint=bindparam("fingerprint"), disabled_by_sync=bindparam("disabled_by_sync"),
                seen_at=bindparam("seen_at")), tracked_rows)
        if untracked_rows:
            conn.execute(insert(directory_users), [
                {"user_id": r["uid"], "dn": r["dn"], "fingerprint": r["fingerprint"],
                 "disabled_by_sync": r["disabled_by_sync"], "seen_at": r["seen_at"]} for r in untracked_rows])
        audit_many(conn, [{"actor": "directory", "action": action, "target": name} for action, name in events], at=now)

    def _disable_missing(self, conn, state: "_ReadState", summary: SyncSummary, now) -> None:
        gone = [(name, known.user_id) for name, known in state.known.items()
                if name not in state.seen and known.enabled]
        for chunk in _chunks(gone):
            ids = [user_id for _, user_id in chunk]
            conn.execute(update(users).where(users.c.id.in_(ids)).values(enabled=False))
            conn.execute(update(directory_users).where(directory_users.c.user_id.in_(ids)).values(disabled_by_sync=True))
            audit_many(conn, [{"actor": "directory", "action": "user.disable", "target": name,
                               "new": "gone from the directory"} for name, _ in chunk], at=now)
        summary.disabled += len(gone)

    def _reconcile_cards(self, conn, state: "_ReadState", summary: SyncSummary, ids: dict) -> None:
        """Full sync: directory cards become exactly what the directory says, less the
        numbers two users have (given to neither) and those held locally by someone else.
        Users gone from the directory keep theirs until someone else is given them. The
        cards table is read a chunk at a time, so memory does not grow with it."""
        wanted = state.card_holders
        for card in state.duplicate_cards:
            wanted.pop(card, None)
        gone_ids = {known.user_id for name, known in state.known.items() if name not in state.seen}

        def stale(number, user_id) -> bool:
            if number in state.duplicate_cards:
                return True
            if number in wanted:
                return ids.get(wanted[number]) != user_id
            return user_id not in gone_ids  # still in the directory, without this card

        result = conn.execute(select(cards.c.number, cards.c.user_id).where(cards.c.source == "directory"))
        removed = []
        while rows := result.fetchmany(BATCH):
            removed += [number for number, user_id in rows if stale(number, user_id)]
        for chunk in _chunks(removed):
            conn.execute(delete(cards).where(cards.c.number.in_(chunk), cards.c.source == "directory"))
        now = utcnow()
        for chunk in _chunks(sorted(wanted)):
            held = dict(conn.execute(select(cards.c.number, cards.c.user_id).where(cards.c.number.in_(chunk))).all())
            additions = []
            for number in chunk:
                name = wanted[number]
                holder = held.get(number)
                if holder is None:
                    if name in ids:
                        additions.append({"user_id": ids[name], "number": number, "created_at": now,
                                          "source": "directory"})
                elif holder != ids.get(name):
                    summary.problems.append(f"card {number} of {name} is registered to another user at the "
                                            "gateway; not given")
            if additions:
                conn.execute(insert(cards), additions)

    def _set_cards(self, conn, user_id: int, username: str, numbers: list[str], summary: SyncSummary) -> None:
        """Incremental sync: one changed user's directory cards; a number someone else
        has from the directory is taken from both (and reported)."""
        current = set(conn.execute(select(cards.c.number).where(cards.c.user_id == user_id,
                                                                cards.c.source == "directory")).scalars())
        for number in current - set(numbers):
            conn.execute(delete(cards).where(cards.c.number == number, cards.c.user_id == user_id))
        for number in [n for n in numbers if n not in current]:
            holder = conn.execute(select(cards.c.user_id, cards.c.source, users.c.username)
                                  .join(users, users.c.id == cards.c.user_id).where(cards.c.number == number)).first()
            if holder is None:
                conn.execute(insert(cards).values(user_id=user_id, number=number, created_at=utcnow(),
                                                  source="directory"))
            elif holder.user_id != user_id:
                if holder.source == "directory":
                    conn.execute(delete(cards).where(cards.c.number == number))
                    summary.problems.append(f"card {number} is on {holder.username} and {username}; given to neither")
                else:
                    summary.problems.append(f"card {number} of {username} is registered to {holder.username} at the "
                                            "gateway; not given")

    def _apply_groups(self, conn, found: list[DirectoryGroup], summary: SyncSummary, ids: dict, *, full: bool,
                      now) -> None:
        tracked = {r.name: r for r in conn.execute(
            select(groups.c.id, groups.c.name, directory_groups.c.fingerprint, directory_groups.c.group_id.label("row"))
            .outerjoin(directory_groups, directory_groups.c.group_id == groups.c.id))}
        present = set()
        for group in found:
            present.add(group.name)
            fingerprint = group.fingerprint()
            row = tracked.get(group.name)
            if row is not None and row.fingerprint == fingerprint:
                continue
            summary.groups_changed += 1
            if row is None:
                group_id = conn.execute(insert(groups).values(name=group.name, description="", created_at=now,
                                                              source="directory")).inserted_primary_key[0]
            else:
                group_id = row.id
                conn.execute(update(groups).where(groups.c.id == group_id).values(source="directory"))
            if row is None or row.row is None:
                conn.execute(insert(directory_groups).values(group_id=group_id, dn=group.dn[:1024],
                                                             fingerprint=fingerprint, seen_at=now))
            else:
                conn.execute(update(directory_groups).where(directory_groups.c.group_id == group_id).values(
                    dn=group.dn[:1024], fingerprint=fingerprint, seen_at=now))
            self._set_members(conn, group_id, {ids[name] for name in group.members if name in ids})
        if full:
            for name, row in tracked.items():
                if row.row is not None and name not in present:
                    summary.groups_changed += 1
                    self._set_members(conn, row.id, set())
                    conn.execute(delete(directory_groups).where(directory_groups.c.group_id == row.id))

    @staticmethod
    def _set_members(conn, group_id: int, wanted: set) -> None:
        """The group's directory-user members become ``wanted``; local members stay."""
        current = set(conn.execute(select(user_groups.c.user_id).join(
            directory_users, directory_users.c.user_id == user_groups.c.user_id)
            .where(user_groups.c.group_id == group_id)).scalars())
        for chunk in _chunks(sorted(current - wanted)):
            conn.execute(delete(user_groups).where(and_(user_groups.c.group_id == group_id,
                                                        user_groups.c.user_id.in_(chunk))))
        for chunk in _chunks(sorted(wanted - current)):
            conn.execute(insert(user_groups), [{"user_id": user_id, "group_id": group_id} for user_id in chunk])

    def _record_failure(self, kind: str, started, server: str, error: str, dry_run: bool) -> None:
        log.warn("directory {kind} sync failed, nothing changed: {error}", kind=kind, error=error)
        if dry_run:
            return
        try:
            with self.db.writer.begin() as conn:
                conn.execute(insert(directory_syncs).values(
                    kind=kind, dry_run=False, started_at=started, finished_at=utcnow(), server=server[:255],
                    watermark=None, outcome="failed", added=0, changed=0, disabled=0, enabled=0, unchanged=0,
                    problem_count=0, problems="[]", error=error[:4000]))
        except Exception:  # noqa: BLE001 - the failure itself is what matters
            log.failure("recording the failed directory sync failed")


@dataclass
class _ReadState:
    known: dict
    deleted: frozenset = frozenset()
    #: user names read, each mapped to itself: lookups hand back the one string object.
    seen: dict = field(default_factory=dict)
    names: "UserNames | None" = None
    card_holders: dict = field(default_factory=dict)
    duplicate_cards: dict = field(default_factory=dict)
    groups: list | None = None
    newest: str | None = None

    def note_modified(self, values) -> None:
        if values:
            text = values[0][:14].decode("ascii", "replace") + "Z"
            if self.newest is None or text > self.newest:
                self.newest = text


def _group_by_keys(rows: list[dict]) -> list[list[dict]]:
    """executemany needs the same keys in every row: split rows by their key sets."""
    by_keys: dict[tuple, list] = {}
    for row in rows:
        by_keys.setdefault(tuple(sorted(row)), []).append(row)
    return list(by_keys.values())


def _chunks(items, size: int = BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
