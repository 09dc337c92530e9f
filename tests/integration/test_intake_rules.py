"""Rules decide at intake, before a job is acknowledged: a refusal reaches the client."""
import pytest

from tests.fixtures.gateway import start_gateway
from tests.fixtures.lpd_client import LpdRefused, lpd_print, raw_print

pytestmark = pytest.mark.integration


def test_a_job_a_rule_denies_gets_a_negative_ack_and_is_not_kept(tmp_path):
    gateway = start_gateway(tmp_path)
    try:
        gateway.cli("rules", "add", "no-mallory", "--action", "deny", "--when", '{"users": ["mallory"]}',
                    "--message", "Mallory may not print here")
        with pytest.raises(LpdRefused):
            lpd_print("127.0.0.1", gateway.ports["lpd"], b"%!PS\nshowpage\n", user="mallory")
        # RAW can only say "refused" by resetting the connection: an orderly close is "stored".
        with pytest.raises(ConnectionResetError):
            raw_print("127.0.0.1", gateway.ports["raw"], b'\x1b%-12345X@PJL SET USERNAME="mallory"\n%!PS\nshowpage\n')
        lpd_print("127.0.0.1", gateway.ports["lpd"], b"%!PS\nshowpage\n", user="alice")
        assert [job["owner"] for job in gateway.jobs()] == ["alice"]
        # The refusals are recorded too (with the next commit), without their bytes.
        assert [job["owner"] for job in gateway.jobs("--state", "refused")] == ["mallory", "mallory"]
        assert "Mallory may not print here" in gateway.log()
        assert gateway.spooled() == {job["spool_name"] for job in gateway.jobs()}
    finally:
        gateway.stop()
