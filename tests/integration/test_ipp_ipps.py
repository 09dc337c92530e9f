"""IPP over TLS on the gateway's HTTPS port, and HTTP Basic against local users, with a
real gateway process and real clients: ipptool, the CUPS ``ipps`` backend, a raw TLS
socket for what the HTTP layer says, and the panel still answering on the same port.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from spooler.ipp.codec import Message, Tag, decode_message, encode_message
from spooler.ipp.constants import Operation
from tests.fixtures.gateway import start_gateway
from tests.fixtures.peers import require

pytestmark = pytest.mark.integration

STOCK = Path("/usr/share/cups/ipptool")
CONFIG = """
default_queue = "secure"
[queues.secure]
[queues.locked]
require_authentication = true
"""
PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ipps")
    process = start_gateway(tmp, config_text=CONFIG, protocols=("ipp", "https"))
    from accounting.core import open_core
    from accounting.database import sqlite_url

    data_dir = process.data_dir
    for user in ("alice", "bob", "carol"):
        process.cli("users", "add", user)
    core = open_core(sqlite_url(data_dir), data_dir=data_dir)
    for user in ("alice", "bob", "carol"):
        core.users.set_password(user, PASSWORD)
    core.database.dispose()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    gs = require("gs", "ghostscript")
    path = tmp_path_factory.mktemp("doc") / "letter.pdf"
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-sPAPERSIZE=a4",
                    f"-o{path}", "-c", "/Helvetica findfont 20 scalefont setfont 72 700 moveto (ipps) show showpage"],
                   check=True, timeout=60, capture_output=True)
    return path


def https_port(gateway) -> int:
    return gateway.ports["https"]


def ipptool(uri: str, test: str, document: Path | None = None) -> str:
    require("ipptool", "cups-ipp-utils")
    args = ["ipptool", "-tI", "-T", "10"]
    if document is not None:
        args += ["-f", str(document)]
    done = subprocess.run(args + [uri, str(STOCK / test)], capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def wait_for_job(gateway, title, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in gateway.jobs():
            if job["title"] == title:
                return job
        time.sleep(0.2)
    pytest.fail(f"no job titled {title!r}; gateway log:\n{gateway.log()}")


def tls_post(port: int, message: Message, *, authorization: str | None = None, path="/printers/locked"):
    """One IPP request over TLS; (status line, headers, body)."""
    body = encode_message(message)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/ipp\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n")
    if authorization:
        head += f"Authorization: {authorization}\r\n"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
    return lines[0], headers, rest


def ipp_request(op, uri, user="mallory"):
    message = Message((2, 0), int(op), 1)
    group = message.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, uri)
    group.add("requesting-user-name", Tag.NAME, user)
    return message


def test_ipptool_get_printer_attributes_passes_over_ipps_on_the_https_port(gateway):
    out = ipptool(f"ipps://127.0.0.1:{https_port(gateway)}/printers/secure", "get-printer-attributes.test")
    assert "[PASS]" in out and "[FAIL]" not in out, out + gateway.log()


def test_ipptool_prints_over_ipps_with_a_password_and_the_job_is_the_authenticated_users(gateway, document):
    uri = f"ipps://alice:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{https_port(gateway)}/printers/locked"
    out = ipptool(uri, "print-job.test", document)
    assert "[PASS]" in out and "[FAIL]" not in out, out + gateway.log()
    jobs = [j for j in gateway.jobs() if j["queue"] == "locked"]
    assert [j["owner"] for j in jobs] == ["alice"]
    assert jobs[0]["sha256"] == hashlib.sha256(document.read_bytes()).hexdigest()


def test_the_cups_ipps_backend_prints_with_the_password_in_its_uri(gateway, document):
    backend = require("/usr/lib/cups/backend/ipps", "cups")
    uri = (f"ipps://bob:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{https_port(gateway)}/printers/locked"
           "?waitjob=false&waitprinter=false")
    env = dict(os.environ, DEVICE_URI=uri, CONTENT_TYPE="application/pdf", FINAL_CONTENT_TYPE="application/pdf")
    done = subprocess.run([backend, "7", "mallory", "Backend over TLS", "1", "", str(document)],
                          env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-4000:] + gateway.log()
    job = wait_for_job(gateway, "Backend over TLS")
    assert job["owner"] == "bob" and job["queue"] == "locked"
    assert job["size"] == document.stat().st_size


def test_a_job_without_credentials_over_tls_is_answered_401_with_a_basic_challenge(gateway):
    port = https_port(gateway)
    status, headers, _ = tls_post(port, ipp_request(Operation.PRINT_JOB, f"ipps://127.0.0.1:{port}/printers/locked"))
    assert status.startswith("HTTP/1.1 401")
    assert headers["www-authenticate"].startswith('Basic realm="Printgate"')


def test_a_wrong_password_is_challenged_again_and_logged(gateway):
    port = https_port(gateway)
    wrong = "Basic " + base64.b64encode(b"carol:not it").decode()
    status, headers, _ = tls_post(port, ipp_request(Operation.PRINT_JOB, f"ipps://127.0.0.1:{port}/printers/locked"),
                                  authorization=wrong)
    assert status.startswith("HTTP/1.1 401") and "www-authenticate" in headers
    assert "IPP login failed for carol from 127.0.0.1" in gateway.log()


def test_plain_ipp_to_a_locked_queue_is_refused_naming_the_ipps_uri(gateway, document):
    out = ipptool(f"ipp://127.0.0.1:{gateway.ports['ipp']}/printers/locked", "print-job.test", document)
    assert "client-error-not-authorized" in out, out
    assert f"ipps://localhost:{https_port(gateway)}/printers/locked" in out or \
        f"ipps://127.0.0.1:{https_port(gateway)}/printers/locked" in out, out


def test_the_printer_uris_tell_their_security_and_authentication(gateway):
    port = https_port(gateway)
    status, _, body = tls_post(port, ipp_request(Operation.GET_PRINTER_ATTRIBUTES,
                                                 f"ipps://127.0.0.1:{port}/printers/secure"), path="/printers/secure")
    reply = decode_message(body)[0]
    printer = reply.group(Tag.PRINTER)
    assert printer.get("printer-uri-supported").python_values() == [
        f"ipps://127.0.0.1:{port}/printers/secure", f"ipp://127.0.0.1:{gateway.ports['ipp']}/printers/secure"]
    assert printer.get("uri-security-supported").python_values() == ["tls", "none"]
    assert printer.get("uri-authentication-supported").python_values() == [
        "requesting-user-name", "requesting-user-name"]
    status, _, body = tls_post(port, ipp_request(Operation.GET_PRINTER_ATTRIBUTES,
                                                 f"ipps://127.0.0.1:{port}/printers/locked"))
    printer = decode_message(body)[0].group(Tag.PRINTER)
    assert printer.get("printer-uri-supported").python_values() == [f"ipps://127.0.0.1:{port}/printers/locked"]
    assert printer.get("uri-authentication-supported").python_values() == ["basic"]


def test_the_panel_still_answers_on_the_shared_port(gateway):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(socket.create_connection(("127.0.0.1", https_port(gateway)), timeout=10)) as sock:
        sock.sendall(b"GET /panel/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert b"application/ipp" not in raw.split(b"\r\n\r\n", 1)[0]
    assert raw.startswith(b"HTTP/1.1 ")
