"""The document data of an IPP request, streamed to whoever takes it.

``DocumentBody`` sits between the HTTP layer (which calls ``feed``/``end``/``fail`` as bytes
arrive) and an operation handler (which calls ``attach`` with a ``write`` callable, usually
``JobReceiver.write``). Until a handler attaches, at most one read's worth of bytes is
held and the transport is paused; without an attach the data is discarded (operations
that take no document). ``Decompressor`` undoes IPP ``compression`` gzip/deflate on the
fly with an output cap, so a decompression bomb is refused before it fills anything.
"""
from __future__ import annotations

import zlib
from typing import Callable

from twisted.internet.defer import Deferred

from spooler.errors import JobTooLarge
from spooler.ipp.constants import Status
from spooler.ipp.replies import IppError

__all__ = ["DocumentBody", "Decompressor"]

CHUNK_OUT = 256 * 1024


class Decompressor:
    """Inflate ``gzip`` or ``deflate`` (raw RFC 1951, or zlib-wrapped) data incrementally."""

    def __init__(self, compression: str, *, max_output: int):
        self.compression = compression
        self.max_output = max_output
        self.produced = 0
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

    def decompress(self, data: bytes):
        """Yield decompressed pieces of at most ``CHUNK_OUT`` bytes each."""
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
                    self.produced += len(out)
                    if self.produced > self.max_output:
                        raise JobTooLarge(self.produced, self.max_output)
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
            self.produced += len(out)
            if self.produced > self.max_output:
                raise JobTooLarge(self.produced, self.max_output)
            yield out


class DocumentBody:
    """Document bytes of one request, delivered in order to one attached writer."""

    def __init__(self, pause: Callable[[], None] = lambda: None,
                 resume: Callable[[], None] = lambda: None):
        self._pause = pause
        self._resume = resume
        self._pending: list[bytes] = []
        self._paused = False
        self._write: Callable[[bytes], None] | None = None
        self._decompressor: Decompressor | None = None
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
        self._decompressor = decompressor
        self._done = Deferred()
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
        if self._done is not None and not self._done.called:
            self._finish_error(reason)

    def _deliver(self, data: bytes) -> None:
        if self.failed is not None or self._done.called:
            return
        try:
            if self._decompressor is None:
                self.size += len(data)
                self._write(data)
            else:
                for piece in self._decompressor.decompress(data):
                    self.size += len(piece)
                    self._write(piece)
        except Exception as exc:  # noqa: BLE001 - handed to the handler through the Deferred
            self.failed = exc
            self._finish_error(exc)

    def _finish(self) -> None:
        try:
            if self._decompressor is not None:
                for piece in self._decompressor.finish():
                    self.size += len(piece)
                    self._write(piece)
        except Exception as exc:  # noqa: BLE001
            self.failed = exc
            self._finish_error(exc)
            return
        self._done.callback(self.size)

    def _finish_error(self, exc: BaseException) -> None:
        if not self._done.called:
            self._done.errback(exc)
