"""The web pages in ``printgate serve`` as a person runs it: the first admin is made from
the command line (there is no set-up page), logs in over HTTPS, enrols TOTP, reaches
the admin pages and downloads a finance report equal to ``printgate report``'s; plain
HTTP is sent to HTTPS."""
import http.client
import os
import re
import subprocess
import sys

import pyotp
import pytest
import requests

from tests.fixtures.gateway import ROOT, GatewayProcess
from tests.fixtures.peers import free_port
from tests.fixtures.web import csrf_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_the_first_admin_is_made_on_the_command_line_and_logs_in_with_totp(tmp_path):
    ports = {"lpd": free_port(), "https": free_port()}
    http_port = free_port()
    gateway = GatewayProcess(data_dir=tmp_path / "data", ports=ports, extra_args=["--http-port", str(http_port)])
    gateway.start()
    try:
        assert f"Web pages: https://127.0.0.1:{ports['https']}/ " in gateway.log()
        gateway.cli("users", "add", "ana", "--full-name", "Ana Admin")
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "--data-dir", str(gateway.data_dir), "users", "set-password", "ana",
             "--password-stdin"], input="a long enough password\n", capture_output=True, text=True, cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
        assert result.returncode == 0, result.stderr
        assert "ana is now admin" in gateway.cli("users", "grant", "ana", "admin").stdout

        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        plain.request("GET", "/login", headers={"Host": "127.0.0.1"})
        response = plain.getresponse()
        assert response.status == 301
        assert response.getheader("location") == f"https://127.0.0.1:{ports['https']}/login"

        web = requests.Session()
        web.trust_env = False
        web.verify = str(gateway.data_dir / "tls" / "gateway-cert.pem")
        base = f"https://127.0.0.1:{ports['https']}"
        page = web.get(base + "/admin/")
        assert page.url.startswith(base + "/login?next=")
        enrol = web.post(base + "/login", data={"csrf": csrf_of(page.text), "username": "ana",
                                                "password": "a long enough password"})
        assert enrol.url == base + "/login/enrol"
        secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', enrol.text).group(1).replace(" ", "")
        assert 'src="data:image/svg+xml' in enrol.text  # the QR code, made here
        done = web.post(base + "/login/enrol", data={"csrf": csrf_of(enrol.text), "code": pyotp.TOTP(secret).now()})
        assert "recovery codes" in done.text
        dashboard = web.get(base + "/admin/")
        assert dashboard.status_code == 200 and "jobs held now" in dashboard.text
        assert "Ana Admin" in dashboard.text

        gateway.cli("accounts", "adjust", "ana", "-1.25", "--reason", "jammed")
        report = web.get(base + "/finance/reports/export", params={
            "report": "chargeback", "by": "user", "since": "2020-01-01", "until": "2099-12-31", "format": "csv"})
        assert report.status_code == 200 and report.headers["content-type"] == "text/csv; charset=utf-8"
        same = gateway.cli("report", "chargeback", "--by", "user", "--from", "2020-01-01", "--to", "2100-01-01")
        assert report.text.replace("\r\n", "\n") == same.stdout and "ana," in same.stdout
        assert list((gateway.data_dir / "web-reports").iterdir()) == []  # the report's file had no name
    finally:
        gateway.stop()
