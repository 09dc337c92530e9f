"""The fleet in a running gateway: ``printgate serve`` with ``[fleet] enabled`` polls the
printers it was given over SNMP (snmpsim printers and Debian's snmpd on loopback),
sweeps its discovery targets, takes traps from net-snmp's ``snmptrap`` (v1, v2c, v3) —
with credentials stored while it runs too —, mails the admins (through aiosmtpd, with
STARTTLS and AUTH) when a printer falls into error, exports printer data on schedule,
refuses a release at a printer in error (naming the nearest healthy printer of its
class), and reconciles every release against the printer's page counter — a counter the
printer's own print port advances."""
from __future__ import annotations

import csv
import email
import json
import os
import re
import socket
import subprocess
import sys
import time
from base64 import urlsafe_b64decode
from email import policy

import pytest

from release_api.device_auth import DeviceRequestSigner
from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.fleet_printers import (
    ADDRESSES, JAM_ALERT, LINK_UP, LOCATIONS, PRINTER_V2_ALERT, START_COUNT, CountingRawPrinter, engine_id,
    read_count, snmptrap, start_fleet,
)
from tests.fixtures.gateway import ROOT, GatewayProcess
from tests.fixtures.peers import free_port
from tests.fixtures.printer_sinks import unused_port
from tests.fixtures.smtp import PASSWORD as SMTP_PASSWORD, USER as SMTP_USER, start_smtp
from tests.fixtures.snmp_agents import free_udp_port
from tests.release_api.release_peers import CARD, HttpsPanelClient, make_pdf, print_with_cups_lpd

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CONFIG = """
[fleet]
enabled = true
status_minutes = 60
counters_hours = 24
info_hours = 24
timeout = 1.0
retries = 1
refund_shortfalls = true
settle_seconds = 1.0
settle_timeout = 8
meter_read_period = "monthly"

[fleet.discovery]
targets = ["{first}-{last}"]
port = {port}
every_hours = 24

[fleet.export]
directory = "{exports}"
format = "csv"
every_hours = 24
jitter_minutes = 0.02

[mail]
host = "127.0.0.1"
port = {smtp_port}
user = "{smtp_user}"
ca_file = "{ca_file}"
from = "printgate@example.org"
timeout = 10

[notices]
admins = ["fleet-admin@example.org", "ops@example.org"]
"""
ADMINS = ["fleet-admin@example.org", "ops@example.org"]

#: (device id, agent, print endpoint or None for the counting printer, class, colour)
DEVICES = (("mfp-colour", "colour", None, "office", True),
           ("mfp-mono", "mono", "unused", "office", False),
           ("mfp-error", "error", "unused", "office", True),
           ("mfp-production", "production", "unused", "production", True))


def cli_with_input(process: GatewayProcess, text: str, *args: str) -> subprocess.CompletedProcess:
    """A ``printgate`` command fed ``text`` on standard input (secrets are never arguments)."""
    config = ["--config", str(process.config)] if process.config else []
    return subprocess.run([sys.executable, "-m", "gateway", "--data-dir", str(process.data_dir), *config, *args],
                          input=text, capture_output=True, text=True, cwd=ROOT, check=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def wait_for(check, what: str, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    pytest.fail(f"{what} within {timeout} s", pytrace=False)


class FleetGateway:
    def __init__(self, process: GatewayProcess, fleet, printer: CountingRawPrinter, secrets: dict, trap_port: int,
                 mailbox):
        self.process = process
        self.fleet = fleet
        self.printer = printer
        self.secrets = secrets
        self.trap_port = trap_port
        self.mailbox = mailbox

    def mails_about(self, device: str) -> list:
        """The printer alerts the relay received about ``device``."""
        messages = [(m, email.message_from_bytes(m["data"], policy=policy.default)) for m in self.mailbox.messages]
        return [(m, message) for m, message in messages if message["X-Printgate-Notice"] == "printer_alert"
                and message["Subject"].startswith(f"Printer {device}:")]

    def cli_json(self, *args: str):
        return json.loads(self.process.cli(*args, "--json").stdout)

    def panel(self, device_id: str) -> HttpsPanelClient:
        panel = HttpsPanelClient(f"https://127.0.0.1:{self.process.ports['https']}",
                                 DeviceRequestSigner(device_id, self.secrets[device_id]))
        status, _, _ = panel.card_login(CARD)
        assert status == 303
        return panel

    def print_job(self, tmp_path, title: str, pages: int = 2) -> int:
        document = tmp_path / f"{re.sub(r'[^a-z0-9]', '-', title.lower())}.pdf"
        make_pdf(document, pages=pages, text=title)
        print_with_cups_lpd(self.process.ports["lpd"], document, title=title)
        job = wait_for(lambda: next((j for j in self.process.jobs() if j["title"] == title), None),
                       f"job {title!r} held")
        return job["id"]

    def release(self, device_id: str, *job_ids: int) -> str:
        panel = self.panel(device_id)
        status, _, html = panel.request("GET", "/panel/jobs")
        assert status == 200, html[:500]
        status, headers, _ = panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(html), "action": "release",
                                                                   "job": [str(j) for j in job_ids]})
        assert status == 303 and headers["location"] == "/panel/result"
        return panel.request("GET", "/panel/result")[2]

    def check_of(self, job_id: int) -> dict:
        return wait_for(lambda: next((c for c in self.cli_json("devices", "checks") if c["job_id"] == job_id), None),
                        f"a meter check of job {job_id}")

    def ledger(self) -> list[dict]:
        return self.cli_json("ledger", "show", "alice")

    def job_state(self, job_id: int) -> str:
        return next(j for j in self.process.jobs("--all") if j["id"] == job_id)["state"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet-serve")
    authority = CertificateAuthority.create(tmp / "ca")
    relay, mailbox = start_smtp(authority)
    fleet = start_fleet(tmp / "agents")
    printer = CountingRawPrinter(fleet.counter_file)
    trap_port = free_udp_port()
    config = tmp / "printgate.toml"
    config.write_text(CONFIG.format(first=ADDRESSES["colour"], last=ADDRESSES["spare"], port=fleet.port,
                                    exports=tmp / "exports", smtp_port=relay.port, smtp_user=SMTP_USER,
                                    ca_file=authority.ca_file))
    process = GatewayProcess(data_dir=tmp / "data", ports={"lpd": free_port(), "https": free_port()}, config=config,
                             extra_args=["--trap-port", str(trap_port)])
    process.data_dir.mkdir(parents=True)
    try:
        cli_with_input(process, SMTP_PASSWORD + "\n", "secrets", "set", "smtp/password")
        process.cli("prices", "set", "standard", "--mono", "0.05", "--color", "0.20", "--default")
        process.cli("users", "add", "alice", "--full-name", "Alice Example", "--card", CARD, "--balance", "10.00")
        cli_with_input(process, "public\n", "devices", "credentials", "add", "office", "--version", "2c")
        cli_with_input(process, "authkey-sha256\nprivkey-aes128\n", "devices", "credentials", "add", "v3-secure",
                       "--version", "3", "--user", "secure", "--auth", "sha256", "--priv", "aes128")
        secrets = {}
        for device_id, agent, endpoint, device_class, colour in DEVICES:
            where = f"127.0.0.1:{printer.port}" if endpoint is None else f"127.0.0.1:{unused_port()}"
            args = ["devices", "add", device_id, "--protocol", "raw", "--endpoint", where, "--class", device_class,
                    "--location", LOCATIONS[agent], "--snmp", fleet.agent(agent), "--json"]
            registered = json.loads(process.cli(*args + (["--color", "--duplex"] if colour else [])).stdout)
            secrets[device_id] = urlsafe_b64decode(registered["secret"])
        process.start()
        # Everything scheduled "now" at start has run: the polls, the sweep, the export.
        wait_for(lambda: all(line in process.log() for line in ("Fleet poll:", "Discovery: Swept",
                                                                "Printer data exported to")),
                 "the first fleet poll, sweep and export")
        yield FleetGateway(process, fleet, printer, secrets, trap_port, mailbox)
    finally:
        process.stop()
        printer.stop()
        fleet.stop()
        relay.stop()


def send_trap(gateway: FleetGateway, source: str, options: list, trap: list) -> None:
    """``snmptrap OPTIONS GATEWAY TRAP...`` from ``source`` (a loopback address: the
    printer's own)."""
    snmptrap(f"--clientaddr={source}", *options, f"127.0.0.1:{gateway.trap_port}", *trap)


V2C = ["-v2c", "-c", "public"]


# -- start-up, polling, sweep, export ------------------------------------------------------------------
def test_serve_says_on_which_udp_port_it_takes_traps(gateway):
    assert f"TRAPS listening on 127.0.0.1 port {gateway.trap_port}  (UDP)" in gateway.process.log()


def test_the_first_poll_finds_each_printer_healthy_or_in_error_with_its_counter_and_supplies(gateway):
    colour = gateway.cli_json("devices", "status", "mfp-colour")
    assert (colour["health"], colour["info"]["serial"], colour["info"]["color"]) == ("ok", "FLEET-C1", True)
    assert colour["life_count"] >= START_COUNT and colour["counter_unit"] == "impressions"
    assert {s["description"] for s in colour["supplies"]} >= {"Black Toner", "Cyan Toner"}
    error = gateway.cli_json("devices", "status", "mfp-error")
    assert error["health"] == "error" and "jammed" in error["health_reason"]
    listing = gateway.process.cli("devices", "list").stdout
    assert re.search(r"^mfp-error .* error \(jammed", listing, re.M), listing
    assert re.search(r"^mfp-mono .* ok$", listing, re.M), listing


def test_polls_are_kept_as_meter_reads_with_one_automated_read_per_billing_period(gateway):
    reads = gateway.cli_json("devices", "meters", "mfp-mono", "--period")
    assert [(r["reason"], r["life_count"]) for r in reads] == [("period", 80_000)]
    assert reads[0]["period_start"][8:10] == "01"  # monthly: the first of the month


def test_the_scheduled_sweep_takes_in_the_printer_nobody_registered_and_no_plain_host(gateway):
    listed = gateway.cli_json("devices", "list")
    discovered = [d for d in listed if d.get("state") == "discovered"]
    assert [(d["address"], d["serial"]) for d in discovered] == [(ADDRESSES["spare"], "FLEET-S1")]
    assert "Discovery: Swept 7 address(es)" in gateway.process.log()
    assert re.search(r"5 printer\(s\), 2 other SNMP agent\(s\)", gateway.process.log())


def test_the_scheduled_export_starts_after_a_jittered_delay_and_writes_every_printer(gateway, tmp_path):
    delay = float(re.search(r"Printer export starts in ([0-9.]+) s \(jitter\)", gateway.process.log()).group(1))
    assert 0 <= delay <= 0.02 * 60
    [export] = list((gateway.process.config.parent / "exports").glob("printers-*.csv"))
    rows = list(csv.DictReader(export.open()))
    assert {row["serial"] for row in rows} == {"FLEET-C1", "FLEET-M1", "FLEET-E1", "FLEET-P1", "FLEET-S1"}
    assert not list(export.parent.glob(".printers-*"))  # written whole, then renamed


def test_a_fleet_export_schedule_is_run_by_serve_and_delivers_every_printer(gateway, tmp_path):
    target = tmp_path / "scheduled"
    gateway.process.cli("schedule", "add", "fleet-export", "printers-json", "--format", "json", "--every", "daily",
                        "--jitter-minutes", "0", "--to", str(target))
    gateway.process.cli("schedule", "run", "printers-json")

    def delivered():
        [schedule] = [s for s in gateway.cli_json("schedule", "list") if s["name"] == "printers-json"]
        return schedule["last_run"] and schedule["last_run"]["status"] == "delivered"

    wait_for(delivered, "the fleet-export schedule delivered (the scheduler ticks every 30 s)", timeout=90)
    [export] = list(target.glob("printers-json-*.json"))
    printers = json.loads(export.read_text())["printers"]
    assert {p["serial"] for p in printers} == {"FLEET-C1", "FLEET-M1", "FLEET-E1", "FLEET-P1", "FLEET-S1"}


# -- traps ----------------------------------------------------------------------------------------------
def test_traps_from_a_known_printer_over_v1_v2c_and_v3_become_its_events_at_once(gateway):
    mono = ADDRESSES["mono"]
    send_trap(gateway, mono, V2C, ["", PRINTER_V2_ALERT, *JAM_ALERT])
    send_trap(gateway, mono, ["-v1", "-c", "public"], ["1.3.6.1.2.1.43", mono, "6", "1", "", *JAM_ALERT])
    send_trap(gateway, mono, ["-v3", "-e", f"0x{engine_id('FLEET-M1')}", "-u", "secure", "-l", "authPriv", "-a",
                              "SHA-256", "-A", "authkey-sha256", "-x", "AES", "-X", "privkey-aes128"], ["", LINK_UP])

    def traps():
        found = [e for e in gateway.cli_json("devices", "events", "mfp-mono") if e["kind"].startswith("trap:")]
        return found if len(found) >= 3 else None
    got = wait_for(traps, "three trap events of mfp-mono", timeout=30)
    assert sorted(e["kind"] for e in got) == ["trap:link-up", "trap:printer-alert", "trap:printer-alert"]
    assert all(e["source"] == f"trap {mono}" for e in got)
    assert {e["severity"] for e in got if e["kind"] == "trap:printer-alert"} == {"critical"}


def test_traps_from_unknown_senders_or_with_wrong_credentials_are_counted_and_dropped(gateway):
    before = len(gateway.cli_json("devices", "events", "mfp-mono", "--limit", "500"))
    send_trap(gateway, "127.0.1.99", V2C, ["", LINK_UP])
    send_trap(gateway, ADDRESSES["mono"], ["-v2c", "-c", "not-our-community"], ["", LINK_UP])
    wait_for(lambda: "Trap from unknown sender 127.0.1.99 dropped" in gateway.process.log(),
             "the unknown sender logged")
    # Refused traps are counted by pysnmp and said at the next trap (or poll).
    send_trap(gateway, "127.0.1.98", V2C, ["", LINK_UP])
    wait_for(lambda: re.search(r"1 trap\(s\) with wrong credentials or undecodable dropped \(\d+ so far\)",
                               gateway.process.log()), "the refused trap logged")
    assert len(gateway.cli_json("devices", "events", "mfp-mono", "--limit", "500")) == before


def test_a_credential_stored_while_serve_runs_is_accepted_for_traps_without_a_restart(gateway):
    production = ADDRESSES["production"]
    cli_with_input(gateway.process, "added-while-serving\n", "devices", "credentials", "add", "night-shift",
                   "--version", "2c")
    cli_with_input(gateway.process, "authkey-night\nprivkey-night\n", "devices", "credentials", "add", "v3-night",
                   "--version", "3", "--user", "night", "--auth", "sha256", "--priv", "aes128")
    # The poll tick (every 30 s here) hands the stored credentials to the trap receiver.
    wait_for(lambda: all(re.search(rf"Traps now accepted with credential\(s\) .*{name}", gateway.process.log())
                         for name in ("night-shift", "v3-night")), "the new credentials taken for traps", timeout=120)
    send_trap(gateway, production, ["-v2c", "-c", "added-while-serving"], ["", LINK_UP])
    send_trap(gateway, production, ["-v3", "-e", f"0x{engine_id('FLEET-P1')}", "-u", "night", "-l", "authPriv", "-a",
                                    "SHA-256", "-A", "authkey-night", "-x", "AES", "-X", "privkey-night"],
              ["", LINK_UP])

    def link_ups():
        found = [e for e in gateway.cli_json("devices", "events", "mfp-production") if e["kind"] == "trap:link-up"]
        return found if len(found) >= 2 else None
    wait_for(link_ups, "both traps with the new credentials taken as events of mfp-production", timeout=30)


# -- printer alerts to the admins ---------------------------------------------------------------------
def test_the_admins_are_mailed_that_a_printer_is_in_error_naming_it_where_it_is_and_why(gateway):
    alerts = wait_for(lambda: (lambda found: found if len(found) >= 2 else None)(gateway.mails_about("mfp-error")),
                      "the alert about mfp-error at both admins", timeout=60)
    assert sorted(m["to"][0] for m, _ in alerts) == ADMINS
    for envelope, message in alerts:
        assert envelope["tls"] and envelope["login"] == SMTP_USER.encode()
        assert message["Subject"] == "Printer mfp-error: error (jammed, Paper jam in tray 2)"
        text = message.get_body(("plain",)).get_content()
        assert f"Printer mfp-error ({LOCATIONS['error']}) reports an error since" in text
        assert "jammed, Paper jam in tray 2" in text
        assert "<strong>mfp-error</strong>" in message.get_body(("html",)).get_content()
    log = gateway.process.log()
    assert f"Printer alerts: to {', '.join(ADMINS)}" in log
    assert "Telling the admins: printer mfp-error is now error (jammed, Paper jam in tray 2)" in log


def test_a_trap_putting_a_printer_in_error_is_mailed_and_one_already_in_error_is_not_mailed_again(gateway):
    wait_for(lambda: len(gateway.mails_about("mfp-error")) >= 2, "the first alert about mfp-error", timeout=60)
    before = gateway.cli_json("devices", "status", "mfp-error")["status_at"]
    send_trap(gateway, ADDRESSES["error"], V2C, ["", PRINTER_V2_ALERT, *JAM_ALERT])
    # The trap is recorded, then the printer polled at once: still in error, no news.
    wait_for(lambda: gateway.cli_json("devices", "status", "mfp-error")["status_at"] != before,
             "mfp-error polled after its trap", timeout=30)
    send_trap(gateway, ADDRESSES["production"], V2C, ["", PRINTER_V2_ALERT, *JAM_ALERT])
    alerts = wait_for(lambda: (lambda found: found if len(found) >= 2 else None)(
        gateway.mails_about("mfp-production")), "the alert about mfp-production at both admins", timeout=60)
    assert {message["Subject"] for _, message in alerts} == {"Printer mfp-production: error (Paper jam (trap))"}
    assert len(gateway.mails_about("mfp-error")) == 2, "one per admin, not one more for the trap or the poll"


# -- release -------------------------------------------------------------------------------------------
def test_a_release_at_a_printer_in_error_is_refused_and_the_nearest_healthy_printer_of_its_class_offered(
        gateway, tmp_path):
    job_id = gateway.print_job(tmp_path, "Quarterly figures")
    panel = gateway.panel("mfp-error")
    status, _, html = panel.request("GET", "/panel/jobs")
    offer = (f"Please print at mfp-colour ({LOCATIONS['colour']}), mfp-mono ({LOCATIONS['mono']}).")
    assert status == 200 and "This printer reports an error (jammed" in html and offer in html
    result = gateway.release("mfp-error", job_id)
    assert "This printer reports an error (jammed" in result and offer in result and "Nothing was charged." in result
    assert "mfp-production" not in result  # same floor, another class
    assert gateway.job_state(job_id) == "held"
    assert not [e for e in gateway.ledger() if e["job_id"] == job_id]


def test_a_release_records_the_impressions_the_printer_counted_against_those_expected(gateway, tmp_path):
    job_id = gateway.print_job(tmp_path, "Two page memo", pages=2)
    gateway.printer.impressions = 2
    before = read_count(gateway.fleet.counter_file)
    result = gateway.release("mfp-colour", job_id)
    assert "Two page memo" in result and "sent to the printer" in result
    check = gateway.check_of(job_id)
    assert (check["expected"], check["counted"], check["outcome"], check["refunded"]) == (2, 2, "match", 0)
    assert read_count(gateway.fleet.counter_file) == before + 2
    reads = gateway.cli_json("devices", "meters", "mfp-colour")
    assert any(r["reason"] == "release" and r["life_count"] == before + 2 for r in reads)


def test_a_shortfall_is_flagged_and_refunded_through_the_ledger(gateway, tmp_path):
    job_id = gateway.print_job(tmp_path, "Jammed handout", pages=2)
    gateway.printer.impressions = 1  # the second sheet jams
    gateway.release("mfp-colour", job_id)
    check = gateway.check_of(job_id)
    assert (check["expected"], check["counted"], check["outcome"]) == (2, 1, "shortfall")
    entries = [e for e in gateway.ledger() if e["job_id"] == job_id]
    [charge] = [e for e in entries if e["kind"] == "charge"]
    [refund] = [e for e in entries if e["kind"] == "refund"]
    assert refund["amount"] == check["refunded"] == -charge["amount"] // 2
    assert "shortfall" in gateway.process.cli("devices", "checks", "--device", "mfp-colour").stdout


def test_a_job_cancelled_at_the_printer_is_refunded_once_the_counter_has_not_moved_for_settle_timeout(
        gateway, tmp_path):
    job_id = gateway.print_job(tmp_path, "Cancelled at the printer", pages=2)
    gateway.printer.impressions = 0
    gateway.release("mfp-colour", job_id)
    check = gateway.check_of(job_id)
    assert (check["expected"], check["counted"], check["outcome"]) == (2, 0, "shortfall")
    assert "did not move within 8 s" in check["note"]
    [charge] = [e for e in gateway.ledger() if e["job_id"] == job_id and e["kind"] == "charge"]
    assert check["refunded"] == -charge["amount"]


def test_releases_overlapping_on_one_printer_are_recorded_as_concurrent_and_never_refunded(gateway, tmp_path):
    first = gateway.print_job(tmp_path, "Overlap one", pages=2)
    second = gateway.print_job(tmp_path, "Overlap two", pages=2)
    gateway.printer.impressions = 1  # short, but the counter cannot say whose sheets are missing
    gateway.release("mfp-colour", first, second)
    checks = [gateway.check_of(first), gateway.check_of(second)]
    assert [(c["outcome"], c["refunded"]) for c in checks] == [("concurrent", 0)] * 2
    assert not [e for e in gateway.ledger() if e["kind"] == "refund" and e["job_id"] in (first, second)]


def test_traps_fall_back_to_port_10162_when_162_is_taken_and_serve_says_so(tmp_path):
    address = "127.0.2.162"  # an address of its own, so the fallback port is free whatever else runs here
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        taken.bind((address, 162))
    except PermissionError:
        pass  # not root: 162 is refused to the gateway too
    config = tmp_path / "printgate.toml"
    config.write_text("[fleet]\nenabled = true\n")
    process = GatewayProcess(data_dir=tmp_path / "data", ports={"lpd": free_port(address)}, config=config,
                             extra_args=["--bind", address])
    try:
        process.start()
        assert re.search(rf"TRAPS listening on {re.escape(address)} port 10162  \(UDP; port 162 unavailable \(.+\), "
                         r"using 10162\)", process.log()), process.log()
    finally:
        process.stop()
        taken.close()
