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
import marshal
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
from accounting.directory.errors import DirectoryUnavailable, MalformedReply, SyncFailed
from accounting.directory.filters import changed_since, user_named
from accounting.directory.groups import DirectoryGroup, UserNames, read_groups
from accounting.directory.mapping import DirectoryUser, map_user
from accounting.directory.settings import DirectorySettings
from accounting.lean_sql import insert_rows, insert_tuples, scan
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
    """Changed users in a private temporary file, ``BATCH`` records per ``marshal`` dump
    (several times quicker than JSON both ways; the file is only ever read back by the
    run that wrote it), read back a batch at a time."""

    def __init__(self, directory: Path | None):
        handle, self.path = tempfile.mkstemp(prefix="directory-sync-", suffix=".staged", dir=directory)
        self.file = os.fdopen(handle, "w+b")
        self.count = 0
        self._batch: list[dict] = []
        self._dumped = 0

    def add(self, record: dict) -> None:
        self._batch.append(record)
        self.count += 1
        if len(self._batch) == BATCH:
            self._dump()

    def _dump(self) -> None:
        data = marshal.dumps(self._batch)
        self.file.write(len(data).to_bytes(8, "big"))
        self.file.write(data)
        self._dumped += 1
        self._batch = []

    def batches(self):
        if self._batch:
            self._dump()
        self.file.flush()
        self.file.seek(0)
        for _ in range(self._dumped):
            # marshal.load on a file reads it value by value; one read of the batch is quicker
            yield marshal.loads(self.file.read(int.from_bytes(self.file.read(8), "big")))

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
        #: Keys the digest of an entry as sent: secret (an entry may hold a PIN), and bound
        #: to the attribute map (a new map reads every entry again).
        self._entry_key = hashlib.sha256(fingerprint_key + repr(settings.attributes).encode()).digest()

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
        except (DirectoryUnavailable, MalformedReply, SyncFailed) as exc:
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
        deleted = self._deleted()
        known, by_digest = self._known(deleted=deleted)
        state = _ReadState(known=known, deleted=deleted)
        seen = state.seen
        if since is None:
            state.names = UserNames(settings, state.seen.get)
        else:
            state.names = UserNames(settings, lambda name: state.seen.get(name) or (
                name if name in state.known else None))
        modified_attribute = attributes.modified.lower()
        requested = attributes.user_attributes()
        if not track_newest:  # the server's clock is the watermark: an entry's own time is not needed
            requested = [name for name in requested if name != attributes.modified]
        key, names = self._entry_key, state.names
        for base in settings.user_bases:
            search_filter = changed_since(settings.user_filter, attributes.modified, since)
            for entry in session.paged_search(base, search_filter, requested):
                summary.read += 1
                if progress is not None and summary.read % 100 == 0:
                    progress("users", summary.read)
                if track_newest:
                    state.note_modified(entry.values(modified_attribute))
                digest = entry.digest(key)
                name = by_digest.get(digest)
                if name is not None and name not in seen and not known[name].disabled_by_sync:
                    # Sent exactly as when it was imported: nothing to read or write.
                    seen[name] = name
                    names.add(entry.dn, name)
                    summary.unchanged += 1
                    continue
                user = map_user(entry, settings, summary.problems)
                if user is None:
                    continue
                if user.username in seen:
                    summary.problems.append(f"{entry.dn}: {attributes.username} {user.username!r} is also on "
                                            "another entry; skipped")
                    continue
                if user.username in deleted:
                    summary.unchanged += 1  # deleted at the gateway: left as it is
                    continue
                seen[user.username] = user.username
                names.add(user.dn, user.username)
                before = known.get(user.username)
                fingerprint = self._fingerprint(user)
                if (before is not None and before.fingerprint == _short(fingerprint)
                        and not (before.disabled_by_sync and not user.disabled)):
                    summary.unchanged += 1
                    if name != user.username:  # the same, sent otherwise: remember it as sent now
                        staging.add(self._record(user, fingerprint, digest, changed=False))
                    continue
                changed = before is None or before.fingerprint != _short(fingerprint)
                staging.add(self._record(user, fingerprint, digest, changed=changed))
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
        return state

    def _fingerprint(self, user: DirectoryUser) -> str:
        if not user.pin:
            return user.fingerprint()
        return user.fingerprint(hmac.new(self.fingerprint_key, user.pin.encode(), hashlib.sha256).hexdigest())

    def _record(self, user: DirectoryUser, fingerprint: str, digest: int | None, *, changed: bool) -> dict:
        """A user as staged: what to write. ``changed`` False: the same as imported last
        time (a user coming back, or an entry sent otherwise), counted as unchanged."""
        record = user.as_record()
        record["fingerprint"] = fingerprint
        record["entry_digest"] = digest
        record["changed"] = changed
        record["pin_hash"] = self.users.hasher.hash(user.pin) if user.pin and changed else None
        return record

    def import_user(self, user: DirectoryUser) -> None:
        """Add (or update) one user now, as a sync would: someone in the directory who
        logged in before the next sync brought them in. Their groups follow at that sync."""
        before = self._known(user.username)[0].get(user.username)
        fingerprint = self._fingerprint(user)
        changed = before is None or before.fingerprint != _short(fingerprint)
        summary = SyncSummary(kind="login")
        with self._transaction(rollback=False) as conn:
            self._apply_users(conn, [self._record(user, fingerprint, None, changed=changed)], summary, full=False,
                              now=utcnow())

    def _known(self, username: str | None = None, *, deleted=frozenset()) -> tuple[dict[str, _Known], dict]:
        """The directory users imported so far: ``{name: _Known}``, and ``{entry digest:
        name}`` of those not deleted (the name the same string object in both)."""
        query = (select(users.c.username, users.c.id, users.c.enabled, directory_users.c.fingerprint,
                        directory_users.c.disabled_by_sync, directory_users.c.entry_digest)
                 .join(directory_users, directory_users.c.user_id == users.c.id))
        if username is not None:
            query = query.where(users.c.username == username)
        known, by_digest = {}, {}
        with self.db.reader.connect() as conn:
            for name, user_id, enabled, fingerprint, by_sync, digest in scan(conn, query, BATCH):
                known[name] = _Known(user_id, _short(fingerprint), bool(enabled), bool(by_sync))
                if digest is not None and name not in deleted:
                    by_digest[digest] = name
        return known, by_digest

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
                # Every directory user's id (names as the read holds them): plain rows
                # from the driver, in this transaction (SQLAlchemy's Row per user cost
                # more than the query).
                seen = state.seen
                ids = {seen.get(name, name): user_id for name, user_id in scan(conn, select(
                    users.c.username, users.c.id).join(directory_users, directory_users.c.user_id == users.c.id)
                    .where(users.c.deleted_at.is_(None)), BATCH)}
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
        # A sync's additions are audited by its one summary row (and its run record); a
        # user brought in at their first login gets a row of their own.
        ids = self.users.insert_users(conn, new, source="directory", actor="directory",
                                      audit_each=summary.kind == "login")
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
                             "disabled_by_sync": disabled_by_sync, "seen_at": now,
                             "entry_digest": record["entry_digest"], "cards": "\n".join(record["cards"])}
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
                seen_at=bindparam("seen_at"), entry_digest=bindparam("entry_digest"), cards=bindparam("cards")),
                tracked_rows)
        insert_rows(conn, directory_users, [
            {"user_id": r["uid"], "dn": r["dn"], "fingerprint": r["fingerprint"], "disabled_by_sync": r["disabled_by_sync"],
             "seen_at": r["seen_at"], "entry_digest": r["entry_digest"], "cards": r["cards"]} for r in untracked_rows])
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
        """Full sync: directory cards become exactly what the directory says (the
        ``cards`` of each directory user still in it, as last imported), less the numbers
        two users have (given to neither) and those held locally by someone else. Users
        gone from the directory keep theirs until someone else is given them. Both tables
        are read a chunk at a time, once each, so memory grows with the cards the
        directory gives, not with anything else."""
        seen_ids = {ids[name] for name in state.seen if name in ids}
        wanted: dict[str, int] = {}
        duplicates: dict[str, set] = {}
        for user_id, numbers in scan(conn, select(directory_users.c.user_id, directory_users.c.cards)
                                     .where(directory_users.c.cards != ""), BATCH):
            if user_id in seen_ids:
                for number in numbers.split("\n"):
                    holder = wanted.setdefault(number, user_id)
                    if holder != user_id:
                        duplicates.setdefault(number, {holder}).add(user_id)
        for number in duplicates:
            del wanted[number]
        names: dict[int, str] = {}

        def name_of(user_id: int) -> str:
            if not names:
                names.update((found_id, name) for name, found_id in ids.items())
            return names.get(user_id, f"user {user_id}")

        for number, holders in sorted(duplicates.items()):
            summary.problems.append(f"card {number} is on {', '.join(sorted(map(name_of, holders)))}; given to neither")
        # What is left in ``wanted`` after this pass is what nobody holds yet.
        removed, conflicts = [], []
        for number, user_id, source in scan(conn, select(cards.c.number, cards.c.user_id, cards.c.source), BATCH):
            holder = wanted.get(number)
            if holder == user_id:
                del wanted[number]
            elif holder is not None:
                if source == "directory":
                    removed.append(number)  # given to someone else now
                else:
                    del wanted[number]
                    conflicts.append((number, holder))
            elif source == "directory" and (number in duplicates or user_id in seen_ids):
                removed.append(number)  # withheld, or no longer the (still present) user's
        for number, holder in sorted(conflicts):
            summary.problems.append(f"card {number} of {name_of(holder)} is registered to another user at the "
                                    "gateway; not given")
        for chunk in _chunks(removed):
            conn.execute(delete(cards).where(cards.c.number.in_(chunk), cards.c.source == "directory"))
        now = utcnow()
        insert_rows(conn, cards, ({"user_id": user_id, "number": number, "created_at": now, "source": "directory"}
                                  for number, user_id in sorted(wanted.items())))

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
        insert_tuples(conn, user_groups, ("user_id", "group_id"),
                      ((user_id, group_id) for user_id in sorted(wanted - current)))

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
