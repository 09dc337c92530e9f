"""job-password with ipptool against a real gateway: Print-Job with a PIN (as iOS sends
it), Release-Job refused without it or with a wrong one, accepted with it; the database
holds only the Argon2id hash."""
from __future__ import annotations

import sqlite3
import subprocess

import pytest

from tests.fixtures.gateway import start_gateway
from tests.fixtures.peers import require

pytestmark = pytest.mark.integration

TEST_FILE = """
{
    NAME "Print-Job with a job-password"
    OPERATION Print-Job
    GROUP operation-attributes-tag
    ATTR charset attributes-charset utf-8
    ATTR naturalLanguage attributes-natural-language en
    ATTR uri printer-uri $uri
    ATTR name requesting-user-name erin
    ATTR name job-name "PIN job"
    ATTR mimeMediaType document-format application/postscript
    ATTR octetString job-password 4711
    ATTR keyword job-password-encryption none
    FILE $filename
    STATUS successful-ok
    EXPECT job-id OF-TYPE integer
}
{
    NAME "Release-Job without the job-password"
    OPERATION Release-Job
    GROUP operation-attributes-tag
    ATTR charset attributes-charset utf-8
    ATTR naturalLanguage attributes-natural-language en
    ATTR uri printer-uri $uri
    ATTR integer job-id $job-id
    ATTR name requesting-user-name erin
    STATUS client-error-not-authorized
}
{
    NAME "Release-Job with a wrong job-password"
    OPERATION Release-Job
    GROUP operation-attributes-tag
    ATTR charset attributes-charset utf-8
    ATTR naturalLanguage attributes-natural-language en
    ATTR uri printer-uri $uri
    ATTR integer job-id $job-id
    ATTR name requesting-user-name erin
    ATTR octetString job-password 0000
    STATUS client-error-not-authorized
}
{
    NAME "Release-Job with the job-password"
    OPERATION Release-Job
    GROUP operation-attributes-tag
    ATTR charset attributes-charset utf-8
    ATTR naturalLanguage attributes-natural-language en
    ATTR uri printer-uri $uri
    ATTR integer job-id $job-id
    ATTR name requesting-user-name erin
    ATTR octetString job-password 4711
    STATUS successful-ok
}
"""


def test_ipptool_prints_with_a_pin_and_releases_only_with_it(tmp_path):
    require("ipptool", "cups-ipp-utils")
    gateway = start_gateway(tmp_path, protocols=("ipp",))
    try:
        test = tmp_path / "job-password.test"
        test.write_text(TEST_FILE)
        document = tmp_path / "page.ps"
        document.write_bytes(b"%!PS\n72 700 moveto (pin) show showpage\n")
        done = subprocess.run(["ipptool", "-t", "-T", "20", "-f", str(document),
                               f"ipp://127.0.0.1:{gateway.ports['ipp']}/printers/secure", str(test)],
                              capture_output=True, text=True, timeout=120)
        assert done.stdout.count("[PASS]") == 4 and "[FAIL]" not in done.stdout, done.stdout + gateway.log()
        [job] = [j for j in gateway.jobs() if j["title"] == "PIN job"]
        assert job["owner"] == "erin"
        with sqlite3.connect(gateway.data_dir / "printgate.sqlite3") as db:
            rows = [r[0] for r in db.execute("select attributes from jobs")]
        assert rows and all("4711" not in (r or "") for r in rows)
        assert any("$argon2id$" in (r or "") for r in rows)
    finally:
        gateway.stop()
