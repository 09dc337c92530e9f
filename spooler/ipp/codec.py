"""Sans-IO codec for IPP messages (RFC 8010 section 3).

The wire form is a small header (version, operation-id or status-code, request-id),
attribute groups, the end-of-attributes tag, and then document data. This module turns
the part up to and including the end-of-attributes tag into a ``Message`` and back; the
document data that follows is not its business (the HTTP layer streams it).

Every value tag of RFC 8010 is decoded into a Python value:

=====================================  =============================================
integer (0x21), enum (0x23)            ``int``
boolean (0x22)                         ``bool``
octetString (0x30), unknown tags       ``bytes``
dateTime (0x31)                        ``datetime.datetime`` (timezone-aware)
resolution (0x32)                      ``Resolution``
rangeOfInteger (0x33)                  ``Range``
textWithLanguage/nameWithLanguage      ``StringWithLanguage``
text, name, keyword, uri, uriScheme,   ``str``
charset, naturalLanguage,
mimeMediaType, memberAttrName
begCollection (0x34)                   ``Collection`` (ordered members)
out-of-band (0x10-0x1f)                ``None``
extension (0x7f)                       ``Extension`` (type code + raw bytes)
=====================================  =============================================

Input is hostile: every length is checked against what is left, the message size,
the number of values and the collection depth are bounded, and every failure is an
``IppDecodeError`` carrying the offset (which the server answers with
client-error-bad-request), never another exception.
"""
from __future__ import annotations

import datetime
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from spooler.errors import SpoolerError

__all__ = [
    "Tag",
    "Value",
    "Attribute",
    "Collection",
    "AttributeGroup",
    "Message",
    "Resolution",
    "Range",
    "StringWithLanguage",
    "Extension",
    "Limits",
    "IppDecodeError",
    "IppEncodeError",
    "NeedMoreData",
    "decode_message",
    "encode_message",
    "MessageAccumulator",
]


class Tag:
    """Delimiter and value tags (RFC 8010 section 3.5, IANA IPP registry)."""

    # delimiter (group) tags
    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED_GROUP = 0x05
    SUBSCRIPTION = 0x06
    EVENT_NOTIFICATION = 0x07
    RESOURCE = 0x08
    DOCUMENT = 0x09
    SYSTEM = 0x0A
    # out-of-band
    UNSUPPORTED = 0x10
    DEFAULT = 0x11
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    NOT_SETTABLE = 0x15
    DELETE_ATTRIBUTE = 0x16
    ADMIN_DEFINE = 0x17
    # integer types
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    # octetString types
    OCTET_STRING = 0x30
    DATE_TIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEGIN_COLLECTION = 0x34
    TEXT_WITH_LANGUAGE = 0x35
    NAME_WITH_LANGUAGE = 0x36
    END_COLLECTION = 0x37
    # character-string types
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    NATURAL_LANGUAGE = 0x48
    MIME_MEDIA_TYPE = 0x49
    MEMBER_NAME = 0x4A
    EXTENSION = 0x7F

    GROUPS = frozenset({0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A})
    STRINGS = frozenset({0x41, 0x42, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A})
    WITH_LANGUAGE = frozenset({0x35, 0x36})

    @staticmethod
    def is_out_of_band(tag: int) -> bool:
        return 0x10 <= tag <= 0x1F


class IppDecodeError(SpoolerError):
    """The bytes are not a well-formed IPP message; ``offset`` is where it went wrong."""

    def __init__(self, message: str, *, offset: int):
        super().__init__(f"{message} (at byte {offset})")
        self.reason = message
        self.offset = offset


class IppEncodeError(SpoolerError):
    """A ``Message`` cannot be encoded (a value that does not fit its tag)."""


class NeedMoreData(Exception):
    """The buffer ends before the end-of-attributes tag: feed more bytes."""


@dataclass(frozen=True)
class Resolution:
    x: int
    y: int
    units: int  # 3 = dots per inch, 4 = dots per centimetre


@dataclass(frozen=True)
class Range:
    lower: int
    upper: int


@dataclass(frozen=True)
class StringWithLanguage:
    language: str
    text: str


@dataclass(frozen=True)
class Extension:
    """A value with the 0x7f extension tag: a 32-bit type code and opaque bytes."""

    type_code: int
    data: bytes


@dataclass(frozen=True)
class Value:
    tag: int
    value: Any = None


@dataclass
class Attribute:
    """One attribute: a name and one or more values (1setOf may mix tags)."""

    name: str
    values: list[Value]

    @classmethod
    def of(cls, name: str, tag: int, *values: Any) -> "Attribute":
        if not values:
            values = (None,)
        return cls(name, [Value(tag, v) for v in values])

    @property
    def tag(self) -> int:
        return self.values[0].tag

    @property
    def value(self) -> Any:
        return self.values[0].value

    def python_values(self) -> list[Any]:
        return [v.value for v in self.values]


@dataclass
class Collection:
    """An ordered collection value; members are attributes (RFC 8010 section 3.1.6)."""

    members: list[Attribute] = field(default_factory=list)

    def get(self, name: str) -> Attribute | None:
        for member in self.members:
            if member.name == name:
                return member
        return None

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.members)


@dataclass
class AttributeGroup:
    tag: int
    attributes: list[Attribute] = field(default_factory=list)

    def get(self, name: str) -> Attribute | None:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def add(self, name: str, tag: int, *values: Any) -> Attribute:
        attribute = Attribute.of(name, tag, *values)
        self.attributes.append(attribute)
        return attribute

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None


@dataclass
class Message:
    """An IPP request (``code`` is the operation-id) or response (the status-code)."""

    version: tuple[int, int]
    code: int
    request_id: int
    groups: list[AttributeGroup] = field(default_factory=list)

    def group(self, tag: int) -> AttributeGroup | None:
        for group in self.groups:
            if group.tag == tag:
                return group
        return None

    def groups_of(self, tag: int) -> list[AttributeGroup]:
        return [g for g in self.groups if g.tag == tag]

    def add_group(self, tag: int) -> AttributeGroup:
        group = AttributeGroup(tag)
        self.groups.append(group)
        return group


@dataclass(frozen=True)
class Limits:
    """Bounds on what a decoder accepts from a peer."""

    max_message_bytes: int = 1 << 20
    max_values: int = 10_000
    max_depth: int = 16
    max_name_bytes: int = 1024


DEFAULT_LIMITS = Limits()

_INT = struct.Struct(">i")
_SHORT = struct.Struct(">H")
_HEADER = struct.Struct(">BBHi")
_DATE = struct.Struct(">HBBBBBBcBB")
_RESOLUTION = struct.Struct(">iiB")
_RANGE = struct.Struct(">ii")


# ---------------------------------------------------------------- decoding


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes | memoryview, end: int):
        self.data = data
        self.pos = 0
        self.end = end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise NeedMoreData()
        chunk = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return chunk

    def byte(self) -> int:
        if self.pos >= self.end:
            raise NeedMoreData()
        b = self.data[self.pos]
        self.pos += 1
        return b

    def short(self) -> int:
        return _SHORT.unpack(self.take(2))[0]


def _decode_str(raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IppDecodeError("string value is not UTF-8", offset=offset) from None


def _decode_value(tag: int, raw: bytes, offset: int) -> Any:
    """Decode one non-collection value of ``tag`` from ``raw``."""
    n = len(raw)
    if Tag.is_out_of_band(tag):
        return None
    if tag in (Tag.INTEGER, Tag.ENUM):
        if n != 4:
            raise IppDecodeError(f"integer value of length {n}", offset=offset)
        return _INT.unpack(raw)[0]
    if tag == Tag.BOOLEAN:
        if n != 1 or raw[0] > 1:
            raise IppDecodeError("boolean value is not one octet of 0 or 1", offset=offset)
        return raw[0] == 1
    if tag == Tag.DATE_TIME:
        if n != 11:
            raise IppDecodeError(f"dateTime value of length {n}", offset=offset)
        year, month, day, hour, minute, second, decis, direction, tz_h, tz_m = _DATE.unpack(raw)
        if direction not in (b"+", b"-") or tz_h > 14 or tz_m > 59 or decis > 9:
            raise IppDecodeError("malformed dateTime", offset=offset)
        try:
            delta = datetime.timedelta(hours=tz_h, minutes=tz_m)
            tz = datetime.timezone(-delta if direction == b"-" else delta)
            return datetime.datetime(year, month, day, hour, minute, min(second, 59),
                                     decis * 100_000, tzinfo=tz)
        except ValueError:
            raise IppDecodeError("malformed dateTime", offset=offset) from None
    if tag == Tag.RESOLUTION:
        if n != 9:
            raise IppDecodeError(f"resolution value of length {n}", offset=offset)
        return Resolution(*_RESOLUTION.unpack(raw))
    if tag == Tag.RANGE:
        if n != 8:
            raise IppDecodeError(f"rangeOfInteger value of length {n}", offset=offset)
        return Range(*_RANGE.unpack(raw))
    if tag in Tag.WITH_LANGUAGE:
        if n < 4:
            raise IppDecodeError("short textWithLanguage value", offset=offset)
        lang_len = _SHORT.unpack_from(raw, 0)[0]
        if 2 + lang_len + 2 > n:
            raise IppDecodeError("language length runs past the value", offset=offset)
        text_len = _SHORT.unpack_from(raw, 2 + lang_len)[0]
        if 4 + lang_len + text_len != n:
            raise IppDecodeError("text length does not match the value length", offset=offset)
        language = _decode_str(raw[2:2 + lang_len], offset)
        text = _decode_str(raw[4 + lang_len:], offset)
        return StringWithLanguage(language, text)
    if tag in Tag.STRINGS:
        return _decode_str(raw, offset)
    if tag == Tag.EXTENSION:
        if n < 4:
            raise IppDecodeError("extension value without a type code", offset=offset)
        type_code = _INT.unpack_from(raw, 0)[0]
        if type_code < 0:
            raise IppDecodeError("extension type code has its high bit set", offset=offset)
        return Extension(type_code, raw[4:])
    # octetString and tags we do not know: keep the bytes, re-encode verbatim.
    return raw


def _read_attribute_header(reader: _Reader, limits: Limits) -> tuple[int, int, str, bytes, int]:
    start = reader.pos
    tag = reader.byte()
    name_len = reader.short()
    if name_len > limits.max_name_bytes:
        raise IppDecodeError(f"attribute name of {name_len} bytes", offset=start)
    name = reader.take(name_len)
    value_len = reader.short()
    raw = reader.take(value_len)
    return tag, name_len, _decode_str(name, start), raw, start


class _Decoder:
    def __init__(self, reader: _Reader, limits: Limits):
        self.r = reader
        self.limits = limits
        self.values = 0

    def count_value(self, offset: int) -> None:
        self.values += 1
        if self.values > self.limits.max_values:
            raise IppDecodeError(f"more than {self.limits.max_values} values", offset=offset)

    def peek(self) -> int:
        if self.r.pos >= self.r.end:
            raise NeedMoreData()
        return self.r.data[self.r.pos]

    def collection(self, depth: int, offset: int) -> Collection:
        """Read members up to the matching endCollection (the begCollection is read)."""
        if depth > self.limits.max_depth:
            raise IppDecodeError(f"collections nested deeper than {self.limits.max_depth}",
                                 offset=offset)
        members: list[Attribute] = []
        current: Attribute | None = None
        while True:
            tag, name_len, name, raw, start = _read_attribute_header(self.r, self.limits)
            if name_len:
                raise IppDecodeError("named attribute inside a collection", offset=start)
            if current is not None and not current.values and tag in (
                    Tag.END_COLLECTION, Tag.MEMBER_NAME):
                raise IppDecodeError("collection member without a value", offset=start)
            if tag == Tag.END_COLLECTION:
                if raw:
                    raise IppDecodeError("endCollection with a value", offset=start)
                return Collection(members)
            if tag == Tag.MEMBER_NAME:
                member = _decode_str(raw, start)
                if not member:
                    raise IppDecodeError("empty member name", offset=start)
                current = Attribute(member, [])
                members.append(current)
                continue
            if tag < 0x10:
                raise IppDecodeError("delimiter tag inside a collection", offset=start)
            if current is None:
                raise IppDecodeError("collection value without a member name", offset=start)
            self.count_value(start)
            if tag == Tag.BEGIN_COLLECTION:
                current.values.append(Value(tag, self.collection(depth + 1, start)))
            else:
                current.values.append(Value(tag, _decode_value(tag, raw, start)))

    def message(self) -> Message:
        header = self.r.take(8)
        major, minor, code, request_id = _HEADER.unpack(header)
        message = Message((major, minor), code, request_id)
        group: AttributeGroup | None = None
        current: Attribute | None = None
        while True:
            start = self.r.pos
            tag = self.peek()
            if tag == Tag.END:
                self.r.pos += 1
                return message
            if tag < 0x10:
                self.r.pos += 1
                if tag not in Tag.GROUPS:
                    raise IppDecodeError(f"reserved delimiter tag 0x{tag:02x}", offset=start)
                group = message.add_group(tag)
                current = None
                continue
            tag, name_len, name, raw, start = _read_attribute_header(self.r, self.limits)
            if group is None:
                raise IppDecodeError("attribute before any group tag", offset=start)
            if tag in (Tag.END_COLLECTION, Tag.MEMBER_NAME):
                raise IppDecodeError("collection member outside a collection", offset=start)
            if name_len == 0:
                if current is None:
                    raise IppDecodeError("additional value without an attribute", offset=start)
            else:
                current = Attribute(name, [])
                group.attributes.append(current)
            self.count_value(start)
            if tag == Tag.BEGIN_COLLECTION:
                current.values.append(Value(tag, self.collection(1, start)))
            else:
                current.values.append(Value(tag, _decode_value(tag, raw, start)))


def decode_message(data: bytes | memoryview, limits: Limits = DEFAULT_LIMITS) -> tuple[Message, int]:
    """Decode a message from the start of ``data``.

    Returns the message and the offset where the document data begins. Raises
    ``NeedMoreData`` when ``data`` stops before the end-of-attributes tag (and is still
    within ``limits.max_message_bytes``), ``IppDecodeError`` when it is malformed.
    """
    end = min(len(data), limits.max_message_bytes)
    reader = _Reader(data, end)
    try:
        message = _Decoder(reader, limits).message()
    except NeedMoreData:
        if len(data) >= limits.max_message_bytes:
            raise IppDecodeError(
                f"no end-of-attributes tag in the first {limits.max_message_bytes} bytes",
                offset=end) from None
        raise
    except (struct.error, RecursionError) as e:  # defence in depth: lengths are checked
        raise IppDecodeError(f"malformed message: {e}", offset=reader.pos) from None
    return message, reader.pos


class MessageAccumulator:
    """Collects the attribute part of a streamed request, bounded by ``limits``.

    ``feed(data)`` returns ``None`` until the end-of-attributes tag arrives, then
    ``(message, rest)`` where ``rest`` is the start of the document data.

    A decode is retried only when the buffer has doubled since the last attempt, so a
    peer trickling its attributes a byte at a time costs O(n log n), not O(n^2); the
    bytes held meanwhile stay below ``2 * limits.max_message_bytes``.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self._buffer = bytearray()
        self._done = False
        self._attempted = 0

    def feed(self, data: bytes) -> tuple[Message, bytes] | None:
        if self._done:
            raise RuntimeError("message already decoded")
        self._buffer += data
        size = len(self._buffer)
        if self._attempted and size < 2 * self._attempted and size < self.limits.max_message_bytes:
            return None
        self._attempted = size
        try:
            message, offset = decode_message(self._buffer, self.limits)
        except NeedMoreData:
            return None
        self._done = True
        rest = bytes(self._buffer[offset:])
        self._buffer = bytearray()
        return message, rest

    def finish(self) -> tuple[Message, bytes]:
        """The body ended: decode what there is (a truncated message is an error);
        returns the message and the document data after it."""
        try:
            message, offset = decode_message(self._buffer, self.limits)
        except NeedMoreData:
            raise IppDecodeError("message ends before the end-of-attributes tag",
                                 offset=len(self._buffer)) from None
        self._done = True
        rest = bytes(self._buffer[offset:])
        self._buffer = bytearray()
        return message, rest

# ---------------------------------------------------------------- encoding


def _encode_str(value: str) -> bytes:
    if not isinstance(value, str):
        raise IppEncodeError(f"expected a string, got {value!r}")
    return value.encode("utf-8")


def _encode_value(tag: int, value: Any) -> bytes:
    if Tag.is_out_of_band(tag):
        return b""
    if tag in (Tag.INTEGER, Tag.ENUM):
        if isinstance(value, bool) or not isinstance(value, int) or not -2**31 <= value < 2**31:
            raise IppEncodeError(f"integer out of range: {value!r}")
        return _INT.pack(value)
    if tag == Tag.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag == Tag.DATE_TIME:
        if not isinstance(value, datetime.datetime):
            raise IppEncodeError(f"dateTime needs a datetime, got {value!r}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        offset = value.utcoffset() or datetime.timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        direction = b"-" if minutes < 0 else b"+"
        minutes = abs(minutes)
        return _DATE.pack(value.year, value.month, value.day, value.hour, value.minute,
                          value.second, value.microsecond // 100_000, direction,
                          minutes // 60, minutes % 60)
    if tag == Tag.RESOLUTION:
        return _RESOLUTION.pack(value.x, value.y, value.units)
    if tag == Tag.RANGE:
        return _RANGE.pack(value.lower, value.upper)
    if tag in Tag.WITH_LANGUAGE:
        if isinstance(value, str):
            value = StringWithLanguage("en", value)
        lang = _encode_str(value.language)
        text = _encode_str(value.text)
        return _SHORT.pack(len(lang)) + lang + _SHORT.pack(len(text)) + text
    if tag in Tag.STRINGS:
        return _encode_str(value)
    if tag == Tag.EXTENSION:
        return _INT.pack(value.type_code) + bytes(value.data)
    if not isinstance(value, (bytes, bytearray, memoryview)):
        if isinstance(value, str):
            return value.encode("utf-8")
        raise IppEncodeError(f"tag 0x{tag:02x} needs bytes, got {value!r}")
    return bytes(value)


def _emit(out: list[bytes], tag: int, name: str, raw: bytes) -> None:
    name_b = name.encode("utf-8")
    if len(name_b) > 0xFFFF or len(raw) > 0xFFFF:
        raise IppEncodeError(f"attribute {name!r} too long to encode")
    out.append(bytes((tag,)) + _SHORT.pack(len(name_b)) + name_b + _SHORT.pack(len(raw)) + raw)


def _encode_values(out: list[bytes], name: str, values: Iterable[Value]) -> None:
    first = True
    for v in values:
        label = name if first else ""
        first = False
        if v.tag == Tag.BEGIN_COLLECTION:
            _emit(out, Tag.BEGIN_COLLECTION, label, b"")
            for member in v.value.members:
                _emit(out, Tag.MEMBER_NAME, "", _encode_str(member.name))
                _encode_values(out, "", member.values)
            _emit(out, Tag.END_COLLECTION, "", b"")
        else:
            _emit(out, v.tag, label, _encode_value(v.tag, v.value))
    if first:
        raise IppEncodeError(f"attribute {name!r} has no values")


def encode_message(message: Message) -> bytes:
    """Encode ``message`` up to and including the end-of-attributes tag."""
    out = [_HEADER.pack(message.version[0], message.version[1], message.code,
                        message.request_id)]
    for group in message.groups:
        out.append(bytes((group.tag,)))
        for attribute in group.attributes:
            _encode_values(out, attribute.name, attribute.values)
    out.append(bytes((Tag.END,)))
    return b"".join(out)
