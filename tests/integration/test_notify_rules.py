"""A notify rule on a real gateway process: the webhook hears about the job once it is
held, and jobs the rule does not match send nothing."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.gateway import start_gateway
from tests.fixtures.lpd_client import lpd_print
from tests.fixtures.polling import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]



def test_a_notify_rule_posts_to_the_webhook_after_the_job_is_held(tmp_path, webhook):
    url, bodies = webhook
    gateway = start_gateway(tmp_path, config_text='[notices]\njob_expired = false\n')
    try:
        gateway.cli("rules", "add", "watch-bob", "--action", "notify", "--to", url,
                    "--when", '{"users": ["bob"]}', "--message", "Bob sent a job")
        lpd_print("127.0.0.1", gateway.ports["lpd"], b"%!PS\nshowpage\n", user="alice", title="alice job", job=1)
        lpd_print("127.0.0.1", gateway.ports["lpd"], b"%!PS\nshowpage\n", user="bob", title="bob job", job=2)
        assert wait_for(lambda: bodies), gateway.log()
        time.sleep(0.3)
        (body,) = bodies
        (bob_job,) = [job for job in gateway.jobs() if job["owner"] == "bob"]
        assert bob_job["state"] == "held"
        assert body == {"event": "rule", "job_id": bob_job["id"], "owner": "bob", "title": "bob job",
                        "queue": "secure", "rule": "watch-bob", "message": "Bob sent a job"}
        assert f"webhook for job {bob_job['id']} (rule) delivered to {url}" in gateway.log()
    finally:
        gateway.stop()


def test_an_unreachable_webhook_does_not_stop_the_job_being_held(tmp_path):
    from tests.fixtures.peers import free_port

    url = f"http://127.0.0.1:{free_port()}/gone"
    gateway = start_gateway(tmp_path)
    try:
        gateway.cli("rules", "add", "watch-bob", "--action", "notify", "--to", url, "--when", '{"users": ["bob"]}')
        lpd_print("127.0.0.1", gateway.ports["lpd"], b"%!PS\nshowpage\n", user="bob", title="bob job")
        assert [job["owner"] for job in gateway.jobs()] == ["bob"]
        assert wait_for(lambda: "(try 1 of 3)" in gateway.log()), gateway.log()
    finally:
        gateway.stop()
