"""``printgate serve`` with a directory (a real slapd) and a mail relay (aiosmtpd with
STARTTLS and AUTH), driven by real clients: the scheduled sync imports people at start,
ipptool prints over ipps:// with a directory password, rules' notices arrive by mail,
and the ``printgate directory`` commands work beside the running gateway."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.gateway import ROOT, GatewayProcess
from tests.fixtures.lpd_client import lpd_print
from tests.fixtures.polling import wait_for
from tests.fixtures.peers import free_port, require
from tests.fixtures.slapd import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, DirectoryData, SlapdServer
from tests.fixtures.smtp import PASSWORD as SMTP_PASSWORD, USER as SMTP_USER, start_smtp

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

STOCK = Path("/usr/share/cups/ipptool")


def printgate(data_dir, config, *args, stdin=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "gateway", "--data-dir", str(data_dir), "--config", str(config),
                           *args], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("directory-mail")
    authority = CertificateAuthority.create(tmp / "ca")
    slapd = SlapdServer(tmp, authority).start(DirectoryData(users=30, passwords=5).write(tmp / "people.ldif"))
    controller, mailbox = start_smtp(authority)
    ports = {"lpd": free_port(), "ipp": free_port(), "https": free_port()}
    config = tmp / "printgate.toml"
    config.write_text(f"""
default_queue = "secure"
[queues.secure]
[queues.locked]
require_authentication = true

[directory]
servers = ["ldap://127.0.0.1:{free_port()}", "{slapd.uri}"]
user_bases = ["{PEOPLE}"]
group_bases = ["{GROUPS}"]
bind_dn = "{SERVICE_DN}"
ca_file = "{slapd.ca_file}"
sync_minutes = 60

[mail]
host = "127.0.0.1"
port = {controller.port}
user = "{SMTP_USER}"
ca_file = "{authority.ca_file}"
from = "printgate@example.org"
timeout = 10
""")
    data_dir = tmp / "data"
    data_dir.mkdir()
    assert printgate(data_dir, config, "secrets", "set", "directory/bind", stdin=SERVICE_PASSWORD + "\n").returncode == 0
    assert printgate(data_dir, config, "secrets", "set", "smtp/password", stdin=SMTP_PASSWORD + "\n").returncode == 0
    # Rules before the start: the gateway reads its rules at most every few seconds.
    for rule in (("watch-4", "--action", "notify", "--to", "owner", "--when", '{"users": ["user00004"]}',
                  "--message", "We saw your job"),
                 ("no-5", "--action", "deny", "--when", '{"users": ["user00005"]}', "--message",
                  "Printing is closed for you")):
        assert printgate(data_dir, config, "rules", "add", *rule).returncode == 0
    gateway = GatewayProcess(data_dir=data_dir, ports=ports, config=config).start()
    yield gateway, mailbox, config, slapd
    gateway.stop()
    controller.stop()
    slapd.stop()


def users(gateway):
    return json.loads(gateway.cli("users", "list", "--json").stdout)


def test_the_gateway_says_at_start_where_mail_and_users_come_from_and_syncs_at_once(setup):
    gateway, _, _, slapd = setup
    log = gateway.log()
    assert "Mail: via 127.0.0.1:" in log and "STARTTLS" in log
    assert f"Directory: ldap://127.0.0.1:" in log and slapd.uri in log and "by LDAP bind" in log
    assert wait_for(lambda: len(users(gateway)) == 30, timeout=30), gateway.log()
    user = next(u for u in users(gateway) if u["username"] == "user00003")
    assert (user["source"], user["email"], user["cards"]) == ("directory", "user00003@example.org", ["0000100003"])
    assert "full sync from " + slapd.uri in gateway.log()


def test_ipptool_prints_over_ipps_with_a_directory_password(setup, tmp_path):
    gateway, _, _, _ = setup
    require("ipptool", "cups-ipp-utils")
    gs = require("gs", "ghostscript")
    document = tmp_path / "page.pdf"
    subprocess.run([gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", f"-o{document}", "-c",
                    "showpage"], check=True, capture_output=True, timeout=60)
    uri = f"ipps://user00002:password-user00002@127.0.0.1:{gateway.ports['https']}/printers/locked"
    done = subprocess.run(["ipptool", "-tI", "-T", "10", "-f", str(document), uri, str(STOCK / "print-job.test")],
                          capture_output=True, text=True, timeout=120)
    assert "[PASS]" in done.stdout, done.stdout + done.stderr + gateway.log()
    assert [j["owner"] for j in gateway.jobs() if j["queue"] == "locked"] == ["user00002"]
    wrong = f"ipps://user00002:password-user00003@127.0.0.1:{gateway.ports['https']}/printers/locked"
    refused = subprocess.run(["ipptool", "-tI", "-T", "10", "-f", str(document), wrong,
                              str(STOCK / "print-job.test")], capture_output=True, text=True, timeout=120)
    assert "[PASS]" not in refused.stdout


def test_rule_notices_reach_the_owner_at_the_directory_address(setup):
    gateway, mailbox, _, _ = setup
    assert wait_for(lambda: len(users(gateway)) == 30, timeout=30), gateway.log()
    lpd_print("127.0.0.1", gateway.ports["lpd"], b"%!PS\nshowpage\n", user="user00004", title="watched", job=1)
    try:
        lpd_print("127.0.0.1", gateway.ports["lpd"], b"%!PS\nshowpage\n", user="user00005", title="closed", job=2)
    except Exception:  # noqa: BLE001 - the job is refused; the notice is what this test is about
        pass
    assert wait_for(lambda: len(mailbox.messages) >= 2, timeout=30), gateway.log()
    by_recipient = {tuple(m["to"]): m for m in mailbox.messages}
    watched = by_recipient[("user00004@example.org",)]
    assert watched["tls"] and watched["login"] == SMTP_USER.encode()
    assert b"We saw your job" in watched["data"]
    refused = by_recipient[("user00005@example.org",)]
    assert b"Printing is closed for you" in refused["data"] and b"refused" in refused["data"]
    log = gateway.data_dir / "mail" / "delivery.log"
    assert wait_for(lambda: [json.loads(line)["event"] for line in log.read_text().splitlines()].count(
        "delivered") >= 2, timeout=30), log.read_text()


def test_directory_commands_work_beside_the_running_gateway(setup):
    gateway, _, config, _ = setup
    assert wait_for(lambda: len(users(gateway)) == 30, timeout=30), gateway.log()
    dry = printgate(gateway.data_dir, config, "directory", "sync", "--full", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would do (dry run): 0 added, 0 changed, 0 disabled" in dry.stdout
    shown = printgate(gateway.data_dir, config, "directory", "test", "user00006")
    assert shown.returncode == 0, shown.stderr
    assert "cards:       0000100006" in shown.stdout and "dept-6" in shown.stdout
    status = printgate(gateway.data_dir, config, "directory", "status")
    assert "full" in status.stdout and "ok" in status.stdout
    missing = printgate(gateway.data_dir, config, "directory", "test", "*)(uid=*")
    assert missing.returncode == 1
