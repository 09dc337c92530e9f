"""RFC 8010 codec: round trips of every value tag, and hostile input."""
import datetime
import struct

import pytest
from hypothesis import given, settings, strategies as st

from spooler.ipp.codec import (
    Attribute, AttributeGroup, Collection, Extension, IppDecodeError, Limits, Message,
    MessageAccumulator, NeedMoreData, Range, Resolution, StringWithLanguage, Tag, Value,
    decode_message, encode_message,
)

# ------------------------------------------------------------ strategies

int32 = st.integers(-2**31, 2**31 - 1)
text = st.text(max_size=40)
ascii_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20)
dates = st.builds(
    lambda y, mo, d, h, mi, s, ds, off: datetime.datetime(
        y, mo, d, h, mi, s, ds * 100_000,
        tzinfo=datetime.timezone(datetime.timedelta(minutes=off))),
    st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
    st.integers(0, 59), st.integers(0, 59), st.integers(0, 9),
    st.integers(-14 * 60, 14 * 60))

scalar_values = st.one_of(
    st.builds(Value, st.sampled_from([Tag.INTEGER, Tag.ENUM]), int32),
    st.builds(Value, st.just(Tag.BOOLEAN), st.booleans()),
    st.builds(Value, st.just(Tag.OCTET_STRING), st.binary(max_size=40)),
    st.builds(Value, st.just(Tag.DATE_TIME), dates),
    st.builds(Value, st.just(Tag.RESOLUTION),
              st.builds(Resolution, int32, int32, st.sampled_from([3, 4]))),
    st.builds(Value, st.just(Tag.RANGE), st.builds(Range, int32, int32)),
    st.builds(Value, st.sampled_from([Tag.TEXT_WITH_LANGUAGE, Tag.NAME_WITH_LANGUAGE]),
              st.builds(StringWithLanguage, ascii_word, text)),
    st.builds(Value, st.sampled_from(sorted(Tag.STRINGS - {Tag.MEMBER_NAME})), text),
    st.builds(Value, st.sampled_from([0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17]), st.none()),
    st.builds(Value, st.just(Tag.EXTENSION),
              st.builds(Extension, st.integers(0, 2**31 - 1), st.binary(max_size=10))),
)


def attributes(values):
    return st.builds(Attribute, ascii_word, st.lists(values, min_size=1, max_size=4))


values = st.recursive(
    scalar_values,
    lambda inner: st.builds(
        Value, st.just(Tag.BEGIN_COLLECTION),
        st.builds(Collection, st.lists(attributes(inner), max_size=4))),
    max_leaves=20)

groups = st.builds(
    AttributeGroup,
    st.sampled_from([0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A]),
    st.lists(attributes(values), max_size=6))

messages = st.builds(
    Message, st.tuples(st.integers(0, 255), st.integers(0, 255)), st.integers(0, 0xFFFF),
    int32, st.lists(groups, max_size=4))


@settings(max_examples=150, deadline=None)
@given(messages)
def test_every_message_survives_an_encode_decode_round_trip(message):
    encoded = encode_message(message)
    decoded, offset = decode_message(encoded + b"%PDF-document")
    assert decoded == message
    assert offset == len(encoded)


@settings(max_examples=100, deadline=None)
@given(messages, st.data())
def test_accumulator_gives_the_same_message_whatever_the_chunking(message, data):
    encoded = encode_message(message) + b"DOC"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=8)))
    acc = MessageAccumulator()
    result = None
    last = 0
    for cut in cuts + [len(encoded)]:
        chunk = encoded[last:cut]
        last = cut
        if result is None:
            result = acc.feed(chunk)
            if result is not None:
                rest = result[1]
        else:
            rest += chunk
    if result is None:
        result = acc.finish()
        rest = result[1]
    assert result[0] == message
    assert rest == b"DOC"


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_raise_only_decode_errors(data):
    try:
        decode_message(data)
    except (IppDecodeError, NeedMoreData):
        pass


@settings(max_examples=150, deadline=None)
@given(messages, st.data())
def test_mutated_messages_decode_or_raise_only_decode_errors(message, data):
    encoded = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(encoded) - 1))
        encoded[i] = data.draw(st.integers(0, 255))
    try:
        decode_message(bytes(encoded))
    except (IppDecodeError, NeedMoreData):
        pass


# ------------------------------------------------------------ known bytes


def raw_attr(tag, name, value):
    name = name.encode()
    return bytes([tag]) + struct.pack(">H", len(name)) + name + struct.pack(">H", len(value)) + value


HEADER = b"\x02\x00\x00\x0b\x00\x00\x00\x01"


def test_a_get_printer_attributes_request_decodes_to_its_attributes():
    data = (HEADER + b"\x01"
            + raw_attr(0x47, "attributes-charset", b"utf-8")
            + raw_attr(0x48, "attributes-natural-language", b"en")
            + raw_attr(0x45, "printer-uri", b"ipp://localhost/printers/secure")
            + raw_attr(0x44, "requested-attributes", b"all")
            + raw_attr(0x44, "", b"media-col-database")
            + b"\x03")
    message, offset = decode_message(data)
    assert message.version == (2, 0)
    assert message.code == 0x0B
    assert message.request_id == 1
    op = message.group(Tag.OPERATION)
    assert op.get("requested-attributes").python_values() == ["all", "media-col-database"]
    assert offset == len(data)


def test_a_nested_collection_decodes_into_members():
    data = (HEADER + b"\x02"
            + raw_attr(0x34, "media-col", b"")
            + raw_attr(0x4A, "", b"media-size")
            + raw_attr(0x34, "", b"")
            + raw_attr(0x4A, "", b"x-dimension") + raw_attr(0x21, "", struct.pack(">i", 21000))
            + raw_attr(0x4A, "", b"y-dimension") + raw_attr(0x21, "", struct.pack(">i", 29700))
            + raw_attr(0x37, "", b"")
            + raw_attr(0x37, "", b"")
            + b"\x03")
    message, _ = decode_message(data)
    media_col = message.group(Tag.JOB).get("media-col").value
    size = media_col.get("media-size").value
    assert size.get("x-dimension").value == 21000
    assert size.get("y-dimension").value == 29700


@pytest.mark.parametrize("body, why", [
    (raw_attr(0x21, "copies", b"\x00\x01"), "integer value of length 2"),
    (raw_attr(0x22, "b", b"\x02"), "boolean"),
    (raw_attr(0x31, "d", b"\x00" * 10), "dateTime value of length 10"),
    (raw_attr(0x32, "r", b"\x00" * 8), "resolution"),
    (raw_attr(0x33, "r", b"\x00" * 9), "rangeOfInteger"),
    (raw_attr(0x35, "t", b"\x00\x05en\x00\x00"), "language length"),
    (raw_attr(0x35, "t", b"\x00\x02en\x00\x09abc"), "text length"),
    (raw_attr(0x41, "t", b"\xff\xfe"), "UTF-8"),
    (raw_attr(0x21, "", struct.pack(">i", 1)), "additional value without an attribute"),
    (raw_attr(0x37, "", b""), "outside a collection"),
    (raw_attr(0x34, "c", b"") + raw_attr(0x21, "", b"\x00\x00\x00\x01") + raw_attr(0x37, "", b""),
     "without a member name"),
    (raw_attr(0x34, "c", b"") + raw_attr(0x4A, "", b"m") + raw_attr(0x37, "", b""),
     "member without a value"),
    (raw_attr(0x7F, "x", b"\x00\x01"), "extension value without a type code"),
    (raw_attr(0x7F, "x", b"\x80\x00\x00\x00"), "high bit"),
])
def test_malformed_values_are_decode_errors(body, why):
    with pytest.raises(IppDecodeError, match=why):
        decode_message(HEADER + b"\x01" + body + b"\x03")


def test_an_attribute_before_any_group_is_a_decode_error():
    with pytest.raises(IppDecodeError, match="before any group"):
        decode_message(HEADER + raw_attr(0x44, "a", b"b") + b"\x03")


def test_a_reserved_delimiter_tag_is_a_decode_error():
    with pytest.raises(IppDecodeError, match="reserved delimiter"):
        decode_message(HEADER + b"\x00\x03")


def test_a_length_that_lies_past_the_end_needs_more_data_then_fails_at_the_end():
    data = HEADER + b"\x01" + b"\x44\x00\x01a\xff\xff" + b"abc"
    with pytest.raises(NeedMoreData):
        decode_message(data)
    acc = MessageAccumulator()
    assert acc.feed(data) is None
    with pytest.raises(IppDecodeError, match="before the end-of-attributes"):
        acc.finish()


def test_a_message_without_an_end_tag_within_the_limit_is_refused():
    limits = Limits(max_message_bytes=4096)
    body = b"".join(raw_attr(0x44, "a", b"x" * 100) for _ in range(60))
    with pytest.raises(IppDecodeError, match="no end-of-attributes tag"):
        decode_message(HEADER + b"\x01" + body, limits)


def test_a_nesting_bomb_is_refused_at_the_depth_limit():
    depth = 10_000
    body = raw_attr(0x34, "c", b"") + (raw_attr(0x4A, "", b"m") + raw_attr(0x34, "", b"")) * depth
    body += raw_attr(0x37, "", b"") * (depth + 1)
    with pytest.raises(IppDecodeError, match="nested deeper"):
        decode_message(HEADER + b"\x02" + body + b"\x03", Limits(max_message_bytes=1 << 24))


def test_a_huge_attribute_count_is_refused():
    body = raw_attr(0x21, "many", b"\x00\x00\x00\x01") + raw_attr(0x21, "", b"\x00\x00\x00\x01") * 20_000
    with pytest.raises(IppDecodeError, match="more than 10000 values"):
        decode_message(HEADER + b"\x01" + body + b"\x03", Limits(max_message_bytes=1 << 24))


def test_a_long_attribute_name_is_refused():
    with pytest.raises(IppDecodeError, match="attribute name of"):
        decode_message(HEADER + b"\x01" + raw_attr(0x44, "n" * 2000, b"v") + b"\x03")


def test_unknown_value_tags_are_kept_as_bytes_and_reencoded_verbatim():
    data = HEADER + b"\x01" + raw_attr(0x5F, "vendor", b"\x01\x02") + b"\x03"
    message, _ = decode_message(data)
    assert message.group(Tag.OPERATION).get("vendor").values == [Value(0x5F, b"\x01\x02")]
    assert encode_message(message) == data


def test_datetime_encodes_with_the_utc_offset():
    tz = datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))
    value = datetime.datetime(2026, 11, 21, 6, 42, 5, 300_000, tzinfo=tz)
    message = Message((2, 0), 0, 1, [AttributeGroup(Tag.JOB, [
        Attribute.of("date-time-at-creation", Tag.DATE_TIME, value)])])
    encoded = encode_message(message)
    assert encoded[-12:-1] == struct.pack(">HBBBBBBcBB", 2026, 11, 21, 6, 42, 5, 3, b"-", 5, 30)


def test_a_trickled_message_is_not_reparsed_on_every_byte(monkeypatch):
    import spooler.ipp.codec as codec
    body = b"".join(raw_attr(0x44, "a", b"x" * 50) for _ in range(2000))
    data = HEADER + b"\x01" + body + b"\x03" + b"DOC"
    calls = []
    real = codec.decode_message
    monkeypatch.setattr(codec, "decode_message", lambda *a: calls.append(1) or real(*a))
    acc = MessageAccumulator()
    result = None
    for i in range(len(data)):
        result = acc.feed(data[i:i + 1])
        if result is not None:
            break
    result = result or acc.finish()
    assert len(result[0].group(Tag.OPERATION).attributes) == 2000
    assert len(calls) < 40
