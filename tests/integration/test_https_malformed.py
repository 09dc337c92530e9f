"""Malformed requests on the HTTPS port of a running gateway (panel and ipps:// share it):
each gets an answer, and the log gets no traceback."""
import socket
import ssl

import pytest

from tests.fixtures.gateway import start_gateway

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    process = start_gateway(tmp_path_factory.mktemp("https-malformed"), protocols=("https", "ipp"))
    yield process
    process.stop()


def over_tls(port: int, *pieces: bytes) -> bytes:
    """Send ``pieces`` (each its own TLS record) and read the answer until the close."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                             server_hostname="localhost") as sock:
        for piece in pieces:
            sock.sendall(piece)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ssl.SSLError, ConnectionResetError):
            pass
        return answer


@pytest.mark.parametrize("pieces", [
    (b"BAD\r\nHost: x\r\n\r\n",),
    (b"GET /panel/launch HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\nHost: y\r\n\r\n",),
    (b"GET /panel/ HTTP/1.1\r\nHost: x\r\n\r\nGET\x00 / HTTP/1.1\r\n\r\n",),
    (b"POST /printers/secure HTTP/1.1\r\nContent-Type: application/ipp\r\nContent-Length: zz\r\n\r\n",),
    (b"POST /panel/login HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\rX: y\r\nContent-Length: 2\r\n\r\nab",),
    (b"POST /panel/login HTTP/1.1\r\nHost: x\r\nContent-Type: text/pl\x85ain\r\nContent-Length: 2\r\n\r\nab",),
    # What a fuzzer found: a request line run into its next header line (so no Content-Type:
    # the web side takes it), then a body that, arriving in later records once the request
    # was refused, reads as more header lines.
    tuple((b"POST /printers/secure HTTP/1.1ontent-Type: application/ipp\r\nContent-Length: 3171\r\n\r\n"
           + b"\x02\x00\x00\x02" + b"@PJL SET USERNAME=\"fuzz\"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE"
           + bytes(range(256)) * 12)[start:start + 1400] for start in range(0, 3171 + 80, 1400)),
])
def test_a_malformed_request_is_answered(gateway, pieces):
    answer = over_tls(gateway.ports["https"], *pieces)
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    assert b" 400 " in answer or b" 401 " in answer or b" 404 " in answer


def test_none_of_them_left_a_traceback(gateway):
    assert "Traceback" not in gateway.log()
