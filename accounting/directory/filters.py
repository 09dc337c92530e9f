"""LDAP search filters built from configuration and from what people type.

Whatever comes from outside (a user name typed at a panel, a DN read from the directory)
goes into a filter only through ``escape`` (RFC 4515: ``*``, ``(``, ``)``, ``\\`` and NUL
become ``\\2a`` ...): a name like ``*)(uid=*`` then matches only a user literally called
that, never everyone.
"""
from __future__ import annotations

#: Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: membership through nested groups.
IN_CHAIN = "1.2.840.113556.1.4.1941"


def escape(value: str) -> str:
    out = []
    for char in value:
        if char in "*()\\\0":
            out.append("\\%02x" % ord(char))
        else:
            out.append(char)
    return "".join(out)


def both(first: str, second: str) -> str:
    return f"(&{first}{second})"


def user_named(settings, username: str) -> str:
    return both(settings.user_filter, f"({settings.attributes.username}={escape(username)})")


def changed_since(base_filter: str, attribute: str, watermark: str | None) -> str:
    """``base_filter`` narrowed to entries modified at or after ``watermark`` (the
    server's GeneralizedTime) — or ``base_filter`` itself for a full read."""
    if not watermark:
        return base_filter
    return both(base_filter, f"({attribute}>={escape(watermark)})")


def members_in_chain(settings, group_dn: str) -> str:
    """Users in ``group_dn`` directly or through nested groups, resolved by the server."""
    return both(settings.user_filter, f"(memberOf:{IN_CHAIN}:={escape(group_dn)})")
