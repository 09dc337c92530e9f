"""The web pages and the printer's panel share the HTTPS port, each with its own cap on a
request body, judged before the body is read: a web form may be 64 KiB (a price list or a
rule), a panel request 16 KiB. Through a real TLS socket to the served site."""
from urllib.parse import urlsplit

import pytest

from tests.fixtures.web import csrf_of
from tests.integration.test_panel_hostile import read_all, tls_socket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def refused_head(world, path: str, length: int) -> bytes:
    """Send a POST's head announcing ``length`` bytes, and no body: the answer to the head."""
    with tls_socket(urlsplit(world.url).port) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode())
        return read_all(sock)


def test_a_web_form_of_40_kib_is_read_and_acted_on(world):
    http = world.session("fay")
    page = http.get(world.url + "/finance/accounts")
    answer = http.post(world.url + "/finance/accounts", allow_redirects=False,
                       data={"csrf": csrf_of(page.text), "name": "big-form", "padding": "x" * 40_000})
    assert answer.status_code == 303 and answer.headers["location"] == "/finance/accounts"
    assert world.core.accounts.get("big-form").name == "big-form"


def test_a_web_form_over_64_kib_is_refused_before_its_body_is_read(world):
    assert refused_head(world, "/finance/accounts", 64 * 1024 + 1).startswith(b"HTTP/1.1 413 ")


def test_a_panel_request_over_16_kib_is_still_refused_before_its_body_is_read(world):
    answer = refused_head(world, "/panel/card", 16 * 1024 + 1)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"at most 16384 bytes" in answer
