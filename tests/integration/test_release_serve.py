"""``printgate serve`` as a person starts it: the IPP intake and the HTTPS panel listen
next to LPD, the plain-HTTP port redirects to HTTPS, and the panel URL is printed."""
import http.client
import os
import ssl
import subprocess

import pytest

from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.peers import free_port, require
from tests.release_api.release_peers import make_pdf

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_serve_listens_for_ipp_and_https_redirects_http_and_prints_the_panel_url(tmp_path):
    ports = {"lpd": free_port(), "ipp": free_port(), "https": free_port()}
    http_port = free_port()
    gateway = GatewayProcess(data_dir=tmp_path / "data", ports=ports, extra_args=["--http-port", str(http_port)])
    gateway.start()
    try:
        log = gateway.log()
        assert f"IPP   listening on 127.0.0.1 port {ports['ipp']}" in log
        assert f"HTTPS listening on 127.0.0.1 port {ports['https']}" in log
        assert f"HTTP  listening on 127.0.0.1 port {http_port}  (redirects to HTTPS)" in log
        base = f"https://127.0.0.1:{ports['https']}"
        assert f"ipp://127.0.0.1:{ports['ipp']}/printers/secure" in log
        assert f"Printer panels: {base}/panel/launch — opened by a registered printer's panel" in log
        assert f"Web pages: {base}/ (users, finance and admins" in log
        assert "Panel/admin URL" not in log

        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        plain.request("GET", "/panel/?x=1", headers={"Host": "127.0.0.1"})
        response = plain.getresponse()
        assert response.status == 301
        assert response.getheader("location") == f"https://127.0.0.1:{ports['https']}/panel/?x=1"

        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        secure = http.client.HTTPSConnection("127.0.0.1", ports["https"], context=context, timeout=10)
        secure.request("GET", "/panel/")
        response = secure.getresponse()
        assert response.status == 303 and response.getheader("location") == "/panel/launch"
        assert secure.sock.version() in ("TLSv1.2", "TLSv1.3")
        response.read()
        secure.request("GET", "/panel/launch")
        response = secure.getresponse()
        assert response.status == 401 and b"Printer not recognised" in response.read()
        secure.request("GET", "/")
        response = secure.getresponse()
        page = response.read().decode()
        assert response.status == 200 and "Printgate print gateway" in page
        assert "/panel/launch" in page and "/admin/" in page and "printgate --help" in page and 'href="/login"' in page

        document = tmp_path / "report.pdf"
        make_pdf(document, pages=1)
        backend = require("/usr/lib/cups/backend/ipp", "cups")
        env = dict(os.environ, DEVICE_URI=f"ipp://127.0.0.1:{ports['ipp']}/printers/secure?waitjob=false"
                                          "&waitprinter=false",
                   CONTENT_TYPE="application/pdf", FINAL_CONTENT_TYPE="application/pdf")
        done = subprocess.run([backend, "42", "alice", "Over IPP", "1", "", str(document)], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        [job] = gateway.jobs()
        assert (job["owner"], job["title"], job["protocol"]) == ("alice", "Over IPP", "ipp")
    finally:
        gateway.stop()
