"""The bytes a printer receives for one release: the job's plaintext, with forced settings
applied, once or ``repeat`` times, and a pull producer that writes them to a transport
only as fast as the connection drains."""
from __future__ import annotations

import hashlib
from typing import Callable, Iterator

from zope.interface import implementer
from twisted.internet.interfaces import IPullProducer

from spooler.forward.inject import HEAD_LIMIT, ForcedSettingsTransform
from spooler.forward.job import ForcedChanges, ForwardJob


class JobPayload:
    """One pass over ``chunks()`` yields exactly what goes on the wire as the document:
    the job's bytes (only its first copy when ``copy_length`` says so) with ``forced``
    written in, ``repeat`` times."""

    def __init__(self, job: ForwardJob, *, repeat: int = 1, forced: ForcedChanges | None = None,
                 head_limit: int = HEAD_LIMIT):
        self.job = job
        self.repeat = repeat
        self.forced = job.forced if forced is None else forced
        self.head_limit = head_limit

    @property
    def transformed(self) -> bool:
        return self.forced.any

    def chunks(self) -> Iterator[bytes]:
        for _ in range(self.repeat):
            transform = ForcedSettingsTransform(self.forced, head_limit=self.head_limit)
            for chunk in self.job.chunks():
                out = transform.feed(chunk)
                if out:
                    yield out
            out = transform.close()
            if out:
                yield out

    def measure(self) -> int:
        """The exact length ``chunks()`` will produce (LPD announces it up front). Cheap
        when the job's size is known and nothing is injected; otherwise one full pass."""
        if self.job.length is not None and not self.transformed:
            return self.job.length * self.repeat
        return sum(len(chunk) for chunk in self.chunks())


@implementer(IPullProducer)
class DocumentProducer:
    """Writes ``chunks`` to ``transport`` one chunk per ``resumeProducing``; calls
    ``on_done()`` after the last one or ``on_error(exception)`` if reading the spool or
    transforming fails. ``on_progress()`` is called after every chunk (stall timers)."""

    def __init__(self, transport, chunks: Iterator[bytes], *, on_done: Callable[[], None],
                 on_error: Callable[[BaseException], None], on_progress: Callable[[], None] = lambda: None):
        self.transport = transport
        self._chunks = iter(chunks)
        self._on_done = on_done
        self._on_error = on_error
        self._on_progress = on_progress
        self.bytes_written = 0
        self.digest = hashlib.sha256()
        self.finished = False
        self._stopped = False

    def start(self) -> None:
        self.transport.registerProducer(self, False)

    def resumeProducing(self) -> None:
        if self.finished or self._stopped:
            return
        try:
            chunk = next(self._chunks, None)
        except Exception as e:  # the spool or the transform failed: stop writing
            self._finish()
            self._on_error(e)
            return
        if chunk is None:
            self._finish()
            self._on_done()
            return
        self.bytes_written += len(chunk)
        self.digest.update(chunk)
        self.transport.write(chunk)
        self._on_progress()

    def stopProducing(self) -> None:
        self._stopped = True

    def _finish(self) -> None:
        self.finished = True
        self.transport.unregisterProducer()
