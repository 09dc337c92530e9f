"""SNMPv1/v2c messages in BER, sans-IO: the requests a poll sends (GET, GETNEXT, GETBULK)
and the Response PDU it reads, with values turned straight into plain Python (as
``values.plain`` gives them: int, bytes, dotted OID str, None).

Why not pysnmp here: a status poll of 500 printers spent ~70 % of its CPU in pysnmp's
per-request machinery and pyasn1's generic decoder (profiled: ``clone`` of an ASN.1
object per TLV, MIB resolution of every varbind), ~12-27 ms per device against a goal
of 2 ms. A message of the community-based versions is five fixed fields and a list of
(OID, value) pairs; this module reads exactly that, in one pass over the datagram,
and nothing else. SNMPv3 (USM security) stays with pysnmp.

Every datagram is hostile: lengths are checked against what is left, only the definite
length form is read, OIDs are bounded, and anything else raises ``BerError`` (the
datagram is dropped, as pysnmp drops what it cannot decode).
"""
from __future__ import annotations

from dataclasses import dataclass

GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5
VERSIONS = {"1": 0, "2c": 1}
MAX_OID_ARCS = 128

_INTEGER, _OCTETS, _NULL, _OID, _SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
_IP_ADDRESS, _COUNTER32, _GAUGE32, _TIMETICKS, _OPAQUE, _COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
#: noSuchObject, noSuchInstance, endOfMibView: "nothing here", as None.
_EXCEPTIONS = (0x80, 0x81, 0x82)
_UNSIGNED = (_COUNTER32, _GAUGE32, _TIMETICKS, _COUNTER64)


class BerError(ValueError):
    """A datagram that is not an SNMPv1/v2c Response we can read."""


@dataclass(frozen=True)
class Response:
    version: int
    community: bytes
    request_id: int
    error_status: int
    error_index: int
    var_binds: list  # [(oid tuple, plain value)]


# -- encoding ---------------------------------------------------------------------------------
def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _integer(value: int) -> bytes:
    return _tlv(_INTEGER, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def encode_oid(oid) -> bytes:
    arcs = tuple(oid)
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an OID: {arcs!r}")
    out = bytearray()
    for arc in (arcs[0] * 40 + arcs[1],) + arcs[2:]:
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = []
        while arc:
            chunk.append(arc & 0x7F)
            arc >>= 7
        out += bytes(b | 0x80 for b in reversed(chunk[1:])) + bytes((chunk[0],))
    return _tlv(_OID, bytes(out))


_NULL_VALUE = b"\x05\x00"


def encode_request(version: int, community: bytes, kind: int, request_id: int, oids, *, non_repeaters: int = 0,
                   max_repetitions: int = 0) -> bytes:
    """A GET/GETNEXT (v1, v2c) or GETBULK (v2c) message asking for ``oids``."""
    var_binds = b"".join(_tlv(_SEQUENCE, encode_oid(oid) + _NULL_VALUE) for oid in oids)
    if kind == GETBULK:
        fields = _integer(non_repeaters) + _integer(max_repetitions)
    else:
        fields = _integer(0) + _integer(0)
    pdu = _tlv(kind, _integer(request_id) + fields + _tlv(_SEQUENCE, var_binds))
    return _tlv(_SEQUENCE, _integer(version) + _tlv(_OCTETS, community) + pdu)


# -- decoding ---------------------------------------------------------------------------------
def _header(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the TLV at ``at``."""
    if at + 2 > end:
        raise BerError("truncated")
    tag = data[at]
    first = data[at + 1]
    at += 2
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 3 or at + count > end:
            raise BerError("bad length")
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    else:
        length = first
    if at + length > end:
        raise BerError("length past the end")
    return tag, at, at + length


def _expect(data: bytes, at: int, end: int, tag: int) -> tuple[int, int]:
    found, start, stop = _header(data, at, end)
    if found != tag:
        raise BerError(f"expected tag {tag:#x}, found {found:#x}")
    return start, stop


def _int_at(data: bytes, at: int, end: int) -> tuple[int, int]:
    start, stop = _expect(data, at, end, _INTEGER)
    if not 1 <= stop - start <= 9:
        raise BerError("bad integer")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_oid(body: bytes) -> tuple:
    if not body or len(body) > MAX_OID_ARCS * 5:
        raise BerError("bad OID")
    arcs = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if body[-1] & 0x80 or len(arcs) > MAX_OID_ARCS:
        raise BerError("bad OID")
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return head + tuple(arcs[1:])


def _value(tag: int, body: bytes):
    if tag == _INTEGER:
        if not 1 <= len(body) <= 9:
            raise BerError("bad integer")
        return int.from_bytes(body, "big", signed=True)
    if tag == _OCTETS or tag == _OPAQUE:
        return body
    if tag in _UNSIGNED:
        if not 1 <= len(body) <= 9:
            raise BerError("bad unsigned")
        return int.from_bytes(body, "big")
    if tag == _OID:
        return ".".join(map(str, decode_oid(body)))
    if tag == _IP_ADDRESS:
        if len(body) != 4:
            raise BerError("bad IpAddress")
        return ".".join(map(str, body))
    if tag == _NULL or tag in _EXCEPTIONS:
        return None
    raise BerError(f"unknown value type {tag:#x}")


def decode_response(data: bytes) -> Response:
    """The Response PDU in ``data`` (one datagram)."""
    end = len(data)
    start, stop = _expect(data, 0, end, _SEQUENCE)
    if stop != end:
        raise BerError("trailing bytes")
    version, at = _int_at(data, start, stop)
    if version not in (0, 1):
        raise BerError(f"not SNMPv1/v2c (version {version})")
    begin, at = _expect(data, at, stop, _OCTETS)
    community = data[begin:at]
    begin, pdu_end = _expect(data, at, stop, RESPONSE)
    request_id, at = _int_at(data, begin, pdu_end)
    error_status, at = _int_at(data, at, pdu_end)
    error_index, at = _int_at(data, at, pdu_end)
    at, list_end = _expect(data, at, pdu_end, _SEQUENCE)
    var_binds = []
    while at < list_end:
        begin, bind_end = _expect(data, at, list_end, _SEQUENCE)
        begin, name_end = _expect(data, begin, bind_end, _OID)
        name = decode_oid(data[begin:name_end])
        tag, begin, value_end = _header(data, name_end, bind_end)
        if value_end != bind_end:
            raise BerError("trailing bytes in a varbind")
        var_binds.append((name, _value(tag, data[begin:value_end])))
        at = bind_end
    return Response(version, community, request_id, error_status, error_index, var_binds)
