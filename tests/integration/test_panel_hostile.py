"""Hostile clients against a running gateway, through real sockets (issue 20, items 8 and 9):
panel request bodies are judged before they are read and cut off when they trickle; login
lockouts slow a guesser without letting anyone lock someone else out."""
from __future__ import annotations

import base64
import json
import socket
import ssl
import time

import pytest

from release_api.device_auth import DeviceRequestSigner
from spooler.ipp.codec import Message, Tag, encode_message
from spooler.ipp.constants import Operation
from tests.fixtures.printer_sinks import LpdSink
from tests.release_api.release_peers import CARD, HttpsPanelClient, release_gateway

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PASSWORD = "correct horse"
CONFIG = """
default_queue = "secure"
[queues.secure]
[queues.locked]
require_authentication = true
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    with LpdSink() as sink, release_gateway(tmp, protocol="lpd", endpoint=f"127.0.0.1:{sink.port}/floor3",
                                            intake=("lpd", "ipp"), config_text=CONFIG) as running:
        from accounting.core import open_core
        from accounting.database import sqlite_url

        data_dir = running.process.data_dir
        core = open_core(sqlite_url(data_dir), data_dir=data_dir)
        for name in ("bob", "carol", "dave"):
            core.users.add_user(name)
        for name in ("alice", "bob", "carol", "dave"):
            core.users.set_password(name, PASSWORD)
        core.database.dispose()
        yield running


def tls_socket(port: int) -> ssl.SSLSocket:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))


def read_all(sock) -> bytes:
    raw = b""
    try:
        while chunk := sock.recv(65536):
            raw += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return raw


# -- 20.8: bodies ---------------------------------------------------------------------------
def test_a_300_mb_panel_post_is_refused_before_its_body_is_sent(gateway):
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    authorization = gateway.signer().authorization("POST", "/panel/card", b"")
    with tls_socket(gateway.process.ports["https"]) as sock:
        sock.sendall(b"POST /panel/card HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                     b"\r\nContent-Length: 300000000\r\nAuthorization: " + authorization.encode() + b"\r\n\r\n")
        answer = read_all(sock)  # no body byte was sent: the answer comes anyway, then the close
    assert answer.startswith(b"HTTP/1.1 413 ")
    status, _, _ = panel.request("GET", "/panel/")
    assert status == 200


def test_a_panel_post_from_a_client_with_no_device_credentials_is_not_read(gateway):
    with tls_socket(gateway.process.ports["https"]) as sock:
        sock.sendall(b"POST /panel/card HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 303 ") and b"Location: /panel/launch" in answer


def test_a_panel_body_trickled_a_byte_at_a_time_is_cut_off(gateway):
    body = b"csrf=x&card_number=" + b"1" * 40
    authorization = gateway.signer().authorization("POST", "/panel/card", body)
    started = time.monotonic()
    closed_after = None
    with tls_socket(gateway.process.ports["https"]) as sock:
        sock.sendall(b"POST /panel/card HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                     b"\r\nContent-Length: %d\r\nAuthorization: %s\r\n\r\n" % (len(body), authorization.encode()))
        sock.settimeout(1.0)
        answer = b""
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
                answer += sock.recv(65536)
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                break
            if answer:
                closed_after = time.monotonic() - started
                break
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert closed_after is not None  # before the whole body was sent


# -- 20.9: lockouts -------------------------------------------------------------------------
def ipps_print_job(port: int, user: str, password: str) -> str:
    message = Message((2, 0), int(Operation.PRINT_JOB), 1)
    group = message.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, f"ipps://127.0.0.1:{port}/printers/locked")
    group.add("requesting-user-name", Tag.NAME, user)
    body = encode_message(message) + b"%!PS\nshowpage\n"
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    with tls_socket(port) as sock:
        sock.sendall((f"POST /printers/locked HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/ipp\r\n"
                      f"Content-Length: {len(body)}\r\nAuthorization: Basic {credentials}\r\nConnection: close\r\n"
                      "\r\n").encode() + body)
        return read_all(sock).split(b"\r\n", 1)[0].decode()


def test_wrong_passwords_over_ipps_do_not_lock_the_user_out_at_the_printers(gateway):
    port = gateway.process.ports["https"]
    for n in range(8):
        ipps_print_job(port, "alice", f"guess {n}")
    assert "IPP login failed for alice from 127.0.0.1" in gateway.process.log()
    assert not [job for job in gateway.jobs() if job["queue"] == "locked"]
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    status, headers, _ = panel.card_login(CARD)
    assert status == 303 and headers["location"] == "/panel/jobs"
    other = HttpsPanelClient(gateway.panel_url, gateway.signer())
    status, _, html = other.request("GET", "/panel/password")
    status, headers, _ = other.request("POST", "/panel/password", {"csrf": other.csrf(html), "username": "alice",
                                                                   "password": PASSWORD})
    assert status == 303 and headers["location"] == "/panel/jobs"


def another_panel(gateway, name: str) -> DeviceRequestSigner:
    """One more registered printer: each test's failures stay at its own panel."""
    added = json.loads(gateway.process.cli("devices", "add", name, "--protocol", "lpd", "--endpoint",
                                           "127.0.0.1:9/floor3", "--json").stdout)
    return DeviceRequestSigner(added["device_id"], base64.urlsafe_b64decode(added["secret"]))


def password_attempt(gateway, username: str, password: str, signer=None) -> int:
    panel = HttpsPanelClient(gateway.panel_url, signer or gateway.signer())
    _, _, html = panel.request("GET", "/panel/password")
    status, _, _ = panel.request("POST", "/panel/password", {"csrf": panel.csrf(html), "username": username,
                                                             "password": password})
    return status


def test_a_real_and_an_unknown_user_get_the_same_answers_to_wrong_passwords(gateway):
    signer = another_panel(gateway, "mfp-same-answers")
    real = [password_attempt(gateway, "bob", f"guess {n}", signer) for n in range(6)]
    unknown = [password_attempt(gateway, "nobody-here", f"guess {n}", signer) for n in range(6)]
    assert real == unknown == [401] * 5 + [429]


def test_a_panel_with_failures_between_successes_never_locks(gateway):
    signer = another_panel(gateway, "mfp-busy")
    statuses = []
    for round_ in range(8):
        for n in range(4):
            statuses.append(password_attempt(gateway, f"typo{round_}-{n}", "wrong", signer))
        statuses.append(password_attempt(gateway, "carol", PASSWORD, signer))
    assert 429 not in statuses and statuses.count(303) == 8


def test_first_taps_of_new_cards_do_not_lock_the_panel(gateway):
    signer = another_panel(gateway, "mfp-new-cards")
    for n in range(25):
        status, _, html = HttpsPanelClient(gateway.panel_url, signer).card_login(f"NEWCARD{n:04d}")
        assert status == 200 and 'action="/panel/link"' in html
    assert password_attempt(gateway, "dave", PASSWORD, signer) == 303
