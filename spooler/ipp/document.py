"""The document data of an IPP request, streamed to whoever takes it.

``DocumentBody`` sits between the HTTP layer (which calls ``feed``/``end``/``fail`` as bytes
arrive) and an operation handler (which calls ``attach`` with a ``write`` callable, usually
``JobReceiver.write``). Until a handler attaches, at most one read's worth of bytes is
held and the transport is paused; without an attach the data is discarded (operations
that take no document).

``Decompressor`` undoes IPP ``compression`` gzip/deflate (and HTTP ``Content-Encoding``)
on the fly, bounded twice: by the job size limit, and by a ratio — past ``RATIO_GRACE``
bytes of output, never more than ``MAX_RATIO`` times the compressed bytes read so far
(ordinary documents compress a few times, rarely twenty; 256 MiB of zeros is 261 KB of
gzip). ``Inflation`` runs it off the reactor, in a thread, a slice of output at a time,
pausing the connection while it catches up, so a bomb costs the gateway at most a
thread's time until it is refused, never the reactor's.
"""
from __future__ import annotations

import collections
import zlib
from typing import Callable

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger

from spooler.errors import ExpandsTooMuch, JobTooLarge
from spooler.ipp.constants import Status
from spooler.ipp.replies import IppError

__all__ = ["DocumentBody", "Decompressor", "Inflation", "ExpandsTooMuch"]

log = Logger()

CHUNK_OUT = 256 * 1024
#: Output of a compressed document may reach this much whatever the ratio ...
RATIO_GRACE = 16 * 1024 * 1024
#: ... and beyond it at most this many times the compressed bytes read.
MAX_RATIO = 200
#: Output handed back from the inflating thread at a time.
OUTPUT_SLICE = 4 * 1024 * 1024
#: Compressed bytes waiting for the thread before the connection stops being read.
INPUT_WAITING = 256 * 1024


class Decompressor:
    """Inflate ``gzip`` or ``deflate`` (raw RFC 1951, or zlib-wrapped) data incrementally."""

    def __init__(self, compression: str, *, max_output: int):
        self.compression = compression
        self.max_output = max_output
        self.produced = 0
        self.consumed = 0
        self._inflater = zlib.decompressobj(31) if compression == "gzip" else None
        self._sniff = b""

    def _start_deflate(self, data: bytes) -> bytes:
        self._sniff += data
        if len(self._sniff) < 2:
            return b""
        b0, b1 = self._sniff[0], self._sniff[1]
        zlib_wrapped = (b0 & 0x0F) == 8 and (b0 >> 4) <= 7 and ((b0 << 8) | b1) % 31 == 0
        self._inflater = zlib.decompressobj(15 if zlib_wrapped else -15)
        data, self._sniff = self._sniff, b""
        return data

    def _count(self, out: bytes) -> None:
        self.produced += len(out)
        if self.produced > self.max_output:
            raise JobTooLarge(self.produced, self.max_output)
        if self.produced > RATIO_GRACE and self.produced > self.consumed * MAX_RATIO:
            raise ExpandsTooMuch(self.produced, self.consumed, MAX_RATIO)

    def decompress(self, data: bytes):
        """Yield decompressed pieces of at most ``CHUNK_OUT`` bytes each."""
        self.consumed += len(data)
        if self._inflater is None:
            data = self._start_deflate(data)
            if self._inflater is None:
                return
        inflater = self._inflater
        try:
            while data:
                if inflater.eof:
                    if data.strip(b"\0"):
                        raise IppError(Status.CLIENT_ERROR_COMPRESSION_ERROR,
                                       "data after the end of the compressed stream")
                    return
                out = inflater.decompress(data, CHUNK_OUT)
                data = inflater.unconsumed_tail
                if out:
                    self._count(out)
                    yield out
        except zlib.error as exc:
            raise IppError(Status.CLIENT_ERROR_COMPRESSION_ERROR,
                           f"cannot decompress the {self.compression} document: {exc}") from None

    def finish(self):
        if self._inflater is None:
            if self._sniff:
                raise IppError(Status.CLIENT_ERROR_COMPRESSION_ERROR, "truncated compressed document")
            return
        try:
            out = self._inflater.flush()
        except zlib.error as exc:
            raise IppError(Status.CLIENT_ERROR_COMPRESSION_ERROR, str(exc)) from None
        if not self._inflater.eof:
            raise IppError(Status.CLIENT_ERROR_COMPRESSION_ERROR, "truncated compressed document")
        if out:
            self._count(out)
            yield out


def _take_slice(pieces) -> tuple[list[bytes], bool]:
    """In the inflating thread: up to ``OUTPUT_SLICE`` bytes from ``pieces`` (a
    ``Decompressor`` generator), and whether it is used up."""
    taken, size = [], 0
    for piece in pieces:
        taken.append(piece)
        size += len(piece)
        if size >= OUTPUT_SLICE:
            return taken, False
    return taken, True


class Inflation:
    """A ``Decompressor`` run off the reactor: compressed bytes go in with ``feed`` and
    ``end`` (on the reactor); their output comes out, in order, through ``deliver(piece)``
    on the reactor, then ``finished()``, or ``failed(exc)`` once. ``run(f, *args)`` runs
    ``f`` in a thread and returns a Deferred (or runs it at once, for tests); ``pause`` and
    ``resume`` stop and restart reading the connection while compressed bytes wait."""

    def __init__(self, decompressor: Decompressor, *, run, deliver, finished, failed,
                 pause: Callable[[], None] = lambda: None, resume: Callable[[], None] = lambda: None):
        self.decompressor = decompressor
        self._run = run
        self._deliver = deliver
        self._finished = finished
        self._failed = failed
        self._pause = pause
        self._resume = resume
        self._input: collections.deque = collections.deque()
        self._waiting = 0
        self._pieces = None
        self._final = False
        self._ended = False
        self._busy = False
        self._paused = False
        self.done = False

    def feed(self, data: bytes) -> None:
        if self.done or not data:
            return
        self._input.append(data)
        self._waiting += len(data)
        if self._waiting > INPUT_WAITING and not self._paused:
            self._paused = True
            self._pause()
        self._pump()

    def end(self) -> None:
        self._ended = True
        self._pump()

    def abandon(self) -> None:
        """The request is gone: nothing more is delivered."""
        self.done = True
        self._input.clear()

    def _pump(self) -> None:
        while not self._busy and not self.done:
            if self._pieces is None:
                if self._input:
                    data = self._input.popleft()
                    self._waiting -= len(data)
                    self._pieces = self.decompressor.decompress(data)
                elif self._ended and not self._final:
                    self._final = True
                    self._pieces = self.decompressor.finish()
                else:
                    if self._paused:
                        self._paused = False
                        self._resume()
                    return
            self._busy = True
            outcome = maybeDeferred(self._run, _take_slice, self._pieces)
            outcome.addCallbacks(self._sliced, self._fail)
            if self._busy:  # run in a thread: _sliced pumps on when it comes back
                return

    def _sliced(self, result) -> None:
        self._busy = False
        if self.done:
            return
        pieces, used_up = result
        try:
            for piece in pieces:
                self._deliver(piece)
        except Exception as exc:  # noqa: BLE001 - the writer's refusal ends the document
            self._fail(exc)
            return
        if used_up:
            self._pieces = None
            if self._final:
                self.done = True
                self._finished()
                return
        self._pump()

    def _fail(self, failure_or_exc) -> None:
        self._busy = False
        if self.done:
            return
        self.done = True
        self._input.clear()
        exc = getattr(failure_or_exc, "value", failure_or_exc)
        self._failed(exc)


class DocumentBody:
    """Document bytes of one request, delivered in order to one attached writer."""

    def __init__(self, pause: Callable[[], None] = lambda: None,
                 resume: Callable[[], None] = lambda: None, run=None):
        """``run(f, *args)``: runs ``f`` in a thread, returning a Deferred (decompression);
        None runs it at once (tests)."""
        self._pause = pause
        self._resume = resume
        self._run = run or (lambda f, *args: f(*args))
        self._pending: list[bytes] = []
        self._paused = False
        self._write: Callable[[bytes], None] | None = None
        self._inflation: Inflation | None = None
        self._done: Deferred | None = None
        self.ended = False
        self.failed: BaseException | None = None
        self.size = 0  # bytes after decompression handed to the writer
        self.raw_size = 0  # bytes as received

    def attach(self, write: Callable[[bytes], None], *, decompressor: Decompressor | None = None) -> Deferred:
        """Send the document to ``write``; the Deferred fires when it has all been written,
        or fails with the first error (of the writer, the decompressor, or the connection)."""
        if self._done is not None:
            raise RuntimeError("document already attached")
        self._write = write
        self._done = Deferred()
        if decompressor is not None:
            self._inflation = Inflation(decompressor, run=self._run, deliver=self._write_piece,
                                        finished=self._inflated, failed=self._fail_with,
                                        pause=self._pause, resume=self._resume)
        pending, self._pending = self._pending, []
        for data in pending:
            self._deliver(data)
        if self._paused:
            self._paused = False
            self._resume()
        if self.failed is not None:
            self._finish_error(self.failed)
        elif self.ended:
            self._finish()
        return self._done

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.raw_size += len(data)
        if self._done is None:
            if self.ended or self.failed:
                return
            self._pending.append(data)
            if not self._paused:
                self._paused = True
                self._pause()
            return
        self._deliver(data)

    def discard(self) -> None:
        """Nobody will attach: drop what is held and everything that follows."""
        self._pending = []
        if self._done is None:
            self._write = lambda data: None
            self._done = Deferred()
            self._done.addErrback(lambda f: None)
        if self._paused:
            self._paused = False
            self._resume()

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self._done is not None and not self._done.called and self.failed is None:
            self._finish()

    def fail(self, reason: BaseException) -> None:
        """The connection went away or the request was refused midway."""
        if self.failed is not None or self.ended:
            return
        self.failed = reason
        if self._inflation is not None:
            self._inflation.abandon()
        if self._done is not None and not self._done.called:
            self._finish_error(reason)

    def _deliver(self, data: bytes) -> None:
        if self.failed is not None or self._done.called:
            return
        if self._inflation is not None:
            self._inflation.feed(data)
            return
        try:
            self._write_piece(data)
        except Exception as exc:  # noqa: BLE001 - handed to the handler through the Deferred
            self._fail_with(exc)

    def _write_piece(self, piece: bytes) -> None:
        self.size += len(piece)
        self._write(piece)

    def _fail_with(self, exc: BaseException) -> None:
        if self.failed is None:
            self.failed = exc
        self._finish_error(exc)

    def _finish(self) -> None:
        if self._inflation is not None:
            self._inflation.end()  # _inflated fires the Deferred once all is written
            return
        self._done.callback(self.size)

    def _inflated(self) -> None:
        if self.failed is None and not self._done.called:
            self._done.callback(self.size)

    def _finish_error(self, exc: BaseException) -> None:
        if not self._done.called:
            self._done.errback(exc)
