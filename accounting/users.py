"""Users, groups, cards, PINs and passwords — and each user's personal account.

A user gets a personal account (named after the user) when created. Card numbers are
unique across users. PINs and passwords are stored only as Argon2id hashes.
"""
from __future__ import annotations

import csv
import io
import re

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from accounting import listings
from accounting.audit import audit, audit_many
from accounting.database import Database
from accounting.errors import CsvImportError, DeletedUser, DuplicateCard, DuplicateUser, UnknownCard, UnknownUser
from accounting.lean_sql import insert_rows, insert_rows_returning_ids
from accounting.passwords import SecretHasher
from accounting.records import User
from accounting.schema import account_members, accounts, cards, groups, ledger_entries, quotas, user_groups, users
from accounting.time import utcnow

USERNAME = re.compile(r"^[A-Za-z0-9._@+\-\\]{1,255}$")
CARD = re.compile(r"^[A-Za-z0-9:\-]{1,64}$")
MIN_PASSWORD_LENGTH = 8
CSV_COLUMNS = ("username", "full_name", "email", "cost_center", "groups", "cards", "pin", "balance")


def _masked(card: str) -> str:
    """A card number as the audit log keeps it: only its last four characters."""
    return card[-4:].rjust(len(card), "*")


def normalize_card(number: str) -> str:
    """Readers differ in case and separators; store one spelling."""
    return str(number).strip().replace(" ", "").upper()


class UserStore:
    def __init__(self, database: Database, *, hasher: SecretHasher | None = None,
                 new_account_restricted: bool = True, new_account_balance: int = 0):
        self.db = database
        self.hasher = hasher or SecretHasher()
        self.new_account_restricted = new_account_restricted
        self.new_account_balance = new_account_balance

    # -- creating ---------------------------------------------------------------------
    def add_user(self, username: str, *, full_name: str = "", email: str = "", cost_center: str = "",
                 groups: tuple[str, ...] = (), cards: tuple[str, ...] = (), pin: str | None = None,
                 source: str = "local", balance: int | None = None, actor: str = "admin") -> User:
        with self.db.writer.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.username == username)).first():
                raise DuplicateUser(username)
            user_id = self._insert_user(conn, username, full_name=full_name, email=email, cost_center=cost_center,
                                        source=source, pin=pin, balance=balance, actor=actor)
            self._set_groups(conn, user_id, groups)
            for card in cards:
                self._add_card(conn, user_id, username, card, actor=actor)
        return self.get_user(username)

    def ensure_user(self, username: str, *, actor: str = "intake") -> int:
        """The id of ``username``, creating the user (source "auto") on first sight."""
        with self.db.reader.connect() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
        if user_id is not None:
            return user_id
        try:
            with self.db.writer.begin() as conn:
                user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
                if user_id is None:
                    user_id = self._insert_user(conn, username, source="auto", actor=actor)
                return user_id
        except IntegrityError:
            with self.db.reader.connect() as conn:
                return conn.execute(select(users.c.id).where(users.c.username == username)).scalar()

    def _insert_user(self, conn, username, *, full_name="", email="", cost_center="", source="local",
                     pin=None, balance=None, actor="admin") -> int:
        person = {"username": username, "full_name": full_name, "email": email, "cost_center": cost_center,
                  "pin_hash": self.hasher.hash(pin) if pin else None, "balance": balance}
        return self.insert_users(conn, [person], source=source, actor=actor)[username]

    def insert_users(self, conn, people: list[dict], *, source: str, actor: str,
                     audit_each: bool = True) -> dict[str, int]:
        """Insert users (dicts of ``username``, ``full_name``, ``email``, ``cost_center``,
        optional ``pin_hash`` and ``balance``), each with a personal account, in the
        caller's transaction, a few statements for the whole list (a directory's first
        sync adds thousands). Each gets a ``user.add`` audit row unless ``audit_each`` is
        false: a caller that audits the whole change as one (a directory sync, which
        records its run and writes one summary row) says so. Returns ``{username: id}``."""
        if not people:
            return {}
        for person in people:
            if not USERNAME.match(person["username"] or ""):
                raise ValueError(f"invalid username {person['username']!r}")
        now = utcnow()
        user_ids = insert_rows_returning_ids(conn, users, [
            {"username": p["username"], "full_name": p.get("full_name", ""), "email": p.get("email", ""),
             "cost_center": p.get("cost_center", ""), "enabled": True, "source": source, "created_at": now,
             "pin_hash": p.get("pin_hash")} for p in people])
        ids = {p["username"]: user_id for p, user_id in zip(people, user_ids)}
        openings = [self.new_account_balance if p.get("balance") is None else p["balance"] for p in people]
        account_rows = [
            {"name": p["username"], "kind": "personal", "user_id": user_id, "balance": opening, "reserved": 0,
             "overdraft_limit": 0, "restricted": self.new_account_restricted, "enabled": True, "created_at": now}
            for p, user_id, opening in zip(people, user_ids, openings)]
        if any(openings):
            account_ids = insert_rows_returning_ids(conn, accounts, account_rows)
            insert_rows(conn, ledger_entries, [
                {"account_id": account_id, "kind": "topup", "amount": opening, "balance_after": opening,
                 "actor": actor, "reason": "opening balance", "created_at": now}
                for account_id, opening in zip(account_ids, openings) if opening])
        else:
            insert_rows(conn, accounts, account_rows)
        if audit_each:
            audit_many(conn, [{"actor": actor, "action": "user.add", "target": p["username"],
                               "new": {"full_name": p.get("full_name", ""), "email": p.get("email", ""),
                                       "cost_center": p.get("cost_center", ""), "source": source}}
                              for p in people], at=now)
        return ids

    def _set_groups(self, conn, user_id: int, names) -> None:
        for name in names:
            group_id = conn.execute(select(groups.c.id).where(groups.c.name == name)).scalar()
            if group_id is None:
                group_id = conn.execute(insert(groups).values(name=name, description="", created_at=utcnow())
                                        ).inserted_primary_key[0]
            if not conn.execute(select(user_groups.c.user_id).where(user_groups.c.user_id == user_id,
                                                                     user_groups.c.group_id == group_id)).first():
                conn.execute(insert(user_groups).values(user_id=user_id, group_id=group_id))

    def _add_card(self, conn, user_id: int, username: str, number: str, *, actor: str) -> None:
        card = normalize_card(number)
        if not CARD.match(card):
            raise ValueError(f"invalid card number {number!r}")
        owner = conn.execute(
            select(users.c.username).join(cards, cards.c.user_id == users.c.id).where(cards.c.number == card)
        ).scalar()
        if owner is not None:
            raise DuplicateCard(card, owner)
        conn.execute(insert(cards).values(user_id=user_id, number=card, created_at=utcnow()))
        audit(conn, actor=actor, action="user.add-card", target=username, new={"card": _masked(card)})

    # -- changing -----------------------------------------------------------------------
    def _user_id(self, conn, username_or_id) -> tuple[int, str]:
        query = select(users.c.id, users.c.username)
        if isinstance(username_or_id, int) or (isinstance(username_or_id, str) and username_or_id.isdigit()
                                               and not self._username_exists(conn, username_or_id)):
            query = query.where(users.c.id == int(username_or_id))
        else:
            query = query.where(users.c.username == username_or_id)
        row = conn.execute(query).first()
        if row is None:
            raise UnknownUser(username_or_id)
        return row.id, row.username

    @staticmethod
    def _username_exists(conn, name) -> bool:
        return conn.execute(select(users.c.id).where(users.c.username == name)).first() is not None

    def add_card(self, username: str, number: str, *, actor: str = "admin") -> User:
        try:
            with self.db.writer.begin() as conn:
                user_id, name = self._user_id(conn, username)
                self._add_card(conn, user_id, name, number, actor=actor)
        except IntegrityError:
            raise DuplicateCard(normalize_card(number)) from None
        return self.get_user(username)

    def remove_card(self, number: str, *, actor: str = "admin") -> str:
        """Unregister a card; returns the username it belonged to."""
        card = normalize_card(number)
        with self.db.writer.begin() as conn:
            owner = conn.execute(select(users.c.username).join(cards, cards.c.user_id == users.c.id)
                                 .where(cards.c.number == card)).scalar()
            if owner is None:
                raise UnknownCard(card)
            conn.execute(delete(cards).where(cards.c.number == card))
            audit(conn, actor=actor, action="user.remove-card", target=owner, old={"card": _masked(card)})
        return owner

    def set_pin(self, username: str, pin: str, *, actor: str = "admin") -> None:
        if not re.fullmatch(r"\d{4,12}", pin or ""):
            raise ValueError("a PIN is 4 to 12 digits")
        encoded = self.hasher.hash(pin)
        with self.db.writer.begin() as conn:
            user_id, name = self._user_id(conn, username)
            conn.execute(update(users).where(users.c.id == user_id).values(pin_hash=encoded))
            audit(conn, actor=actor, action="user.set-pin", target=name)

    def set_password(self, username: str, password: str, *, actor: str = "admin") -> None:
        """The password of the panel, of card self-linking and of ipps:// queues that
        require authentication: at least ``MIN_PASSWORD_LENGTH`` characters."""
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
        encoded = self.hasher.hash(password)
        with self.db.writer.begin() as conn:
            user_id, name = self._user_id(conn, username)
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=encoded))
            audit(conn, actor=actor, action="user.set-password", target=name)

    def set_enabled(self, username: str, enabled: bool, *, actor: str = "admin") -> None:
        """A disabled user's jobs are refused at intake and they cannot log in; their
        money and history stay."""
        with self.db.writer.begin() as conn:
            user_id, name = self._user_id(conn, username)
            if conn.execute(select(users.c.deleted_at).where(users.c.id == user_id)).scalar() is not None:
                raise DeletedUser(name)
            conn.execute(update(users).where(users.c.id == user_id).values(enabled=enabled))
            audit(conn, actor=actor, action="user.enable" if enabled else "user.disable", target=name)

    def delete_user(self, username: str, *, actor: str = "admin") -> None:
        """Remove a person and keep their history. What identifies or admits them goes
        (cards, PIN, password, groups, shared-account rights, personal quotas, e-mail);
        the row stays, disabled for good, with their personal account (disabled, its
        balance as it was), so that jobs, the ledger, reports and the audit log keep
        naming them."""
        with self.db.writer.begin() as conn:
            user_id, name = self._user_id(conn, username)
            if conn.execute(select(users.c.deleted_at).where(users.c.id == user_id)).scalar() is not None:
                raise DeletedUser(name)
            for table in (cards, user_groups, account_members, quotas):
                conn.execute(delete(table).where(table.c.user_id == user_id))
            conn.execute(update(users).where(users.c.id == user_id).values(
                enabled=False, pin_hash=None, password_hash=None, email="", deleted_at=utcnow()))
            conn.execute(update(accounts).where(accounts.c.user_id == user_id).values(enabled=False))
            audit(conn, actor=actor, action="user.delete", target=name)

    def add_to_groups(self, username: str, names, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            user_id, name = self._user_id(conn, username)
            self._set_groups(conn, user_id, names)
            audit(conn, actor=actor, action="user.groups", target=name, new=list(names))

    # -- reading ----------------------------------------------------------------------------
    def get_user(self, username_or_id) -> User:
        with self.db.reader.connect() as conn:
            user_id, _ = self._user_id(conn, username_or_id)
            return listings.list_users(self._listing_reader(conn), user_id=user_id)[0]

    def list_users(self, *, group: str | None = None, limit: int | None = None) -> list[User]:
        """The query ``printgate users list`` runs (``accounting.listings``)."""
        with self.db.reader.connect() as conn:
            return listings.list_users(self._listing_reader(conn), group=group, limit=limit)

    def _listing_reader(self, conn) -> listings.Reader:
        return listings.Reader.on(conn.connection.driver_connection, is_sqlite=self.db.is_sqlite)

    # -- CSV import -------------------------------------------------------------------------
    def import_csv(self, text: str, *, actor: str = "admin") -> int:
        """Create or update the users of a CSV file (header row; columns from
        ``CSV_COLUMNS``, ``username`` required; ``groups`` and ``cards`` separated by ";";
        ``balance`` in minor units, for new users only). All rows or none: the first
        malformed row raises ``CsvImportError`` with its line number and nothing is kept."""
        rows = self._parse_csv(text)
        line = 0
        try:
            with self.db.writer.begin() as conn:
                for line, row in rows:
                    existing = conn.execute(select(users.c.id).where(users.c.username == row["username"])).scalar()
                    if existing is None:
                        user_id = self._insert_user(
                            conn, row["username"], full_name=row["full_name"], email=row["email"],
                            cost_center=row["cost_center"], pin=row["pin"], balance=row["balance"], actor=actor,
                        )
                    else:
                        user_id = existing
                        changes = {k: row[k] for k in ("full_name", "email", "cost_center") if row[k]}
                        if row["pin"]:
                            changes["pin_hash"] = self.hasher.hash(row["pin"])
                        if changes:
                            conn.execute(update(users).where(users.c.id == user_id).values(**changes))
                            audit(conn, actor=actor, action="user.update", target=row["username"],
                                  new={k: v for k, v in changes.items() if k != "pin_hash"})
                    self._set_groups(conn, user_id, row["groups"])
                    present = set(conn.execute(select(cards.c.number).where(cards.c.user_id == user_id)).scalars())
                    for card in row["cards"]:
                        if card not in present:
                            self._add_card(conn, user_id, row["username"], card, actor=actor)
        except CsvImportError:
            raise
        except (DuplicateCard, ValueError, IntegrityError) as exc:
            raise CsvImportError(line, str(exc).splitlines()[0]) from None
        return len(rows)

    def _parse_csv(self, text: str) -> list[tuple[int, dict]]:
        reader = csv.reader(io.StringIO(text))
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise CsvImportError(1, "empty file: a header row is required") from None
        except csv.Error as exc:
            raise CsvImportError(1, str(exc)) from None
        unknown = [h for h in header if h not in CSV_COLUMNS]
        if unknown or "username" not in header:
            raise CsvImportError(1, f"header must name username and only {', '.join(CSV_COLUMNS)}"
                                    + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        rows, seen_users, seen_cards = [], {}, {}
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise CsvImportError(reader.line_num, str(exc)) from None
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise CsvImportError(line, f"expected {len(header)} fields, found {len(values)}")
            raw = {name: value.strip() for name, value in zip(header, values)}
            username = raw.get("username", "")
            if not USERNAME.match(username):
                raise CsvImportError(line, f"invalid username {username!r}")
            if username in seen_users:
                raise CsvImportError(line, f"user {username!r} also on line {seen_users[username]}")
            seen_users[username] = line
            card_list = [normalize_card(c) for c in raw.get("cards", "").split(";") if c.strip()]
            for card in card_list:
                if not CARD.match(card):
                    raise CsvImportError(line, f"invalid card number {card!r}")
                if card in seen_cards:
                    raise CsvImportError(line, f"card {card!r} also on line {seen_cards[card]}")
                seen_cards[card] = line
            pin = raw.get("pin", "")
            if pin and not re.fullmatch(r"\d{4,12}", pin):
                raise CsvImportError(line, "a PIN is 4 to 12 digits")
            balance = raw.get("balance", "")
            if balance and not re.fullmatch(r"-?\d+", balance):
                raise CsvImportError(line, f"balance must be an integer in minor units, not {balance!r}")
            email = raw.get("email", "")
            if email and "@" not in email:
                raise CsvImportError(line, f"invalid email {email!r}")
            rows.append((line, {
                "username": username, "full_name": raw.get("full_name", ""), "email": email,
                "cost_center": raw.get("cost_center", ""),
                "groups": [g.strip() for g in raw.get("groups", "").split(";") if g.strip()],
                "cards": card_list, "pin": pin or None, "balance": int(balance) if balance else None,
            }))
        return rows
