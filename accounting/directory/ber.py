"""Reading LDAP messages off the wire (``split_messages``) and ``SearchResultEntry``
messages (RFC 4511 §4.5.2), sans-IO.

Why our own: ldap3 decodes every entry into nested dictionaries, then again into
case-insensitive dictionaries of formatted values — about 60 µs per entry, ten times
what the sync needs. A full sync reads every entry of the directory, so this module
reads just the three things a sync uses (message id, DN, attribute values as bytes) in
one pass over the message. Everything else (binds, results, referrals, controls) is
still decoded by ldap3.

A message from the network is hostile: lengths are checked against the buffer, tags
against the grammar, and the number of values per attribute against ``max_values``;
anything else is ``MalformedReply``.
"""
from __future__ import annotations

from accounting.directory.errors import MalformedReply

SEARCH_RESULT_ENTRY = 0x64
SEQUENCE, SET, OCTET_STRING, INTEGER = 0x30, 0x31, 0x04, 0x02
#: Values of one attribute in one entry: a group of a million members is read, more is
#: refused (AD hands out big groups in ranges of 1,500 anyway).
MAX_VALUES = 1_000_000
#: Attribute descriptions as read -> in lower case: the same few repeat in every entry.
_NAMES: dict[bytes, str] = {}
MAX_NAMES = 4096
#: One LDAP message from the server, at most (a group of a million members fits).
MAX_MESSAGE = 256 * 1024 * 1024


def _length(data: bytes, i: int, end: int) -> tuple[int, int]:
    """(length, offset of the contents) of the TLV whose length octets start at ``i``."""
    if i >= end:
        raise MalformedReply("truncated length", i)
    first = data[i]
    if first < 0x80:
        length, start = first, i + 1
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or i + 1 + count > end:
            raise MalformedReply("unsupported or truncated length", i)
        length, start = int.from_bytes(data[i + 1:i + 1 + count], "big"), i + 1 + count
    if start + length > end:
        raise MalformedReply("length beyond the message", i)
    return length, start


def _expect(data: bytes, i: int, end: int, tag: int) -> tuple[int, int]:
    if i >= end or data[i] != tag:
        raise MalformedReply(f"expected tag 0x{tag:02x}", i)
    return _length(data, i + 1, end)


def message_header(message: bytes) -> tuple[int, int, int]:
    """``(message id, protocolOp tag, offset of the protocolOp)`` of one LDAPMessage (tag
    0x64: a search entry)."""
    end = len(message)
    _, i = _expect(message, 0, end, SEQUENCE)
    length, i = _expect(message, i, end, INTEGER)
    if not 1 <= length <= 4:
        raise MalformedReply("bad message id", i)
    message_id = int.from_bytes(message[i:i + length], "big")
    i += length
    if i >= end:
        raise MalformedReply("no protocolOp", i)
    return message_id, message[i], i


def search_entry_dn(message: bytes, start: int | None = None) -> str:
    """The DN of one SearchResultEntry message, without reading its attributes.
    ``start``: the offset of its protocolOp, when ``message_header`` already gave it."""
    end = len(message)
    i = message_header(message)[2] if start is None else start
    length, i = _expect(message, i, end, SEARCH_RESULT_ENTRY)
    length, i = _expect(message, i, i + length, OCTET_STRING)
    try:
        return message[i:i + length].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedReply("DN is not UTF-8", i) from None


def decode_search_entry(message: bytes, max_values: int = MAX_VALUES) -> tuple[int, str, dict[str, list[bytes]]]:
    """``(message_id, dn, {attribute name in lower case: [values]})`` of one complete
    LDAPMessage holding a SearchResultEntry. Attribute options (``member;range=0-1499``)
    stay in the name.

    Short lengths (below 128, nearly every element of an entry) are read inline; every
    other length goes through ``_length``, which checks it against the enclosing element."""
    end = len(message)
    length, i = _expect(message, 0, end, SEQUENCE)
    end = i + length
    length, i = _expect(message, i, end, INTEGER)
    if not 1 <= length <= 4:
        raise MalformedReply("bad message id", i)
    message_id = int.from_bytes(message[i:i + length], "big")
    i += length
    length, i = _expect(message, i, end, SEARCH_RESULT_ENTRY)
    entry_end = i + length
    length, i = _expect(message, i, entry_end, OCTET_STRING)
    try:
        dn = message[i:i + length].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedReply("DN is not UTF-8", i) from None
    i += length
    length, i = _expect(message, i, entry_end, SEQUENCE)
    attributes_end = i + length
    attributes: dict[str, list[bytes]] = {}
    while i < attributes_end:
        # PartialAttribute ::= SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING }
        if i + 2 > attributes_end or message[i] != SEQUENCE:
            raise MalformedReply("expected an attribute SEQUENCE", i)
        first = message[i + 1]
        if first < 0x80:
            i += 2
            attribute_end = i + first
        else:
            length, i = _length(message, i + 1, attributes_end)
            attribute_end = i + length
        if attribute_end > attributes_end or i + 2 > attribute_end or message[i] != OCTET_STRING:
            raise MalformedReply("expected an attribute description", i)
        first = message[i + 1]
        if first < 0x80:
            start, i = i + 2, i + 2 + first
        else:
            length, start = _length(message, i + 1, attribute_end)
            i = start + length
        if i + 2 > attribute_end or message[i] != SET:
            raise MalformedReply("expected a SET of values", i)
        raw_name = message[start:i]
        name = _NAMES.get(raw_name)
        if name is None:
            try:
                name = raw_name.decode("ascii").lower()
            except UnicodeDecodeError:
                raise MalformedReply("attribute description is not ASCII", start) from None
            if len(_NAMES) < MAX_NAMES:
                _NAMES[raw_name] = name
        first = message[i + 1]
        if first < 0x80:
            i += 2
            values_end = i + first
        else:
            length, i = _length(message, i + 1, attribute_end)
            values_end = i + length
        if values_end > attribute_end:
            raise MalformedReply("values beyond their attribute", i)
        values = attributes.setdefault(name, [])
        while i < values_end:
            if message[i] != OCTET_STRING or i + 2 > values_end:
                raise MalformedReply("attribute value is not an OCTET STRING", i)
            first = message[i + 1]
            if first < 0x80 and i + 2 + first <= values_end:
                values.append(message[i + 2:i + 2 + first])
                i += 2 + first
            else:
                length, start = _length(message, i + 1, values_end)
                values.append(message[start:start + length])
                i = start + length
            if len(values) > max_values:
                raise MalformedReply(f"more than {max_values} values of {name}", i)
        i = attribute_end
    return message_id, dn, attributes


def split_messages(buffer: bytearray) -> list[bytes]:
    """The complete LDAPMessages at the start of ``buffer``, removed from it (what is left
    is the start of the next message). A length no LDAP message may have (not definite,
    over four octets, over ``MAX_MESSAGE``) is ``MalformedReply``."""
    messages = []
    i, end = 0, len(buffer)
    with memoryview(buffer) as view:
        while end - i >= 2:
            if buffer[i] != SEQUENCE:
                raise MalformedReply("a message is not a SEQUENCE", i)
            first = buffer[i + 1]
            if first < 0x80:
                size = 2 + first
            else:
                count = first & 0x7F
                if count == 0 or count > 4:
                    raise MalformedReply("unsupported message length", i)
                if end - i < 2 + count:
                    break
                size = 2 + count + int.from_bytes(view[i + 2:i + 2 + count], "big")
                if size > MAX_MESSAGE:
                    raise MalformedReply(f"a message of {size} bytes (at most {MAX_MESSAGE})", i)
            if end - i < size:
                break
            messages.append(bytes(view[i:i + size]))
            i += size
    del buffer[:i]
    return messages
