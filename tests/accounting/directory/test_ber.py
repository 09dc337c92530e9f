"""The sans-IO reader of LDAP search entries: what it reads, and that hostile bytes end
in MalformedReply, never in another exception or a read past the message."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from accounting.directory.ber import MAX_MESSAGE, decode_search_entry, message_header, search_entry_dn, split_messages
from accounting.directory.errors import MalformedReply


def tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def search_entry(message_id: int, dn: str, attributes: dict) -> bytes:
    parts = b"".join(tlv(0x30, tlv(0x04, name.encode()) + tlv(0x31, b"".join(tlv(0x04, v) for v in values)))
                     for name, values in attributes.items())
    entry = tlv(0x64, tlv(0x04, dn.encode()) + tlv(0x30, parts))
    return tlv(0x30, tlv(0x02, message_id.to_bytes(2, "big")) + entry)


def test_an_entry_is_read_with_lower_case_names_and_byte_values():
    message = search_entry(300, "uid=ann,ou=people", {"uid": [b"ann"], "employeeNumber": [b"0001", b"0002"],
                                                      "member;range=0-1499": [b"x" * 200]})
    assert message_header(message)[:2] == (300, 0x64)
    assert search_entry_dn(message) == "uid=ann,ou=people"
    assert decode_search_entry(message) == (300, "uid=ann,ou=people", {
        "uid": [b"ann"], "employeenumber": [b"0001", b"0002"], "member;range=0-1499": [b"x" * 200]})


def test_the_dn_read_from_the_offset_the_header_gave_is_the_dn_read_alone():
    message = search_entry(7, "uid=bob,ou=people", {"uid": [b"bob"]})
    assert search_entry_dn(message, message_header(message)[2]) == search_entry_dn(message) == "uid=bob,ou=people"


def test_too_many_values_are_refused():
    message = search_entry(1, "cn=g", {"member": [b"a"] * 11})
    with pytest.raises(MalformedReply, match="more than 10 values"):
        decode_search_entry(message, max_values=10)


@pytest.mark.parametrize("cut", [1, 2, 5, 9, 20, -1])
def test_a_truncated_message_is_malformed(cut):
    message = search_entry(7, "uid=bob,ou=people", {"cn": [b"Bob"], "mail": [b"bob@example.org"]})
    with pytest.raises(MalformedReply):
        decode_search_entry(message[:cut])


def test_a_dn_that_is_not_utf8_is_malformed():
    message = search_entry(7, "x", {})
    message = message.replace(b"\x04\x01x", b"\x04\x01\xff")
    with pytest.raises(MalformedReply, match="not UTF-8"):
        decode_search_entry(message)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_read_or_refused_as_malformed(data):
    try:
        decode_search_entry(data)
    except MalformedReply:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=120), st.integers(min_value=0, max_value=255))
def test_a_corrupted_entry_is_read_or_refused_as_malformed(position, value):
    message = bytearray(search_entry(9, "uid=c,ou=p", {"cn": [b"Carol"], "carLicense": [b"0A:00", b"0B:11"]}))
    message[position % len(message)] = value
    try:
        decode_search_entry(bytes(message))
    except MalformedReply:
        pass


def test_messages_are_split_off_the_stream_whatever_the_chunks_they_arrive_in():
    messages = [search_entry(n, f"uid=u{n},ou=people", {"cn": [b"x" * (n * 37 % 400)]}) for n in range(1, 40)]
    stream = b"".join(messages)
    for chunk in (1, 3, 127, 128, 4096):
        buffer, found = bytearray(), []
        for start in range(0, len(stream), chunk):
            buffer += stream[start:start + chunk]
            found += split_messages(buffer)
        assert found == messages and buffer == b"", chunk


@pytest.mark.parametrize("header, reason", [
    (b"\x04\x01x", "not a SEQUENCE"),
    (b"\x30\x80", "unsupported message length"),
    (b"\x30\x85\x01\x00\x00\x00\x00", "unsupported message length"),
    (bytes([0x30, 0x84]) + MAX_MESSAGE.to_bytes(4, "big"), "at most"),
])
def test_a_stream_with_an_impossible_message_length_is_malformed(header, reason):
    with pytest.raises(MalformedReply, match=reason):
        split_messages(bytearray(header))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_split_or_refused_as_malformed(data):
    buffer = bytearray(data)
    try:
        messages = split_messages(buffer)
    except MalformedReply:
        return
    assert b"".join(messages) + buffer == data
