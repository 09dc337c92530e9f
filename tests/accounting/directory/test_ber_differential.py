"""The compiled reader (``ext/_ber.pyx``) reads exactly what the reference
(``accounting.directory.ber``) reads: the same values from valid messages, and the same
``MalformedReply`` (reason and offset) from truncated, mutated and random ones."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from accounting.directory import ber as reference
from accounting.directory.errors import MalformedReply
from tests.accounting.directory.test_ber import search_entry, tlv

if os.environ.get("PRINTGATE_NO_EXTENSIONS"):
    pytest.skip("PRINTGATE_NO_EXTENSIONS=1: reference only", allow_module_level=True)
try:
    from accounting.directory import _ber as compiled
except ImportError:
    pytest.fail("accounting.directory._ber is not built: run `python setup.py build_ext --inplace` "
                "(or set PRINTGATE_NO_EXTENSIONS=1 to test the reference only)", pytrace=False)


def outcome(function, *args):
    """What a call gives: its result, or the reason and offset it refused with."""
    try:
        return "ok", function(*args)
    except MalformedReply as exc:
        return "refused", exc.reason, exc.offset


def same_everywhere(message: bytes) -> None:
    for name in ("message_header", "search_entry_dn", "decode_search_entry"):
        assert outcome(getattr(compiled, name), message) == outcome(getattr(reference, name), message), name
    assert outcome(compiled.decode_search_entry, message, 2) == outcome(reference.decode_search_entry, message, 2)
    for stream in (message, message * 2, message[:len(message) // 2]):
        mine, theirs = bytearray(stream), bytearray(stream)
        assert outcome(compiled.split_messages, mine) == outcome(reference.split_messages, theirs)
        assert mine == theirs  # the same bytes left for the next read


ENTRIES = [
    search_entry(1, "uid=ann,ou=people,dc=example,dc=org",
                 {"uid": [b"ann"], "cn": ["Ann Æsir".encode()], "employeeNumber": [b"0001", b"0002"]}),
    search_entry(60000, "cn=big,ou=groups", {"member;range=0-1499": [b"uid=u%d,ou=people" % n for n in range(40)],
                                             "description": [b"x" * 300]}),
    search_entry(5, "uid=empty", {}),
    search_entry(6, "uid=odd", {"jpegPhoto": [bytes(range(256)) * 3], "": [b""]}),
]
attribute_names = st.text(alphabet="abcXYZ;=-0123456789", max_size=12)
values = st.lists(st.binary(max_size=300), max_size=6)


@pytest.mark.parametrize("message", ENTRIES)
def test_valid_entries_read_the_same(message):
    same_everywhere(message)
    assert compiled.decode_search_entry(message) == reference.decode_search_entry(message)


@given(st.integers(1, 65535), st.text(max_size=80), st.dictionaries(attribute_names, values, max_size=6))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_generated_entries_read_the_same(message_id, dn, attributes):
    same_everywhere(search_entry(message_id, dn, attributes))


@pytest.mark.parametrize("message", ENTRIES)
def test_every_truncation_and_every_single_byte_change_is_refused_the_same(message):
    for end in range(len(message)):
        same_everywhere(message[:end])
    for position in range(len(message)):
        for replacement in (0x00, 0x04, 0x30, 0x31, 0x64, 0x7f, 0x81, 0x84, 0x85, 0xff):
            same_everywhere(message[:position] + bytes([replacement]) + message[position + 1:])


@given(st.binary(max_size=400))
@settings(max_examples=500)
def test_random_bytes_are_refused_the_same(data):
    same_everywhere(data)
    same_everywhere(tlv(0x30, data))
    same_everywhere(tlv(0x30, tlv(0x02, b"\x01") + tlv(0x64, data)))


def test_a_message_over_the_size_bound_is_refused_the_same():
    header = bytearray(b"\x30\x84" + (reference.MAX_MESSAGE).to_bytes(4, "big"))
    same_everywhere(bytes(header))
    assert outcome(compiled.split_messages, bytearray(header)) == outcome(reference.split_messages, bytearray(header))
    assert outcome(compiled.split_messages, bytearray(header))[0] == "refused"


def test_the_dn_read_from_the_header_offset_is_the_same():
    message = ENTRIES[0]
    start = compiled.message_header(message)[2]
    assert compiled.search_entry_dn(message, start) == reference.search_entry_dn(message, start)
