"""The SNMPv1/v2c codec (sans-IO), checked against pysnmp's own encoder and decoder: what
we send, pysnmp reads as the same request; what pysnmp encodes as a Response, we read
as the same values; and hostile datagrams are refused, never half-read."""
from __future__ import annotations

import random

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905

from spooler.snmp import ber
from spooler.snmp.values import plain

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
LIFE_COUNT = (1, 3, 6, 1, 2, 1, 43, 10, 2, 1, 4, 1, 1)
BIG_ARCS = (1, 3, 6, 1, 4, 1, 2_000_000_000, 128, 16_383, 16_384, 0)


def pysnmp_response(version: int, request_id: int, var_binds, *, error_status=0, error_index=0,
                    community=b"public") -> bytes:
    proto = api.PROTOCOL_MODULES[version]
    pdu = proto.GetResponsePDU()
    proto.apiPDU.set_defaults(pdu)
    proto.apiPDU.set_request_id(pdu, request_id)
    proto.apiPDU.set_error_status(pdu, error_status)
    proto.apiPDU.set_error_index(pdu, error_index)
    proto.apiPDU.set_varbinds(pdu, var_binds)
    message = proto.Message()
    proto.apiMessage.set_defaults(message)
    proto.apiMessage.set_community(message, community)
    proto.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


@pytest.mark.parametrize("kind", [ber.GET, ber.GETNEXT, ber.GETBULK])
def test_pysnmp_reads_our_requests_as_we_meant_them(kind):
    version = 0 if kind == ber.GETNEXT else 1
    data = ber.encode_request(version, b"office", kind, 1_234_567, [SYS_DESCR, LIFE_COUNT, BIG_ARCS],
                              non_repeaters=1, max_repetitions=10)
    proto = api.PROTOCOL_MODULES[version]
    message, rest = decoder.decode(data, asn1Spec=proto.Message())
    assert rest == b""
    assert int(proto.apiMessage.get_version(message)) == version
    assert bytes(proto.apiMessage.get_community(message)) == b"office"
    pdu = proto.apiMessage.get_pdu(message)
    assert int(proto.apiPDU.get_request_id(pdu)) == 1_234_567
    assert [tuple(name) for name, _ in proto.apiPDU.get_varbinds(pdu)] == [SYS_DESCR, LIFE_COUNT, BIG_ARCS]
    if kind == ber.GETBULK:
        assert (int(pdu["non-repeaters"]), int(pdu["max-repetitions"])) == (1, 10)
        assert isinstance(pdu, rfc1905.GetBulkRequestPDU)


VALUES = [
    rfc1902.Integer32(-5), rfc1902.Integer32(2_147_483_647), rfc1902.OctetString(b"HQ/Floor 3\x00"),
    rfc1902.OctetString(b"M" * 20_000), rfc1902.ObjectName("1.3.6.1.4.1.1347.41.1"), rfc1902.IpAddress("10.0.3.7"),
    rfc1902.Counter32(4_294_967_295), rfc1902.Gauge32(7), rfc1902.TimeTicks(123456),
    rfc1902.Counter64(18_446_744_073_709_551_615), rfc1902.Opaque(b"\x9f\x78\x04"), rfc1902.Bits(b"\x04\x00"),
    rfc1905.NoSuchObject(""), rfc1905.NoSuchInstance(""), rfc1905.EndOfMibView(""),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_we_read_each_value_type_of_a_pysnmp_response_as_pysnmp_reads_it(value):
    data = pysnmp_response(1, 77, [(BIG_ARCS, value)])
    response = ber.decode_response(data)
    assert (response.version, response.community, response.request_id) == (1, b"public", 77)
    assert response.var_binds == [(BIG_ARCS, plain(value))]


def test_a_v1_error_status_and_index_are_read():
    data = pysnmp_response(0, 9, [(SYS_DESCR, rfc1902.Null(""))], error_status=2, error_index=1)
    response = ber.decode_response(data)
    assert (response.version, response.error_status, response.error_index) == (0, 2, 1)


def test_a_response_of_many_varbinds_reads_them_all_in_order():
    binds = [((1, 3, 6, 1, 2, 1, 43, 11, 1, 1, 9, 1, n), rfc1902.Integer32(n)) for n in range(1, 65)]
    response = ber.decode_response(pysnmp_response(1, 1, binds))
    assert response.var_binds == [(name, int(value)) for name, value in binds]


GOOD = pysnmp_response(1, 5, [(SYS_DESCR, rfc1902.OctetString(b"printer"))])


@pytest.mark.parametrize("data", [
    b"", b"\x30", b"\x30\x82\xff\xff garbage", b"\x00" * 100, GOOD[:-1], GOOD + b"\x00",
    GOOD.replace(b"\xa2", b"\xa0", 1),  # a request, not a response
    GOOD.replace(b"\x02\x01\x01", b"\x02\x01\x03", 1),  # SNMPv3
    b"\x30\x84\x00\x00\x00\x05" + GOOD[2:],  # a length in 4 bytes
    b"\x30\x80" + GOOD[2:] + b"\x00\x00",  # the indefinite form
], ids=["empty", "tag-only", "length-past-end", "zeros", "truncated", "trailing", "request", "v3", "long-length",
        "indefinite"])
def test_a_datagram_that_is_not_a_readable_response_is_refused(data):
    with pytest.raises(ber.BerError):
        ber.decode_response(data)


def test_random_mutations_of_a_response_are_read_or_refused_never_crash():
    randomness = random.Random(17)
    for _ in range(3000):
        data = bytearray(GOOD)
        for _ in range(randomness.randint(1, 4)):
            data[randomness.randrange(len(data))] = randomness.randrange(256)
        try:
            ber.decode_response(bytes(data))
        except ber.BerError:
            pass


def test_an_oid_of_too_many_arcs_is_refused():
    name = ber.encode_oid((1, 3) + (1,) * 200)
    data = ber.encode_request(1, b"p", ber.GET, 1, [(1, 3)]).replace(b"\xa0", b"\xa2", 1)
    assert ber.decode_response(data).var_binds == [((1, 3), None)]
    with pytest.raises(ber.BerError):
        ber.decode_oid(name[3:])
