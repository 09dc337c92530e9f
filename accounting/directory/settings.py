"""What the gateway knows about the directory: servers, security, where people and groups
are, and which attribute says what. ``settings_from_section`` reads the ``[directory]``
table of the configuration file (``printgate.toml.example`` documents every key).

Two presets give every default at once: ``openldap`` (``inetOrgPerson`` people,
``groupOfNames``/``groupOfUniqueNames``/``posixGroup`` groups, ``modifyTimestamp``) and
``active_directory`` (``sAMAccountName``, ``memberOf`` with nested groups resolved by the
server through ``LDAP_MATCHING_RULE_IN_CHAIN``, the disabled bit of
``userAccountControl``, ``whenChanged``). Any key set in the file wins over the preset.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from accounting.directory.cards import TRANSFORMS
from accounting.directory.errors import DirectoryConfigError

BIND_METHODS = ("simple", "digest-md5", "gssapi")
NESTED_GROUPS = ("client", "in-chain", "none")
DEFAULT_SECRET = "directory/bind"


@dataclass(frozen=True)
class CardSource:
    """One attribute holding card numbers, and how to turn its values into the number a
    reader sends: ``transform`` is one of ``accounting.directory.cards.TRANSFORMS``;
    ``trim_zeros`` drops leading zeros after it."""

    attribute: str
    transform: str = "none"
    trim_zeros: bool = False


@dataclass(frozen=True)
class AttributeMap:
    username: str = "uid"
    full_name: str = "cn"
    email: str = "mail"
    cards: tuple[CardSource, ...] = (CardSource("employeeNumber"),)
    cost_center: str | None = "departmentNumber"
    pin: str | None = None
    #: AD: the bit 0x2 (ACCOUNTDISABLE) of this integer attribute disables the user.
    disabled: str | None = None
    modified: str = "modifyTimestamp"
    group_name: str = "cn"
    #: Attributes of a group naming its members: DNs (member, uniqueMember) or user
    #: names (memberUid).
    group_members: tuple[str, ...] = ("member", "uniqueMember", "memberUid")

    def user_attributes(self) -> list[str]:
        names = [self.username, self.full_name, self.email, self.modified]
        names += [card.attribute for card in self.cards]
        names += [name for name in (self.cost_center, self.pin, self.disabled) if name]
        return list(dict.fromkeys(names))

    def group_attributes(self) -> list[str]:
        return list(dict.fromkeys([self.group_name, self.modified, *self.group_members]))


@dataclass(frozen=True)
class DirectorySettings:
    servers: tuple[str, ...]
    user_bases: tuple[str, ...]
    group_bases: tuple[str, ...] = ()
    preset: str = "openldap"
    bind_dn: str | None = None
    password_secret: str = DEFAULT_SECRET
    bind_method: str = "simple"
    #: For ldap:// servers: upgrade with StartTLS before binding (ldaps:// is TLS anyway).
    starttls: bool = True
    ca_file: Path | None = None
    allow_plaintext: bool = False
    user_filter: str = "(objectClass=inetOrgPerson)"
    group_filter: str = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
    attributes: AttributeMap = field(default_factory=AttributeMap)
    nested_groups: str = "client"
    page_size: int = 500
    timeout: float = 10.0
    #: Minutes between incremental syncs in ``printgate serve`` (0: none on a schedule).
    sync_minutes: float = 15.0
    #: Hours between full syncs (which also disable users gone from the directory).
    full_sync_hours: float = 24.0
    #: Password logins (panel, IPP Basic) of directory users are checked by an LDAP bind.
    login: bool = True
    login_method: str = "simple"
    #: Seconds a refused (user, password) pair is answered from memory, not the server.
    failure_cache_seconds: float = 30.0

    @property
    def plaintext_possible(self) -> bool:
        """Whether some server would be bound to without TLS (only with allow_plaintext)."""
        return self.allow_plaintext and any(uri.lower().startswith("ldap://") for uri in self.servers) \
            and not self.starttls


OPENLDAP = DirectorySettings(servers=(), user_bases=())

ACTIVE_DIRECTORY = replace(
    OPENLDAP, preset="active_directory",
    user_filter="(&(objectCategory=person)(objectClass=user))", group_filter="(objectClass=group)",
    attributes=AttributeMap(username="sAMAccountName", full_name="displayName", email="mail",
                            cards=(CardSource("employeeID"),), cost_center="department", disabled="userAccountControl",
                            modified="whenChanged", group_name="cn", group_members=("member",)),
    nested_groups="in-chain",
)

PRESETS = {"openldap": OPENLDAP, "active_directory": ACTIVE_DIRECTORY}


def settings_from_section(section: dict | None) -> DirectorySettings | None:
    """The ``[directory]`` table as settings; None when there is no such table or it
    names no server. Raises ``DirectoryConfigError`` naming the key at fault."""
    if not section:
        return None
    preset_name = section.get("preset", "openldap")
    if preset_name not in PRESETS:
        raise DirectoryConfigError("preset", f"one of {', '.join(PRESETS)}, not {preset_name!r}")
    base = PRESETS[preset_name]
    servers = _strings(section, "servers", ())
    if not servers:
        raise DirectoryConfigError("servers", "name at least one ldap:// or ldaps:// URI")
    for uri in servers:
        if not uri.lower().startswith(("ldap://", "ldaps://")):
            raise DirectoryConfigError("servers", f"{uri!r} is not an ldap:// or ldaps:// URI")
    user_bases = _strings(section, "user_bases", ())
    if not user_bases:
        raise DirectoryConfigError("user_bases", "name at least one base DN where people are")
    changes = {"servers": servers, "user_bases": user_bases, "group_bases": _strings(section, "group_bases", ())}
    for key in ("bind_dn", "password_secret", "user_filter", "group_filter"):
        if key in section:
            changes[key] = _string(section, key)
    for key in ("starttls", "allow_plaintext", "login"):
        if key in section:
            changes[key] = _bool(section, key)
    for key, choices in (("bind_method", BIND_METHODS), ("login_method", ("simple", "digest-md5")),
                         ("nested_groups", NESTED_GROUPS)):
        if key in section:
            value = _string(section, key)
            if value not in choices:
                raise DirectoryConfigError(key, f"one of {', '.join(choices)}, not {value!r}")
            changes[key] = value
    if "ca_file" in section:
        changes["ca_file"] = Path(_string(section, "ca_file"))
    for key, low, high in (("page_size", 1, 10_000),):
        if key in section:
            value = section[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise DirectoryConfigError(key, f"an integer from {low} to {high}")
            changes[key] = value
    for key, low, high in (("timeout", 0.1, 600), ("sync_minutes", 0, 10_080), ("full_sync_hours", 0, 8_760),
                           ("failure_cache_seconds", 0, 3_600)):
        if key in section:
            value = section[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
                raise DirectoryConfigError(key, f"a number from {low} to {high}")
            changes[key] = float(value)
    changes["attributes"] = _attributes(section.get("attributes", {}), base.attributes)
    settings = replace(base, **changes)
    if settings.bind_method == "gssapi" and settings.bind_dn:
        raise DirectoryConfigError("bind_dn", "GSSAPI binds take their identity from the Kerberos credentials")
    return settings


def _attributes(section, base: AttributeMap) -> AttributeMap:
    if not isinstance(section, dict):
        raise DirectoryConfigError("attributes", "a table")
    changes = {}
    for key in ("username", "full_name", "email", "modified", "group_name"):
        if key in section:
            changes[key] = _string(section, key, prefix="attributes.")
    for key in ("cost_center", "pin", "disabled"):
        if key in section:
            value = _string(section, key, prefix="attributes.")
            changes[key] = value or None
    if "group_members" in section:
        changes["group_members"] = _strings(section, "group_members", (), prefix="attributes.")
    if "cards" in section:
        changes["cards"] = tuple(_card(value, index) for index, value in enumerate(section["cards"]))
    return replace(base, **changes)


def _card(value, index: int) -> CardSource:
    key = f"attributes.cards[{index}]"
    if isinstance(value, str):
        return CardSource(value)
    if not isinstance(value, dict) or not isinstance(value.get("attribute"), str):
        raise DirectoryConfigError(key, "an attribute name, or a table with attribute, transform, trim_zeros")
    transform = value.get("transform", "none")
    if transform not in TRANSFORMS:
        raise DirectoryConfigError(key, f"transform is one of {', '.join(TRANSFORMS)}, not {transform!r}")
    trim = value.get("trim_zeros", False)
    if not isinstance(trim, bool):
        raise DirectoryConfigError(key, "trim_zeros is true or false")
    return CardSource(value["attribute"], transform, trim)


def _string(section, key, *, prefix="") -> str:
    value = section[key]
    if not isinstance(value, str):
        raise DirectoryConfigError(prefix + key, "a string")
    return value


def _strings(section, key, default, *, prefix="") -> tuple[str, ...]:
    value = section.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise DirectoryConfigError(prefix + key, "a list of strings")
    return tuple(value)


def _bool(section, key) -> bool:
    value = section[key]
    if not isinstance(value, bool):
        raise DirectoryConfigError(key, "true or false")
    return value
