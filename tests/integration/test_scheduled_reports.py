"""The running gateway (``printgate serve``) runs scheduled reports and backups: a
schedule made due with ``printgate schedule run`` is produced and delivered by the
gateway itself (to a directory, and by mail through the gateway's one mail sender to
aiosmtpd with STARTTLS and AUTH), and ``printgate schedule list`` shows the outcome."""
from __future__ import annotations

import email
import json
import os
import subprocess
import sys

import pytest

from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.gateway import ROOT, GatewayProcess, start_gateway
from tests.fixtures.peers import free_port
from tests.fixtures.polling import wait_for
from tests.fixtures.smtp import PASSWORD as SMTP_PASSWORD, USER as SMTP_USER, start_smtp

pytestmark = pytest.mark.timeout(120)
#: No SNMP trap port: these tests need none, and 162/10162 may be held by other gateways
#: running on the machine at the same time.
NO_TRAPS = "[fleet]\ntrap_port = 0\n"


def test_the_gateway_delivers_a_due_report_and_backup_and_lists_the_outcome(tmp_path):
    gateway = start_gateway(tmp_path, config_text=f'[server]\ntimezone = "Europe/Paris"\n{NO_TRAPS}')
    try:
        out = tmp_path / "reports"
        gateway.cli("users", "add", "alice", "--balance", "5.00")
        gateway.cli("schedule", "add", "report", "daily-cb", "--every", "daily", "--at", "06:00", "--format", "csv",
                    "--to", str(out))
        gateway.cli("schedule", "add", "backup", "nightly", "--every", "daily", "--at", "02:00", "--to", str(out))
        gateway.stop()
        gateway.cli("schedule", "run", "daily-cb")
        gateway.cli("schedule", "run", "nightly")
        gateway.start()

        def delivered():
            listing = json.loads(gateway.cli("schedule", "list", "--json").stdout)
            runs = [s["last_run"] for s in listing]
            return listing if all(run and run["status"] == "delivered" for run in runs) else None

        assert wait_for(delivered, timeout=60), gateway.log()
        listing = delivered()
        names = sorted(p.name for p in out.iterdir())
        assert len(names) == 2 and names[0].startswith("daily-cb-") and names[0].endswith(".csv")
        assert names[1].startswith("printgate-backup-") and names[1].endswith(".tar")
        assert "Cost center" in (out / names[0]).read_text()
        assert "schedule daily-cb: run" in gateway.log() and "delivered" in gateway.log()
        assert all(s["next_run_at"] > s["last_run"]["due_at"] for s in listing)
    finally:
        gateway.stop()


def test_the_gateway_mails_a_due_report_through_its_mail_sender(tmp_path):
    authority = CertificateAuthority.create(tmp_path / "ca")
    controller, mailbox = start_smtp(authority)
    config = tmp_path / "printgate.toml"
    config.write_text(f'[server]\ntimezone = "Europe/Paris"\n[mail]\nhost = "127.0.0.1"\nport = {controller.port}\n'
                      f'user = "{SMTP_USER}"\nca_file = "{authority.ca_file}"\nfrom = "printgate@example.org"\n'
                      f'timeout = 10\n{NO_TRAPS}')
    gateway = GatewayProcess(data_dir=tmp_path / "data", ports={"lpd": free_port()}, config=config)
    try:
        stored = subprocess.run([sys.executable, "-m", "gateway", "--data-dir", str(gateway.data_dir), "--config",
                                 str(config), "secrets", "set", "smtp/password"], input=SMTP_PASSWORD + "\n",
                                capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                timeout=60)
        assert stored.returncode == 0, stored.stderr
        gateway.cli("users", "add", "alice", "--balance", "5.00")
        gateway.cli("schedule", "add", "report", "mail-cb", "--every", "daily", "--at", "06:00", "--format", "csv",
                    "--to", "mailto:finance@example.org")
        gateway.cli("schedule", "run", "mail-cb")
        gateway.start()
        assert wait_for(lambda: mailbox.messages, timeout=60), gateway.log()
        (message,) = mailbox.messages
        assert message["to"] == ["finance@example.org"] and message["tls"]
        (attachment,) = [part for part in email.message_from_bytes(message["data"]).walk() if part.get_filename()]
        assert attachment.get_filename().startswith("mail-cb-") and attachment.get_filename().endswith(".csv")
        assert b"Cost center" in attachment.get_payload(decode=True)
        (listed,) = json.loads(gateway.cli("schedule", "list", "--json").stdout)
        assert listed["last_run"]["status"] == "delivered"
    finally:
        gateway.stop()
        controller.stop()
