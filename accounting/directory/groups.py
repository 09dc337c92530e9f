"""Groups as the directory has them, resolved to the user names in each.

A group names its members by DN (``member``, ``uniqueMember``; a member may itself be a
group: nesting) or by user name (``memberUid`` of a posixGroup). ``nested_groups``:

- ``client``: nesting is followed here, through the groups read (cycles are cut);
- ``in-chain``: the server resolves it (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN),
  one search per group for the users in it at any depth;
- ``none``: direct members only.

Active Directory hands out large multi-valued attributes in ranges
(``member;range=0-1499``); ``all_values`` reads the remaining ranges.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from accounting.directory.connection import DirectorySession, Entry
from accounting.directory.filters import members_in_chain
from accounting.directory.settings import DirectorySettings

RANGE = re.compile(r"^(?P<name>[^;]+);range=(?P<low>\d+)-(?P<high>\d+|\*)$")
MAX_RANGE_READS = 10_000


def normalize_dn(dn: str) -> str:
    """One spelling per DN for lookups (case and blanks around separators ignored)."""
    lowered = dn.lower()
    if " " not in lowered:
        return lowered
    return ",".join("=".join(part.strip() for part in rdn.split("=", 1)) for rdn in lowered.split(","))


class UserNames:
    """Which user a member DN names. Most DNs carry their user's name in their first RDN
    under a user base (``uid=jdoe,ou=people,...``): those are recognized, not stored, so
    a directory of many users costs no dictionary of all their DNs; the rest are kept."""

    def __init__(self, settings: DirectorySettings, is_user):
        self.attribute = settings.attributes.username.lower()
        self.bases = tuple("," + normalize_dn(base) for base in settings.user_bases)
        self.known = is_user  # callable(name) -> the name as the sync holds it, or None
        self.others: dict[str, str] = {}

    def add(self, dn: str, username: str) -> None:
        normalized = normalize_dn(dn)
        if self._derived(normalized) != username:
            self.others[normalized] = username

    def _derived(self, normalized: str) -> str | None:
        attribute, _, rest = normalized.partition("=")
        if attribute != self.attribute:
            return None
        value, comma, suffix = rest.partition(",")
        if not (comma + suffix).endswith(self.bases):
            return None
        return value

    def get(self, normalized: str) -> str | None:
        found = self.others.get(normalized)
        if found is not None:
            return found
        derived = self._derived(normalized)
        return self.known(derived) if derived is not None else None

    def named(self, name: str) -> str:
        """A user name from a memberUid, as the sync holds it (one string per user)."""
        return self.known(name) or name


@dataclass
class DirectoryGroup:
    name: str
    dn: str
    members: set = field(default_factory=set)  # user names

    def fingerprint(self) -> str:
        text = "\0".join([self.dn.lower(), *sorted(self.members)])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def all_values(session: DirectorySession, entry: Entry, attribute: str) -> list[bytes]:
    """Every value of ``attribute``, following AD's ranged retrieval when the server cut it."""
    attribute = attribute.lower()
    values = list(entry.values(attribute))
    ranged = [(name, RANGE.match(name)) for name in entry.attributes if name.startswith(attribute + ";range=")]
    for name, match in ranged:
        values.extend(entry.attributes[name])
        high = match.group("high")
        reads = 0
        while high != "*" and reads < MAX_RANGE_READS:
            reads += 1
            low = int(high) + 1
            more = session.read(entry.dn, [f"{attribute};range={low}-*"])
            if more is None:
                break
            found = [(n, RANGE.match(n)) for n in more.attributes if n.startswith(attribute + ";range=")]
            if not found:
                break
            next_name, next_match = found[0]
            values.extend(more.attributes[next_name])
            high = next_match.group("high")
    return values


def read_groups(session: DirectorySession, settings: DirectorySettings, user_names: UserNames,
                problems: list, progress=None) -> list[DirectoryGroup]:
    """Every group under the group bases, with its members resolved to user names
    (only users the sync knows, through ``user_names``)."""
    attributes = settings.attributes
    group_entries: dict[str, tuple[DirectoryGroup, list[str]]] = {}
    for base in settings.group_bases:
        for entry in session.paged_search(base, settings.group_filter, attributes.group_attributes()):
            names = entry.values(attributes.group_name)
            try:
                name = names[0].decode("utf-8").strip() if names else ""
            except UnicodeDecodeError:
                name = ""
            if not name or len(name) > 255:
                problems.append(f"{entry.dn}: group without a usable {attributes.group_name}; skipped")
                continue
            key = normalize_dn(entry.dn)
            group = DirectoryGroup(name=name, dn=entry.dn)
            child_dns = []
            # Every member of every group passes here (a large directory: hundreds of
            # thousands): the methods are looked up once per group.
            add, named, user_of = group.members.add, user_names.named, user_names.get
            for member_attribute in attributes.group_members:
                for raw in all_values(session, entry, member_attribute):
                    try:
                        value = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        problems.append(f"{entry.dn}: a {member_attribute} value is not UTF-8; ignored")
                        continue
                    if "=" not in value:  # memberUid: a user name
                        add(named(value.strip()))
                        continue
                    member = normalize_dn(value)
                    username = user_of(member)
                    if username is not None:
                        add(username)
                    else:
                        child_dns.append(member)
            group_entries[key] = (group, child_dns)
            if progress is not None:
                progress(1)
    if settings.nested_groups == "client":
        _expand(group_entries)
    elif settings.nested_groups == "in-chain":
        for group, _ in group_entries.values():
            for base in settings.user_bases:
                for entry in session.paged_search(base, members_in_chain(settings, group.dn),
                                                  [attributes.username]):
                    username = user_names.get(normalize_dn(entry.dn))
                    if username is not None:
                        group.members.add(username)
    by_name: dict[str, DirectoryGroup] = {}
    for group, _ in group_entries.values():
        if group.name in by_name:
            problems.append(f"{group.dn}: another group is also named {group.name!r}; members merged")
            by_name[group.name].members |= group.members
        else:
            by_name[group.name] = group
    return list(by_name.values())


def _expand(group_entries: dict) -> None:
    """Give each group the members of the groups nested in it, at any depth; each group
    is visited once per walk, so cycles end."""
    expanded = {}
    for key, (group, children) in group_entries.items():
        if not any(child in group_entries for child in children):
            continue  # nothing nested: its members are already all of them
        found, seen, waiting = set(group.members), {key}, list(children)
        while waiting:
            child = waiting.pop()
            if child in seen or child not in group_entries:
                continue
            seen.add(child)
            child_group, grandchildren = group_entries[child]
            found |= child_group.members
            waiting.extend(grandchildren)
        expanded[key] = found
    for key, members in expanded.items():
        group_entries[key][0].members = members
