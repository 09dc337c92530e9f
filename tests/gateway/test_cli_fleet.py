"""``printgate devices`` fleet commands, run in-process against a data directory and real
SNMP agents on loopback (snmpsim printers, a plain host, Debian's snmpd): credentials,
discovery (dry run and recorded), approval through the device registration use case,
status, and the printer-data export in each format."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree

import pytest

from gateway.cli import main
from tests.fixtures.fleet_printers import ADDRESSES, SILENT, start_fleet

pytestmark = pytest.mark.timeout(180)

PRINTERS = {ADDRESSES[name] for name in ("colour", "mono", "error", "production", "spare")}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    agents = start_fleet(tmp_path_factory.mktemp("cli-fleet"))
    yield agents
    agents.stop()


@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"

    def run(*argv, stdin: str = ""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--data-dir", str(data), *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def add_credentials(run):
    assert run("devices", "credentials", "add", "office", "--version", "2c", stdin="public\n")[0] == 0
    assert run("devices", "credentials", "add", "v3-secure", "--version", "3", "--user", "secure", "--auth", "sha256",
               "--priv", "aes128", stdin="authkey-sha256\nprivkey-aes128\n")[0] == 0


def targets(fleet) -> list[str]:
    return [f"{ADDRESSES['colour']}-{SILENT}", "--port", str(fleet.port)]


def test_credentials_are_listed_in_the_order_they_are_tried_and_never_with_their_secrets(run):
    add_credentials(run)
    assert run("devices", "credentials", "add", "old", "--version", "1", "--position", "1", stdin="legacy-c\n")[0] == 0
    code, out, _ = run("devices", "credentials", "list", "--json")
    assert code == 0 and [c["name"] for c in json.loads(out)] == ["old", "office", "v3-secure"]
    v3 = json.loads(out)[2]
    assert (v3["version"], v3["user"], v3["auth"], v3["priv"]) == ("3", "secure", "sha256", "aes128")
    assert run("devices", "credentials", "move", "old", "3")[0] == 0
    assert run("devices", "credentials", "remove", "office")[0] == 0
    code, out, _ = run("devices", "credentials", "list")
    assert [line.split()[1] for line in out.splitlines()] == ["v3-secure", "old"]
    assert "legacy-c" not in out and "authkey" not in out and "privkey" not in out


def test_a_secret_is_never_taken_from_the_command_line_and_an_empty_input_is_refused(run):
    code, _, err = run("devices", "credentials", "add", "office", "--version", "2c", stdin="")
    assert code != 0 and "expected a secret on standard input" in err


def test_discovery_needs_a_credential_first(run, fleet):
    code, _, err = run("devices", "discover", *targets(fleet))
    assert code != 0 and "no SNMP credentials" in err


def test_a_dry_run_shows_the_printers_and_the_other_agents_and_records_nothing(run, fleet):
    add_credentials(run)
    code, out, _ = run("devices", "discover", *targets(fleet), "--dry-run", "--json")
    assert code == 0
    found = json.loads(out)
    assert {p["address"] for p in found["printers"]} == PRINTERS
    assert {p["address"] for p in found["not_printers"]} == {ADDRESSES["host"], ADDRESSES["snmpd"]}
    assert (found["swept"], found["silent"], found["dry_run"]) == (8, 1, True)
    spare = next(p for p in found["printers"] if p["address"] == ADDRESSES["spare"])
    assert (spare["credential"], spare["info"]["serial"], spare["info"]["model"]) == ("office", "FLEET-S1",
                                                                                      "TASKalfa 5053ci")
    assert json.loads(run("devices", "list", "--json")[1]) == []


def test_discovered_printers_wait_for_approval_which_registers_them_with_panel_credentials(run, fleet):
    add_credentials(run)
    code, out, _ = run("devices", "discover", *targets(fleet))
    assert code == 0 and "5 printer(s), 2 other SNMP agent(s)" in out and "1 silent" in out
    assert "Recorded 5 printer(s), 5 new" in out
    listed = json.loads(run("devices", "list", "--json")[1])
    assert {d["address"] for d in listed if d["state"] == "discovered"} == PRINTERS
    spare = f"{ADDRESSES['spare']}:{fleet.port}"
    code, out, _ = run("devices", "approve", spare, "--name", "mfp-spare", "--class", "office", "--protocol", "raw",
                       "--endpoint", "127.0.0.1:9100", "--json")
    registered = json.loads(out)
    assert code == 0 and registered["device_id"] == "mfp-spare" and len(registered["secret"]) >= 40
    [device] = [d for d in json.loads(run("devices", "list", "--json")[1]) if d.get("device_id") == "mfp-spare"]
    assert (device["color"], device["duplex"], device["panel"]) == (True, True, "active")
    code, out, _ = run("devices", "status", "mfp-spare")
    assert "TASKalfa 5053ci, serial FLEET-S1" in out and "HQ/Floor 1" in out and "via office" in out
    assert "tray Tray 1: A4 stationery, 350/500" in out and "tray Bypass: Letter stationery, some/100" in out
    # Discovering again keeps the approval.
    run("devices", "discover", f"{spare}")
    assert json.loads(run("devices", "status", "mfp-spare", "--json")[1])["state"] == "approved"


@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
def test_the_printer_data_exports_as_json_xml_and_csv(run, fleet, tmp_path, fmt):
    add_credentials(run)
    run("devices", "discover", *targets(fleet))
    output = tmp_path / f"printers.{fmt}"
    assert run("devices", "export", "--format", fmt, "--output", str(output))[0] == 0
    text = output.read_text()
    if fmt == "json":
        serials = {p["serial"] for p in json.loads(text)["printers"]}
    elif fmt == "xml":
        serials = {p.findtext("serial") for p in ElementTree.fromstring(text.encode()).iter("printer")}
    else:
        serials = {row["serial"] for row in csv.DictReader(io.StringIO(text))}
    assert serials == {"FLEET-C1", "FLEET-M1", "FLEET-E1", "FLEET-P1", "FLEET-S1"}
