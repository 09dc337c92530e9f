"""What the intake keeps and refuses, on a real gateway with real clients: unclaimed jobs
are held, stated names become users only as configured, refused jobs are recorded (and
stay refused when the CUPS lpd backend sends them again), nothing empty is held, and one
LPD connection cannot pile up data files."""
from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.lpd_client import LpdRefused, lpd_exchange, lpd_open, lpd_print, raw_print
from tests.fixtures.peers import free_port, require
from tests.fixtures.polling import wait_for

pytestmark = pytest.mark.integration
PS = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%Page: 1 1\n72 700 moveto showpage\n%%EOF\n"


@pytest.fixture
def new_gateway(tmp_path):
    """``new_gateway(config_text, *cli_commands)``: a gateway whose prices (and rules...)
    are set with the CLI before it starts; stopped after the test."""
    started = []

    def start(config_text="", *setup) -> GatewayProcess:
        config = tmp_path / "printgate.toml"
        config.write_text(config_text)
        gateway = GatewayProcess(data_dir=tmp_path / "data", ports={"lpd": free_port(), "raw": free_port()},
                                 config=config)
        gateway.data_dir.mkdir(parents=True)
        gateway.cli("prices", "set", "standard", "--mono", "0.10", "--default")
        for command in setup:
            gateway.cli(*command)
        started.append(gateway)
        return gateway.start()

    yield start
    for gateway in started:
        gateway.stop()



def users(gateway):
    return {user["username"]: user for user in json.loads(gateway.cli("users", "list", "--json").stdout)}


def test_an_unclaimed_raw_job_is_held_without_making_a_user_or_asking_a_balance(new_gateway):
    gateway = new_gateway()
    raw_print("127.0.0.1", gateway.ports["raw"], PS)  # no PJL name, no address mapping
    [job] = gateway.jobs()
    assert job["owner"] == "unknown@127.0.0.1" and job["attributes"]["unclaimed"] is True
    assert job["user_id"] is None and "unknown@127.0.0.1" not in users(gateway)


def test_stated_names_become_users_only_in_the_known_domains(new_gateway):
    gateway = new_gateway('[users]\nauto_create = "known-domains"\nknown_domains = ["example.org"]\n',
                          ("users", "add", "carol"), ("accounts", "topup", "carol", "5.00"))
    with pytest.raises(LpdRefused):
        lpd_print("127.0.0.1", gateway.ports["lpd"], PS, user="eve@elsewhere.net", job=1)
    with pytest.raises(LpdRefused):  # a new user has an empty account: the balance refuses it
        lpd_print("127.0.0.1", gateway.ports["lpd"], PS, user="bob@example.org", job=2)
    lpd_print("127.0.0.1", gateway.ports["lpd"], PS, user="carol", job=3)
    known = users(gateway)
    assert "bob@example.org" in known and "eve@elsewhere.net" not in known
    [held] = gateway.jobs()
    assert held["owner"] == "carol" and held["user_id"] == known["carol"]["id"]


def test_a_refused_job_is_recorded_with_its_rule_and_its_notify_action_is_sent(new_gateway, webhook):
    url, bodies = webhook
    gateway = new_gateway("",
                          ("rules", "add", "tell-admin", "--action", "notify", "--to", url, "--message", "mallory tried",
                           "--when", '{"users": ["mallory"]}'),
                          ("rules", "add", "no-mallory", "--action", "deny", "--message", "Not you, Mallory",
                           "--when", '{"users": ["mallory"]}'))  # after the notify rule
    with pytest.raises(LpdRefused):
        lpd_print("127.0.0.1", gateway.ports["lpd"], PS, user="mallory", title="plans")
    assert wait_for(lambda: gateway.jobs("--state", "refused")), gateway.log()
    [refused] = gateway.jobs("--state", "refused")
    assert (refused["owner"], refused["title"], refused["decision_rule"], refused["decision_message"]) == (
        "mallory", "plans", "no-mallory", "Not you, Mallory")
    assert refused["spool_name"] is None and refused["user_id"] is not None
    assert gateway.spooled() == set()
    assert wait_for(lambda: bodies), gateway.log()
    assert bodies[0]["job_id"] == refused["id"] and bodies[0]["rule"] == "tell-admin"
    shown = json.loads(gateway.cli("jobs", "show", str(refused["id"])).stdout)
    assert shown["policy_record"]["rule_name"] == "no-mallory" and shown["policy_record"]["notified"] is True


def run_lpd_backend(uri: str, path, user: str):
    backend = require("/usr/lib/cups/backend/lpd", "cups")
    return subprocess.run([backend, "21", user, "refused doc", "1", "", str(path)], env=dict(os.environ, DEVICE_URI=uri),
                          capture_output=True, timeout=120)


@pytest.mark.timeout(180)
def test_a_job_refused_to_the_cups_lpd_backend_stays_refused_when_it_retries(new_gateway, tmp_path):
    gateway = new_gateway("", ("rules", "add", "no-mallory", "--action", "deny", "--message", "Not you",
                               "--when", '{"users": ["mallory"]}'))
    document = tmp_path / "doc.ps"
    document.write_bytes(PS)
    # The backend retries once, 30 s after the refusal; both file orders run side by side
    # (the backend numbers its files itself, so they are two jobs to the gateway), so the
    # suite waits for that pause once.
    orders = ["control,data", "data,control"]
    with ThreadPoolExecutor(len(orders)) as pool:
        results = list(pool.map(lambda order: run_lpd_backend(
            f"lpd://127.0.0.1:{gateway.ports['lpd']}/secure?reserve=none&order={order}&snmp=false",
            document, "mallory"), orders))
    for order, result in zip(orders, results):
        stderr = result.stderr.decode(errors="replace")
        assert result.returncode != 0, (order, stderr[-2000:])  # the workstation's CUPS sees the job fail
        assert "PAGE:" not in stderr, order
    assert gateway.jobs() == []  # nothing held, nothing empty
    refused_again = [line for line in gateway.log().splitlines() if "refused again" in line]
    assert len(refused_again) == 2, refused_again  # each backend's one retry, each refused


def test_an_lpd_connection_cannot_pile_up_data_files_without_a_control_file(new_gateway):
    gateway = new_gateway()
    with lpd_open("127.0.0.1", gateway.ports["lpd"]) as sock:
        answers = []
        for n in range(60):
            answers.append(lpd_exchange(sock, b"\x03%d dfA%03dws\n" % (4000, n)))
            if answers[-1] != b"\x00":
                break
            answers.append(lpd_exchange(sock, b"\x1bE" + os.urandom(3998) + b"\x00"))
    assert answers[-1] not in (b"\x00", b""), "the 53rd data file should be refused"
    assert len(answers) == 2 * 52 + 1
    assert gateway.jobs() == []


def test_an_empty_job_is_never_held(new_gateway):
    gateway = new_gateway("", ("users", "add", "alice"), ("accounts", "topup", "alice", "5.00"))
    with lpd_open("127.0.0.1", gateway.ports["lpd"]) as sock:
        control = b"Hws\nPalice\nJempty\nldfA001ws\n"
        assert lpd_exchange(sock, b"\x02%d cfA001ws\n" % len(control)) == b"\x00"
        assert lpd_exchange(sock, control + b"\x00") == b"\x00"
        assert lpd_exchange(sock, b"\x030 dfA001ws\n") == b"\x00"  # length 0: the data runs until the close
    assert wait_for(lambda: "EmptyJob" in gateway.log() or "held for alice" in gateway.log()), gateway.log()
    assert gateway.jobs() == [] and gateway.jobs("--all") == []
