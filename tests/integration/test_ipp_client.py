"""The release-side IPP client against CUPS's printer simulator, ippeveprinter (loopback),
and against tiny loopback printers that are busy or hang up early."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.trial import unittest

from spooler.ipp.client import (
    DocumentFormatNotSupported, IppPrinter, JobOptions, PrinterBusy, PrinterClosedEarly,
)
from spooler.ipp.codec import Message, MessageAccumulator, Tag, encode_message
from spooler.ipp.constants import JobState, Status
from tests.fixtures.peers import free_port, require

pytestmark = pytest.mark.integration

FORMATS = "application/pdf,application/postscript,image/pwg-raster"


def _wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}", pytrace=False)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s", pytrace=False)


@pytest.fixture(scope="class")
def ippeveprinter(request, tmp_path_factory):
    """ippeveprinter bound to loopback (``-n localhost``) with a private bus: it needs D-Bus
    for Avahi even with ``-r off``, so the bus stands in as both session and system bus."""
    dbus = require("dbus-daemon", "dbus")
    printer = require("ippeveprinter", "cups-ipp-utils")
    gs = require("gs", "ghostscript")
    tmp = tmp_path_factory.mktemp("ippeveprinter")
    bus = subprocess.Popen([dbus, "--session", "--nofork", "--print-address=1",
                            f"--address=unix:path={tmp / 'bus'}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = bus.stdout.readline().strip()
    spool = tmp / "spool"
    spool.mkdir()
    port = free_port()
    log = open(tmp / "ippeveprinter.log", "wb")
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address, DBUS_SYSTEM_BUS_ADDRESS=address)
    process = subprocess.Popen(
        [printer, "-p", str(port), "-n", "localhost", "-d", str(spool), "-k", "-r", "off",
         "-f", FORMATS, "-c", "/bin/true", "-s", "10,5", "PrintgateTestPrinter"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_port(port, process, "ippeveprinter")
        document = tmp / "release.pdf"
        subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite",
                        f"-o{document}", "-c",
                        "/Helvetica findfont 20 scalefont setfont 72 700 moveto (released) show showpage"],
                       check=True, timeout=60, capture_output=True)
        request.cls.uri = f"ipp://127.0.0.1:{port}/ipp/print"
        request.cls.spool = spool
        request.cls.document = document
        yield
    finally:
        for proc in (process, bus):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def chunks_of(path: Path, size: int = 4096):
    def open_document():
        with open(path, "rb") as f:
            while True:
                data = f.read(size)
                if not data:
                    return
                yield data
    return open_document


@pytest.mark.usefixtures("ippeveprinter")
class ClientAgainstIppeveprinter(unittest.TestCase):
    timeout = 60

    def printer(self):
        return IppPrinter(self.uri, reactor=reactor, user="alice", timeout=10, poll_interval=0.2)

    async def test_printer_attributes_are_learned(self):
        printer = self.printer()
        attributes = await printer.get_printer_attributes()
        self.assertEqual(attributes["printer-name"].value, "PrintgateTestPrinter")
        self.assertIn("application/pdf", attributes["document-format-supported"].python_values())

    async def test_a_document_is_printed_and_followed_to_completion(self):
        printer = self.printer()
        job = await printer.print_document(chunks_of(self.document), JobOptions(
            job_name="quarterly", user="alice", copies=2, sides="one-sided",
            color_mode="monochrome", media="na_letter_8.5x11in", document_format="application/pdf"))
        self.assertGreater(job.job_id, 0)
        final = await printer.wait_for_job(job.job_id, timeout=30)
        self.assertEqual(final["job-state"], JobState.COMPLETED)
        kept = list(self.spool.rglob("*.pdf"))
        self.assertTrue(any(p.read_bytes() == self.document.read_bytes() for p in kept), kept)

    async def test_an_unsupported_format_is_refused_before_sending(self):
        printer = self.printer()
        with self.assertRaises(DocumentFormatNotSupported) as caught:
            await printer.print_document(chunks_of(self.document), JobOptions(
                document_format="application/vnd.hp-PCL"))
        self.assertIn("application/pdf", caught.exception.supported)

    async def test_options_the_printer_lacks_are_left_out(self):
        printer = self.printer()
        job = await printer.print_document(chunks_of(self.document), JobOptions(
            sides="two-sided-long-edge", document_format="application/pdf"))
        self.assertEqual(job.omitted, ["sides"])


# ---------------------------------------------------------------- misbehaving printers


class _ScriptedPrinter(Protocol):
    """Answers each request from a script: a status code, or 'hang-up'."""

    def connectionMade(self):
        self.buffer = b""
        self.accumulator = MessageAccumulator()

    def dataReceived(self, data):
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        action = self.factory.script[min(self.factory.calls, len(self.factory.script) - 1)]
        if action == "hang-up":
            self.factory.calls += 1
            self.transport.loseConnection()
            return
        if not self.buffer.endswith(b"0\r\n\r\n"):
            return
        self.factory.calls += 1
        head, _, body = self.buffer.partition(b"\r\n\r\n")
        request_id = int.from_bytes(_dechunk(body)[4:8], "big")
        reply = Message((2, 0), int(action), request_id)
        op = reply.add_group(Tag.OPERATION)
        op.add("attributes-charset", Tag.CHARSET, "utf-8")
        op.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
        printer = reply.add_group(Tag.PRINTER)
        printer.add("document-format-supported", Tag.MIME_MEDIA_TYPE, "application/pdf")
        printer.add("operations-supported", Tag.ENUM, 2, 4, 8, 9, 10, 11)
        job = reply.add_group(Tag.JOB)
        job.add("job-id", Tag.INTEGER, 5)
        job.add("job-state", Tag.ENUM, 9)
        payload = encode_message(reply)
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        self.transport.loseConnection()


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


class ClientAgainstMisbehavingPrinters(unittest.TestCase):
    timeout = 30

    def serve(self, script):
        factory = Factory.forProtocol(_ScriptedPrinter)
        factory.script = script
        factory.calls = 0
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return factory, f"ipp://127.0.0.1:{port.getHost().port}/ipp/print"

    async def test_a_busy_printer_is_retried_until_it_accepts(self):
        factory, uri = self.serve([Status.SUCCESSFUL_OK, Status.SERVER_ERROR_BUSY,
                                   Status.SERVER_ERROR_BUSY, Status.SUCCESSFUL_OK])
        printer = IppPrinter(uri, reactor=reactor, busy_delay=0.05, timeout=5)
        job = await printer.print_document(lambda: iter([b"%PDF-1.7 x"]),
                                           JobOptions(document_format="application/pdf"))
        self.assertEqual(job.job_id, 5)
        self.assertEqual(factory.calls, 4)

    async def test_a_printer_busy_for_too_long_fails_with_printer_busy(self):
        _, uri = self.serve([Status.SUCCESSFUL_OK, Status.SERVER_ERROR_BUSY])
        printer = IppPrinter(uri, reactor=reactor, busy_delay=0.01, busy_retries=2, timeout=5)
        with self.assertRaises(PrinterBusy):
            await printer.print_document(lambda: iter([b"%PDF"]),
                                         JobOptions(document_format="application/pdf"))

    async def test_a_printer_refusing_the_format_raises_document_format_not_supported(self):
        _, uri = self.serve([Status.SUCCESSFUL_OK, Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED])
        printer = IppPrinter(uri, reactor=reactor, timeout=5)
        with self.assertRaises(DocumentFormatNotSupported):
            await printer.print_document(lambda: iter([b"%PDF"]),
                                         JobOptions(document_format="application/pdf"))

    async def test_a_printer_that_hangs_up_early_raises_printer_closed_early(self):
        _, uri = self.serve(["hang-up"])
        printer = IppPrinter(uri, reactor=reactor, timeout=5)
        with self.assertRaises(PrinterClosedEarly):
            await printer.get_printer_attributes()


class ClientAgainstTheGateway(unittest.TestCase):
    """Our client and our server agree: a job printed with the client is held as sent."""

    timeout = 60

    def setUp(self):
        import tempfile

        from tests.integration.test_ipp_conformance import RunningGateway
        self.tmp = Path(tempfile.mkdtemp(prefix="ipp-client-gateway-"))
        self.gateway = RunningGateway(self.tmp, panel=False)
        self.addCleanup(self.gateway.stop)

    async def test_a_job_printed_by_the_client_is_held_with_its_attributes(self):
        printer = IppPrinter(self.gateway.uri, reactor=reactor, user="carol", timeout=10)
        data = b"%PDF-1.7\n" + b"%" * 200_000 + b"\n%%EOF\n"
        job = await printer.print_document(
            lambda: (data[i:i + 8192] for i in range(0, len(data), 8192)),
            JobOptions(job_name="via client", user="carol", copies=2, sides="two-sided-long-edge",
                       color_mode="monochrome", document_format="application/pdf"))
        self.assertEqual(job.state, JobState.PENDING_HELD)
        state = await printer.get_job_attributes(job.job_id, "carol")
        self.assertEqual(state["job-state"], JobState.PENDING_HELD)
        [held] = [j for j in self.gateway.jobs() if j["title"] == "via client"]
        self.assertEqual((held["owner"], held["copies_requested"], held["sides"], held["size"]),
                         ("carol", 2, "two-sided-long-edge", len(data)))
