"""The floor of one Twisted reactor for the intake benchmark: a RAW "receive, write to a
new file, fsync, then close" sink on the same reactor the gateway runs (asyncio), doing
nothing else. Run as its own process:

    python3 benchmarks/twisted_sink.py DIR RAW_PORT [--sqlite]

The bytes of a connection are kept until the client half-closes; then a thread of the
reactor's pool creates the file, writes, fsyncs and closes it, and the reactor closes the
connection (the client's acknowledgement), as ``fsync_sink.py`` does with a thread per
connection. It shows how much of the plain sink's rate a single Twisted reactor reaches
before any of the gateway's work (parsing, encryption, analysis, the database) is added.

``--sqlite``: the gateway's own shape with none of its work: one thread records every
finished job's bytes in SQLite (WAL, ``synchronous=FULL``), all the jobs waiting in one
transaction, and hands the group back to the reactor, which closes their connections.
The distance between this floor and the gateway is what the gateway's per-job work costs.
Prints "ready" when listening; stops on SIGTERM.
"""
from __future__ import annotations

import itertools
import os
import queue
import signal
import sqlite3
import sys
import threading

from twisted.internet import asyncioreactor

asyncioreactor.install()

from twisted.internet import protocol, reactor, threads  # noqa: E402
from twisted.internet.interfaces import IHalfCloseableProtocol  # noqa: E402
from zope.interface import implementer  # noqa: E402

_counter = itertools.count()


def store(directory: str, data: bytes) -> None:
    fd = os.open(os.path.join(directory, f"job{next(_counter):09d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


@implementer(IHalfCloseableProtocol)
class RawSink(protocol.Protocol):
    def connectionMade(self):
        self.chunks = []

    def dataReceived(self, data):
        self.chunks.append(data)

    def readConnectionLost(self):
        data, self.chunks = b"".join(self.chunks), []
        done = threads.deferToThread(store, self.factory.directory, data)
        done.addBoth(lambda _: self.transport.loseConnection())

    def writeConnectionLost(self):
        pass


class SqliteGroupCommit:
    """One thread: every job waiting goes into one transaction; the reactor then closes
    their connections."""

    def __init__(self, directory: str):
        self.db = sqlite3.connect(os.path.join(directory, "jobs.sqlite3"), isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, size INTEGER, data BLOB)")
        self.waiting: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            group = [self.waiting.get()]
            while True:
                try:
                    group.append(self.waiting.get_nowait())
                except queue.Empty:
                    break
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT INTO jobs (size, data) VALUES (?, ?)", [(len(d), d) for d, _ in group])
            self.db.execute("COMMIT")
            reactor.callFromThread(_close_all, [transport for _, transport in group])


def _close_all(transports) -> None:
    for transport in transports:
        transport.loseConnection()


@implementer(IHalfCloseableProtocol)
class RawSqliteSink(RawSink):
    def readConnectionLost(self):
        data, self.chunks = b"".join(self.chunks), []
        self.factory.committer.waiting.put((data, self.transport))


def main() -> None:
    directory, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(directory, exist_ok=True)
    if "--sqlite" in sys.argv[3:]:
        factory = protocol.Factory.forProtocol(RawSqliteSink)
        factory.committer = SqliteGroupCommit(directory)
    else:
        factory = protocol.Factory.forProtocol(RawSink)
    factory.directory = directory
    reactor.suggestThreadPoolSize(64)
    reactor.listenTCP(port, factory, interface="127.0.0.1", backlog=1024)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run(installSignalHandlers=False)


if __name__ == "__main__":
    main()
