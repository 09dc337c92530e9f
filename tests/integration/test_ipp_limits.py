"""Slowloris and connection caps on the IPP port of a real gateway process, with raw
sockets on loopback: what a slow or greedy client gets, and that a normal client still
prints under the same limits."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from spooler.ipp.codec import Message, Tag, encode_message
from spooler.ipp.constants import Operation
from tests.fixtures.gateway import start_gateway
from tests.fixtures.peers import require

pytestmark = pytest.mark.integration

CONFIG = """
[ipp]
max_connections = 20
max_per_address = 3
idle_timeout = 2
head_timeout = 1.5
body_window = 1
min_body_rate = 2000
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    process = start_gateway(tmp_path_factory.mktemp("ipp-limits"), config_text=CONFIG, protocols=("ipp",))
    yield process
    process.stop()


def connect(gateway) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.ports["ipp"]), timeout=10)
    return sock


def read_all(sock, timeout=10.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def print_job_request(port: int, document_size: int) -> tuple[bytes, bytes]:
    message = Message((2, 0), int(Operation.PRINT_JOB), 1)
    group = message.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, f"ipp://127.0.0.1:{port}/printers/secure")
    group.add("requesting-user-name", Tag.NAME, "slowpoke")
    group.add("job-name", Tag.NAME, "dribble")
    body = encode_message(message) + b"%!PS\n" + b"%" * document_size
    head = (f"POST /printers/secure HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ipp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head, body


def test_a_fourth_connection_from_one_address_is_answered_503(gateway):
    held = [connect(gateway) for _ in range(3)]
    try:
        time.sleep(0.3)
        extra = connect(gateway)
        answer = read_all(extra)
        assert answer.startswith(b"HTTP/1.1 503 "), answer
    finally:
        for sock in held:
            sock.close()


def dribble(sock, pieces, *, pause: float) -> bytes:
    """Send ``pieces`` one at a time, waiting up to ``pause`` for an answer after each;
    stop at the first answer (or when the gateway closes), and return all it said."""
    answer = b""
    sock.settimeout(pause)
    for piece in pieces:
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            answer += sock.recv(4096)
        except socket.timeout:
            continue
        if answer:
            break
    return answer + read_all(sock, timeout=5)


def test_a_head_dribbled_a_byte_at_a_time_gets_408_and_the_connection_closes(gateway):
    sock = connect(gateway)
    started = time.monotonic()
    wire = b"POST /printers/secure HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"z" * 200
    answer = dribble(sock, [bytes([byte]) for byte in wire], pause=0.2)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 6
    assert "request head not complete" in gateway.log()


def test_an_idle_connection_is_closed_after_the_idle_timeout(gateway):
    sock = connect(gateway)
    started = time.monotonic()
    assert read_all(sock, timeout=10) == b""
    assert 1.5 < time.monotonic() - started < 6


def test_a_body_sent_too_slowly_gets_408_and_nothing_is_held(gateway):
    sock = connect(gateway)
    head, body = print_job_request(gateway.ports["ipp"], 200_000)
    sock.sendall(head + body[:1000])
    answer = dribble(sock, [body[offset:offset + 100] for offset in range(1000, 20_000, 100)], pause=0.25)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert "request body too slow" in gateway.log()
    assert [j for j in gateway.jobs("--all") if j["title"] == "dribble"] == []


def test_a_normal_client_still_prints_under_these_limits(gateway, tmp_path):
    require("ipptool", "cups-ipp-utils")
    document = tmp_path / "page.ps"
    document.write_bytes(b"%!PS\n/Helvetica findfont 20 scalefont setfont 72 700 moveto (ok) show showpage\n" * 2000)
    done = subprocess.run(["ipptool", "-t", "-T", "10", "-f", str(document),
                           f"ipp://127.0.0.1:{gateway.ports['ipp']}/printers/secure",
                           str(Path("/usr/share/cups/ipptool/print-job.test"))],
                          capture_output=True, text=True, timeout=60)
    assert "[PASS]" in done.stdout and "[FAIL]" not in done.stdout, done.stdout + gateway.log()
