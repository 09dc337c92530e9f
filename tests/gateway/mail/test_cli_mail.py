"""``printgate secrets set smtp/password``, ``printgate mail test|queue`` as a person runs them, against aiosmtpd."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.gateway import ROOT
from tests.fixtures.smtp import PASSWORD, USER, start_smtp

pytestmark = pytest.mark.timeout(120)


def printgate(tmp_path, *args, stdin=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "gateway", "--data-dir", str(tmp_path / "data"), "--config",
                           str(tmp_path / "printgate.toml"), *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=90)


def test_a_test_message_is_delivered_with_the_stored_password_and_a_wrong_one_is_reported(tmp_path):
    authority = CertificateAuthority.create(tmp_path / "ca")
    controller, mailbox = start_smtp(authority)
    try:
        (tmp_path / "printgate.toml").write_text(
            f'[mail]\nhost = "127.0.0.1"\nport = {controller.port}\nuser = "{USER}"\nca_file = "{authority.ca_file}"\n'
            'from = "printgate@example.org"\ntimeout = 5\n')
        assert printgate(tmp_path, "secrets", "set", "smtp/password", stdin="wrong\n").returncode == 0
        failed = printgate(tmp_path, "mail", "test", "admin@example.org")
        assert failed.returncode == 1 and "not delivered" in failed.stderr
        assert printgate(tmp_path, "secrets", "set", "smtp/password", stdin=PASSWORD + "\n").returncode == 0
        done = printgate(tmp_path, "mail", "test", "admin@example.org")
        assert done.returncode == 0, done.stderr
        assert "delivered to admin@example.org" in done.stdout
        assert mailbox.messages[-1]["to"] == ["admin@example.org"]
        assert "the mail queue is empty" in printgate(tmp_path, "mail", "queue").stdout
    finally:
        controller.stop()
