"""A job's bytes handed to a thread of its own, in order, with bounded memory.

Used for the work on a job's bytes that must not run on the reactor: hashing, sealing and
writing a large job (``spooler.spool``), and page analysis, which for PDF and PostScript
sections runs qpdf or Ghostscript when a section ends (``spooler.intake``).

Start one with ``BackgroundWork.start`` (None when too many run already). ``put`` keeps
at most about ``limit`` bytes in flight (the limit, plus one batch, plus one piece) and
otherwise waits for the thread, never
longer than doing the work itself would have taken, so memory stays bounded without a
protocol having to pause its transport. The first exception the work raises is kept;
``put`` raises it again (as ``error_type``) and ``wait`` does too.
"""
from __future__ import annotations

import collections
import threading

_FINAL = object()


class BackgroundWork:
    #: Threads of this kind at most at once (two per large job being received): beyond,
    #: ``start`` returns None and the caller does the work inline, as if on a small job, so
    #: a flood of slow large uploads cannot exhaust threads.
    MAX_THREADS = 64
    _slots = threading.BoundedSemaphore(MAX_THREADS)

    @classmethod
    def start(cls, consume, **options) -> "BackgroundWork | None":
        if not cls._slots.acquire(blocking=False):
            return None
        try:
            return cls(consume, **options)
        except BaseException:
            cls._slots.release()
            raise

    #: Pieces are handed over in batches of about this many bytes (an eighth of ``limit``
    #: at most). Handing each 64 KiB read over on its own woke the thread 3,200 times for
    #: a 200 MiB job; with two such threads per job, passing the GIL back and forth cost
    #: the gateway more CPU than hashing, sealing and writing together.
    BATCH = 1024 * 1024

    def __init__(self, consume, *, final=None, name: str, limit: int = 8 * 1024 * 1024, wrap_error=None):
        """``consume(data)`` takes each piece in order; ``final()`` runs after the last
        (``close``). ``wrap_error(exc)`` turns an unexpected exception into the one to
        report (default: reported as is)."""
        self._consume = consume
        self._final = final
        self._wrap_error = wrap_error
        self.limit = limit
        self._batch_bytes = min(self.BATCH, max(limit // 8, 1))
        self._items: collections.deque = collections.deque()
        self._batch: list = []
        self._batch_size = 0
        self._in_flight = 0
        self.error: BaseException | None = None
        self._abandoned = False
        self._done = False
        self._worker_waiting = False
        self._producer_waiting = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def put(self, data) -> None:
        self._batch.append(data)
        self._batch_size += len(data)
        if self._batch_size >= self._batch_bytes:
            self._hand_over()

    def close(self) -> None:
        """No more data: ``final`` runs once everything before it is consumed."""
        self._batch.append(_FINAL)
        self._hand_over()

    def _hand_over(self) -> None:
        items, self._batch = self._batch, []
        size, self._batch_size = self._batch_size, 0
        with self._changed:
            while self._in_flight > self.limit and self.error is None and not self._done:
                self._producer_waiting = True
                self._changed.wait()
                self._producer_waiting = False
            if self.error is not None:
                raise self.error
            self._items.extend(items)
            self._in_flight += size
            if self._worker_waiting:  # wake the thread only when it sleeps: each wake costs
                self._changed.notify_all()

    def wait(self) -> None:
        """Until the work after ``close`` is done; raises the work's error."""
        self._thread.join()
        if self.error is not None:
            raise self.error

    def abandon(self, *, wait: bool = True) -> None:
        """Drop what is queued and end the thread (the job is being discarded). With
        ``wait``, until the piece being consumed is done (the spool writer must not touch
        a file descriptor after it is closed); without, at once (the reactor must not
        wait for an analysis that may be running Ghostscript)."""
        with self._changed:
            self._abandoned = True
            self._changed.notify_all()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    while not self._items and not self._abandoned:
                        self._worker_waiting = True
                        self._changed.wait()
                        self._worker_waiting = False
                    if self._abandoned:
                        return
                    batch, self._items = self._items, collections.deque()
                consumed = 0
                for item in batch:
                    if self._abandoned:
                        return
                    if item is _FINAL:
                        if self._final is not None:
                            self._final()
                        return
                    self._consume(item)
                    consumed += len(item)
                with self._changed:
                    self._in_flight -= consumed
                    if self._producer_waiting:
                        self._changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 - reported to whoever puts or waits next
            error = self._wrap_error(exc) if self._wrap_error is not None else exc
            with self._changed:
                self.error = error
                self._items.clear()
                self._changed.notify_all()
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()
            type(self)._slots.release()
