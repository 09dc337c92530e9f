"""The LPD listener: a thin Twisted shell over ``LpdServerParser``.

It feeds bytes to the parser, hands jobs to the intake pipeline, and answers every
event on the wire: a zero byte when all is well (for the last file of a job, only once the
job is durable), a non-zero byte and a closed connection otherwise.

A refused job stays refused: the CUPS lpd backend, told no after sending a job, waits 30 s
and sends it again — with its control file emptied of format lines (it counts its copies
down to zero on the first try), which, acknowledged, it would report as printed. The
factory remembers each refused job for ``REFUSAL_MEMORY`` seconds by the subcommands its
retry will start with, from the same address: the control file, same name, as long as the
refused one less its format lines; or (data file first) the data file, same name and
length. Such a subcommand gets a negative acknowledgement, which makes the backend give up
and the workstation's queue show the job failed; any other job — a new job number, another
document, a control file that still names what to print — is received as usual. A control
file that names no data file, and a data file without a byte, are refused: nothing empty
is held.

Who may remove a job (command 05) and see its title in a listing (03, 04) is decided by
``spooler.job_access``: the name an LPD client states reaches only the jobs sent from its
own address; ``root`` from an admin host reaches every job.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque

from twisted.internet.defer import gatherResults
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin

from accounting.errors import AccountingError
from spooler.connection_caps import CappedFactoryMixin, ConnectionCaps
from spooler.errors import EmptyJob, JobRefused, JobTooLarge, OwnerUnknown, PrintgateError, ShuttingDown, UnknownQueue
from spooler.job_access import has_pin, is_owner_here, requester
from spooler.prompt_write import write_now
from spooler.read_size import widen_reads
from spooler.lpd import parser as ev
from spooler.lpd.assembly import JobAssembly
from spooler.lpd.controlfile import FORMAT_LETTERS, parse_control_file
from spooler.lpd.errors import BadControlFile, LpdError, RefusedAgain
from spooler.lpd.queue_state import format_queue_state, select_jobs

log = Logger()

ACK = b"\x00"
NACK = b"\x01"
#: Seconds a refused job is remembered (the CUPS lpd backend retries after 30).
REFUSAL_MEMORY = 180.0
#: Refused jobs remembered at once (the oldest are forgotten first).
REFUSALS_REMEMBERED = 4096
#: Refusals that a retry of the same job would meet again.
FINAL_REFUSALS = (JobRefused, OwnerUnknown, EmptyJob, JobTooLarge, BadControlFile)


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
        #: How a retry of this job would start (see the module docstring), once known.
        self._retry_signatures: list[tuple] = []

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
        self._refuse_a_retry(("control", event.name, event.count))
        write_now(self.transport, ACK)

    def _on_ControlFileComplete(self, event):
        self._retry_signatures.append(("control", event.name, _without_format_lines(event.content)))
        control = parse_control_file(event.content)
        if not control.data_files:
            raise BadControlFile("the control file names no data file to print")
        self.assembly.control = control
        self._ack_or_commit(by_close=False)

    def _on_DataFileStart(self, event):
        signature = ("data", event.name, event.count)
        self._refuse_a_retry(signature)
        self._retry_signatures.append(signature)
        self.assembly.start_data_file(event.name)
        write_now(self.transport, ACK)

    def _refuse_a_retry(self, signature: tuple) -> None:
        refused_at = self.factory.refused_recently(self.host, signature)
        if refused_at is not None:
            raise RefusedAgain(f"{signature[1]} belongs to a job refused {self.factory.clock() - refused_at:.0f} s "
                               f"ago: sent again, refused again")

    def _on_DataChunk(self, event):
        self.assembly.current.write(event.data)

    def _on_DataFileComplete(self, event):
        self.assembly.data_file_complete(event.name)
        self._ack_or_commit(by_close=event.by_close)

    def _on_QueueState(self, event):
        # LPD names no asker: titles show for the jobs sent from the asker's own address,
        # and every job's for an admin host.
        asker = requester(self.host, None, admin_hosts=self.factory.config.admin_hosts)

        def visible(job):
            return asker.admin or job.source_host == self.host

        self._wait(self.factory.jobs.list_jobs(queue=self._queue_name(event.queue), states=("held", "releasing")))
        self._deferred.addCallback(
            lambda jobs: self.transport.write(format_queue_state(event.queue, jobs, long=event.long, items=event.items,
                                                                 visible=visible)))
        self._deferred.addErrback(self._answer_failed, "queue listing")
        self._deferred.addBoth(lambda _: self._close())

    def _on_RemoveJobs(self, event):
        desk = self.factory.jobs
        agent = requester(self.host, event.agent, admin_hosts=self.factory.config.admin_hosts)

        def may_remove(job):
            if agent.admin and event.agent == "root":
                return True
            return job.owner == event.agent and (agent.admin or (is_owner_here(agent, job.owner, job.source_host)
                                                                 and not has_pin(job.attributes)))

        def remove(jobs):
            named = select_jobs(jobs, event.items)
            chosen = [job for job in named if may_remove(job)]
            for job in named:
                if job not in chosen:
                    log.info("LPD remove of job {job_id} by {agent}@{host} not allowed", job_id=job.id,
                             agent=event.agent, host=self.host)
            if not event.items or not chosen:
                self.transport.write(b"no matching jobs removed\n")
                return None
            return gatherResults([self._remove_one(desk, job, event.agent) for job in chosen], consumeErrors=True)

        self._wait(desk.list_jobs(queue=self._queue_name(event.queue), states=("held",)))
        self._deferred.addCallback(remove)
        self._deferred.addErrback(self._answer_failed, "remove")
        self._deferred.addBoth(lambda _: self._close())

    def _answer_failed(self, failure, what: str) -> None:
        """A listing or removal the gateway could not answer (its database is away): one
        line in the log, and the client's connection closed."""
        log.warn("LPD {what} for {host} failed: {error}", what=what, host=self.host, error=failure.getErrorMessage())

    # -- helpers -----------------------------------------------------------------------
    def _remove_one(self, desk, job, agent):
        """One job of an lprm: a line saying whether it went (a job that was released or
        ended meanwhile is not an error of the gateway)."""
        ended = desk.end_job(job.id, "deleted", actor=agent, reason=f"lprm from {self.host}")

        def said(_):
            self.transport.write(f"job {job.id} ({job.title or 'untitled'}) dequeued\n".encode())

        def refused(failure):
            failure.trap(AccountingError)  # released, canceled or expired meanwhile
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
        log.info("LPD job from {host} refused: {error} ({kind})", host=self.host, error=exc, kind=type(exc).__name__)
        if isinstance(exc, FINAL_REFUSALS) and self._retry_signatures:
            # A retry starts as the job did: with its control file, or its first data file.
            self.factory.remember_refusal(self.host, self._retry_signatures[0])
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
        log.info("LPD client {host} idle for {seconds} s: closed", host=self.host, seconds=self.factory.config.idle_timeout)
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
                        self.assembly.commit().addErrback(self._closed_job_refused)
                        return
        except LpdError as exc:
            log.info("LPD job from {host} cut off: {error}", host=self.host, error=exc)
        if self.assembly.receivers and not self._waiting:
            self.assembly.abort("connection closed before the job was complete")


    def _closed_job_refused(self, failure) -> None:
        """A job ended by its sender's close could not be kept: nobody is left to tell."""
        log.info("LPD job from {host}, ended by its close, not kept: {error} ({kind})", host=self.host,
                 error=failure.value, kind=failure.type.__name__)


def _without_format_lines(content: bytes) -> int:
    """The length of a control file once its format lines are gone: what the CUPS lpd
    backend announces when it sends a refused job again."""
    return len(content) - sum(len(line) + 1 for line in content.split(b"\n")
                              if line[:1] and chr(line[0]) in FORMAT_LETTERS)


class LpdFactory(CappedFactoryMixin, Factory):
    def __init__(self, *, intake, jobs, config):
        """``jobs``: a ``spooler.job_desk.JobDesk`` (queue listings, removals)."""
        self.intake = intake
        self.jobs = jobs
        self.config = config
        self.connections: set[LpdProtocol] = set()
        self.caps = ConnectionCaps(config.lpd_max_connections, config.lpd_max_per_address, what="LPD connections")
        self._refusals: OrderedDict = OrderedDict()  # (host, job key) -> when it was refused
        self.clock = time.monotonic

    def remember_refusal(self, host: str, signature: tuple) -> None:
        self._refusals.pop((host, signature), None)
        self._refusals[(host, signature)] = self.clock()
        while len(self._refusals) > REFUSALS_REMEMBERED:
            self._refusals.popitem(last=False)

    def refused_recently(self, host: str, signature: tuple) -> float | None:
        """When a job whose retry starts with ``signature`` (``("control"|"data", file
        name, byte count)``) from ``host`` was refused, if within ``REFUSAL_MEMORY``."""
        refused_at = self._refusals.get((host, signature))
        if refused_at is None:
            return None
        if self.clock() - refused_at > REFUSAL_MEMORY:
            del self._refusals[(host, signature)]
            return None
        return refused_at

    def buildProtocol(self, addr):
        return self.counted(addr, lambda: LpdProtocol(self))
