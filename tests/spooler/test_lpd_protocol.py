"""The LPD listener over an in-memory transport, with the real spool and job store."""
import errno
import hashlib

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from spooler.config import GatewayConfig
from spooler.errors import SpoolWriteError
from spooler.lpd.protocol import ACK, NACK, LpdFactory
from spooler.spool import SpoolStore, SpoolWriter
from tests.spooler.support import FakeJobDesk, make_stack

CONTROL = b"Hws1\nPalice\nJQuarterly report\nldfA001ws1\nUdfA001ws1\nNreport.ps\n"
DATA = b"%!PS-Adobe-3.0\n" + b"x" * 5000


@pytest.fixture
def stack(tmp_path):
    stack = make_stack(tmp_path)
    yield stack
    stack.close()


class Client:
    def __init__(self, stack, host="127.0.0.1", clock=None):
        self.stack = stack
        factory = LpdFactory(intake=stack.intake, jobs=FakeJobDesk(stack.jobs, stack.spool),
                             config=stack.config)
        self.protocol = factory.buildProtocol(None)
        if clock is not None:
            self.protocol.callLater = clock.callLater
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, 721))
        self.protocol.makeConnection(self.transport)

    def send(self, data):
        self.protocol.dataReceived(data)
        self.stack.settle()

    def replies(self):
        return self.transport.value()

    @property
    def closed(self):
        return self.transport.disconnecting

    def lose(self):
        self.protocol.connectionLost(None)
        self.stack.settle()


def control_sub(control=CONTROL, name=b"cfA001ws1"):
    return b"\x02%d %s\n" % (len(control), name) + control + b"\x00"


def data_sub(data=DATA, name=b"dfA001ws1", count=None):
    return b"\x03%d %s\n" % (len(data) if count is None else count, name) + data + b"\x00"


def test_a_job_sent_control_file_first_is_held_with_the_owner_and_title_the_client_named(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + control_sub() + data_sub())
    assert client.replies() == ACK * 5
    [job] = stack.jobs.list_jobs()
    assert (job.owner, job.title, job.protocol, job.source_host) == ("alice", "Quarterly report", "lpd", "127.0.0.1")
    assert job.sha256 == hashlib.sha256(DATA).hexdigest() and job.size == len(DATA)
    assert b"".join(stack.spool.read_chunks(job.spool_name)) == DATA


def test_a_job_sent_data_file_first_is_held_the_same(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + data_sub() + control_sub())
    assert client.replies() == ACK * 5
    [job] = stack.jobs.list_jobs()
    assert job.owner == "alice" and job.sha256 == hashlib.sha256(DATA).hexdigest()


def test_the_last_acknowledgement_waits_until_the_job_is_durable(stack):
    client = Client(stack)
    client.protocol.dataReceived(b"\x02secure\n" + control_sub() + data_sub())
    assert client.replies() == ACK * 4  # the data file's ack is not sent yet
    stack.settle()
    assert client.replies() == ACK * 5
    assert stack.jobs.count_jobs() == 1


def test_reading_pauses_only_when_a_client_sends_before_its_answer(stack):
    client = Client(stack)
    client.protocol.dataReceived(b"\x02secure\n" + control_sub() + data_sub())
    assert client.transport.producerState == "producing"  # waiting, but the client is quiet
    client.protocol.dataReceived(b"\x02")  # sent on before the data file's answer
    assert client.transport.producerState == "paused"
    stack.settle()
    assert client.transport.producerState == "producing"
    assert stack.jobs.count_jobs() == 1


def test_format_lines_repeated_mean_copies(stack):
    control = b"Pbob\nldfA001ws1\nldfA001ws1\nldfA001ws1\n"
    Client(stack).send(b"\x02secure\n" + control_sub(control) + data_sub())
    assert stack.jobs.list_jobs()[0].copies_requested == 3


def test_several_data_files_become_one_held_job_each(stack):
    control = b"Pbob\nJtwo files\nldfA001ws1\nodfB001ws1\n"
    client = Client(stack)
    client.send(b"\x02secure\n" + control_sub(control) + data_sub(b"one") + data_sub(b"%!PS two", b"dfB001ws1"))
    jobs = stack.jobs.list_jobs()
    assert [j.size for j in jobs] == [3, 8]
    assert jobs[1].document_format == "application/postscript"
    assert client.replies() == ACK * 7


def test_data_announced_with_length_zero_is_kept_when_the_client_closes(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + control_sub() + b"\x030 dfA001ws1\n" + DATA)
    client.lose()
    [job] = stack.jobs.list_jobs()
    assert job.size == len(DATA)


def test_windows_over_stated_length_ended_by_close_is_kept(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + control_sub() + b"\x03999999999999 dfA001ws1\n" + DATA)
    client.lose()
    assert stack.jobs.list_jobs()[0].size == len(DATA)


def test_a_connection_dropped_midway_leaves_no_job_and_no_file(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + control_sub() + b"\x03100000 dfA001ws1\n" + DATA)
    client.lose()
    assert stack.jobs.list_jobs(states=None) == []
    assert stack.spool.spool_names() == set() and list(stack.spool.tmp_dir.iterdir()) == []


def test_abort_subcommand_discards_what_was_received(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + data_sub() + b"\x01\n")
    client.lose()
    assert stack.jobs.list_jobs(states=None) == [] and list(stack.spool.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("wire", [
    b"\x09secure\n",
    b"\x02secure\n\x03abc dfA1\n",
    b"\x02secure\n\x03-1 dfA1\n",
    b"\x02secure\n\x02" + b"70000 cfA1\n",
    b"\x02secure\n" + b"\x035 dfA001ws1\nhelloX",
    b"\x02secure\n" + control_sub() + control_sub(),
    b"\x02nosuchqueue\n",
])
def test_malformed_lpd_gets_a_negative_ack_a_closed_connection_and_nothing_stored(stack, wire):
    client = Client(stack)
    client.send(wire)
    assert client.replies().endswith(NACK)
    assert client.closed
    client.lose()
    assert stack.jobs.list_jobs(states=None) == []
    assert stack.spool.spool_names() == set() and list(stack.spool.tmp_dir.iterdir()) == []


def test_a_subcommand_before_the_job_command_is_refused(stack):
    client = Client(stack)
    client.send(b"\x03" + b"5 dfA1\n")
    assert client.replies() == NACK and client.closed


def test_an_idle_client_is_disconnected_and_nothing_is_stored(stack):
    clock = Clock()
    client = Client(stack, clock=clock)
    client.send(b"\x02secure\n" + control_sub() + b"\x03100 dfA001ws1\nabc")
    clock.advance(stack.config.idle_timeout + 1)
    assert client.transport.disconnecting or client.protocol._closed
    client.lose()
    assert stack.jobs.list_jobs(states=None) == [] and list(stack.spool.tmp_dir.iterdir()) == []


def test_a_job_over_the_size_limit_is_refused(tmp_path):
    stack = make_stack(tmp_path, config=GatewayConfig(data_dir=tmp_path, max_job_size=1000))
    try:
        client = Client(stack)
        client.send(b"\x02secure\n" + control_sub() + data_sub(b"z" * 2000))
        assert client.replies().endswith(NACK)
        assert stack.jobs.list_jobs(states=None) == [] and list(stack.spool.tmp_dir.iterdir()) == []
    finally:
        stack.close()


class DiskFullWriter(SpoolWriter):
    """Fails like a full disk once a few records were written."""

    def _write_all(self, *parts):
        if self._index >= 1:
            raise SpoolWriteError(f"writing spool file failed: {errno.ENOSPC}", path=self.tmp_path)
        super()._write_all(*parts)


class DiskFullStore(SpoolStore):
    fail = True

    def create(self):
        return DiskFullWriter(self, "ab" * 16) if self.fail else super().create()


def test_a_write_error_midway_gives_a_negative_ack_removes_the_partial_file_and_serves_the_next_job(tmp_path):
    stack = make_stack(tmp_path)
    stack.spool.__class__ = DiskFullStore
    try:
        client = Client(stack)
        client.send(b"\x02secure\n" + control_sub() + data_sub(b"y" * (1 << 20)))
        assert client.replies().endswith(NACK)
        assert list(stack.spool.tmp_dir.iterdir()) == []
        stack.spool.fail = False
        second = Client(stack)
        second.send(b"\x02secure\n" + control_sub() + data_sub())
        assert second.replies() == ACK * 5
        assert stack.jobs.count_jobs() == 1
    finally:
        stack.close()


def held(stack, owner, title="t"):
    control = b"P%s\nJ%s\nldfA001ws1\n" % (owner.encode(), title.encode())
    Client(stack).send(b"\x02secure\n" + control_sub(control) + data_sub())
    return stack.jobs.list_jobs(owner=owner)[-1]


def test_queue_state_lists_held_jobs_short_and_long(stack):
    job = held(stack, "alice", "Budget")
    held(stack, "bob", "Poem")
    short = Client(stack)
    short.send(b"\x03secure\n")
    text = short.replies().decode()
    assert "alice" in text and "Budget" in text and "bob" in text and str(job.id) in text
    only_bob = Client(stack)
    only_bob.send(b"\x04secure bob\n")
    assert "bob" in only_bob.replies().decode() and "alice" not in only_bob.replies().decode()
    assert only_bob.closed


def test_the_owner_may_remove_a_job_from_the_address_it_came_from_and_nobody_else(stack):
    job = held(stack, "alice")
    Client(stack, host="10.9.9.9").send(b"\x05secure mallory %d\n" % job.id)
    Client(stack, host="10.9.9.9").send(b"\x05secure alice %d\n" % job.id)  # her name, not her workstation
    assert stack.jobs.get_job(job.id).state == "held"
    Client(stack, host="127.0.0.1").send(b"\x05secure alice %d\n" % job.id)
    removed = stack.jobs.get_job(job.id)
    assert removed.state == "deleted"
    assert not stack.spool.path(removed.spool_name).exists()


def test_root_on_an_admin_host_may_remove_anyones_jobs_by_user(stack):
    stack.config.admin_hosts = ["10.0.0.1"]
    alice_job = held(stack, "alice")
    bob_job = held(stack, "bob")
    Client(stack, host="10.0.0.1").send(b"\x05secure root alice\n")
    assert stack.jobs.get_job(alice_job.id).state == "deleted"
    assert stack.jobs.get_job(bob_job.id).state == "held"
    Client(stack, host="10.1.1.1").send(b"\x05secure root bob\n")
    assert stack.jobs.get_job(bob_job.id).state == "held"


def test_with_no_admin_hosts_root_removes_nobodys_job(stack):
    job = held(stack, "alice")
    Client(stack, host="127.0.0.1").send(b"\x05secure root alice\n")
    assert stack.jobs.get_job(job.id).state == "held"


def test_a_listing_shows_other_addresses_job_titles_only_to_an_admin_host(stack):
    held(stack, "alice", "Salaries")
    elsewhere = Client(stack, host="10.1.1.1")
    elsewhere.send(b"\x04secure\n")
    assert b"Salaries" not in elsewhere.replies() and b"(private)" in elsewhere.replies()
    stack.config.admin_hosts = ["10.2.2.2"]
    admin = Client(stack, host="10.2.2.2")
    admin.send(b"\x04secure\n")
    assert b"Salaries" in admin.replies()


def test_a_control_file_naming_no_data_file_is_refused_and_nothing_is_held(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + data_sub() + control_sub(b"Hws1\nPalice\nJretry\nUdfA001ws1\nNx\n"))
    assert client.replies().endswith(NACK) and client.closed
    assert stack.jobs.count_jobs() == 0


def test_an_empty_data_file_is_never_held(stack):
    client = Client(stack)
    client.send(b"\x02secure\n" + control_sub() + b"\x030 dfA001ws1\n")  # length 0: until the close
    client.lose()
    assert stack.jobs.count_jobs() == 0


def test_a_refused_job_sent_again_is_refused_at_its_first_subcommand(stack):
    factory = LpdFactory(intake=stack.intake, jobs=FakeJobDesk(stack.jobs, stack.spool), config=stack.config)

    def connect():
        protocol = factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "10.3.3.3", 721))
        protocol.makeConnection(transport)
        return protocol, transport

    stack.spool.max_job_size = 100
    protocol, transport = connect()
    protocol.dataReceived(b"\x02secure\n" + control_sub() + data_sub())  # refused: too large
    stack.settle()
    assert transport.value() == ACK * 4 + NACK
    emptied = b"".join(line + b"\n" for line in CONTROL.split(b"\n") if line and not line.startswith(b"l"))
    retry, transport = connect()  # the CUPS backend, 30 s later, its control file without its l lines
    retry.dataReceived(b"\x02secure\n" + control_sub(emptied))
    assert transport.value() == ACK + NACK and transport.disconnecting
    stack.spool.max_job_size = 1 << 30
    for control, name in ((CONTROL, b"cfA001ws1"), (CONTROL, b"cfA002ws1")):
        other, transport = connect()  # the same job number with a whole job, or another job: welcome
        other.dataReceived(b"\x02secure\n" + control_sub(control, name=name) + data_sub(name=b"d" + name[1:]))
        stack.settle()
        assert transport.value() == ACK * 5


def test_a_job_may_hold_at_most_52_data_files(stack):
    from spooler.lpd.assembly import MAX_DATA_FILES

    client = Client(stack)
    names = [b"df%c001ws1" % letter for letter in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"]
    client.send(b"\x02secure\n" + b"".join(data_sub(b"x", name=name) for name in names))
    assert client.replies() == ACK * (1 + 2 * MAX_DATA_FILES)
    client.send(data_sub(b"x", name=b"dfZ002ws1"))
    assert client.replies().endswith(NACK) and client.closed
    assert stack.jobs.count_jobs() == 0


def test_data_files_waiting_for_their_control_file_are_bounded_in_memory(stack, monkeypatch):
    from spooler.lpd import assembly

    monkeypatch.setattr(assembly, "MAX_MEMORY_PER_CONNECTION", 200_000)
    client = Client(stack)
    client.send(b"\x02secure\n" + data_sub(b"x" * 60_000, name=b"dfA001ws1") + data_sub(b"y" * 60_000, name=b"dfB001ws1"))
    assert client.replies() == ACK * 5
    client.send(data_sub(b"z", name=b"dfC001ws1"))
    assert client.replies().endswith(NACK) and client.closed
    assert stack.jobs.count_jobs() == 0


def test_a_large_data_file_is_read_a_mebibyte_at_a_time(stack):
    from spooler.read_size import LARGE_READ

    client = Client(stack)
    client.transport.bufferSize = 64 * 1024  # as Twisted's TCP transport has it
    client.send(b"\x02secure\n" + control_sub())
    assert client.transport.bufferSize == 64 * 1024
    client.send(data_sub(DATA + b"y" * (2 * 1024 * 1024)))
    assert client.transport.bufferSize == LARGE_READ
    assert stack.jobs.count_jobs() == 1
