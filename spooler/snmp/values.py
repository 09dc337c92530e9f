"""Replies become plain Python at the boundary: int, bytes, a dotted OID string or None
(noSuchObject / noSuchInstance / endOfMibView). Text taken from an agent is bounded and
stripped of control characters before anyone stores or shows it."""
from __future__ import annotations

from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905

#: Longest text kept from an agent (names, descriptions, serials).
MAX_TEXT = 255
_EMPTY = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)


def plain(value):
    """An SNMP value as int / bytes / str (OIDs, IP addresses) / None."""
    if isinstance(value, _EMPTY) or value is None:
        return None
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(part) for part in value)
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(octet) for octet in value.asOctets())
    if isinstance(value, univ.OctetString):
        return value.asOctets()
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.Null):
        return None
    return None


def text(value, limit: int = MAX_TEXT) -> str:
    """Printable text from an agent's OCTET STRING (or anything else), at most ``limit``
    characters. Trailing NULs, which some printers pad with, are dropped."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value[: limit * 4].split(b"\x00", 1)[0].decode("utf-8", "replace")
    value = str(value)
    return "".join(ch for ch in value if ch.isprintable())[:limit].strip()


def integer(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def mac_address(value) -> str:
    if isinstance(value, bytes) and len(value) == 6 and any(value):
        return ":".join(f"{octet:02x}" for octet in value)
    return ""
