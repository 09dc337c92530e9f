"""The streaming HTTP/1.1 request parser."""
import pytest
from hypothesis import given, settings, strategies as st

from spooler.ipp.http import (
    BodyData, EndOfRequest, HttpError, RequestHead, RequestParser, format_response_head,
)


def parse(data, parser=None):
    parser = parser or RequestParser()
    return parser.feed(data)


def body_of(events):
    return b"".join(e.data for e in events if isinstance(e, BodyData))


def test_a_content_length_post_yields_head_body_and_end():
    events = parse(b"POST /printers/secure HTTP/1.1\r\nHost: localhost:631\r\n"
                   b"Content-Type: application/ipp\r\nContent-Length: 5\r\n\r\nhello")
    head = events[0]
    assert isinstance(head, RequestHead)
    assert head.method == "POST" and head.target == "/printers/secure"
    assert head.header("host") == "localhost:631"
    assert head.keep_alive and not head.chunked and head.content_length == 5
    assert body_of(events) == b"hello"
    assert isinstance(events[-1], EndOfRequest)


def test_a_chunked_post_yields_the_dechunked_body():
    events = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: y\r\n\r\n")
    assert body_of(events) == b"abc0123456789abcdef"
    assert isinstance(events[-1], EndOfRequest)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=50), max_size=6), st.data())
def test_the_body_is_the_same_whatever_the_read_boundaries(chunks, data):
    wire = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    for c in chunks:
        wire += b"%x\r\n" % len(c) + c + b"\r\n"
    wire += b"0\r\n\r\n"
    wire += b"POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    parser = RequestParser()
    events = []
    last = 0
    for cut in cuts + [len(wire)]:
        events += parser.feed(wire[last:cut])
        last = cut
    ends = [i for i, e in enumerate(events) if isinstance(e, EndOfRequest)]
    assert len(ends) == 2
    assert body_of(events[:ends[0]]) == b"".join(chunks)
    assert body_of(events[ends[0]:]) == b"xyz"
    assert parser.idle


def test_the_body_is_delivered_before_the_request_is_complete():
    parser = RequestParser()
    events = parser.feed(b"POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
    assert body_of(events) == b"x" * 1000
    assert not any(isinstance(e, EndOfRequest) for e in events)
    assert len(parser._buffer) == 0


def test_expect_100_continue_is_reported():
    head = parse(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")[0]
    assert head.expect_continue


def test_an_unknown_expectation_is_417():
    with pytest.raises(HttpError) as e:
        parse(b"POST / HTTP/1.1\r\nExpect: magic\r\nContent-Length: 1\r\n\r\n")
    assert e.value.status == 417


def test_connection_close_and_http_10_turn_off_keep_alive():
    assert not parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")[0].keep_alive
    assert not parse(b"GET / HTTP/1.0\r\n\r\n")[0].keep_alive
    assert parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")[0].keep_alive


@pytest.mark.parametrize("wire, status", [
    (b"POST / HTTP/1.1\r\n\r\n", 411),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/2.0\r\n\r\n", 505),
    (b"GARBAGE\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabX", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 2000, 400),
    (b"POST / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nX: " + b"y" * 20000, 431),
])
def test_bad_framing_is_an_http_error_with_the_right_status(wire, status):
    with pytest.raises(HttpError) as e:
        parse(wire)
    assert e.value.status == status


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_http_error(data):
    try:
        RequestParser().feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + data)
        RequestParser().feed(data)
    except HttpError:
        pass


def test_response_heads_are_formatted():
    assert format_response_head(200, [("Content-Length", "0")]) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


# ---------------------------------------------------------------- responses (client side)

from spooler.ipp.http import ResponseParser  # noqa: E402


def test_a_response_with_content_length_is_parsed_across_reads():
    wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    parser = ResponseParser()
    results = [parser.feed(wire[i:i + 3]) for i in range(0, len(wire), 3)]
    response = [r for r in results if r is not None][0]
    assert (response.status, response.body) == (200, b"hello")


def test_a_chunked_response_and_a_close_delimited_one_are_parsed():
    chunked = ResponseParser().feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert chunked.body == b"abcde"
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.0 200 OK\r\n\r\npartial") is None
    assert parser.connection_closed().body == b"partial"


def test_an_oversized_response_is_refused():
    with pytest.raises(HttpError):
        ResponseParser(max_body=10).feed(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
