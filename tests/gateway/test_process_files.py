"""A running gateway (``printgate serve``) and what it writes: modes of the files that hold
money or secrets, and the name a job without one gets."""
import os
import stat

from tests.fixtures.gateway import start_gateway
from tests.fixtures.lpd_client import raw_print

SECRET_FILES = ("printgate.sqlite3", "printgate.sqlite3-wal", "printgate.sqlite3-shm", "spool.key", "secrets.key")


def test_a_running_gateway_keeps_money_and_secrets_to_its_owner_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        gateway = start_gateway(tmp_path, protocols=("raw", "https"))
    finally:
        os.umask(previous)
    try:
        raw_print("127.0.0.1", gateway.ports["raw"], b'\x1b%-12345X@PJL SET USERNAME="alice"\n%!PS\nshowpage\n')
        data = gateway.data_dir
        present = [name for name in SECRET_FILES if (data / name).exists()]
        assert {"printgate.sqlite3", "spool.key"} <= set(present)
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for name in present:
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE((data / "tls" / "gateway-key.pem").stat().st_mode) == 0o600
        for path in (data / "spool").rglob("*"):
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    finally:
        gateway.stop()


def test_a_raw_job_nobody_named_is_called_by_the_title_in_its_document(gateway):
    raw_print("127.0.0.1", gateway.ports["raw"],
              b'\x1b%-12345X@PJL SET USERNAME="alice"\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n'
              b"%!PS-Adobe-3.0\n%%Title: (Budget 2026.xlsx)\n%%Pages: 1\n%%EndComments\nshowpage\n")
    [job] = gateway.jobs()
    assert job["title"] == "Budget 2026.xlsx"
    assert "Budget 2026.xlsx" in gateway.cli("jobs", "list").stdout
