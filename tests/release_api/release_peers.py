"""What the release journeys share: a real gateway process set up the way an admin sets
it up (price list, user with a card, rules, a registered printer), a job printed to it
by CUPS's own lpd backend, and ``ippeveprinter`` (CUPS's IPP printer simulator) as the
printer, with a print command that records the job attributes it was given."""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from release_api.device_auth import DeviceRequestSigner
from tests.fixtures.gateway import ROOT, GatewayProcess
from tests.fixtures.peers import free_port, require

CARD = "04A1B2C3"
ALICE_PIN = "2468"


def make_pdf(path: Path, pages: int = 2, text: str = "released") -> bytes:
    gs = require("gs", "ghostscript")
    program = " ".join(f"/Helvetica findfont 20 scalefont setfont 72 700 moveto ({text} page {n}) show showpage"
                       for n in range(1, pages + 1))
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", f"-o{path}", "-c", program],
                   check=True, timeout=60, capture_output=True)
    return path.read_bytes()


def make_postscript(path: Path, pages: int = 2) -> bytes:
    gs = require("gs", "ghostscript")
    source = path.with_suffix(".src.pdf")
    make_pdf(source, pages)
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=ps2write", f"-o{path}", str(source)],
                   check=True, timeout=60, capture_output=True)
    return path.read_bytes()


def print_with_cups_lpd(port: int, path: Path, *, user: str = "alice", title: str = "Budget 2027", job_id: int = 7,
                        copies: int = 1):
    """``lpd`` backend, standalone, as CUPS runs it; hard timeout (it retries for days).
    With ``copies`` > 1 it sends the file that many times (its default ``manual_copies``)."""
    backend = require("/usr/lib/cups/backend/lpd", "cups")
    env = dict(os.environ, DEVICE_URI=f"lpd://127.0.0.1:{port}/secure?reserve=none")
    result = subprocess.run([backend, str(job_id), user, title, str(copies), "", str(path)], env=env,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]


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


@dataclass
class IppPrinterPeer:
    port: int
    spool: Path
    jobs_log: Path

    @property
    def endpoint(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/ipp/print"

    @property
    def secure_endpoint(self) -> str:
        return f"ipps://127.0.0.1:{self.port}/ipp/print"

    def documents(self) -> list[Path]:
        return sorted(p for p in self.spool.rglob("*") if p.is_file() and p.suffix in (".pdf", ".ps", ".pcl"))

    def job_environments(self) -> list[dict]:
        """The IPP job attributes ippeveprinter handed its print command, one dict per job."""
        if not self.jobs_log.exists():
            return []
        jobs = []
        for block in self.jobs_log.read_text().split("\n--\n"):
            values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            if values:
                jobs.append(values)
        return jobs


@contextmanager
def ippeveprinter(tmp: Path, *, duplex: bool = True, formats: str = "application/pdf,application/postscript",
                  keys: Path | None = None):
    """ippeveprinter on loopback with its own spool directory and a private D-Bus (it
    needs one for Avahi even with ``-r off``); the print command appends each job's
    ``IPP_*`` environment (and ``CONTENT_TYPE``, the document format) to a log so tests
    can see the attributes it was sent. It answers IPP and, on the same port, IPP over
    TLS with ``keys/localhost.crt`` and ``.key`` (made by itself when missing)."""
    dbus = require("dbus-daemon", "dbus")
    printer = require("ippeveprinter", "cups-ipp-utils")
    tmp.mkdir(parents=True, exist_ok=True)
    spool = tmp / "spool"
    spool.mkdir()
    jobs_log = tmp / "jobs.env"
    command = tmp / "print-command"
    command.write_text(f"#!/bin/sh\n{{ env | grep -E '^(IPP_|CONTENT_TYPE=)' ; echo '--'; }} >> '{jobs_log}'\n"
                       "exit 0\n")
    command.chmod(0o755)
    bus = subprocess.Popen([dbus, "--session", "--nofork", "--print-address=1", f"--address=unix:path={tmp / 'bus'}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = bus.stdout.readline().strip()
    port = free_port()
    log = open(tmp / "ippeveprinter.log", "wb")
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address, DBUS_SYSTEM_BUS_ADDRESS=address)
    keys = keys or tmp / "keys"
    keys.mkdir(exist_ok=True)
    args = [printer, "-p", str(port), "-n", "localhost", "-d", str(spool), "-k", "-r", "off", "-K", str(keys),
            "-f", formats, "-c", str(command), "-s", "60,30"]
    if duplex:
        args.append("-2")
    process = subprocess.Popen(args + ["PrintgateReleasePrinter"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_port(port, process, "ippeveprinter")
        yield IppPrinterPeer(port, spool, jobs_log)
    finally:
        for proc in (process, bus):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


@dataclass
class ReleaseGateway:
    process: GatewayProcess
    device_id: str
    secret: bytes

    @property
    def panel_url(self) -> str:
        return f"https://127.0.0.1:{self.process.ports['https']}"

    @property
    def lpd_port(self) -> int:
        return self.process.ports["lpd"]

    def signer(self) -> DeviceRequestSigner:
        return DeviceRequestSigner(self.device_id, self.secret)

    def jobs(self, *, every_state: bool = False) -> list[dict]:
        return self.process.jobs("--all") if every_state else self.process.jobs()

    def job(self, job_id) -> dict:
        return next(j for j in self.jobs(every_state=True) if j["id"] == int(job_id))

    def wait_for_held(self, count: int = 1, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs()
            if len(jobs) >= count:
                return jobs
            time.sleep(0.1)
        pytest.fail(f"{count} held job(s) expected; the gateway has {self.jobs()}", pytrace=False)

    def ledger(self, account: str = "alice") -> list[dict]:
        return json.loads(self.process.cli("ledger", "show", account, "--json").stdout)

    def charges(self, account: str = "alice") -> list[dict]:
        return [e for e in self.ledger(account) if e["kind"] == "charge"]

    def audit_actions(self) -> list[str]:
        """Audit actions straight from the database (read-only)."""
        import sqlite3

        with sqlite3.connect(self.process.data_dir / "printgate.sqlite3") as db:
            return [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY id")]


@contextmanager
def release_gateway(tmp_path: Path, *, protocol: str, endpoint: str, color: bool = True, duplex: bool = True,
                    rules: tuple = (), device_id: str = "mfp-3f", config_text: str | None = None,
                    intake: tuple = ("lpd",), device_options: tuple = (),
                    prices: tuple = ("--mono", "0.05", "--color", "0.20")):
    """A gateway process (``intake`` listeners + HTTPS panel on free loopback ports) with
    a price list (``prices``; by default 0.05 mono / 0.20 colour per side), alice (card, PIN, password, 10.00),
    the given rules, and one registered printer (``device_options``: more arguments of
    ``devices add``); ``config_text``: a printgate.toml."""
    data_dir = tmp_path / "data"
    config = None
    if config_text is not None:
        config = tmp_path / "printgate.toml"
        config.write_text(config_text)
    ports = {name: free_port() for name in (*intake, "https")}
    process = GatewayProcess(data_dir=data_dir, ports=ports, config=config)
    data_dir.mkdir(parents=True)
    process.cli("prices", "set", "standard", *prices, "--default")
    process.cli("users", "add", "alice", "--full-name", "Alice Example", "--card", CARD, "--balance", "10.00")
    for name, action, when in rules:
        process.cli("rules", "add", name, "--action", action, "--when", json.dumps(when),
                    "--message", f"rule '{name}'")
    args = ["devices", "add", device_id, "--protocol", protocol, "--endpoint", endpoint, "--screen", "800x480",
            "--model", "3F Finance MFP", "--json", *device_options]
    args += ["--color"] if color else []
    args += ["--duplex"] if duplex else []
    registered = json.loads(process.cli(*args).stdout)
    process.start()
    try:
        yield ReleaseGateway(process, registered["device_id"], base64.urlsafe_b64decode(registered["secret"]))
    finally:
        process.stop()


def set_pin(gateway: ReleaseGateway, username: str, pin: str) -> None:
    subprocess.run([sys.executable, "-m", "gateway", "--data-dir", str(gateway.process.data_dir), "users", "set-pin",
                    username, "--stdin"], input=pin + "\n", text=True, check=True, capture_output=True, cwd=ROOT,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)


class HttpsPanelClient:
    """A panel agent over real HTTPS (no browser): every request HMAC-signed as the
    device, cookies kept, redirects not followed. For the negative journeys."""

    def __init__(self, base_url: str, signer: DeviceRequestSigner | None):
        import ssl
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.signer = signer
        self.cookies: dict[str, str] = {}
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE

    def request(self, method: str, path: str, form: dict | None = None, *, authorization: str | None = None,
                timeout: float = 30.0):
        import http.client
        from urllib.parse import urlencode

        body = urlencode(form, doseq=True).encode() if form is not None else b""
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if authorization is None and self.signer is not None:
            authorization = self.signer.authorization(method, path, body)
        if authorization:
            headers["Authorization"] = authorization
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            return response.status, dict((k.lower(), v) for k, v in response.getheaders()), text
        finally:
            connection.close()

    @staticmethod
    def csrf(html: str) -> str:
        import re

        match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert match, html[:2000]
        return match.group(1)

    def enter_pin(self, user_number: str, pin: str):
        """Open the PIN pad, type the user number, OK, the PIN, OK; the response to the last OK."""
        status, _, html = self.request("GET", "/panel/pin")
        assert status == 200, (status, html[:500])
        token = self.csrf(html)
        for key in (*user_number, "ok", *pin):
            status, _, html = self.request("POST", "/panel/pin", {"csrf": token, "key": key})
            assert status == 200, (status, html[:500])
        return self.request("POST", "/panel/pin", {"csrf": token, "key": "ok"})

    def card_login(self, card: str = CARD):
        status, _, html = self.request("GET", "/panel/")
        assert status == 200, (status, html[:500])
        return self.request("POST", "/panel/card", {"csrf": self.csrf(html), "card_number": card})


def log_in_at_panel(browser, gateway: ReleaseGateway, card: str = CARD):
    """In Chromium (``tests.fixtures.browser.chromium``): the signed launch, then a card
    tap (the reader types the number and Enter); the job list page."""
    page = browser.page
    page.goto(gateway.panel_url + "/panel/launch")
    page.fill("#card_number", card)
    page.press("#card_number", "Enter")
    page.wait_for_url("**/panel/jobs")
    return page


def user_id_of(gateway: ReleaseGateway, username: str) -> int:
    users = json.loads(gateway.process.cli("users", "list", "--json").stdout)
    return next(u["id"] for u in users if u["username"] == username)
