"""The page analysis that waits until a job is stored: Ghostscript's share, fairly shared.

A job is acknowledged once its bytes are durable and its scanned facts recorded
(``spooler.intake``); interpreting PostScript and finding the colour of PostScript and PDF
pages runs Ghostscript, which can take up to the job's budget (``postscript.GS_JOB_BUDGET``)
whatever the job's size: a 38-byte PostScript loop takes all of it. So that work runs
afterwards, here, from the stored bytes, and the job stays unreleasable until it is done.

``FairPool`` runs it: a few threads, taking work from the senders in turn (round robin
over the addresses jobs came from) and never more than ``per_sender`` at once for one
sender, so one sender's jobs, however many and however slow, cannot keep another's waiting
behind them. ``analyse_stored`` reads a stored job back and analyses it in full, one copy
of it when it is one document sent several times (``spooler.pdl.repeats``).
"""
from __future__ import annotations

import collections
import threading
from typing import Callable

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from spooler.pdl import Analyzer
from spooler.pdl.repeats import analyse_copies

__all__ = ["FairPool", "analyse_stored"]


class FairPool:
    """Threads that run work submitted per sender, senders served in turn.

    ``submit(sender, work)`` returns a Deferred fired on the reactor with what ``work()``
    returned (or its failure). Waiting work costs a queue entry; nothing else is bounded
    here because every entry is a job already stored and counted against its queue."""

    def __init__(self, reactor, *, threads: int = 4, per_sender: int = 2, name: str = "printgate-analysis"):
        self._reactor = reactor
        self.per_sender = per_sender
        self._changed = threading.Condition()
        self._waiting: dict[str, collections.deque] = {}
        self._turns: collections.deque = collections.deque()  # senders with waiting work, next first
        self._running: collections.Counter = collections.Counter()
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
                         for n in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, sender: str, work: Callable[[], object]) -> Deferred:
        done = Deferred()
        with self._changed:
            queue = self._waiting.get(sender)
            if queue is None:
                queue = self._waiting[sender] = collections.deque()
                self._turns.append(sender)
            queue.append((work, done))
            self._changed.notify()
        return done

    @property
    def waiting(self) -> int:
        with self._changed:
            return sum(len(queue) for queue in self._waiting.values())

    def stop(self) -> None:
        """No more work is started; work under way finishes in its (daemon) thread and
        what waits is dropped (a stored job's analysis is found again at the next start)."""
        with self._changed:
            self._stopping = True
            self._waiting.clear()
            self._turns.clear()
            self._changed.notify_all()

    def _next(self):
        """Under the lock: the next sender in turn that may start one more, and its work."""
        for _ in range(len(self._turns)):
            sender = self._turns[0]
            self._turns.rotate(-1)
            if self._running[sender] >= self.per_sender:
                continue
            queue = self._waiting[sender]
            work, done = queue.popleft()
            if not queue:
                del self._waiting[sender]
                self._turns.remove(sender)
            self._running[sender] += 1
            return sender, work, done
        return None

    def _work(self) -> None:
        while True:
            with self._changed:
                task = None
                while not self._stopping and (task := self._next()) is None:
                    self._changed.wait()
                if self._stopping:
                    return
            sender, work, done = task
            try:
                outcome = work()
            except BaseException:  # noqa: BLE001 - handed to whoever waits for it
                outcome = Failure()
            finally:
                with self._changed:
                    self._running[sender] -= 1
                    if not self._running[sender]:
                        del self._running[sender]
                    self._changed.notify_all()
            self._reactor.callFromThread(_fire, done, outcome)


def _fire(done: Deferred, outcome) -> None:
    if isinstance(outcome, Failure):
        done.errback(outcome)
    else:
        done.callback(outcome)


def analyse_stored(spool, spool_name: str, *, analyzer_factory=Analyzer) -> dict:
    """A stored job's facts from its bytes, Ghostscript included (call it off the
    reactor: it reads the database and may run Ghostscript for the job's whole budget).
    Raises ``FileNotFoundError`` when the job's bytes are gone (it ended meanwhile)."""
    blob = spool.blob(spool_name)

    def read():
        return spool.read_chunks(spool_name, blob=blob)

    facts, copy_length = analyse_copies(read, analyzer_factory)
    data = facts.to_dict()
    data["copy_length"] = copy_length
    return data
