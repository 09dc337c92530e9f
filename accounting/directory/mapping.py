"""From a directory entry to the user the gateway keeps: username, name, email, cards
(each attribute with its transform), cost center, PIN, disabled flag.

Values come from the network and are treated as such: text must be UTF-8 (a field that
is not is left empty and reported, the user is still imported); a user name that is not
one the gateway accepts skips the entry, reported; a card value that cannot be
converted is dropped, reported. Nothing here raises for bad data.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

from accounting.directory.cards import CardValueError, card_number
from accounting.directory.connection import Entry
from accounting.directory.settings import DirectorySettings
from accounting.users import USERNAME

ACCOUNT_DISABLED = 0x2  # userAccountControl ACCOUNTDISABLE
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_TEXT = 255
#: ``json.dumps(document, ensure_ascii=False)`` builds this encoder anew on every call; a
#: full sync fingerprints every user it reads, so it is built once (the same text).
_FINGERPRINT_JSON = json.JSONEncoder(ensure_ascii=False)


@dataclass(frozen=True)
class DirectoryUser:
    username: str
    dn: str
    full_name: str
    email: str
    cost_center: str
    cards: tuple[str, ...]
    disabled: bool
    pin: str | None = None

    def fingerprint(self, pin_digest: str = "") -> str:
        """What the gateway last imported from this entry, as one digest: an entry
        whose digest is unchanged needs no write."""
        document = [self.username, self.dn.lower(), self.full_name, self.email, self.cost_center,
                    sorted(self.cards), self.disabled, pin_digest]
        return hashlib.sha256(_FINGERPRINT_JSON.encode(document).encode("utf-8")).hexdigest()[:32]

    def as_record(self) -> dict:
        return {"username": self.username, "dn": self.dn, "full_name": self.full_name, "email": self.email,
                "cost_center": self.cost_center, "cards": list(self.cards), "disabled": self.disabled}


def text(entry: Entry, attribute: str | None, problems: list, *, limit: int = MAX_TEXT) -> str:
    values = entry.values(attribute)
    if not values:
        return ""
    raw = values[0]
    if raw.isascii() and len(raw) <= limit:
        value = raw.decode("ascii").strip()
        if CONTROL.search(value):
            problems.append(f"{entry.dn}: {attribute} holds control characters; left empty")
            return ""
        return value
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{entry.dn}: {attribute} is not UTF-8 text; left empty")
        return ""
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    value = value.strip()
    if CONTROL.search(value):
        problems.append(f"{entry.dn}: {attribute} holds control characters; left empty")
        return ""
    if len(value) > limit:
        problems.append(f"{entry.dn}: {attribute} longer than {limit} characters; cut")
        value = value[:limit]
    return value


def map_user(entry: Entry, settings: DirectorySettings, problems: list) -> DirectoryUser | None:
    """The user ``entry`` describes, or None (and a problem) when it cannot be one."""
    attributes = settings.attributes
    values = entry.values(attributes.username)
    if not values:
        problems.append(f"{entry.dn}: no {attributes.username}; skipped")
        return None
    try:
        username = values[0].decode("utf-8").strip()
    except UnicodeDecodeError:
        username = ""
    if not USERNAME.match(username):
        problems.append(f"{entry.dn}: {attributes.username} {values[0][:64]!r} is not a usable user name; skipped")
        return None
    email = text(entry, attributes.email, problems, limit=320)
    if email and "@" not in email:
        problems.append(f"{entry.dn}: {attributes.email} {email!r} is not an address; left empty")
        email = ""
    cards = []
    for source in attributes.cards:
        for raw in entry.values(source.attribute):
            try:
                number = card_number(raw, source.transform, source.trim_zeros)
            except CardValueError as exc:
                problems.append(f"{entry.dn}: {source.attribute}: {exc}; dropped")
                continue
            if number not in cards:
                cards.append(number)
    disabled = False
    if attributes.disabled:
        flags = entry.values(attributes.disabled)
        if flags:
            try:
                disabled = bool(int(flags[0]) & ACCOUNT_DISABLED)
            except ValueError:
                problems.append(f"{entry.dn}: {attributes.disabled} {flags[0][:32]!r} is not a number; not disabled")
    pin = None
    if attributes.pin:
        pin = text(entry, attributes.pin, problems) or None
        if pin is not None and not (pin.isdigit() and pin.isascii() and 4 <= len(pin) <= 12):
            problems.append(f"{entry.dn}: {attributes.pin} is not a PIN of 4 to 12 digits; ignored")
            pin = None
    return DirectoryUser(username=username, dn=entry.dn, full_name=text(entry, attributes.full_name, problems),
                         email=email, cost_center=text(entry, attributes.cost_center, problems, limit=64),
                         cards=tuple(cards), disabled=disabled, pin=pin)
