"""The LPD listener: a thin Twisted shell over ``LpdServerParser``.

It feeds bytes to the parser, hands jobs to the intake pipeline, and answers every
event on the wire: a zero byte when all is well (for the last file of a job, only once the
job is durable), a non-zero byte and a closed connection otherwise.
"""
from __future__ import annotations

from collections import deque

from twisted.internet.defer import gatherResults
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin

from accounting.errors import AccountingError
from spooler.connection_caps import CappedFactoryMixin, ConnectionCaps
from spooler.errors import PrintgateError, ShuttingDown, UnknownQueue
from spooler.prompt_write import write_now
from spooler.read_size import widen_reads
from spooler.lpd import parser as ev
from spooler.lpd.assembly import JobAssembly
from spooler.lpd.controlfile import parse_control_file
from spooler.lpd.errors import LpdError
from spooler.lpd.queue_state import format_queue_state, select_jobs

log = Logger()

ACK = b"\x00"
NACK = b"\x01"


class LpdProtocol(Protocol, TimeoutMixin):
    def __init__(self, factory: "LpdFactory"):
        self.factory = factory
        self.parser = ev.LpdServerParser(max_data_file=factory.config.max_job_size)
        self.assembly: JobAssembly | None = None
        self._events: deque = deque()
        self._waiting = False
        self._paused = False
        self._closed = False
        self._received = 0

    @property
    def host(self) -> str:
        return self.transport.getPeer().host

    def connectionMade(self):
        self.factory.connections.add(self)
        self.setTimeout(self.factory.config.idle_timeout)

    def dataReceived(self, data: bytes):
        if self._closed:
            return
        self.resetTimeout()
        self._received += len(data)
        widen_reads(self.transport, self._received)
        try:
            self._events.extend(self.parser.feed(data))
        except LpdError as exc:
            self._fail(exc)
            return
        if self._waiting and not self._paused:
            # The client sent on without waiting for our answer: read no more until it
            # is given, so what waits stays bounded.
            self._paused = True
            self.transport.pauseProducing()
        self._process()

    def _process(self):
        while self._events and not self._waiting and not self._closed:
            event = self._events.popleft()
            try:
                getattr(self, f"_on_{type(event).__name__}")(event)
            except PrintgateError as exc:
                self._fail(exc)
            except Exception as exc:  # noqa: BLE001
                log.failure("LPD handler failed for {host}", host=self.host)
                self._fail(exc)

    # -- events ------------------------------------------------------------------------
    def _on_PrintWaiting(self, event):
        # Held jobs print when their owner releases them; there is nothing to start.
        self._close()

    def _on_ReceiveJob(self, event):
        if not self.factory.intake.accepting:
            raise ShuttingDown("the gateway is shutting down")
        if self.factory.config.queue(event.queue) is None:
            raise UnknownQueue(event.queue)
        self.assembly = JobAssembly(self.factory.intake, queue=event.queue, host=self.host)
        write_now(self.transport, ACK)

    def _on_AbortJob(self, event):
        if self.assembly is not None:
            self.assembly.abort("client sent abort-job")
        write_now(self.transport, ACK)

    def _on_ControlFileStart(self, event):
        write_now(self.transport, ACK)

    def _on_ControlFileComplete(self, event):
        self.assembly.control = parse_control_file(event.content)
        self._ack_or_commit(by_close=False)

    def _on_DataFileStart(self, event):
        self.assembly.start_data_file(event.name)
        write_now(self.transport, ACK)

    def _on_DataChunk(self, event):
        self.assembly.current.write(event.data)

    def _on_DataFileComplete(self, event):
        self.assembly.data_file_complete(event.name)
        self._ack_or_commit(by_close=event.by_close)

    def _on_QueueState(self, event):
        self._wait(self.factory.jobs.list_jobs(queue=self._queue_name(event.queue), states=("held", "releasing")))
        self._deferred.addCallback(
            lambda jobs: self.transport.write(format_queue_state(event.queue, jobs, long=event.long, items=event.items))
        )
        self._deferred.addBoth(lambda _: self._close())

    def _on_RemoveJobs(self, event):
        admin = event.agent == "root" and self.host in self.factory.config.lpd_admin_hosts
        desk = self.factory.jobs

        def remove(jobs):
            chosen = [job for job in select_jobs(jobs, event.items) if admin or job.owner == event.agent]
            if not event.items or not chosen:
                self.transport.write(b"no matching jobs removed\n")
                return None
            return gatherResults([self._remove_one(desk, job, event.agent) for job in chosen], consumeErrors=True)

        self._wait(desk.list_jobs(queue=self._queue_name(event.queue), states=("held",)))
        self._deferred.addCallback(remove)
        self._deferred.addErrback(lambda f: log.failure("LPD remove from {host} failed", f, host=self.host))
        self._deferred.addBoth(lambda _: self._close())

    # -- helpers -----------------------------------------------------------------------
    def _remove_one(self, desk, job, agent):
        """One job of an lprm: a line saying whether it went (a job that was released or
        ended meanwhile is not an error of the gateway)."""
        ended = desk.end_job(job.id, "deleted", actor=agent, reason=f"lprm from {self.host}")

        def said(_):
            self.transport.write(f"job {job.id} ({job.title or 'untitled'}) dequeued\n".encode())

        def refused(failure):
            failure.trap(AccountingError)
            self.transport.write(f"job {job.id} was not removed: {failure.value}\n".encode())

        return ended.addCallbacks(said, refused)

    def _queue_name(self, name):
        queue = self.factory.config.queue(name)
        if queue is None:
            raise UnknownQueue(name)
        return queue.name

    def _ack_or_commit(self, *, by_close: bool):
        if not self.assembly.ready():
            if not by_close:
                write_now(self.transport, ACK)
            return
        self._wait(self.assembly.commit())
        self._deferred.addCallbacks(lambda jobs: self._committed(jobs, by_close), self._commit_failed)

    def _committed(self, jobs, by_close):
        self._waiting = False
        if not by_close and not self._closed:
            write_now(self.transport, ACK)
        self._resume()

    def _commit_failed(self, failure):
        self._waiting = False
        self._fail(failure.value)

    def _wait(self, deferred):
        """Hold the events after this one until ``deferred`` is done. Reading is paused
        only if the client sends meanwhile (``dataReceived``): clients wait for the
        answer, and pausing and resuming every connection cost two epoll changes a job."""
        self._waiting = True
        self._deferred = deferred

    def _resume(self):
        if not self._closed:
            if self._paused:
                self._paused = False
                self.transport.resumeProducing()
            self._process()

    def _fail(self, exc):
        log.warn("LPD job from {host} refused: {error} ({kind})", host=self.host, error=exc, kind=type(exc).__name__)
        if self.assembly is not None:
            self.assembly.abort(str(exc))
        if not self._closed:
            self.transport.write(NACK)
        self._close()

    def _close(self):
        if not self._closed:
            self._closed = True
            self.setTimeout(None)
            self.transport.loseConnection()

    def timeoutConnection(self):
        log.warn("LPD client {host} idle for {seconds} s: closed", host=self.host, seconds=self.factory.config.idle_timeout)
        if self.assembly is not None:
            self.assembly.abort("idle timeout")
        self._closed = True
        self.transport.abortConnection()

    def connectionLost(self, reason):
        self.setTimeout(None)
        self.factory.connections.discard(self)
        self.factory.ended(self)
        wasClosed, self._closed = self._closed, True
        if self.assembly is None:
            return
        try:
            for event in self.parser.eof():
                if isinstance(event, ev.DataFileComplete) and not wasClosed:
                    self.assembly.data_file_complete(event.name)
                    if self.assembly.ready():
                        self.assembly.commit().addErrback(
                            lambda f: log.warn("LPD job from {host} lost: {error}", host=self.host, error=f.value))
                        return
        except LpdError as exc:
            log.warn("LPD job from {host} cut off: {error}", host=self.host, error=exc)
        if self.assembly.receivers and not self._waiting:
            self.assembly.abort("connection closed before the job was complete")


class LpdFactory(CappedFactoryMixin, Factory):
    def __init__(self, *, intake, jobs, config):
        """``jobs``: a ``spooler.job_desk.JobDesk`` (queue listings, removals)."""
        self.intake = intake
        self.jobs = jobs
        self.config = config
        self.connections: set[LpdProtocol] = set()
        self.caps = ConnectionCaps(config.lpd_max_connections, config.lpd_max_per_address, what="LPD connections")

    def buildProtocol(self, addr):
        return self.counted(addr, lambda: LpdProtocol(self))
