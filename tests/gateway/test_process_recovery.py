"""What a restart finds: a release the gateway was in the middle of goes back on hold."""
from datetime import datetime, timezone

from twisted.python.threadpool import ThreadPool

from accounting.records import NewJob
from spooler.config import GatewayConfig
from gateway.process import Gateway


class QuietReactor:
    def getThreadPool(self):
        return ThreadPool()

    def callFromThread(self, function, *args):
        function(*args)


def open_gateway(data_dir):
    gateway = Gateway(GatewayConfig(data_dir=data_dir), reactor=QuietReactor())
    gateway.open_storage()
    return gateway


def close(gateway):
    gateway.committer.stop(5)
    gateway.accounting.close()


def held_job(gateway, owner="alice"):
    writer = gateway.spool.create()
    writer.write(b"%!PS\nshowpage\n")
    writer.finish()
    writer.make_durable()
    [job] = gateway.accounting.jobs.record_jobs([NewJob(
        queue="secure", owner=owner, source_host="127.0.0.1", protocol="lpd", size=writer.size,
        sha256=writer.sha256, spool_name=writer.name, received_at=datetime.now(timezone.utc),
        spool_blob=writer.blob, spool_node=gateway.spool.node)])
    return job


def test_a_job_left_releasing_by_a_crash_is_held_again_and_not_charged(tmp_path):
    gateway = open_gateway(tmp_path)
    job = held_job(gateway)
    gateway.accounting.core.start_release(job.id, None, "alice")
    assert gateway.accounting.jobs.get_job(job.id).state == "releasing"
    close(gateway)

    restarted = open_gateway(tmp_path)
    try:
        again = restarted.accounting.jobs.get_job(job.id)
        assert again.state == "held"
        assert "nothing was charged" in again.state_reason
        assert not again.charged_amount and not again.reserved_amount
        assert b"".join(restarted.spool.read_chunks(again.spool_name)) == b"%!PS\nshowpage\n"
    finally:
        close(restarted)


def test_a_small_job_lives_in_the_database_until_the_change_that_ends_it(tmp_path):
    from gateway.end_job import end_job_now

    gateway = open_gateway(tmp_path)
    try:
        job = held_job(gateway)
        assert list(gateway.spool.jobs_dir.iterdir()) == []
        assert gateway.accounting.jobs.spool_blob(job.spool_name, gateway.spool.node) is not None
        assert gateway.spool.spool_names() == {job.spool_name}
        assert gateway.accounting.jobs.spool_blob(job.spool_name, "another-node") is None
        end_job_now(gateway.accounting.jobs, gateway.spool, job.id, "deleted", actor="alice")
        assert gateway.accounting.jobs.spool_blob(job.spool_name, gateway.spool.node) is None
        assert gateway.spool.spool_names() == set()
    finally:
        close(gateway)


def test_a_job_a_printer_took_before_a_crash_is_not_held_again_but_waits_for_its_charge(tmp_path):
    gateway = open_gateway(tmp_path)
    job = held_job(gateway)
    gateway.accounting.core.start_release(job.id, None, "alice")
    gateway.releases.journal.accepted(job.id, "mfp-1", f"release:{job.id}:test:mfp-1")
    close(gateway)

    restarted = open_gateway(tmp_path)
    try:
        again = restarted.accounting.jobs.get_job(job.id)
        assert again.state == "charge_pending"
        assert "charge pending" in again.state_reason
        assert list(restarted.releases.journal.pending()) == [job.id]
    finally:
        close(restarted)
