"""The RAW/JetDirect listener over an in-memory transport, with the real spool and store."""
import hashlib

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from spooler.config import GatewayConfig, QueueConfig
from spooler.raw.protocol import RawFactory
from tests.spooler.support import make_stack

UEL = b"\x1b%-12345X"
PJL_JOB = (UEL + b'@PJL JOB NAME="Budget 2027.xlsx"\r\n@PJL SET USERNAME="carol"\r\n'
           b"@PJL ENTER LANGUAGE=PCL\r\n\x1bE page \x0c\x1bE" + UEL)


class Connection:
    def __init__(self, stack, host="127.0.0.1", clock=None):
        self.stack = stack
        self.protocol = RawFactory(intake=stack.intake, config=stack.config).buildProtocol(None)
        if clock is not None:
            self.protocol.callLater = clock.callLater
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, 50000))
        self.protocol.makeConnection(self.transport)

    def send(self, data, step=1000):
        for i in range(0, len(data), step):
            self.protocol.dataReceived(data[i:i + step])

    def half_close(self):
        self.protocol.readConnectionLost()
        self.stack.settle()

    def reset(self):
        self.protocol.connectionLost(None)
        self.stack.settle()


def stack_with(tmp_path, **overrides):
    config = GatewayConfig(data_dir=tmp_path)
    for key, value in overrides.items():
        setattr(config, key, value)
    return make_stack(tmp_path, config=config)


def test_the_owner_and_title_come_from_pjl_in_the_job_head(tmp_path):
    stack = stack_with(tmp_path)
    try:
        connection = Connection(stack)
        connection.send(PJL_JOB)
        assert not connection.transport.disconnecting
        connection.half_close()
        [job] = stack.jobs.list_jobs()
        assert (job.owner, job.title, job.protocol) == ("carol", "Budget 2027.xlsx", "raw")
        assert job.sha256 == hashlib.sha256(PJL_JOB).hexdigest()
        assert connection.transport.disconnecting  # closed only after the job was stored
    finally:
        stack.close()


def test_windows_jobattr_names_the_owner(tmp_path):
    stack = stack_with(tmp_path)
    try:
        connection = Connection(stack)
        connection.send(UEL + b'@PJL SET JOBATTR="JobAcct1=dave"\r\n@PJL SET JOBATTR="JobAcct2=WS7"\r\n'
                        b"@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS\nshowpage\n")
        connection.half_close()
        assert stack.jobs.list_jobs()[0].owner == "dave"
    finally:
        stack.close()


def test_without_pjl_the_address_map_names_the_owner(tmp_path):
    stack = stack_with(tmp_path, raw_address_users={"10.0.0.7": "erin"})
    try:
        connection = Connection(stack, host="10.0.0.7")
        connection.send(b"%!PS\nshowpage\n")
        connection.half_close()
        assert stack.jobs.list_jobs()[0].owner == "erin"
    finally:
        stack.close()


def test_an_unclaimed_job_is_held_as_unknown_at_its_address(tmp_path):
    stack = stack_with(tmp_path)
    try:
        connection = Connection(stack, host="10.0.0.8")
        connection.send(b"%!PS\nshowpage\n")
        connection.half_close()
        assert stack.jobs.list_jobs()[0].owner == "unknown@10.0.0.8"
    finally:
        stack.close()


def test_an_unclaimed_job_is_refused_when_the_queue_says_so(tmp_path):
    stack = stack_with(tmp_path, queues={"secure": QueueConfig("secure", unclaimed="refuse")})
    try:
        connection = Connection(stack, host="10.0.0.8")
        connection.send(b"%!PS\nshowpage\n")
        connection.half_close()
        assert stack.jobs.list_jobs(states=None) == []
        # A reset, not the orderly close that tells a RAW client its job was stored.
        assert connection.transport.disconnected  # StringTransport: set by abortConnection only
        assert list(stack.spool.tmp_dir.iterdir()) == [] and stack.spool.spool_names() == set()
    finally:
        stack.close()


def test_a_reset_connection_leaves_nothing(tmp_path):
    stack = stack_with(tmp_path)
    try:
        connection = Connection(stack)
        connection.send(PJL_JOB)
        connection.reset()
        assert stack.jobs.list_jobs(states=None) == [] and list(stack.spool.tmp_dir.iterdir()) == []
    finally:
        stack.close()


def test_an_idle_connection_is_dropped_with_nothing_stored(tmp_path):
    stack = stack_with(tmp_path)
    try:
        clock = Clock()
        connection = Connection(stack, clock=clock)
        connection.send(b"%!PS\n")
        clock.advance(61)
        assert connection.transport.disconnecting or connection.protocol._ended
        connection.reset()
        assert stack.jobs.list_jobs(states=None) == [] and list(stack.spool.tmp_dir.iterdir()) == []
    finally:
        stack.close()


def test_a_job_over_the_size_limit_is_cut_off_and_not_kept(tmp_path):
    stack = stack_with(tmp_path, max_job_size=500)
    stack.spool.max_job_size = 500
    try:
        connection = Connection(stack)
        connection.send(b"x" * 2000)
        connection.half_close()
        assert stack.jobs.list_jobs(states=None) == [] and list(stack.spool.tmp_dir.iterdir()) == []
    finally:
        stack.close()


def test_an_empty_connection_is_not_a_job(tmp_path):
    stack = stack_with(tmp_path)
    try:
        connection = Connection(stack)
        connection.half_close()
        assert stack.jobs.list_jobs(states=None) == []
    finally:
        stack.close()


def test_a_connection_bringing_a_large_job_is_read_a_mebibyte_at_a_time(tmp_path):
    from spooler.read_size import LARGE_READ

    stack = stack_with(tmp_path)
    try:
        small, large = Connection(stack), Connection(stack)
        for connection in (small, large):
            connection.transport.bufferSize = 64 * 1024  # as Twisted's TCP transport has it
        small.send(PJL_JOB)
        large.send(PJL_JOB + b"x" * (2 * 1024 * 1024), step=64 * 1024)
        assert small.transport.bufferSize == 64 * 1024
        assert large.transport.bufferSize == LARGE_READ
        small.half_close()
        large.half_close()
        assert stack.jobs.count_jobs() == 2
    finally:
        stack.close()


def test_widen_reads_leaves_transports_without_a_buffer_size_alone():
    from spooler.read_size import widen_reads

    class TlsLike:
        pass

    transport = TlsLike()
    widen_reads(transport, 10 << 20)
    assert not hasattr(transport, "bufferSize")
